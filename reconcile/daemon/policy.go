package daemon

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"

	"nucleus/image/ref"
	"nucleus/spec"
)

// Policy is what the daemon lets a project file ask for. The daemon
// applies whatever a repository says with host privileges, so a repository
// writer must not get host root through it: by default a project that asks
// for host-level privileges or host paths is refused (Stalled,
// PolicyDenied) until the files change or the daemon is started with the
// matching opt-in. `nucleus up` has no policy: the user runs their own files.
type Policy struct {
	// AllowPrivileged allows userns: host, seccomp: unconfined, landlock:
	// off, the capabilities in DangerousCaps and chown (:U) of bind sources.
	AllowPrivileged bool
	// AllowHostPaths are absolute prefixes outside the project directory
	// under which bind sources, rootfs, oci:/docker-archive: images, env_file and
	// seccomp profiles may
	// lie ("/" allows every path).
	AllowHostPaths []string
}

// DangerousCaps are the capabilities refused without AllowPrivileged: each
// reaches the host (modules, raw devices, other processes, the kernel's
// networking or BPF) or bypasses file permissions.
var DangerousCaps = []string{
	"CAP_BPF", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_LINUX_IMMUTABLE",
	"CAP_MAC_ADMIN", "CAP_MAC_OVERRIDE", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_PERFMON",
	"CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_MODULE", "CAP_SYS_PTRACE", "CAP_SYS_RAWIO",
	"CAP_SYS_TIME", "CAP_SYSLOG",
}

// PolicyDeniedPrefix starts the message of a policy refusal (status uses
// it for the PolicyDenied reason).
const PolicyDeniedPrefix = "refused by the daemon policy"

// Check returns nil when p is allowed, else an error naming every refused
// field with its FILE:LINE:COL. A writable bind mount with
// allow_config_write is refused whatever the opt-ins: a sandbox that can
// write its project's files (or the git repository that delivers them, see
// spec's checkConfigMounts) could give itself anything the daemon allows
// on the next reload, or run commands in the host's next git pull, and the
// repository's writers did not.
func (pol Policy) Check(p *spec.Project) error {
	if pol.AllowPrivileged && slices.Contains(pol.AllowHostPaths, "/") && !writesConfig(p) {
		return nil
	}
	loc := newLocator(p.Files)
	projectDir := spec.RealPath(p.Dir)
	var out []string
	deny := func(path []string, match func(*yamlNode) bool, what, optIn string) {
		out = append(out, fmt.Sprintf("%s: %s: %s (%s)", loc.find(path, match), strings.Join(path, "."), what, optIn))
	}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[name]
		base := []string{"services", name}
		if !pol.AllowPrivileged {
			const opt = "allow with nucleus daemon --allow-privileged"
			if s.Security.UserNS == spec.UserNSHost {
				deny(append(base, "security", "userns"), nil, "userns: host runs as host root", opt)
			}
			if s.Security.Seccomp == spec.SeccompUnconfined {
				deny(append(base, "security", "seccomp"), nil, "seccomp: unconfined lifts the syscall filter", opt)
			}
			if s.Security.Landlock.Mode == spec.LandlockOff {
				deny(append(base, "security", "landlock"), nil, "landlock: off lifts the file access rules", opt)
			}
			for _, c := range s.CapAdd {
				if slices.Contains(DangerousCaps, c) {
					deny(append(base, "cap_add"), capMatcher(c), c+" reaches the host", opt)
				}
			}
		}
		pathOK := func(host string) bool { return pol.hostPathOK(projectDir, host) }
		shown := func(host string) string {
			if r := spec.RealPath(host); r != filepath.Clean(host) {
				return host + " (resolves to " + r + ")"
			}
			return host
		}
		if !pol.AllowPrivileged {
			// :U changes the owner of a host tree at every start: the
			// repository picks the tree (a checkout's .git, a directory a
			// host user owns), so it is a host privilege, not the
			// project's own business.
			for _, m := range s.Volumes {
				if m.Type == spec.MountBind && m.Chown {
					deny(append(base, "volumes"), targetMatcher(m.Target), "chown (:U) of bind source "+shown(m.Source)+
						" hands a host path the repository chooses to the project's ids at every start",
						"allow with nucleus daemon --allow-privileged")
				}
			}
		}
		for _, m := range s.Volumes {
			if configWrite(m) {
				deny(append(base, "volumes"), targetMatcher(m.Target), "allow_config_write on bind source "+shown(m.Source)+" lets the sandbox rewrite the project's own files",
					"never allowed by the daemon, whatever its flags: mount it read-only or mount a subdirectory that holds no project file")
			}
		}
		const popt = "allow with nucleus daemon --allow-host-path PREFIX"
		for _, m := range s.Volumes {
			if m.Type == spec.MountBind && !pathOK(m.Source) {
				deny(append(base, "volumes"), targetMatcher(m.Target), "bind source "+shown(m.Source)+" is outside the project directory", popt)
			}
		}
		if s.Rootfs != "" && !pathOK(s.Rootfs) {
			deny(append(base, "rootfs"), nil, "rootfs "+shown(s.Rootfs)+" is outside the project directory", popt)
		}
		// An oci: layout or docker-archive: file is read from the host
		// like a rootfs: the repository must not pick any host path.
		if r, err := ref.Parse(s.Image, projectDir); err == nil && r.Path != "" && !pathOK(r.Path) {
			deny(append(base, "image"), nil, "image "+r.Transport+": "+shown(r.Path)+" is outside the project directory", popt)
		}
		for _, f := range s.EnvFile {
			if !pathOK(f) {
				deny(append(base, "env_file"), nil, "env_file "+shown(f)+" is outside the project directory", popt)
			}
		}
		if sc := s.Security.Seccomp; filepath.IsAbs(sc) && !pathOK(sc) {
			deny(append(base, "security", "seccomp"), nil, "seccomp profile "+shown(sc)+" is outside the project directory", popt)
		}
	}
	if len(out) == 0 {
		return nil
	}
	return fmt.Errorf("%s:\n%s", PolicyDeniedPrefix, strings.Join(out, "\n"))
}

