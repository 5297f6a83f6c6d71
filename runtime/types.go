package runtime

import (
	"io"
	"os"

	"nucleus/internal/rootdir"
	"nucleus/runtime/cgroups"
	"nucleus/runtime/landlock"
	"nucleus/runtime/sbinit"
)

// Config describes one sandbox. The runtime owns it: reconcile/host
// (SandboxConfig) converts a service of the file into it, so a change of
// the file format stops there.
type Config struct {
	// ID is unique and stable per replica ("<project>-<service>-<replica>");
	// it names the cgroup and the state directory.
	ID      string
	Project string
	Service Service
	Root    rootdir.Root
	// DataProject names the project whose uid/gid range and named volumes
	// the sandbox uses, when not Project (`nucleus run SERVICE`: the
	// service's volumes and files belong to its project).
	DataProject string
	// Mounts are what Create mounts (ResolveMounts makes them of
	// Service.Volumes).
	Mounts []ResolvedMount
	// Files are placed in the sandbox at the given absolute paths
	// (for example /etc/resolv.conf and /etc/hosts from the network).
	Files map[string][]byte

	// Stdin, Stdout and Stderr are attached to the workload. A nil Stdout
	// sends stdout and stderr to log files under the state directory, written
	// by the init so they survive the caller.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Terminal gives the workload a pseudo-terminal (Stdin/Stdout are then
	// copied to and from its master side).
	Terminal bool
	// NoNetwork keeps the host network namespace (tests, special cases).
	// false: a new network namespace with loopback only.
	NoNetwork bool
	// UserNSPath, without root, is a user namespace the sandbox joins
	// instead of getting its own (the project's, held by a keeper:
	// internal/keeper): its namespaces are then owned by that one, so the
	// user can wire sandboxes of one project to a shared hub with veths.
	// Ignored as root and with userns: host.
	UserNSPath string
	// DieWithCaller kills the sandbox when the calling process dies, even
	// by SIGKILL (foreground `nucleus run`); the init is cloned from a
	// process-lifetime thread so that no other thread's exit kills it.
	// Supervisors leave it false so sandboxes outlive a supervisor restart.
	DieWithCaller bool
	// LogMaxSize is the size at which a log file is rotated (default 10 MiB).
	LogMaxSize int64
	// LogDir, when set, is where the log files go (created if missing):
	// the init appends to them, so sandboxes that share a LogDir (the
	// incarnations of one replica) write one history, rotated as usual.
	// The runtime never removes a LogDir; the caller does. Empty: logs/ in
	// the sandbox's state directory, removed with the sandbox.
	LogDir string
	// UpperDir, when set, keeps the writable layer of a rootfs with
	// read_only false on disk: overlayfs's upper and work directories go
	// in it (created if missing, handed to the sandbox's container root),
	// so what the workload writes survives the sandbox and is there again
	// for the next sandbox given the same UpperDir (the incarnations of
	// one replica). The runtime never removes it; the caller does. Where
	// overlayfs refuses it, or when empty, the layer is a tmpfs
	// (Record.Writable says which). The host view's layer is always tmpfs.
	UpperDir string
	// BeforeState, when set, runs inside Create before anything of the
	// sandbox that outlives the caller exists (state directory, cgroup)
	// and, on cgroup v1, after the init was cloned, so that its start-up
	// overlaps with what BeforeState does. `nucleus run` records itself as
	// the owner there (see reconcile/oneoff). An error fails Create.
	BeforeState func() error
	// CheckSource, when set, judges every host path the sandbox is going to
	// mount from the host (bind volume sources, target = their mount point;
	// the rootfs, target ""), once it is resolved and pinned: real is the
	// path read back from the pinned descriptor, which is what gets
	// mounted, so a symlink swapped in after a check of the path string
	// cannot slip past it. An error fails Create before the init gets
	// anything (the daemon's host-path policy).
	CheckSource func(target, real string) error
}

// Service is what the sandbox runs and how it is confined: what a service
// of the file becomes (reconcile/host.SandboxConfig).
type Service struct {
	// Name is the service's name: the default hostname, and the service of
	// the cgroup unit and the record.
	Name     string
	Hostname string // "" = Name, or the sandbox ID without a Name
	Process  Process
	// Rootfs is the root directory (absolute); "" = the host's system view.
	Rootfs   string
	ReadOnly bool
	Limits   Limits
	Security Security
	// Volumes are the service's volumes, which ResolveMounts turns into
	// host mounts.
	Volumes []Volume
	// ShmSize is the size of /dev/shm in bytes (0: 64 MiB).
	ShmSize int64
	// Ulimits are set by the init before the workload starts.
	Ulimits []Ulimit
	// FileMounts are secrets and configs (mountfiles.go).
	FileMounts []FileMount
}

