package testutil

// Rootless tests run as root and drive the nucleus binary as an ordinary
// user the test makes itself (never a user that happens to exist):
//
//	u := testutil.RootlessUser(t, testutil.UserA)   // exists, has subuid/subgid ranges
//	env := testutil.NewUserEnv(t, u)                // HOME and XDG dirs in a 0700 temp dir of the user
//	res := env.Run(nucleusBin, "run", "--", "/bin/busybox", "id")
//	// res.Stdout, res.Stderr, res.Code
//
// The binary (and nucleus-init beside it) must be readable by the user:
// RunWithBinaries builds into a 0755 directory. The users are shared by
// every test package on the host (they may run in parallel), so they are
// created once under a lock and never removed; what a test leaves is
// checked per environment: at cleanup, NewUserEnv fails the test for any
// process of the user still running from that environment (its directory
// in the process's environment or command line, or a nucleus-init of its
// state root), and e.FilesOutside lists what the user owns outside it.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"nucleus/internal/flock"
	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
)

// Test users: A and B have subordinate ranges (two users for cross-user
// tests), NoRange has none (the error path).
const (
	UserA       = "nucleus-rl-a"
	UserB       = "nucleus-rl-b"
	UserNoRange = "nucleus-rl-none"
)

// SubIDCount is the size of the subordinate ranges given to test users
// (one whole private range, as useradd gives by default).
const SubIDCount = 65536

// TestUser is an unprivileged user made for tests.
type TestUser struct {
	Name     string
	UID, GID int
	// SubUID and SubGID are the user's first subordinate range: start and
	// count (zero for UserNoRange).
	SubUID, SubGID [2]int
}

// usersLock serialises creating test users across test processes.
const usersLock = "/run/lock/nucleus-test-users.lock"

// RootlessUser ensures the test user name exists (a system user without a
// home or login shell) and, unless it is UserNoRange, has a subordinate uid
// and gid range of SubIDCount ids that overlaps no other entry of
// /etc/subuid or /etc/subgid; UserNoRange is made sure to have none. It
// needs root, useradd/usermod (Debian's passwd) and newuidmap/newgidmap
// (uidmap), and fails in CI or skips otherwise when they are missing.
func RootlessUser(t testing.TB, name string) TestUser {
	t.Helper()
	RequireRoot(t)
	RequireBinary(t, "useradd", "passwd")
	RequireBinary(t, "newuidmap", "uidmap")
	RequireBinary(t, "newgidmap", "uidmap")
	RequireBinary(t, "setpriv", "util-linux")
	if err := os.MkdirAll(filepath.Dir(usersLock), 0o755); err != nil {
		t.Fatal(err)
	}
	unlock, err := flock.Lock(usersLock, unix.LOCK_EX)
	if err != nil {
		t.Fatalf("test users: %v", err)
	}
	defer unlock()
	u, err := ensureTestUser(name)
	if err != nil {
		t.Fatalf("test user %s: %v", name, err)
	}
	return u
}

func ensureTestUser(name string) (TestUser, error) {
	if _, err := user.Lookup(name); err != nil {
		out, err := exec.Command("useradd", "--system", "--user-group", "--no-create-home",
			"--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", name).CombinedOutput()
		if err != nil {
			return TestUser{}, fmt.Errorf("useradd: %v: %s", err, out)
		}
	}
	pu, err := user.Lookup(name)
	if err != nil {
		return TestUser{}, err
	}
	u := TestUser{Name: name}
	u.UID, _ = strconv.Atoi(pu.Uid)
	u.GID, _ = strconv.Atoi(pu.Gid)
	for i, f := range []string{"/etc/subuid", "/etc/subgid"} {
		flag := [2]string{"--add-subuids", "--add-subgids"}[i]
		del := [2]string{"--del-subuids", "--del-subgids"}[i]
		r, all := subRanges(f, name, pu.Uid)
		if name == UserNoRange {
			if r != [2]int{} {
				if out, err := exec.Command("usermod", del, fmt.Sprintf("%d-%d", r[0], r[0]+r[1]-1), name).CombinedOutput(); err != nil {
					return u, fmt.Errorf("usermod %s: %v: %s", del, err, out)
				}
			}
			continue
		}
		if r == [2]int{} {
			r = [2]int{freeSubStart(all), SubIDCount}
			if out, err := exec.Command("usermod", flag, fmt.Sprintf("%d-%d", r[0], r[0]+r[1]-1), name).CombinedOutput(); err != nil {
				return u, fmt.Errorf("usermod %s: %v: %s", flag, err, out)
			}
		}
		if i == 0 {
			u.SubUID = r
		} else {
			u.SubGID = r
		}
	}
	return u, nil
}

