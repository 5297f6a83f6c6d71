package sbinit

import (
	"fmt"
	"os"
	goruntime "runtime"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"nucleus/runtime/seccomp/bpf"
)

// spawner owns one locked OS thread of the init that carries the workload's
// identity: its own cgroup namespace, the workload uid/gid, the dropped
// capabilities, no_new_privs, Landlock and seccomp. Every process of the
// sandbox (the workload and exec'd ones) is forked from this thread and
// inherits exactly that state; the init's other threads keep the privileges
// the init still needs (none of them can be reached from the sandbox: the
// init is not dumpable).
type spawner struct {
	reqs  chan spawnCall
	forks sync.Mutex // one spawn at a time around the oom_score_adj switch

	mu      sync.Mutex
	waiters map[int]chan unix.WaitStatus
	early   map[int]unix.WaitStatus // reaped before anyone waited

	home        string
	landlockABI int
}

type spawnReq struct {
	args  []string
	env   []string
	dir   string
	files []uintptr
	ctty  bool
}

type spawnCall struct {
	req   spawnReq
	fn    func() error // run on the thread instead of a spawn
	reply chan spawnResult
}

type spawnResult struct {
	pid int
	err error
}

func newSpawner() *spawner {
	s := &spawner{reqs: make(chan spawnCall), waiters: map[int]chan unix.WaitStatus{}, early: map[int]unix.WaitStatus{}}
	go s.run()
	return s
}

func (s *spawner) run() {
	// Never unlocked: when this goroutine ends the thread ends with it, so
	// its restricted state never leaks to other goroutines.
	goruntime.LockOSThread()
	for c := range s.reqs {
		if c.fn != nil {
			c.reply <- spawnResult{err: c.fn()}
			continue
		}
		pid, err := s.forkExec(c.req)
		c.reply <- spawnResult{pid: pid, err: err}
	}
}

func (s *spawner) call(c spawnCall) spawnResult {
	c.reply = make(chan spawnResult, 1)
	s.reqs <- c
	return <-c.reply
}

// restrict applies the workload's identity and restrictions to the thread.
func (s *spawner) restrict(c *Config, fds []int) error { return s.restrictAs(c, fds, false) }

// restrictAs is restrict; later (a spawner for exec -u, made once the
// workload runs) skips what is already done for the whole init or can no
// longer be done: seccomp is on every thread of the init since the first
// restrict (TSYNC) and forbids a new cgroup namespace, so processes of a
// later spawner see the init's cgroup namespace (rooted at the sandbox's
// cgroup on v2, its parent's on v1).
func (s *spawner) restrictAs(c *Config, fds []int, later bool) error {
	return s.call(spawnCall{fn: func() error {
		// Timer slack is per thread and inherited by what the thread
		// forks: the caller's, not sysmon's if sysmon started this
		// thread (sysmonslack). A later spawner's thread is under seccomp
		// already, and a profile may deny prctl: it then keeps the init's
		// slack rather than failing the exec.
		if c.TimerSlack > 0 {
			if err := unix.Prctl(unix.PR_SET_TIMERSLACK, uintptr(c.TimerSlack), 0, 0, 0); err != nil && !later {
				return fmt.Errorf("set timer slack: %w", err)
			}
		}
		// v1: this thread alone joins the sandbox cgroup; what it forks is
		// born there (see Create for why not the whole init).
		for _, i := range c.FDCgroupTasks {
			if _, err := unix.Write(fds[i], []byte("0")); err != nil {
				return fmt.Errorf("join sandbox cgroup: %w", err)
			}
		}
		// The workload's cgroup namespace is rooted at the sandbox cgroup.
		if err := unix.Unshare(unix.CLONE_NEWCGROUP); err != nil && !later {
			return fmt.Errorf("new cgroup namespace: %w", err)
		}
		id, err := lookupUser(c.User)
		if err != nil {
			return err
		}
		s.home = id.Home
		last := lastCap()

		if err := dropPrivileges(id, c.CapAdd, last); err != nil {
			return err
		}
		// A credential change resets the process's dumpable flag to
		// fs.suid_dumpable, which a host may have set to 1: make sure the
		// init stays closed to ptrace and /proc/1/exe.
		if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
			return fmt.Errorf("set init non-dumpable: %w", err)
		}
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
		if c.Landlock != nil {
			if s.landlockABI, err = c.Landlock.apply(); err != nil {
				return err
			}
		}
		if later {
			return nil // seccomp is on this thread already (TSYNC)
		}
		// seccomp last: after it, only the allowlist remains.
		return bpf.Install(c.Seccomp)
	}}).err
}