// FileMount is a read-only file placed in the sandbox: the content is
// handed to the init in a sealed memfd, never written to the host's disk.
type FileMount struct {
	Target   string // absolute path inside the sandbox
	Data     []byte
	UID, GID int    // inside the sandbox (0: its root)
	Mode     uint32 // permission bits
}

// Ulimit is one resource limit (ulimits:); Resource is an RLIMIT_*
// number, Soft and Hard RlimInfinity for unlimited.
type Ulimit = sbinit.Rlimit

// RlimInfinity is an unlimited Ulimit value.
const RlimInfinity = sbinit.RlimInfinity

// Process is the workload's main process.
type Process struct {
	Args       []string
	Env        map[string]string
	User       string // as user: in the file, looked up in the sandbox's /etc
	WorkingDir string
}

// Security is how the sandbox is confined beyond its namespaces.
type Security struct {
	// HostUserNS keeps the host's user namespace (userns: host); false
	// gives the sandbox a private one over the project's id range.
	HostUserNS bool
	CapAdd     []string // canonical "CAP_X" names
	// Seccomp is SeccompDefault (or ""), SeccompUnconfined or the path of
	// an OCI profile, whose bytes SeccompProfile holds when already read.
	Seccomp        string
	SeccompProfile []byte
	Landlock       landlock.Config
}

// Seccomp modes.
const (
	SeccompDefault    = "default"
	SeccompUnconfined = "unconfined"
)

// Mount types.
const (
	MountBind   = "bind"   // host path
	MountVolume = "volume" // named directory volume under the data root
	MountTmpfs  = "tmpfs"  // memory-backed
)

// Volume is one volume of a sandbox before ResolveMounts: a named volume
// of type tmpfs arrives as MountTmpfs (with the volume's size).
type Volume struct {
	Type     string // MountBind, MountVolume or MountTmpfs
	Source   string // host path (bind) or volume name
	Target   string // absolute path inside the sandbox
	ReadOnly bool
	Size     int64  // tmpfs only; 0 = the kernel's default
	Chown    bool   // :U
	Mode     uint32 // tmpfs only; 0 = 01777
	// Exec (tmpfs only) lets the workload execute files of the tmpfs
	// (Landlock's default rules grant no execute on writable mounts);
	// NoExec mounts it noexec, which holds with Landlock off too.
	Exec, NoExec bool
}

// ResolvedMount is a volume resolved to the host.
type ResolvedMount struct {
	Type     string // MountBind, MountVolume or MountTmpfs
	Source   string // host path for bind and named volumes
	Target   string // absolute path inside the sandbox
	ReadOnly bool
	Size     int64  // tmpfs only
	Mode     uint32 // tmpfs only; 0 = 01777
	Exec     bool   // tmpfs only: Landlock grants execute beneath it
	NoExec   bool   // tmpfs only: mounted noexec
	// Chown (:U) hands a writable bind source to the project's id range
	// before it is mounted (chownTree).
	Chown bool
}

// ExitStatus is how a workload ended.
type ExitStatus = sbinit.ExitStatus

// LogRecord is one line of a sandbox's log file.
type LogRecord = sbinit.LogRecord

// LogFile is the name of the current log file in a sandbox's log directory.
const LogFile = sbinit.LogFile

// InitArg is argv[1] of the sandbox init when this binary re-executes itself.
const InitArg = sbinit.InitArg

// IsInit reports whether this process was started as a sandbox init.
func IsInit() bool { return sbinit.IsInit() }

// InitMain runs the sandbox init and never returns.
func InitMain() { sbinit.Main() }

// ExecConfig is a process to run inside a running sandbox.
type ExecConfig struct {
	Args []string
	Env  []string // added to the workload's environment
	Dir  string   // "" = the workload's working directory
	// Stdin, Stdout, Stderr: nil means /dev/null.
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	// Terminal runs the process on a pseudo-terminal of the sandbox's own
	// devpts, as the session leader with it as controlling terminal (job
	// control works, no host pts is reachable). Stdin is copied to the
	// terminal and its output to Stdout; Stderr is unused (a terminal has
	// one output).
	Terminal bool
	// Console, with Terminal, receives the terminal's master side once the
	// process runs, to set and follow the window size (ResizeTerminal). The
	// master is closed when Exec returns.
	Console func(master *os.File)
	// Rows, Cols, with Terminal: the window size the process starts with
	// (a Console resize comes only after the process runs).
	Rows, Cols uint16
	// User runs the process as USER[:GROUP] (a name of the sandbox's
	// /etc/passwd or a number) instead of the workload's user, with the
	// workload's other confinement ("" = the workload's user).
	User string
}

// Stats are usage figures read from the sandbox's cgroup.
type Stats = cgroups.Stats

// dataProject is the project whose id range and named volumes cfg uses.
func (cfg Config) dataProject() string {
	if cfg.DataProject != "" {
		return cfg.DataProject
	}
	return cfg.Project
}
