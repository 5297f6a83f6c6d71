package spec

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"sort"
	"sync"
)

// HashVersion prefixes every service hash. Bump it whenever the canonical
// encoding below changes, so old and new hashes never compare equal by
// accident.
const HashVersion = "v1"

// ServiceHash is "v1:" + the hex sha256 of the canonical encoding of the
// resolved service. It covers every field that affects a running sandbox
// (environment after env_file merging, the seccomp profile's bytes rather
// than its path) and leaves out depends_on, replicas, the service name and
// the env_file paths. Key order, comments and short versus long forms do not
// change it because it is computed from the normalised model.
func ServiceHash(s *Service) string {
	h := hasherPool.Get().(*hasher)
	h.b = h.b[:0]
	h.encode(s)
	sum := sha256.Sum256(h.b)
	hasherPool.Put(h)
	var out [len(HashVersion) + 1 + 2*sha256.Size]byte
	copy(out[:], HashVersion+":")
	hex.Encode(out[len(HashVersion)+1:], sum[:])
	return string(out[:])
}

// hasherPool reuses encoding buffers: reconcile hashes every service on
// every reload.
var hasherPool = sync.Pool{New: func() any { return &hasher{b: make([]byte, 0, 1024)} }}

// hasher builds an unambiguous byte string: every value is tagged with its
// field name and length-prefixed.
type hasher struct {
	b    []byte
	keys []string // scratch for sorted map keys
}

func appendSortedKeys[V any](dst []string, m map[string]V) []string {
	for k := range m {
		dst = append(dst, k)
	}
	sort.Strings(dst)
	return dst
}

func (h *hasher) raw(s string) {
	h.b = binary.AppendUvarint(h.b, uint64(len(s)))
	h.b = append(h.b, s...)
}

func (h *hasher) str(field, v string) {
	h.raw(field)
	h.raw(v)
}

func (h *hasher) num(field string, v int64) {
	h.raw(field)
	h.b = binary.AppendVarint(h.b, v)
}

func (h *hasher) boolean(field string, v bool) {
	h.raw(field)
	if v {
		h.b = append(h.b, 1)
	} else {
		h.b = append(h.b, 0)
	}
}

func (h *hasher) strs(field string, v []string) {
	h.num(field, int64(len(v)))
	for _, s := range v {
		h.raw(s)
	}
}

