package sbinit

import "syscall"

// Config is everything the init needs, sent by the caller after clone.
// Paths are host paths unless they say otherwise.
type Config struct {
	Args []string `json:"args"`
	Env  []string `json:"env"`
	Dir  string   `json:"dir"` // inside the sandbox
	User string   `json:"user"`

	Hostname string `json:"hostname"`
	// Rootfs is true when FDRootfs (index into the config fds) is a detached
	// mount of the given rootfs; false = read-only view of host system dirs.
	Rootfs   bool `json:"rootfs"`
	FDRootfs int  `json:"fd_rootfs"`
	ReadOnly bool `json:"read_only"`
	// FDUpper (index into the config fds, -1: none) is a detached mount of
	// the directory that holds the writable layer of a rootfs with
	// read_only false: its upper/ and work/ are overlayfs's upperdir and
	// workdir, so what the workload writes outlives the sandbox. Where
	// overlayfs refuses it, the layer is a tmpfs as without it.
	FDUpper int `json:"fd_upper"`
	// RootfsPath and UpperPath replace FDRootfs and FDUpper for an
	// ordinary user's sandbox: its caller cannot clone a mount in the
	// host's mount namespace, so the init binds them by path in its own
	// (owned by the sandbox's user namespace). They are the user's own
	// directories: an image tree unpacked in that namespace and the
	// replica's writable layer.
	RootfsPath string `json:"rootfs_path,omitempty"`
	UpperPath  string `json:"upper_path,omitempty"`
	// ShmSize is the size of /dev/shm in bytes (0: DefaultShmSize).
	ShmSize int64 `json:"shm_size,omitempty"`
	// Rlimits are set on the init before it builds the root, so the
	// workload and every exec'd process inherit them (ulimits:).
	Rlimits []Rlimit          `json:"rlimits,omitempty"`
	Mounts  []Mount           `json:"mounts"`
	Files   map[string][]byte `json:"files"`
	// FileMounts are secrets and configs: read-only files whose content
	// arrives as sealed memfds (too large for this message), copied into
	// a tmpfs of the init's own and bound over their targets.
	FileMounts []FileMount `json:"file_mounts,omitempty"`
	// HostNetNS: no network namespace of our own (sysfs cannot be mounted).
	HostNetNS bool `json:"host_netns"`
	UserNS    bool `json:"userns"`

	CapAdd  []int  `json:"cap_add"`
	Seccomp []byte `json:"seccomp"` // raw BPF; empty = unconfined
	// FDCgroupTasks are the v1 controllers' "tasks" files of the sandbox
	// cgroup (indexes into the config fds); empty on v2.
	FDCgroupTasks []int `json:"fd_cgroup_tasks,omitempty"`
	// CgroupLater: the tasks files arrive in a separate MsgCgroup (its fds,
	// in order) after the config, so that the caller creates the v1 cgroup
	// while the init builds the root instead of before; they are joined
	// before anything is forked either way.
	CgroupLater bool `json:"cgroup_later,omitempty"`
	// Landlock is the compiled ruleset; nil = `landlock: off`.
	Landlock *LandlockPlan `json:"landlock,omitempty"`

	// TimerSlack (ns, 0: unknown) is the caller's timer slack. The init's
	// sysmon thread runs with a larger one (sysmonslack) and threads it
	// starts inherit that, so the spawner threads set this one
	// explicitly: what they fork gets the caller's, as without the init.
	TimerSlack uint64 `json:"timer_slack,omitempty"`

	Terminal bool `json:"terminal"`
	// Logs: stdout and stderr go to log files in the directory passed as
	// fd LogDirFD (index into the fds of the config Message).
	Logs       bool  `json:"logs"`
	LogMaxSize int64 `json:"log_max_size"`
	// ExitFile receives the workload's exit status as JSON (index into fds),
	// for a caller that re-attaches after the original caller died.
	FDLogDir   int `json:"fd_log_dir"`
	FDExitFile int `json:"fd_exit_file"`
	FDListener int `json:"fd_listener"`
}

// FileMount is one secret or config file (mountfiles.go).
type FileMount struct {
	Target   string `json:"target"` // inside the sandbox
	UID, GID int    // inside the sandbox's user namespace
	Mode     uint32 `json:"mode"`
	FD       int    `json:"fd"` // index into the config fds: a memfd with the content
}

// Mount is one volume. Bind mounts arrive as detached mount fds
// (open_tree) prepared by the caller, so the init never resolves host paths.
type Mount struct {
	Type     string `json:"type"` // bind | tmpfs
	Target   string `json:"target"`
	ReadOnly bool   `json:"read_only"`
	Size     int64  `json:"size,omitempty"`
	FD       int    `json:"fd"` // index into the config Message's fds (bind)
	// Path (an ordinary user's sandbox): FD is the caller's pinned source,
	// not a mount; the init clones Path in its own mount namespace (the
	// caller cannot clone one in the host's) and checks that the clone is
	// FD's file, so a path swapped since the caller judged it is refused.
	Path  string `json:"path,omitempty"`
	IsDir bool   `json:"is_dir"`
	// Mode is a tmpfs's root mode (0: 01777); NoExec mounts it noexec
	// (without it, Landlock decides: no execute unless allowed).
	Mode   uint32 `json:"mode,omitempty"`
	NoExec bool   `json:"noexec,omitempty"`
}

// Rlimit is one resource limit; Name (nofile, ...) is for messages.
// RlimInfinity is "unlimited".
type Rlimit struct {
	Name     string `json:"name"`
	Resource int    `json:"resource"`
	Soft     uint64 `json:"soft"`
	Hard     uint64 `json:"hard"`
}

// RlimInfinity is RLIM_INFINITY.
const RlimInfinity = ^uint64(0)

// ExitStatus is how a workload ended.
type ExitStatus struct {
	// Code is the exit code, or 128+signal when Signal is set.
	Code   int
	Signal syscall.Signal
	// OOMKilled reports that the memory limit killed the workload.
	OOMKilled bool
	// OOMKills counts the sandbox's processes the OOM killer killed (the
	// main one or others); read by the caller from the cgroup.
	OOMKills uint64 `json:",omitempty"`
}
