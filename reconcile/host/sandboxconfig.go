package host

import (
	"maps"
	"slices"

	"nucleus/runtime"
	"nucleus/runtime/landlock"
	"nucleus/spec"
)

// SandboxConfig is the runtime's config of service svc of the file: the one
// place a service becomes a runtime.Config (the supervisor and `nucleus run`
// both use it), so a change of the file format stops here. volumes are the
// project's named volumes: a named tmpfs volume becomes a tmpfs mount. The
// caller fills in ID, Project, Root and the rest of the launch.
func SandboxConfig(svc *spec.Service, volumes map[string]*spec.Volume) runtime.Config {
	return runtime.Config{Service: SandboxService(svc, volumes)}
}

// SandboxService converts the service itself (see SandboxConfig).
func SandboxService(svc *spec.Service, volumes map[string]*spec.Volume) runtime.Service {
	sec := svc.Security
	// Fails to compile when spec.Security gains a field this does not map.
	_ = struct {
		UserNS         string
		Seccomp        string
		SeccompProfile []byte
		Landlock       spec.Landlock
	}(sec)
	out := runtime.Service{
		Name:     svc.Name,
		Hostname: svc.Hostname,
		Process: runtime.Process{
			Args: slices.Clone(svc.Command), Env: maps.Clone(svc.Environment),
			User: svc.User, WorkingDir: svc.WorkingDir,
		},
		Rootfs:   svc.Rootfs,
		ReadOnly: svc.ReadOnly,
		Limits:   Limits(svc.Resources),
		Security: runtime.Security{
			HostUserNS: sec.UserNS == spec.UserNSHost,
			CapAdd:     slices.Clone(svc.CapAdd),
			Seccomp:    sec.Seccomp, SeccompProfile: sec.SeccompProfile,
			Landlock: landlockConfig(sec.Landlock),
		},
	}
	for _, m := range svc.Volumes {
		out.Volumes = append(out.Volumes, volume(m, volumes))
	}
	for _, f := range append(slices.Clone(svc.Secrets), svc.Configs...) {
		out.FileMounts = append(out.FileMounts, runtime.FileMount{Target: f.Target, Data: f.Data, UID: f.UID, GID: f.GID, Mode: uint32(f.Mode)})
	}
	out.ShmSize = int64(svc.ShmSize)
	out.Ulimits = ulimits(svc.Ulimits)
	return out
}

// ulimits converts ulimits: by name into RLIMIT_* numbers, sorted by name
// so that the init sets (and reports) them in a stable order.
func ulimits(m map[string]spec.Ulimit) []runtime.Ulimit {
	var out []runtime.Ulimit
	for _, name := range slices.Sorted(maps.Keys(m)) {
		res, ok := spec.UlimitResource(name)
		if !ok {
			continue // the loader refuses unknown names
		}
		lim := func(v int64) uint64 {
			if v == spec.UlimitUnlimited {
				return runtime.RlimInfinity
			}
			return uint64(v)
		}
		out = append(out, runtime.Ulimit{Name: name, Resource: res, Soft: lim(m[name].Soft), Hard: lim(m[name].Hard)})
	}
	return out
}

// Limits converts a service's resources into the runtime's limits.
func Limits(r spec.Resources) runtime.Limits {
	// Fails to compile when spec.Resources gains a field this does not map.
	_ = struct {
		Memory spec.ByteSize
		CPUs   float64
		Pids   int64
	}(r)
	return runtime.Limits{Memory: int64(r.Memory), CPUs: r.CPUs, Pids: r.Pids}
}

// volume converts one volume mount; a named volume's type and size decide
// what a MountVolume or a named tmpfs becomes.
func volume(m spec.VolumeMount, volumes map[string]*spec.Volume) runtime.Volume {
	// Fails to compile when spec.VolumeMount gains a field this does not map.
	_ = struct {
		Type, Source, Target string
		ReadOnly             bool
		Size                 spec.ByteSize
		AllowConfigWrite     bool // checked by spec; nothing at run time
		Chown                bool
		Mode                 spec.FileMode
		Exec                 *bool
	}(m)
	v := runtime.Volume{Source: m.Source, Target: m.Target, ReadOnly: m.ReadOnly, Size: int64(m.Size), Chown: m.Chown,
		Mode: uint32(m.Mode), Exec: m.Exec != nil && *m.Exec, NoExec: m.Exec != nil && !*m.Exec}
	named := volumes[m.Source]
	switch m.Type {
	case spec.MountBind:
		v.Type = runtime.MountBind
	case spec.MountTmpfs:
		v.Type = runtime.MountTmpfs
		if m.Source != "" && named != nil && named.Size > 0 && v.Size == 0 {
			v.Size = int64(named.Size)
		}
	case spec.MountVolume:
		v.Type = runtime.MountVolume
		if named != nil && named.Type == spec.VolumeTypeTmpfs {
			v.Type, v.Size = runtime.MountTmpfs, int64(named.Size)
		}
	default:
		v.Type = m.Type // ResolveMounts names it as unknown
	}
	return v
}

func landlockConfig(l spec.Landlock) landlock.Config {
	c := landlock.Config{Mode: l.Mode}
	for _, r := range l.Rules {
		c.Rules = append(c.Rules, landlock.Rule{Path: r.Path, Access: slices.Clone(r.Access)})
	}
	return c
}