// configWrite reports whether m is a writable bind mount that opted out of
// spec's rule against writing the project's own files.
func configWrite(m spec.VolumeMount) bool {
	return m.Type == spec.MountBind && !m.ReadOnly && m.AllowConfigWrite
}

// writesConfig reports whether any service of p has such a mount.
func writesConfig(p *spec.Project) bool {
	for _, s := range p.Services {
		if slices.ContainsFunc(s.Volumes, configWrite) {
			return true
		}
	}
	return false
}

// hostPathOK reports whether host (after symlinks, so ./site -> / does not
// escape) lies in the project directory or under an allowed prefix.
func (pol Policy) hostPathOK(projectDir, host string) bool {
	r := spec.RealPath(host)
	if within(projectDir, r) {
		return true
	}
	for _, pre := range pol.AllowHostPaths {
		if within(spec.RealPath(pre), r) {
			return true
		}
	}
	return false
}

// within reports whether p is dir or lies beneath it.
func within(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// capMatcher finds a cap_add item naming c (with or without CAP_).
func capMatcher(c string) func(*yamlNode) bool {
	return func(n *yamlNode) bool {
		v := strings.ToUpper(strings.TrimSpace(n.Value))
		return v == c || "CAP_"+v == c
	}
}

// targetMatcher finds a volumes item mounting at target (short or long form).
func targetMatcher(target string) func(*yamlNode) bool {
	return func(n *yamlNode) bool {
		if n.Value != "" {
			parts := strings.Split(n.Value, ":")
			return len(parts) >= 2 && filepath.Clean(parts[1]) == filepath.Clean(target)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == "target" && filepath.Clean(n.Content[i+1].Value) == filepath.Clean(target) {
				return true
			}
		}
		return false
	}
}
