// Package spec is the nucleus.yaml model: the normalised types every other
// package consumes, and (in sibling files) strict loading, interpolation,
// merging, validation with file:line:col, normalisation and hashing.
//
// The types below are the *normalised* long form: every short form a user may
// write in YAML is turned into exactly one of these shapes by the loader, so
// consumers never see compose-style shorthands. `nucleus config` prints them.
package spec

// Project is one fully loaded, validated and normalised project.
type Project struct {
	// Name is the effective project name ([a-z0-9_-]).
	Name string `json:"name" yaml:"name"`
	// Dir is the absolute project directory (directory of the first file).
	Dir string `json:"-" yaml:"-"`
	// Files are the absolute paths of the YAML files that were merged, in order.
	Files []string `json:"-" yaml:"-"`
	// WatchFiles are every file whose content influences the project
	// (YAML files, .env, env_files, seccomp profiles); the watcher follows them.
	WatchFiles []string `json:"-" yaml:"-"`
	// Sources are the bytes the load parsed, by path, for every file of
	// WatchFiles it read: a digest of the project's content is taken from
	// them (reconcile.ProjectDigest), so it names what was parsed even when
	// a file changes right after.
	Sources map[string][]byte `json:"-" yaml:"-"`

	Networks map[string]*Network `json:"networks" yaml:"networks"`
	Volumes  map[string]*Volume  `json:"volumes,omitempty" yaml:"volumes,omitempty"`
	Services map[string]*Service `json:"services" yaml:"services"`
	// Secrets and Configs are the declared file objects (spec/secrets.go).
	Secrets map[string]*FileObject `json:"secrets,omitempty" yaml:"secrets,omitempty"`
	Configs map[string]*FileObject `json:"configs,omitempty" yaml:"configs,omitempty"`
	// ActiveProfiles are the profiles the load ran with (spec/profiles.go);
	// Disabled are the services left out because none of theirs was active.
	ActiveProfiles []string `json:"-" yaml:"-"`
	Disabled       []string `json:"-" yaml:"-"`
}

// NAT modes of a network.
const (
	NATAuto      = "auto"
	NATKernel    = "kernel"
	NATUserspace = "userspace"
)

// Userspace backends of a network (its way out without root).
const (
	UserspaceAuto  = "auto" // slirp4netns when installed, else pasta
	UserspacePasta = "pasta"
	UserspaceSlirp = "slirp4netns"
)

// Pull policies (Compose's names; if_not_present is read as missing).
const (
	PullMissing = "missing"
	PullAlways  = "always"
	PullNever   = "never"
)

// Network is a project network.
type Network struct {
	Name string `json:"-" yaml:"-"`
	// Subnet is an IPv4 CIDR; empty means "allocate automatically".
	Subnet string `json:"subnet,omitempty" yaml:"subnet,omitempty"`
	NAT    string `json:"nat" yaml:"nat"`
	// UserspaceBackend picks the way out of a userspace network (auto, pasta, slirp4netns).
	UserspaceBackend string   `json:"userspace_backend,omitempty" yaml:"userspace_backend,omitempty"`
	Internal         bool     `json:"internal" yaml:"internal"`
	DNS              []string `json:"dns,omitempty" yaml:"dns,omitempty"`
	// Labels are metadata (as a service's): kept and printed, never a
	// reason to recreate the network.
	Labels map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
}

// Volume types.
const (
	VolumeTypeDir   = "dir"   // persistent directory under the data root
	VolumeTypeTmpfs = "tmpfs" // memory-backed, size-limited
)

// Volume is a named volume declared at the top level.
type Volume struct {
	Name string   `json:"-" yaml:"-"`
	Type string   `json:"type" yaml:"type"`
	Size ByteSize `json:"size,omitempty" yaml:"size,omitempty"`
	// Labels are metadata, kept and printed.
	Labels map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
}