// spawn forks and execs a process from the restricted thread.
//
// Once the workload runs, the caller sets the init's oom_score_adj to
// -1000 (it must never be the OOM killer's victim). A fork inherits it, so
// around later forks the init goes back to 0: what the sandbox runs stays
// killable. Raising needs no privilege; returning to -1000 is allowed
// because the caller (CAP_SYS_RESOURCE) lowered the init's floor,
// oom_score_adj_min, with it. Children inherit that floor too: an exec'd
// process could lower its own score (see runtime/doc.go).
func (s *spawner) spawn(r spawnReq) (int, error) {
	s.forks.Lock()
	defer s.forks.Unlock()
	const adj = "/proc/self/oom_score_adj"
	if b, err := readSmall(adj); err == nil && strings.TrimSpace(string(b)) == "-1000" {
		if os.WriteFile(adj, []byte("0"), 0) == nil {
			defer os.WriteFile(adj, []byte("-1000"), 0)
		}
	}
	res := s.call(spawnCall{req: r})
	return res.pid, res.err
}

func (s *spawner) forkExec(r spawnReq) (int, error) {
	if len(r.args) == 0 {
		return 0, fmt.Errorf("empty command")
	}
	env := withDefaults(r.env, s.home)
	path, err := lookPath(r.args[0], env)
	if err != nil {
		return 0, err
	}
	dir := r.dir
	if dir == "" {
		dir = "/"
	}
	// The root was pivoted into and the old one detached, so every path
	// resolves inside it; check the directory exists to give a clear error.
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return 0, fmt.Errorf("working directory %s: not a directory inside the sandbox", dir)
	}
	attr := &syscall.ProcAttr{Dir: dir, Env: env, Files: r.files,
		Sys: &syscall.SysProcAttr{Setsid: true, Setctty: r.ctty, Ctty: 0}}
	pid, err := syscall.ForkExec(path, r.args, attr)
	if err != nil {
		return 0, fmt.Errorf("start %s: %w", r.args[0], err)
	}
	return pid, nil
}

// wait blocks until pid (a spawned child, not the workload) is reaped.
func (s *spawner) wait(pid int) unix.WaitStatus {
	s.mu.Lock()
	if ws, ok := s.early[pid]; ok {
		delete(s.early, pid)
		s.mu.Unlock()
		return ws
	}
	ch := make(chan unix.WaitStatus, 1)
	s.waiters[pid] = ch
	s.mu.Unlock()
	return <-ch
}

// reaped hands a reaped child's status to its waiter. Orphans that were
// reparented to the init (double-forked daemons) are dropped.
func (s *spawner) reaped(pid int, ws unix.WaitStatus) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch, ok := s.waiters[pid]; ok {
		delete(s.waiters, pid)
		ch <- ws
		return
	}
	if len(s.early) < 1024 {
		s.early[pid] = ws
	}
}

func withDefaults(env []string, home string) []string {
	has := func(k string) bool {
		for _, e := range env {
			if strings.HasPrefix(e, k+"=") {
				return true
			}
		}
		return false
	}
	out := append([]string(nil), env...)
	if !has("PATH") {
		out = append(out, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	if !has("HOME") && home != "" {
		out = append(out, "HOME="+home)
	}
	return out
}

// lookPath finds name in the PATH of env, inside the sandbox.
func lookPath(name string, env []string) (string, error) {
	if strings.Contains(name, "/") {
		return name, nil
	}
	path := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	for _, d := range strings.Split(path, ":") {
		if d == "" {
			d = "."
		}
		p := d + "/" + name
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s: executable file not found in $PATH inside the sandbox", name)
}