// subRanges returns the first range of the user (by name or uid) in file
// and every range in it.
func subRanges(file, name, uid string) (mine [2]int, all [][2]int) {
	b, _ := os.ReadFile(file)
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Split(strings.TrimSpace(l), ":")
		if len(f) != 3 {
			continue
		}
		s, e1 := strconv.Atoi(f[1])
		n, e2 := strconv.Atoi(f[2])
		if e1 != nil || e2 != nil {
			continue
		}
		all = append(all, [2]int{s, n})
		if (f[0] == name || f[0] == uid) && mine == [2]int{} {
			mine = [2]int{s, n}
		}
	}
	return mine, all
}

// freeSubStart is the first 65536-aligned start at or above 100000 (as
// useradd picks) past every existing range, staying below the ids root
// mode allocates (from 2^30).
func freeSubStart(all [][2]int) int {
	start := 100000
	for _, r := range all {
		if r[0]+r[1] > start {
			start = r[0] + r[1]
		}
	}
	return (start + SubIDCount - 1) / SubIDCount * SubIDCount
}

// UserEnv is a private environment of a test user: Dir (mode 0700, owned by
// the user) holds HOME, XDG_RUNTIME_DIR and XDG_DATA_HOME, so nucleus run
// as the user keeps its state in Root.
type UserEnv struct {
	User TestUser
	Dir  string
	// Home, Runtime and Data are the user's HOME, XDG_RUNTIME_DIR and
	// XDG_DATA_HOME; Root is where nucleus keeps its state under them.
	Home, Runtime, Data string
	Root                rootdir.Root
	// Env is added to every command's environment (after the defaults).
	Env []string
}

// NewUserEnv makes a fresh environment for u. Cleanup kills and reports
// processes of the user left from it (see Processes) and removes Dir.
func NewUserEnv(t testing.TB, u TestUser) *UserEnv {
	t.Helper()
	dir, err := os.MkdirTemp("", "nucleus-rl-")
	if err != nil {
		t.Fatal(err)
	}
	e := &UserEnv{User: u, Dir: dir, Home: filepath.Join(dir, "home"),
		Runtime: filepath.Join(dir, "run"), Data: filepath.Join(dir, "data")}
	e.Root = rootdir.Root{Run: filepath.Join(e.Runtime, "nucleus"), Data: filepath.Join(e.Data, "nucleus")}
	for _, d := range []string{dir, e.Home, e.Runtime, e.Data} {
		if err := os.MkdirAll(d, 0o700); err == nil {
			err = os.Chown(d, u.UID, u.GID)
		}
		if err == nil {
			err = os.Chmod(d, 0o700)
		}
		if err != nil {
			_ = os.RemoveAll(dir)
			t.Fatalf("user environment %s: %v", d, err)
		}
	}
	t.Cleanup(func() {
		if left := e.Processes(); len(left) > 0 {
			t.Errorf("processes of %s left by the test (killed now):\n%s", u.Name, strings.Join(left, "\n"))
			e.killLeft()
		}
		if err := os.RemoveAll(dir); err != nil {
			t.Errorf("remove %s: %v", dir, err)
		}
	})
	return e
}

// WriteProject writes yaml as Home/nucleus.yaml, owned by the user.
func (e *UserEnv) WriteProject(t testing.TB, yaml string) {
	t.Helper()
	p := filepath.Join(e.Home, "nucleus.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(p, e.User.UID, e.User.GID); err != nil {
		t.Fatal(err)
	}
}