func (h *hasher) encode(s *Service) {
	h.strs("command", s.Command)
	h.str("rootfs", s.Rootfs)
	h.str("working_dir", s.WorkingDir)
	h.str("user", s.User)
	h.str("hostname", s.Hostname)
	h.keys = appendSortedKeys(h.keys[:0], s.Environment)
	h.num("environment", int64(len(h.keys)))
	for _, k := range h.keys {
		h.raw(k)
		h.raw(s.Environment[k])
	}
	h.keys = appendSortedKeys(h.keys[:0], s.Networks)
	h.num("networks", int64(len(h.keys)))
	for _, k := range h.keys {
		h.raw(k)
		n := s.Networks[k]
		if n == nil {
			n = &ServiceNetwork{}
		}
		h.strs("aliases", n.Aliases)
		h.str("ipv4_address", n.IPv4Address)
	}
	h.num("ports", int64(len(s.Ports)))
	for _, p := range s.Ports {
		h.num("target", int64(p.Target))
		h.num("target_end", int64(p.TargetEnd))
		h.num("published", int64(p.Published))
		h.num("published_end", int64(p.PublishedEnd))
		h.str("host_ip", p.HostIP)
		h.str("protocol", p.Protocol)
	}
	h.strs("dns", s.DNS)
	h.num("extra_hosts", int64(len(s.ExtraHosts)))
	for _, e := range s.ExtraHosts {
		h.raw(e.Host)
		h.raw(e.IP)
	}
	h.boolean("egress", s.Egress != nil)
	if s.Egress != nil {
		h.num("allow", int64(len(s.Egress.Allow)))
		for _, r := range s.Egress.Allow {
			h.str("cidr", r.CIDR)
			h.str("domain", r.Domain)
			h.num("port_start", int64(r.PortStart))
			h.num("port_end", int64(r.PortEnd))
			h.str("protocol", r.Protocol)
		}
	}
	h.num("memory", int64(s.Resources.Memory))
	h.num("cpus", int64(math.Float64bits(s.Resources.CPUs)))
	h.num("pids", s.Resources.Pids)
	h.num("volumes", int64(len(s.Volumes)))
	for _, v := range s.Volumes {
		h.str("type", v.Type)
		h.str("source", v.Source)
		h.str("target", v.Target)
		h.boolean("read_only", v.ReadOnly)
		h.num("size", int64(v.Size))
		if v.Chown { // only when set: hashes of existing mounts stay as they were
			h.boolean("chown", true)
		}
		if v.Mode != 0 { // likewise
			h.num("mode", int64(v.Mode))
		}
		if v.Exec != nil {
			h.boolean("exec", *v.Exec)
		}
	}
	h.boolean("healthcheck", s.Healthcheck != nil)
	if hc := s.Healthcheck; hc != nil {
		h.str("kind", hc.Kind)
		h.strs("test", hc.Test)
		h.num("tcp", int64(hc.TCPPort))
		h.str("http", hc.HTTPURL)
		h.num("interval", int64(hc.Interval))
		h.num("timeout", int64(hc.Timeout))
		h.num("retries", int64(hc.Retries))
		h.num("start_period", int64(hc.StartPeriod))
		if hc.StartInterval != 0 { // only when set: existing hashes stay
			h.num("start_interval", int64(hc.StartInterval))
		}
	}
	h.str("restart", s.Restart.Policy)
	h.num("max_retries", int64(s.Restart.MaxRetries))
	h.str("stop_signal", string(s.StopSignal))
	h.num("stop_grace_period", int64(s.StopGracePeriod))
	h.boolean("read_only", s.ReadOnly)
	h.keys = append(h.keys[:0], s.CapAdd...)
	sort.Strings(h.keys)
	h.strs("cap_add", h.keys)
	h.str("userns", s.Security.UserNS)
	// A profile is hashed by content: moving the file changes nothing.
	if isProfilePath(s.Security.Seccomp) {
		h.str("seccomp", "profile")
		h.raw(string(s.Security.SeccompProfile))
	} else {
		h.str("seccomp", s.Security.Seccomp)
	}
	h.str("landlock", s.Security.Landlock.Mode)
	h.num("rules", int64(len(s.Security.Landlock.Rules)))
	for _, r := range s.Security.Landlock.Rules {
		h.raw(r.Path)
		h.strs("access", r.Access)
	}
	// Image fields come last and only when used, so the hash of every
	// service without them is what it was before images existed.
	// PullPolicy is left out: it says when to pull, not what runs.
	if s.Image != "" || s.ImageDigest != "" || s.Entrypoint != nil {
		h.str("image", s.Image)
		h.str("image_digest", s.ImageDigest)
		h.boolean("entrypoint_given", s.Entrypoint != nil)
		h.strs("entrypoint", s.Entrypoint)
	}
	// Likewise ulimits and shm_size: only when given.
	if len(s.Ulimits) > 0 {
		h.keys = appendSortedKeys(h.keys[:0], s.Ulimits)
		h.num("ulimits", int64(len(h.keys)))
		for _, k := range h.keys {
			h.raw(k)
			h.num("soft", s.Ulimits[k].Soft)
			h.num("hard", s.Ulimits[k].Hard)
		}
	}
	if s.ShmSize != 0 {
		h.num("shm_size", int64(s.ShmSize))
	}
	// Secrets and configs likewise, by content (not the source's path).
	// Labels and profiles are left out: they change nothing that runs.
	h.fileMounts("secrets", s.Secrets)
	h.fileMounts("configs", s.Configs)
}

func (h *hasher) fileMounts(field string, ms []FileMount) {
	if len(ms) == 0 {
		return
	}
	h.num(field, int64(len(ms)))
	for _, m := range ms {
		h.str("source", m.Source)
		h.str("target", m.Target)
		h.num("uid", int64(m.UID))
		h.num("gid", int64(m.GID))
		h.num("mode", int64(m.Mode))
		h.raw(string(m.Data))
	}
}

func isProfilePath(s string) bool {
	return s != SeccompDefault && s != SeccompUnconfined && s != ""
}