// Service is one service, fully normalised.
type Service struct {
	Name    string   `json:"-" yaml:"-"`
	Command []string `json:"command,omitempty" yaml:"command,omitempty"`
	// Entrypoint replaces the image's entrypoint. nil means not given; an
	// empty, non-nil list clears the image's entrypoint. Without image the
	// loader prepends it to Command and leaves it nil.
	Entrypoint Argv   `json:"entrypoint,omitzero" yaml:"entrypoint,omitempty"`
	Rootfs     string `json:"rootfs,omitempty" yaml:"rootfs,omitempty"` // absolute; empty = host system view
	// Image is the canonical image reference (ref.Ref.String()); exclusive
	// with Rootfs.
	Image string `json:"image,omitempty" yaml:"image,omitempty"`
	// ImageDigest is the resolved manifest digest ("sha256:..."), filled in
	// from the image store before planning; the loader refuses it in a file
	// (a pin belongs in Image as REF@sha256:...). Printed by nucleus config.
	ImageDigest string `json:"image_digest,omitempty" yaml:"image_digest,omitempty"`
	// PullPolicy is PullMissing, PullAlways or PullNever with Image, "" without.
	// It decides when to pull, not what runs, so it is not hashed.
	PullPolicy string `json:"pull_policy,omitempty" yaml:"pull_policy,omitempty"`
	// ExposedPorts are the image's EXPOSE entries ("80/tcp"), informational
	// only (set by WithImageConfig, never read from a file).
	ExposedPorts []string `json:"exposed_ports,omitempty" yaml:"exposed_ports,omitempty"`

	WorkingDir  string            `json:"working_dir,omitempty" yaml:"working_dir,omitempty"`
	User        string            `json:"user,omitempty" yaml:"user,omitempty"`
	Hostname    string            `json:"hostname" yaml:"hostname"`
	Environment map[string]string `json:"environment,omitempty" yaml:"environment,omitempty"` // env_file contents merged in
	EnvFile     []string          `json:"env_file,omitempty" yaml:"env_file,omitempty"`       // absolute paths (contents already merged)

	// Networks maps network name to the attachment options.
	Networks   map[string]*ServiceNetwork `json:"networks" yaml:"networks"`
	Ports      []Port                     `json:"ports,omitempty" yaml:"ports,omitempty"`
	DNS        []string                   `json:"dns,omitempty" yaml:"dns,omitempty"`
	ExtraHosts []ExtraHost                `json:"extra_hosts,omitempty" yaml:"extra_hosts,omitempty"`
	// Egress is nil when outbound traffic is unrestricted.
	Egress *Egress `json:"egress,omitempty" yaml:"egress,omitempty"`

	Resources Resources     `json:"resources" yaml:"resources"`
	Volumes   []VolumeMount `json:"volumes,omitempty" yaml:"volumes,omitempty"`

	DependsOn   map[string]Dependency `json:"depends_on,omitempty" yaml:"depends_on,omitempty"`
	Healthcheck *Healthcheck          `json:"healthcheck,omitempty" yaml:"healthcheck,omitempty"`
	Restart     RestartPolicy         `json:"restart" yaml:"restart"`

	// StopSignal is empty only on a service with an image whose file does
	// not set it: WithImageConfig fills in the image's or SIGTERM. Left out
	// of the normalised form then, so that form loads back the same.
	StopSignal      Signal   `json:"stop_signal,omitempty" yaml:"stop_signal,omitempty"`
	StopGracePeriod Duration `json:"stop_grace_period" yaml:"stop_grace_period"`
	Replicas        int      `json:"replicas" yaml:"replicas"`
	ReadOnly        bool     `json:"read_only" yaml:"read_only"`
	CapAdd          []string `json:"cap_add,omitempty" yaml:"cap_add,omitempty"` // canonical "CAP_X" names, sorted
	Security        Security `json:"security" yaml:"security"`

	// Ulimits are resource limits by Compose's names (nofile, nproc, ...),
	// set by the init before the workload starts.
	Ulimits map[string]Ulimit `json:"ulimits,omitempty" yaml:"ulimits,omitempty"`
	// ShmSize is the size of /dev/shm; 0 means 64 MiB.
	ShmSize ByteSize `json:"shm_size,omitempty" yaml:"shm_size,omitempty"`
	// Secrets and Configs are mounted read-only files (spec/secrets.go).
	Secrets []FileMount `json:"secrets,omitempty" yaml:"secrets,omitempty"`
	Configs []FileMount `json:"configs,omitempty" yaml:"configs,omitempty"`
	// Labels are metadata: not hashed, never a reason to restart.
	Labels map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	// Profiles: a service with profiles runs only when one is active
	// (ApplyProfiles). Not hashed.
	Profiles []string `json:"profiles,omitempty" yaml:"profiles,omitempty"`
}

