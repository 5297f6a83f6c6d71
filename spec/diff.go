package spec

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Class says what a change to a field requires of a running service.
type Class int

const (
	// ClassNone changes need nothing from the running sandbox (depends_on,
	// replicas: the supervisor acts on them without touching replicas).
	ClassNone Class = iota
	// ClassLive changes are applied in place: cgroup limits, port forwards,
	// egress rules, DNS and /etc/hosts records, network aliases.
	ClassLive
	// ClassRestart changes need the sandbox to be recreated.
	ClassRestart
)

func (c Class) String() string {
	switch c {
	case ClassLive:
		return "live"
	case ClassRestart:
		return "restart"
	}
	return "none"
}

// Change is one field-level difference between two versions of a service.
type Change struct {
	Path  string // "environment.DB_URL", "resources.memory", "networks.backend.aliases"
	Class Class
	Old   string // "" when the field was absent
	New   string
}

// String says what changed; an image change names the reference and the
// digests: "image docker.io/library/nginx:1.27 sha256:ab12… -> sha256:cd34…"
// when only the digest moved, "image A -> B" when the reference did.
func (c Change) String() string {
	if c.Path == "image" {
		oref, odig, _ := strings.Cut(c.Old, " ")
		nref, ndig, _ := strings.Cut(c.New, " ")
		if oref == nref && oref != "" {
			return "image " + oref + " " + orNone(ShortDigest(odig)) + " -> " + orNone(ShortDigest(ndig))
		}
		return "image " + orNone(oref) + " -> " + orNone(nref)
	}
	return c.Path + " changed"
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// imageString is "REF DIGEST" ("REF" before the digest is resolved, ""
// without an image); the full digest, so that digests sharing a prefix
// still differ. String shortens it.
func imageString(s *Service) string {
	if s.ImageDigest == "" {
		return s.Image
	}
	return s.Image + " " + s.ImageDigest
}

// ShortDigest shortens "sha256:<64 hex>" to "sha256:<12 hex>…".
func ShortDigest(d string) string {
	algo, hexPart, ok := strings.Cut(d, ":")
	if !ok || len(hexPart) <= 12 {
		return d
	}
	return algo + ":" + hexPart[:12] + "…"
}

// entrypointString tells "not given" ("") from "cleared" ("[]").
func entrypointString(e []string) string {
	if e == nil {
		return ""
	}
	if len(e) == 0 {
		return "[]"
	}
	return quoteList(e)
}

// Diff lists the differences between two versions of a service, sorted by
// path. ServiceHash(old) == ServiceHash(new) exactly when Diff reports no
// change of class live or restart.
func Diff(old, new *Service) []Change {
	var out []Change
	add := func(path string, class Class, a, b string) {
		if a != b {
			out = append(out, Change{Path: path, Class: class, Old: a, New: b})
		}
	}
	add("command", ClassRestart, quoteList(old.Command), quoteList(new.Command))
	add("entrypoint", ClassRestart, entrypointString(old.Entrypoint), entrypointString(new.Entrypoint))
	if old.Image == "" || new.Image == "" || imageString(old) == imageString(new) {
		// With an image on both sides the rootfs is its tree: when the
		// image line shows the digest moved, the tree moving says nothing
		// more.
		add("rootfs", ClassRestart, old.Rootfs, new.Rootfs)
	}
	add("image", ClassRestart, imageString(old), imageString(new))
	add("working_dir", ClassRestart, old.WorkingDir, new.WorkingDir)
	add("user", ClassRestart, old.User, new.User)
	add("hostname", ClassRestart, old.Hostname, new.Hostname)
	for _, k := range unionKeys(old.Environment, new.Environment) {
		add("environment."+k, ClassRestart, envValue(old.Environment, k), envValue(new.Environment, k))
	}
	for _, k := range unionKeys(old.Networks, new.Networks) {
		o, oin := old.Networks[k]
		n, nin := new.Networks[k]
		if oin != nin {
			add("networks."+k, ClassRestart, present(oin), present(nin))
			continue
		}
		if o == nil {
			o = &ServiceNetwork{}
		}
		if n == nil {
			n = &ServiceNetwork{}
		}
		add("networks."+k+".aliases", ClassLive, strings.Join(o.Aliases, ","), strings.Join(n.Aliases, ","))
		add("networks."+k+".ipv4_address", ClassRestart, o.IPv4Address, n.IPv4Address)
	}
	add("ports", ClassLive, joinStrings(old.Ports), joinStrings(new.Ports))
	add("dns", ClassLive, strings.Join(old.DNS, ","), strings.Join(new.DNS, ","))
	add("extra_hosts", ClassLive, hostsString(old.ExtraHosts), hostsString(new.ExtraHosts))
	add("egress", ClassLive, egressString(old.Egress), egressString(new.Egress))
	add("resources.memory", ClassLive, sizeString(old.Resources.Memory), sizeString(new.Resources.Memory))
	add("resources.cpus", ClassLive, floatString(old.Resources.CPUs), floatString(new.Resources.CPUs))
	add("resources.pids", ClassLive, intString(old.Resources.Pids), intString(new.Resources.Pids))
	add("volumes", ClassRestart, mountsString(old.Volumes), mountsString(new.Volumes))
	add("depends_on", ClassNone, depsString(old.DependsOn), depsString(new.DependsOn))
	add("healthcheck", ClassRestart, healthString(old.Healthcheck), healthString(new.Healthcheck))
	add("restart", ClassRestart, restartString(old.Restart), restartString(new.Restart))
	add("stop_signal", ClassRestart, string(old.StopSignal), string(new.StopSignal))
	add("stop_grace_period", ClassRestart, old.StopGracePeriod.String(), new.StopGracePeriod.String())
	add("replicas", ClassNone, strconv.Itoa(old.Replicas), strconv.Itoa(new.Replicas))
	add("read_only", ClassRestart, strconv.FormatBool(old.ReadOnly), strconv.FormatBool(new.ReadOnly))
	add("cap_add", ClassRestart, strings.Join(sortedCopy(old.CapAdd), ","), strings.Join(sortedCopy(new.CapAdd), ","))
	add("security.userns", ClassRestart, old.Security.UserNS, new.Security.UserNS)
	add("security.seccomp", ClassRestart, seccompString(old.Security), seccompString(new.Security))
	fileMountChanges(add, "secrets", old.Secrets, new.Secrets)
	fileMountChanges(add, "configs", old.Configs, new.Configs)
	add("labels", ClassNone, labelsString(old.Labels), labelsString(new.Labels))
	add("profiles", ClassNone, strings.Join(old.Profiles, ","), strings.Join(new.Profiles, ","))
	add("security.landlock", ClassRestart, landlockString(old.Security.Landlock), landlockString(new.Security.Landlock))
	for _, k := range unionKeys(old.Ulimits, new.Ulimits) {
		add("ulimits."+k, ClassRestart, ulimitString(old.Ulimits, k), ulimitString(new.Ulimits, k))
	}
	add("shm_size", ClassRestart, sizeString(old.ShmSize), sizeString(new.ShmSize))
	sort.SliceStable(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

func ulimitString(m map[string]Ulimit, k string) string {
	u, ok := m[k]
	if !ok {
		return ""
	}
	return ulimitText(u.Soft) + ":" + ulimitText(u.Hard)
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := make(map[string]bool, len(a)+len(b))
	for k := range a {
		seen[k] = true
	}
	for k := range b {
		seen[k] = true
	}
	return sortedKeys(seen)
}

func present(b bool) string {
	if b {
		return "attached"
	}
	return ""
}

func envValue(m map[string]string, k string) string {
	v, ok := m[k]
	if !ok {
		return ""
	}
	return strconv.Quote(v) // distinguishes "set to empty" from "unset"
}

func quoteList(l []string) string {
	if len(l) == 0 {
		return ""
	}
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, " ") + "]"
}

func joinStrings[T fmt.Stringer](l []T) string {
	s := make([]string, len(l))
	for i, v := range l {
		s[i] = v.String()
	}
	return strings.Join(s, ",")
}

func hostsString(l []ExtraHost) string {
	s := make([]string, len(l))
	for i, h := range l {
		s[i] = h.Host + ":" + h.IP
	}
	return strings.Join(s, ",")
}

func egressString(e *Egress) string {
	if e == nil {
		return "unrestricted"
	}
	return "allow[" + joinStrings(e.Allow) + "]"
}

func sizeString(b ByteSize) string {
	if b == 0 {
		return "unlimited"
	}
	return b.String()
}

func floatString(f float64) string {
	if f == 0 {
		return "unlimited"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

func intString(n int64) string {
	if n == 0 {
		return "unlimited"
	}
	return strconv.FormatInt(n, 10)
}

func mountsString(l []VolumeMount) string {
	s := make([]string, len(l))
	for i, m := range l {
		s[i] = fmt.Sprintf("%s:%s:%s:ro=%t:size=%d", m.Type, m.Source, m.Target, m.ReadOnly, m.Size)
		if m.Chown {
			s[i] += ":U"
		}
		if m.Mode != 0 {
			s[i] += fmt.Sprintf(":mode=%04o", uint32(m.Mode))
		}
		if m.Exec != nil {
			s[i] += fmt.Sprintf(":exec=%t", *m.Exec)
		}
	}
	return strings.Join(s, ",")
}

func depsString(m map[string]Dependency) string {
	var s []string
	for _, k := range sortedKeys(m) {
		s = append(s, fmt.Sprintf("%s:%s:restart=%t", k, m[k].Condition, m[k].Restart))
		if !m[k].IsRequired() {
			s[len(s)-1] += ":required=false"
		}
	}
	return strings.Join(s, ",")
}

func healthString(h *Healthcheck) string {
	if h == nil {
		return "none"
	}
	s := fmt.Sprintf("%s %s tcp=%d http=%s interval=%s timeout=%s retries=%d start_period=%s",
		h.Kind, quoteList(h.Test), h.TCPPort, h.HTTPURL, h.Interval, h.Timeout, h.Retries, h.StartPeriod)
	if h.StartInterval != 0 {
		s += " start_interval=" + h.StartInterval.String()
	}
	return s
}

func restartString(r RestartPolicy) string {
	if r.MaxRetries != 0 {
		return r.Policy + ":" + strconv.Itoa(r.MaxRetries)
	}
	return r.Policy
}

func sortedCopy(l []string) []string {
	c := append([]string(nil), l...)
	sort.Strings(c)
	return c
}

func seccompString(s Security) string {
	if !isProfilePath(s.Seccomp) {
		return s.Seccomp
	}
	sum := sha256.Sum256(s.SeccompProfile)
	return "profile sha256:" + hex.EncodeToString(sum[:6])
}

func landlockString(l Landlock) string {
	s := l.Mode
	for _, r := range l.Rules {
		s += " " + r.Path + ":" + strings.Join(r.Access, "+")
	}
	return s
}