// CopyExecutable copies the executable from into Dir as name, owned by
// the user (a test binary re-run as the user must be one it can read, and
// its helpers find it by os.Executable), and returns its path.
func (e *UserEnv) CopyExecutable(t testing.TB, from, name string) string {
	t.Helper()
	to := filepath.Join(e.Dir, name)
	in, err := os.Open(from)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err == nil {
		_, err = io.Copy(out, in)
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil {
		err = os.Chown(to, e.User.UID, e.User.GID)
	}
	if err != nil {
		t.Fatalf("copy %s: %v", from, err)
	}
	return to
}

// Command is an exec.Cmd running bin as the user in the environment: its
// uid and gid (no supplementary groups), an environment of PATH, HOME,
// XDG_RUNTIME_DIR, XDG_DATA_HOME, XDG_CONFIG_HOME, USER, LOGNAME,
// HTTPS_PROXY (OfflineProxy; plus CI when set, and e.Env), and the working
// directory Home. On a host whose /dev/net/tun only root may open (a
// devtmpfs without udev leaves it 0600; distributions' udev makes it
// 0666) the command gets a 0666 node of the device in a mount namespace of
// its own, as RunWithTun gives, so that the rootless networks under test
// (slirp4netns and pasta open it as the user) work as on those hosts; the
// host's node is untouched. Tests of the 0600 case use RunWithTun.
func (e *UserEnv) Command(bin string, args ...string) *exec.Cmd {
	cmd := e.userCommand(bin, args...)
	if st, err := os.Stat("/dev/net/tun"); err == nil && st.Mode().Perm()&0o006 != 0o006 {
		if err := e.withTun(cmd, 0o666); err != nil {
			// Start returns it: the command cannot run as meant.
			cmd.Err = fmt.Errorf("a usable /dev/net/tun for %s: %w", bin, err)
		}
	}
	return cmd
}

// userCommand is Command without the /dev/net/tun stand-in.
func (e *UserEnv) userCommand(bin string, args ...string) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Dir = e.Home
	cmd.Env = []string{
		"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
		"HOME=" + e.Home, "USER=" + e.User.Name, "LOGNAME=" + e.User.Name,
		"XDG_RUNTIME_DIR=" + e.Runtime, "XDG_DATA_HOME=" + e.Data,
		"XDG_CONFIG_HOME=" + filepath.Join(e.Home, ".config"),
		"HTTPS_PROXY=" + OfflineProxy,
	}
	if v, ok := os.LookupEnv("CI"); ok {
		cmd.Env = append(cmd.Env, "CI="+v)
	}
	cmd.Env = append(cmd.Env, e.Env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(e.User.UID), Gid: uint32(e.User.GID), Groups: []uint32{}},
		Setsid:     true,
	}
	return cmd
}

// Result is what a command run as the user did.
type Result struct {
	Stdout, Stderr string
	Code           int // exit code; -1 when killed by a signal
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.Code, r.Stdout, r.Stderr)
}

// Run runs bin as the user and waits for it (at most 2 minutes, then it is
// killed and the test fails). A command that cannot start fails the test;
// a non-zero exit does not.
func (e *UserEnv) Run(t testing.TB, bin string, args ...string) Result {
	t.Helper()
	return e.run(t, e.Command(bin, args...), bin, args)
}

// RunWithTun is Run with /dev/net/tun replaced, for the command and all it
// starts, by a node of the same device with mode perm (owned by root), in a
// mount namespace of their own; the host's node is untouched. It is how a
// host that keeps the device to root looks to the user. Needs unshare and
// setpriv (util-linux).
func (e *UserEnv) RunWithTun(t testing.TB, perm os.FileMode, bin string, args ...string) Result {
	t.Helper()
	cmd := e.userCommand(bin, args...)
	if err := e.withTun(cmd, perm); err != nil {
		t.Fatal(err)
	}
	return e.run(t, cmd, bin, args)
}

// withTun turns cmd (from userCommand) into one that, as root, binds a
// node of the tun device with mode perm over /dev/net/tun in a new private
// mount namespace and then execs bin as the user (setpriv): the same
// process, so cmd.Process is bin's.
func (e *UserEnv) withTun(cmd *exec.Cmd, perm os.FileMode) error {
	return TunAsUser(cmd, e.Dir, perm, e.User.UID, e.User.GID)
}

// TunAsUser rewrites cmd (not yet started; its Args name the program and
// its arguments) so that it runs, as root, in a new private mount
// namespace where a node of the tun device with mode perm (made in dir) is
// bound over /dev/net/tun, and then execs the program as uid and gid with
// no supplementary groups (setpriv): the same process, so cmd.Process is
// the program's. A host whose node only root may open looks, to that
// program, like one whose node has mode perm; the host's node is
// untouched. Needs unshare and setpriv (util-linux).
func TunAsUser(cmd *exec.Cmd, dir string, perm os.FileMode, uid, gid int) error {
	node := filepath.Join(dir, fmt.Sprintf("tun-%o", perm))
	if err := unix.Mknod(node, unix.S_IFCHR|uint32(perm), int(unix.Mkdev(10, 200))); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("tun node: %w", err)
	}
	if err := os.Chmod(node, perm); err != nil {
		return err
	}
	// setpriv by its path: busybox's sh (the v2 VM's) runs its own applet,
	// which has no --reuid, for the bare name.
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		return err
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return err
	}
	if cmd.SysProcAttr != nil {
		cmd.SysProcAttr.Credential = nil
	}
	bin := cmd.Args[0] // as given: setpriv looks it up in cmd's own PATH
	script := fmt.Sprintf(`mount --bind "$0" /dev/net/tun && exec %s --reuid=%d --regid=%d --clear-groups "$@"`, setpriv, uid, gid)
	cmd.Args = append([]string{"unshare", "-m", "--propagation", "private", "sh", "-c", script, node, bin}, cmd.Args[1:]...)
	cmd.Path = unshare
	return nil
}