// Argv is an argument list whose nil (not given) and empty (given, and
// empty) differ: both YAML and JSON leave out only nil, so nucleus config
// prints `entrypoint: []` and loading that output clears the entrypoint
// again.
type Argv []string

// IsZero reports nil only; yaml.v3's omitempty and json's omitzero ask it.
func (a Argv) IsZero() bool { return a == nil }

// ServiceNetwork is a service's attachment to one network.
type ServiceNetwork struct {
	Aliases     []string `json:"aliases,omitempty" yaml:"aliases,omitempty"`
	IPv4Address string   `json:"ipv4_address,omitempty" yaml:"ipv4_address,omitempty"`
}

// Port is one published port or port range (long form).
// Ranges have equal length on both sides; single ports have End == Start.
type Port struct {
	Target    int `json:"target" yaml:"target"`
	TargetEnd int `json:"target_end,omitempty" yaml:"target_end,omitempty"`
	// Published is the first host port; 0 means "not published on a fixed port".
	Published    int    `json:"published,omitempty" yaml:"published,omitempty"`
	PublishedEnd int    `json:"published_end,omitempty" yaml:"published_end,omitempty"`
	HostIP       string `json:"host_ip" yaml:"host_ip"`   // "0.0.0.0" when not given
	Protocol     string `json:"protocol" yaml:"protocol"` // tcp | udp
}

// HostGateway in ExtraHost.IP stands for the address the sandbox reaches
// the host at (network.Manager.HostGateway), filled in at every start.
const HostGateway = "host-gateway"

// ExtraHost is one /etc/hosts entry.
type ExtraHost struct {
	Host string `json:"host" yaml:"host"`
	IP   string `json:"ip" yaml:"ip"`
}

// Egress restricts outbound traffic: peers, the embedded DNS and Allow only.
type Egress struct {
	Allow []EgressRule `json:"allow" yaml:"allow"`
}

// EgressRule is one allowed destination. Exactly one of CIDR and Domain is set.
type EgressRule struct {
	CIDR   string `json:"cidr,omitempty" yaml:"cidr,omitempty"`     // "192.0.2.0/24"; a single address becomes /32
	Domain string `json:"domain,omitempty" yaml:"domain,omitempty"` // "api.example.com" or "*.example.com"
	// PortStart..PortEnd; both 0 means any port.
	PortStart int    `json:"port_start,omitempty" yaml:"port_start,omitempty"`
	PortEnd   int    `json:"port_end,omitempty" yaml:"port_end,omitempty"`
	Protocol  string `json:"protocol,omitempty" yaml:"protocol,omitempty"` // tcp | udp | "" (both)
}

// Resources are cgroup limits; zero means unlimited.
type Resources struct {
	Memory ByteSize `json:"memory,omitempty" yaml:"memory,omitempty"`
	CPUs   float64  `json:"cpus,omitempty" yaml:"cpus,omitempty"`
	Pids   int64    `json:"pids,omitempty" yaml:"pids,omitempty"`
}

// Volume mount types.
const (
	MountBind   = "bind"   // host path
	MountVolume = "volume" // named volume
	MountTmpfs  = "tmpfs"  // anonymous or named tmpfs
)

// VolumeMount is one entry of a service's volumes.
type VolumeMount struct {
	Type     string   `json:"type" yaml:"type"`
	Source   string   `json:"source,omitempty" yaml:"source,omitempty"` // absolute host path (bind) or volume name
	Target   string   `json:"target" yaml:"target"`
	ReadOnly bool     `json:"read_only" yaml:"read_only"`
	Size     ByteSize `json:"size,omitempty" yaml:"size,omitempty"` // tmpfs only
	// AllowConfigWrite opts a writable bind mount out of the rule that a
	// sandbox may not write the project's own files (see checkConfigMounts).
	// It changes nothing at run time, so it is not hashed.
	AllowConfigWrite bool `json:"allow_config_write,omitempty" yaml:"allow_config_write,omitempty"`
	// Chown (short form :U, Podman's option) hands the volume's source to
	// the service's user and group (as mapped into its user namespace) at
	// every start, so a non-root service can use a fresh named volume.
	Chown bool `json:"chown,omitempty" yaml:"chown,omitempty"`
	// Mode is a tmpfs's permission bits (0: 1777).
	Mode FileMode `json:"mode,omitempty" yaml:"mode,omitempty"`
	// Exec, on a tmpfs: true lets the workload run files from it, false
	// mounts it noexec; nil leaves it to Landlock, whose default rules
	// grant no execute on a writable mount.
	Exec *bool `json:"exec,omitempty" yaml:"exec,omitempty"`
}

