package unpack

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

	"nucleus/internal/subid"
)

// Rootless unpacking. An ordinary user cannot chown a file to an image's
// owners, so the unpack runs in a child process inside a user namespace
// mapped exactly like the user's sandboxes (container root = the user,
// container 1..N = the user's subordinate range, written by
// newuidmap/newgidmap). There own() works unchanged, and the tree's host
// owners are what a sandbox of the same mapping sees as the image's: no
// idmapped mount (which an ordinary user cannot make) and no shifted copy.
// This is what rootless Podman does. The same child removes such a tree,
// whose files the user owns only through the namespace.

// IDMap maps Count ids from Inside (in the namespace) to Outside (host).
type IDMap = subid.IDMap

// Userns is the mapping of a rootless user's sandboxes.
type Userns struct{ UIDs, GIDs []IDMap }

// Sandbox ids of a rootless user: 0 is the user, 1..MaxSubIDs its range.
const MaxSubIDs = subid.MaxSubIDs

// SubordinateUserns builds the mapping of uid's sandboxes from
// /etc/subuid and /etc/subgid, exactly as the runtime maps them
// (internal/subid).
func SubordinateUserns(uid, gid int) (Userns, error) {
	m, err := subid.Sandbox(uid, gid)
	return Userns(m), err
}

// HelperArg is argv[1] of the unpack child; a binary that unpacks as an
// ordinary user calls RunHelper first thing in main (or TestMain).
const HelperArg = "__nucleus-unpack"

// helperMapped is argv[2] once the maps are written and the child has
// re-executed itself, so it holds every capability in the namespace: the
// first exec ran unmapped and lost them.
const (
	helperWait   = "wait"
	helperMapped = "mapped"
)

// RunHelper runs the unpack child and exits if this process is one.
func RunHelper() {
	if len(os.Args) < 5 || os.Args[1] != HelperArg {
		return
	}
	if os.Args[2] == helperWait {
		go3 := os.NewFile(3, "go")
		var b [1]byte
		if _, err := go3.Read(b[:]); err != nil {
			fmt.Fprintln(os.Stderr, "unpack helper: maps not written")
			os.Exit(2)
		}
		go3.Close()
		args := append([]string{os.Args[0], HelperArg, helperMapped}, os.Args[3:]...)
		err := unix.Exec("/proc/self/exe", args, os.Environ())
		fmt.Fprintln(os.Stderr, "unpack helper: re-exec:", err)
		os.Exit(2)
	}
	op, root := os.Args[3], os.Args[4]
	var err error
	switch op {
	case "apply":
		var o Options
		if err = json.Unmarshal([]byte(os.Getenv(helperOptsEnv)), &o); err == nil {
			err = Apply(root, os.Stdin, o)
		}
	case "remove":
		err = os.RemoveAll(root)
	default:
		err = fmt.Errorf("unknown operation %q", op)
	}
	if err != nil {
		json.NewEncoder(os.Stdout).Encode(toWire(err))
		os.Exit(1)
	}
	os.Exit(0)
}

const helperOptsEnv = "NUCLEUS_UNPACK_OPTIONS"

// wireErr carries an error out of the child with what callers test.
type wireErr struct {
	Image, Layer, Entry string
	Msg                 string
	Escape, Limit, Unpk bool
}

func toWire(err error) wireErr {
	w := wireErr{Msg: err.Error(), Escape: errors.Is(err, ErrEscape), Limit: errors.Is(err, ErrLimit)}
	var ue *Error
	if errors.As(err, &ue) {
		w.Image, w.Layer, w.Entry, w.Msg, w.Unpk = ue.Image, ue.Layer, ue.Entry, ue.Err.Error(), true
	}
	return w
}

type remoteErr struct {
	msg string
	is  error
}

func (e *remoteErr) Error() string { return e.msg }
func (e *remoteErr) Unwrap() error { return e.is }

func (w wireErr) err() error {
	var inner error = &remoteErr{msg: w.Msg}
	switch {
	case w.Escape:
		inner = &remoteErr{msg: w.Msg, is: ErrEscape}
	case w.Limit:
		inner = &remoteErr{msg: w.Msg, is: ErrLimit}
	}
	if w.Unpk {
		return &Error{Image: w.Image, Layer: w.Layer, Entry: w.Entry, Err: inner}
	}
	return inner
}

// ApplyIn is Apply run inside the user namespace ns (see above).
func ApplyIn(ns Userns, root string, layer io.Reader, o Options) error {
	b, err := json.Marshal(o)
	if err != nil {
		return err
	}
	err = ns.run("apply", root, layer, helperOptsEnv+"="+string(b))
	var ue *Error
	if err != nil && !errors.As(err, &ue) {
		return &Error{Image: o.Image, Layer: o.Layer, Err: err}
	}
	return err
}

// RemoveAllIn removes the tree at path from inside ns, where its files
// belong to the namespace's root.
func RemoveAllIn(ns Userns, path string) error {
	if err := ns.run("remove", path, nil, ""); err != nil {
		return fmt.Errorf("remove %s in the user namespace: %w", path, err)
	}
	return nil
}

// run starts the child in a new user namespace, maps it, and waits.
func (ns Userns) run(op, root string, stdin io.Reader, env string) error {
	goR, goW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer goR.Close()
	defer goW.Close()
	cmd := exec.Command("/proc/self/exe", HelperArg, helperWait, op, root)
	cmd.Env = os.Environ()
	if env != "" {
		cmd.Env = append(cmd.Env, env)
	}
	cmd.Stdin = stdin
	var out, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &stderr
	cmd.ExtraFiles = []*os.File{goR}
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER, Pdeathsig: unix.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start unpack helper: %w", err)
	}
	goR.Close()
	if err := ns.writeMaps(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}
	goW.Write([]byte{1})
	goW.Close()
	werr := cmd.Wait()
	if werr == nil {
		return nil
	}
	var w wireErr
	if json.Unmarshal([]byte(out.String()), &w) == nil && w.Msg != "" {
		return w.err()
	}
	return fmt.Errorf("unpack helper: %w: %s", werr, strings.TrimSpace(stderr.String()))
}

// writeMaps maps pid's namespace with the setuid helpers of uidmap.
func (ns Userns) writeMaps(pid int) error { return subid.Map(ns).Write(pid) }

// RemoveTree removes path like os.RemoveAll. What an ordinary user cannot
// remove itself (an image tree or a writable layer with files of its
// subordinate ids) is removed from inside its sandboxes' user namespace.
func RemoveTree(path string) error {
	err := os.RemoveAll(path)
	if err == nil || os.Geteuid() == 0 {
		return err
	}
	ns, nerr := SubordinateUserns(os.Geteuid(), os.Getegid())
	if nerr != nil {
		return fmt.Errorf("%w (%v)", err, nerr)
	}
	return RemoveAllIn(ns, path)
}
