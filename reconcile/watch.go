package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fsnotify/fsnotify"

	"nucleus/reconcile/debounce"
	"nucleus/spec"
)

// ProjectFileNames are the files discovery looks for in a project
// directory; creating one of them changes the project even before it is in
// WatchFiles, so the watcher covers them too.
var ProjectFileNames = []string{"nucleus.yaml", "nucleus.yml", "nucleus.override.yaml", "nucleus.override.yml", ".env"}

// WatchOptions tune the debounce.
type WatchOptions struct {
	// Quiet is the trailing-edge delay: a change is reported once no
	// relevant event arrived for this long (default 300 ms). See package
	// reconcile/debounce.
	Quiet time.Duration
	// MaxDelay bounds the wait under continuous writes (default 2 s).
	MaxDelay time.Duration
}

// Watcher reports when the content of a project's files changes. It
// watches directories, not files: editors and `sed -i` replace a file by
// renaming a new one over it, which a watch on the old inode would miss.
type Watcher struct {
	fs    *fsnotify.Watcher
	opts  WatchOptions
	dirty chan struct{}
	done  chan struct{}
	wg    sync.WaitGroup

	mu     sync.Mutex
	dir    string
	files  []string // absolute, sorted: WatchFiles plus the project file names
	dirs   map[string]bool
	digest string
}

// NewWatcher watches projectDir and the directories of files (the
// project's WatchFiles). The content digest at this moment is the baseline:
// only a later change of content is reported.
func NewWatcher(projectDir string, files []string, opts WatchOptions) (*Watcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, fmt.Errorf("create file watcher: %w", err)
	}
	w := &Watcher{fs: fw, opts: opts, dirty: make(chan struct{}, 1), done: make(chan struct{}), dirs: map[string]bool{}}
	list, err := WatchSet(projectDir, files)
	if err == nil {
		_, err = w.SetFiles(projectDir, files, ContentDigest(list))
	}
	if err != nil {
		fw.Close()
		return nil, err
	}
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

// C delivers one value per detected change; changes that pile up while
// nobody reads coalesce into one.
func (w *Watcher) C() <-chan struct{} { return w.dirty }

// Digest is the content digest of the watched files as last seen.
func (w *Watcher) Digest() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.digest
}

// SetFiles replaces the watched set after a reload (env files may have been
// added or removed) and takes digest, that of the content the reload parsed
// (ProjectDigest), as the new baseline: content that differs from it is a
// change, even when it was written before this call. newDirs reports that
// a directory is watched from now on: a write in it before this call raised
// no event, so the caller looks once itself.
func (w *Watcher) SetFiles(projectDir string, files []string, digest string) (newDirs bool, err error) {
	list, err := WatchSet(projectDir, files)
	if err != nil {
		return false, err
	}
	abs, _ := filepath.Abs(projectDir) // WatchSet checked it
	dirs := map[string]bool{abs: true}
	for _, f := range list {
		dirs[filepath.Dir(f)] = true
	}

	w.mu.Lock()
	defer w.mu.Unlock()
	for d := range dirs {
		if w.dirs[d] {
			continue
		}
		if err := w.fs.Add(d); err != nil {
			return newDirs, fmt.Errorf("watch directory %s: %w", d, err)
		}
		newDirs = true
	}
	for d := range w.dirs {
		if !dirs[d] {
			_ = w.fs.Remove(d) // the directory may be gone already
		}
	}
	w.dir, w.files, w.dirs = abs, list, dirs
	w.digest = digest
	return newDirs, nil
}

// WatchSet is the set of files whose content makes up a project: its
// WatchFiles plus the project file names in its directory (absolute,
// sorted). The watcher and the applied-revision digest use the same set.
func WatchSet(projectDir string, files []string) ([]string, error) {
	abs, err := filepath.Abs(projectDir)
	if err != nil {
		return nil, fmt.Errorf("watch %s: %w", projectDir, err)
	}
	set := map[string]bool{}
	for _, f := range files {
		if a, err := filepath.Abs(f); err == nil {
			set[filepath.Clean(a)] = true
		}
	}
	for _, n := range ProjectFileNames {
		set[filepath.Join(abs, n)] = true
	}
	return slices.Sorted(maps.Keys(set)), nil
}

// Close stops the watcher.
func (w *Watcher) Close() error {
	select {
	case <-w.done:
		return nil
	default:
	}
	close(w.done)
	err := w.fs.Close()
	w.wg.Wait()
	return err
}

// loop debounces relevant events: report after Quiet without events, or at
// the latest MaxDelay after the first one, and only if the content changed.
func (w *Watcher) loop() {
	defer w.wg.Done()
	debounce.Loop(w.done, w.fs, w.opts.Quiet, w.opts.MaxDelay, "file watcher", w.relevant, func() {
		if w.changed() {
			select {
			case w.dirty <- struct{}{}:
			default: // a change is already pending
			}
		}
	})
}

// relevant reports whether an event on name can change the project.
func (w *Watcher) relevant(name string) bool {
	if IsEditorTemp(filepath.Base(name)) {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, found := slices.BinarySearch(w.files, filepath.Clean(name))
	return found
}

// changed recomputes the digest and reports whether it moved.
func (w *Watcher) changed() bool {
	w.mu.Lock()
	files := w.files
	old := w.digest
	w.mu.Unlock()
	d := ContentDigest(files)
	if d == old {
		return false
	}
	w.mu.Lock()
	w.digest = d
	w.mu.Unlock()
	return true
}

// IsEditorTemp reports names editors and tools write next to the real file:
// vim swap and backup files and its 4913 probe, emacs lock and backup
// files, *.tmp.
func IsEditorTemp(base string) bool {
	switch {
	case base == "4913",
		strings.HasSuffix(base, "~"),
		strings.HasPrefix(base, ".#"),
		strings.HasPrefix(base, "#") && strings.HasSuffix(base, "#"),
		strings.HasSuffix(base, ".swp"), strings.HasSuffix(base, ".swx"), strings.HasSuffix(base, ".swo"),
		strings.HasSuffix(base, ".tmp"):
		return true
	}
	return false
}

// ContentDigest is "sha256:" over every file's path and content (a missing
// file counts as missing, so creating or deleting one is a change). The
// project record keeps it as the applied revision.
func ContentDigest(files []string) string { return digest(files, nil) }

// ProjectDigest is the ContentDigest of p's watch set, taken from the
// bytes the load parsed (p.Sources) for the files it read, and from the
// files for the rest (project file names it did not load, missing ones):
// the digest never names content that was not parsed.
func ProjectDigest(p *spec.Project) string {
	set, _ := WatchSet(p.Dir, p.WatchFiles) // only fails without a working directory
	return digest(set, p.Sources)
}

func digest(files []string, parsed map[string][]byte) string {
	h := sha256.New()
	for _, f := range slices.Sorted(slices.Values(files)) {
		fmt.Fprintf(h, "%s\x00", f)
		if b, ok := parsed[f]; ok {
			h.Write(b)
			fmt.Fprintf(h, "\x00%d\x00", len(b))
			continue
		}
		fh, err := os.Open(f)
		if err != nil {
			fmt.Fprintf(h, "missing\x00")
			continue
		}
		n, _ := io.Copy(h, fh)
		fh.Close()
		fmt.Fprintf(h, "\x00%d\x00", n)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