// Dependency conditions.
const (
	ConditionStarted   = "service_started"
	ConditionHealthy   = "service_healthy"
	ConditionCompleted = "service_completed_successfully"
)

// Dependency is one depends_on entry.
type Dependency struct {
	Condition string `json:"condition" yaml:"condition"`
	Restart   bool   `json:"restart" yaml:"restart"`
	// Required is nil for required (the default) and false for
	// `required: false`: the dependent starts without the dependency when
	// it is not in the project, has no replicas or failed for good.
	Required *bool `json:"required,omitempty" yaml:"required,omitempty"`
}

// IsRequired reports whether the dependent must wait for the dependency.
func (d Dependency) IsRequired() bool { return d.Required == nil || *d.Required }

// Healthcheck kinds.
const (
	HealthExec = "exec" // Test runs inside the sandbox
	HealthTCP  = "tcp"  // connect to TCPPort from the sandbox's network namespace
	HealthHTTP = "http" // GET HTTPURL from the sandbox's network namespace, 2xx/3xx is healthy
)

// Healthcheck is a normalised health check.
type Healthcheck struct {
	Kind string `json:"kind" yaml:"kind"`
	// Test is ["CMD", argv...] or ["CMD-SHELL", script] for Kind exec.
	Test        []string `json:"test,omitempty" yaml:"test,omitempty"`
	TCPPort     int      `json:"tcp,omitempty" yaml:"tcp,omitempty"`
	HTTPURL     string   `json:"http,omitempty" yaml:"http,omitempty"`
	Interval    Duration `json:"interval" yaml:"interval"`
	Timeout     Duration `json:"timeout" yaml:"timeout"`
	Retries     int      `json:"retries" yaml:"retries"`
	StartPeriod Duration `json:"start_period" yaml:"start_period"`
	// StartInterval, when set, is the time between checks during the
	// start period until the first success (Compose's start_interval).
	StartInterval Duration `json:"start_interval,omitempty" yaml:"start_interval,omitempty"`
}

// Restart policies.
const (
	RestartNo            = "no"
	RestartAlways        = "always"
	RestartOnFailure     = "on-failure"
	RestartUnlessStopped = "unless-stopped"
)

// RestartPolicy is a parsed restart policy; MaxRetries 0 means unlimited.
type RestartPolicy struct {
	Policy     string `json:"policy" yaml:"policy"`
	MaxRetries int    `json:"max_retries,omitempty" yaml:"max_retries,omitempty"`
}

// User-namespace modes.
const (
	UserNSPrivate = "private"
	UserNSHost    = "host"
)

// Seccomp modes (anything else in Security.Seccomp is an absolute profile path).
const (
	SeccompDefault    = "default"
	SeccompUnconfined = "unconfined"
)

// Landlock modes.
const (
	LandlockDefault = "default"
	LandlockOff     = "off"
	LandlockCustom  = "custom"
)

// Security is a service's security profile.
type Security struct {
	UserNS string `json:"userns" yaml:"userns"`
	// Seccomp is "default", "unconfined" or an absolute path to an OCI profile.
	Seccomp string `json:"seccomp" yaml:"seccomp"`
	// SeccompProfile holds the profile file's bytes when Seccomp is a path
	// (so the hash covers the contents). Not printed.
	SeccompProfile []byte   `json:"-" yaml:"-"`
	Landlock       Landlock `json:"landlock" yaml:"landlock"`
}

// Landlock is the Landlock configuration: a mode, plus rules for LandlockCustom.
type Landlock struct {
	Mode  string         `json:"mode" yaml:"mode"`
	Rules []LandlockRule `json:"rules,omitempty" yaml:"rules,omitempty"`
}

// LandlockRule grants access (read, write, execute) beneath an absolute path.
type LandlockRule struct {
	Path   string   `json:"path" yaml:"path"`
	Access []string `json:"access" yaml:"access"`
}
