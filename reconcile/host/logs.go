package host

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/runtime"
)

// Logs are read from the files the sandbox init writes (see package
// runtime, "Logs"), so they are there while no supervisor runs.

// LogLine is one line of a replica's output.
type LogLine struct {
	Replica string // "web-1"
	Service string
	runtime.LogRecord
}

// LogPath is the current log file of a recorded replica: where its
// sandbox's runtime record says, or, without a sandbox, the replica's log
// directory, which outlives its sandboxes.
func LogPath(root rootdir.Root, rec *reconcile.SandboxRecord) string {
	if rr, err := runtime.ReadRecord(root, rec.ID); err == nil && rr.LogPath != "" {
		return rr.LogPath
	}
	return replicaLogPath(root, rec.Project, rec.Ident().Name())
}

// maxRotated is how many rotated files ReadLog looks for (the runtime keeps 3).
const maxRotated = 9

// ReadLog returns every line of a replica's log, oldest first, from the
// rotated files (path.N ... path.1) and the current one. A missing file is
// no error: the replica has not written anything (or was removed).
func ReadLog(path string) ([]runtime.LogRecord, error) {
	var out []runtime.LogRecord
	for i := maxRotated; i >= 0; i-- {
		p := path
		if i > 0 {
			p += "." + strconv.Itoa(i)
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return out, err
		}
		out = appendLines(out, b)
	}
	return out, nil
}

// appendLines decodes the complete JSON lines of b; a line that does not
// decode (torn by a crash) is skipped.
func appendLines(out []runtime.LogRecord, b []byte) []runtime.LogRecord {
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var r runtime.LogRecord
		if json.Unmarshal(sc.Bytes(), &r) == nil {
			out = append(out, r)
		}
	}
	return out
}

// follower reads a log file as it grows, across rotation (the file is
// renamed to .1 and a new one created) and across the replica's sandbox
// being replaced (the directory is removed and created again).
type follower struct {
	path string
	f    *os.File
	ino  uint64
	off  int64
	rest []byte // an incomplete last line
}

// skipToEnd positions the follower at the current end of the file, so that
// only what is written afterwards is reported.
func (fl *follower) skipToEnd() {
	f, err := os.Open(fl.path)
	if err != nil {
		return
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return
	}
	fl.f, fl.ino, fl.off = f, inode(fi), fi.Size()
}

