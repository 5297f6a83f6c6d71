package api

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
)

// ErrRunning is returned by Lock when another supervisor holds the lock.
type ErrRunning struct {
	Project string
	PID     int
}

func (e *ErrRunning) Error() string {
	return fmt.Sprintf("a supervisor for project %s is already running (pid %d)", e.Project, e.PID)
}

// Lock is the held supervisor lock of a project.
type Lock struct {
	f    *os.File
	path string
}

// TryLock takes the project's supervisor lock without waiting and writes
// this process's PID into it. *ErrRunning when a supervisor holds it.
func TryLock(root rootdir.Root, project string) (*Lock, error) {
	if err := os.MkdirAll(Dir(root), 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", Dir(root), err)
	}
	path := LockPath(root, project)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open supervisor lock: %w", err)
	}
	// Running probes with a brief shared lock (Dial polls it while a
	// supervisor starts): a few short retries tell such a probe from a
	// supervisor, which holds the lock for good.
	err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	for try := 0; errors.Is(err, unix.EWOULDBLOCK) && try < 20; try++ {
		time.Sleep(5 * time.Millisecond)
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	// A holder that is exiting (SIGKILLed) lets go once the kernel has
	// released its files: wait for that, bounded.
	for deadline := time.Now().Add(exitWait); errors.Is(err, unix.EWOULDBLOCK) && holderExiting(path) && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
	}
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			pid, _ := Running(root, project)
			return nil, &ErrRunning{Project: project, PID: pid}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// The lock file may have been removed by a `down` between open and
	// flock: then this lock guards nothing; try again on the new file.
	if st, err := os.Stat(path); err != nil || !sameFile(f, st) {
		f.Close()
		return TryLock(root, project)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return &Lock{f: f, path: path}, nil
}

func sameFile(f *os.File, st os.FileInfo) bool {
	fi, err := f.Stat()
	return err == nil && os.SameFile(fi, st)
}

// Release drops the lock; remove also deletes the lock file (down).
func (l *Lock) Release(remove bool) {
	if l == nil || l.f == nil {
		return
	}
	if remove {
		os.Remove(l.path)
	}
	l.f.Close()
	l.f = nil
}

// exitWait bounds how long TryLock waits for an exiting holder's lock:
// a SIGKILLed supervisor keeps it until do_exit has released its files,
// measured up to 1.4 s here (its inotify teardown waits for an SRCU grace
// period before the flock and the socket are released).
const exitWait = 10 * time.Second

// holderExiting reports whether the PID written in the lock file is gone
// or exiting: nobody answers for that supervisor any more.
func holderExiting(path string) bool {
	b, _ := os.ReadFile(path)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	s, err := procstat.Read(pid)
	return err != nil || s.Exiting()
}

// Running reports whether a live supervisor holds the project's lock, and
// its PID as it wrote it. A holder that is exiting (killed) is not running:
// its lock and socket stay until the kernel has released its files, but
// nobody answers there.
func Running(root rootdir.Root, project string) (int, bool) {
	path := LockPath(root, project)
	f, err := os.Open(path)
	if err != nil {
		return 0, false
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB); err == nil {
		unix.Flock(int(f.Fd()), unix.LOCK_UN)
		return 0, false
	}
	if holderExiting(path) {
		return 0, false
	}
	b, _ := os.ReadFile(path)
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		// A supervisor on a full disk could not write its PID: the
		// kernel's list of locks still names the holder.
		pid = flockHolder(f)
	}
	return pid, true
}

// flockHolder finds the PID that holds an exclusive flock on f in
// /proc/locks ("1: FLOCK  ADVISORY  WRITE PID MAJ:MIN:INODE 0 EOF", device
// numbers in hex); 0 when it is not there.
func flockHolder(f *os.File) int {
	var st unix.Stat_t
	if unix.Fstat(int(f.Fd()), &st) != nil {
		return 0
	}
	b, err := os.ReadFile("/proc/locks")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		fs := strings.Fields(line)
		if len(fs) < 6 || fs[1] != "FLOCK" || fs[3] != "WRITE" {
			continue
		}
		id := strings.Split(fs[5], ":")
		if len(id) != 3 {
			continue
		}
		maj, e1 := strconv.ParseUint(id[0], 16, 32)
		mnr, e2 := strconv.ParseUint(id[1], 16, 32)
		ino, e3 := strconv.ParseUint(id[2], 10, 64)
		if e1 == nil && e2 == nil && e3 == nil && ino == st.Ino &&
			uint32(maj) == unix.Major(st.Dev) && uint32(mnr) == unix.Minor(st.Dev) {
			pid, _ := strconv.Atoi(fs[4])
			return pid
		}
	}
	return 0
}