func (e *UserEnv) run(t testing.TB, cmd *exec.Cmd, bin string, args []string) Result {
	t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s as %s: %v", bin, e.User.Name, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(2 * time.Minute):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		t.Fatalf("%s %v as %s: no exit within 2 minutes\nstdout:\n%s\nstderr:\n%s", bin, args, e.User.Name, out.String(), errb.String())
	}
	r := Result{Stdout: out.String(), Stderr: errb.String(), Code: cmd.ProcessState.ExitCode()}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("%s %v as %s: %v", bin, args, e.User.Name, err)
	}
	return r
}

// Processes lists the live processes (zombies aside) that belong to this
// environment: owned by the user or its subordinate uids, and naming the
// environment's directory in their environment or command line, or being a
// nucleus-init of its state root. Each line is "pid uid cmdline".
func (e *UserEnv) Processes() []string {
	var out []string
	for _, p := range e.processes() {
		out = append(out, fmt.Sprintf("%d uid %d: %s", p.pid, p.uid, p.cmd))
	}
	return out
}

type userProc struct {
	pid, uid int
	cmd      string
}

func (e *UserEnv) processes() []userProc {
	id := e.Root.ID()
	var out []userProc
	ents, _ := os.ReadDir("/proc")
	for _, ent := range ents {
		pid, err := strconv.Atoi(ent.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		uid, zombie, ok := procUID(pid)
		if !ok || zombie || !e.ownsUID(uid) {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		init := len(args) > 2 && filepath.Base(args[0]) == "nucleus-init" && args[2] == id
		if init || bytes.Contains(cmdline, []byte(e.Dir)) || bytes.Contains(environ, []byte(e.Dir)) {
			out = append(out, userProc{pid, uid, strings.Join(args, " ")})
		}
	}
	return out
}

func (e *UserEnv) ownsUID(uid int) bool {
	if uid == e.User.UID {
		return true
	}
	s := e.User.SubUID
	return s[1] > 0 && uid >= s[0] && uid < s[0]+s[1]
}

// procUID reads pid's real uid and whether it has exited (a zombie).
func procUID(pid int) (uid int, zombie, ok bool) {
	v, err := procstat.StatusField(procstat.StatusPath(pid), "Uid")
	f := strings.Fields(v)
	if err != nil || len(f) == 0 {
		return 0, false, false
	}
	uid, _ = strconv.Atoi(f[0])
	return uid, !procstat.Running(pid), true
}

func (e *UserEnv) killLeft() {
	for _, p := range e.processes() {
		_ = syscall.Kill(p.pid, syscall.SIGKILL)
	}
}

// FilesOutside lists files and directories under the given glob patterns
// (e.g. "/var/lib/nucleus*", "/run/nucleus*", "/tmp/nucleus-*") owned by the
// user or its subordinate ids, the environment's own Dir aside: what
// running as the user wrote outside its XDG dirs. Ownership, not a
// before/after listing, so root tests running meanwhile do not count.
func (e *UserEnv) FilesOutside(patterns ...string) []string {
	var out []string
	for _, pat := range patterns {
		matches, _ := filepath.Glob(pat)
		for _, m := range matches {
			_ = filepath.WalkDir(m, func(p string, d os.DirEntry, err error) error {
				if err != nil {
					return nil
				}
				if p == e.Dir || strings.HasPrefix(p, e.Dir+"/") {
					return filepath.SkipDir
				}
				var st unix.Stat_t
				if unix.Lstat(p, &st) != nil {
					return nil
				}
				mine := e.ownsUID(int(st.Uid)) || int(st.Gid) == e.User.GID
				if mine {
					out = append(out, fmt.Sprintf("%s (uid %d)", p, st.Uid))
				}
				if d.IsDir() && !mine && st.Mode&0o001 == 0 {
					// The user cannot enter it: what is below was not its
					// doing (root's image trees keep their images' owners,
					// which may be the user's uid).
					return filepath.SkipDir
				}
				return nil
			})
		}
	}
	return out
}