func inode(fi os.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

// poll returns the lines written since the last call.
func (fl *follower) poll() []runtime.LogRecord {
	var out []runtime.LogRecord
	fi, err := os.Stat(fl.path)
	switch {
	case err != nil:
		// Gone for now (sandbox being replaced): finish the old file.
		if fl.f != nil {
			out = fl.drain(out)
			fl.close()
		}
		return out
	case fl.f != nil && inode(fi) != fl.ino:
		// Rotated or recreated: the rest of the old file first.
		out = fl.drain(out)
		fl.close()
	}
	if fl.f == nil {
		f, err := os.Open(fl.path)
		if err != nil {
			return out
		}
		fl.f, fl.off, fl.rest = f, 0, nil
		if st, err := f.Stat(); err == nil {
			fl.ino = inode(st)
		}
	}
	if st, err := fl.f.Stat(); err == nil && st.Size() < fl.off {
		fl.off, fl.rest = 0, nil // truncated
	}
	return fl.drain(out)
}

func (fl *follower) drain(out []runtime.LogRecord) []runtime.LogRecord {
	b, err := io.ReadAll(io.NewSectionReader(fl.f, fl.off, 1<<62))
	if err != nil || len(b) == 0 {
		return out
	}
	fl.off += int64(len(b))
	b = append(fl.rest, b...)
	i := bytes.LastIndexByte(b, '\n')
	if i < 0 {
		fl.rest = b
		return out
	}
	fl.rest = slices.Clone(b[i+1:])
	return appendLines(out, b[:i+1])
}

func (fl *follower) close() {
	if fl.f != nil {
		fl.f.Close()
	}
	fl.f, fl.ino, fl.off, fl.rest = nil, 0, 0, nil
}

// FollowOptions select what Follow reports.
type FollowOptions struct {
	Services []string // empty: every service
	// FromEnd skips what the files hold when a replica is first seen
	// (the caller printed it already); false reports it too.
	FromEnd bool
	// Interval is how often the files are checked (default 200 ms).
	Interval time.Duration
}

// Follow reports the output of the project's replicas as it is written,
// until ctx ends. Replicas that appear later (new or restarted sandboxes)
// are followed too; their output is reported from the start.
func Follow(ctx context.Context, root rootdir.Root, project string, o FollowOptions, fn func(LogLine)) error {
	store := reconcile.NewStore(root)
	iv := o.Interval
	if iv <= 0 {
		iv = 200 * time.Millisecond
	}
	type entry struct {
		fl      *follower
		service string
	}
	follow := map[string]*entry{}
	first := true
	defer func() {
		for _, e := range follow {
			e.fl.close()
		}
	}()
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		recs, _ := store.LoadSandboxes(project)
		for _, rec := range recs {
			if len(o.Services) > 0 && !slices.Contains(o.Services, rec.Service) {
				continue
			}
			name := rec.Ident().Name()
			if follow[name] == nil {
				e := &entry{fl: &follower{path: LogPath(root, rec)}, service: rec.Service}
				if first && o.FromEnd {
					e.fl.skipToEnd()
				}
				follow[name] = e
			}
		}
		first = false
		for _, name := range slices.Sorted(maps.Keys(follow)) {
			e := follow[name]
			for _, r := range e.fl.poll() {
				fn(LogLine{Replica: name, Service: e.service, LogRecord: r})
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// LogOptions select what Logs returns.
type LogOptions struct {
	Services []string      // empty: every service
	Tail     int           // the last N lines of each replica; < 0: all
	Since    time.Duration // only lines newer than this; 0: all
	Until    time.Time     // only lines written before this; zero: all
	// Declared are the services the project file declares: asking for one
	// of them prints nothing when it has no output yet, while a name that is
	// neither declared nor has a replica or log is an error (a typo).
	Declared []string
}

// UnknownServiceError names requested services the project does not have.
type UnknownServiceError struct {
	Project string
	Unknown []string
	Known   []string
}

func (e *UnknownServiceError) Error() string {
	known := "none"
	if len(e.Known) > 0 {
		known = strings.Join(e.Known, ", ")
	}
	return fmt.Sprintf("no such service in project %s: %s (services: %s)", e.Project, strings.Join(e.Unknown, ", "), known)
}

// Logs returns the recorded output of the project's replicas, merged in
// time order.
func Logs(root rootdir.Root, project string, o LogOptions, now time.Time) ([]LogLine, error) {
	recs, err := reconcile.NewStore(root).LoadSandboxes(project)
	if err != nil {
		return nil, err
	}
	// A replica's log holds every incarnation's output; replicas without a
	// record any more (scaled down) keep theirs until `down`.
	type source struct{ service, path string }
	sources := map[string]source{}
	for _, rec := range recs {
		sources[rec.Ident().Name()] = source{rec.Service, LogPath(root, rec)}
	}
	for name, service := range loggedReplicas(root, project) {
		if _, ok := sources[name]; !ok {
			sources[name] = source{service, replicaLogPath(root, project, name)}
		}
	}
	known := map[string]bool{}
	for _, s := range o.Declared {
		known[s] = true
	}
	for _, src := range sources {
		known[src.service] = true
	}
	var unknown []string
	for _, s := range o.Services {
		if !known[s] {
			unknown = append(unknown, s)
		}
	}
	if len(unknown) > 0 {
		return nil, &UnknownServiceError{Project: project, Unknown: unknown, Known: slices.Sorted(maps.Keys(known))}
	}
	var out []LogLine
	for _, name := range slices.Sorted(maps.Keys(sources)) {
		src := sources[name]
		if len(o.Services) > 0 && !slices.Contains(o.Services, src.service) {
			continue
		}
		lines, err := ReadLog(src.path)
		if err != nil {
			return nil, err
		}
		if o.Since > 0 {
			cut := now.Add(-o.Since)
			lines = slices.DeleteFunc(lines, func(r runtime.LogRecord) bool { return r.Time.Before(cut) })
		}
		if !o.Until.IsZero() {
			lines = slices.DeleteFunc(lines, func(r runtime.LogRecord) bool { return !r.Time.Before(o.Until) })
		}
		if o.Tail >= 0 && len(lines) > o.Tail {
			lines = lines[len(lines)-o.Tail:]
		}
		for _, r := range lines {
			out = append(out, LogLine{Replica: name, Service: src.service, LogRecord: r})
		}
	}
	slices.SortStableFunc(out, func(a, b LogLine) int { return a.Time.Compare(b.Time) })
	return out, nil
}
