package host

import (
	"path/filepath"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"

	"nucleus/internal/testutil"
	"nucleus/runtime"
	"nucleus/runtime/landlock"
	"nucleus/spec"
)

// The one conversion of a service of the file into the runtime's config
// (issue 11): every field the runtime uses, the short and long forms of
// :U, and named volumes whose type (tmpfs) or size decide the mount.
func TestSandboxConfigConvertsTheService(t *testing.T) {
	file := filepath.Join(t.TempDir(), "nucleus.yaml")
	testutil.WriteFile(t, file, `services:
  db:
    command: [/bin/busybox, sh, -c, "echo hi"]
    environment: {A: "1"}
    user: "1234:2345"
    working_dir: /tmp
    hostname: dbhost
    read_only: false
    cap_add: [net_bind_service]
    resources: {memory: 64M, cpus: 0.5, pids: 50}
    security:
      userns: host
      seccomp: unconfined
      landlock: {mode: custom, rules: [{path: /data, access: [read, execute]}]}
    volumes:
      - "pg:/pg:U"
      - {type: volume, source: pg2, target: /pg2, chown: true}
      - "mem:/mem"
      - {type: tmpfs, source: sized, target: /sized}
      - {type: tmpfs, target: /anon, size: 1M}
    tmpfs: ["/x:mode=700,exec", "/y:noexec"]
    shm_size: 128M
    ulimits: {nofile: {soft: 100, hard: 200}, core: unlimited}
volumes: {pg: {}, pg2: {}, mem: {type: tmpfs, size: 2M}, sized: {type: tmpfs, size: 3M}}
`)
	p, err := spec.Load(spec.LoadOptions{Files: []string{file}, ProjectName: "p", Environ: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	got := SandboxConfig(p.Services["db"], p.Volumes)
	want := runtime.Config{Service: runtime.Service{
		Name: "db", Hostname: "dbhost",
		Process: runtime.Process{Args: []string{"/bin/busybox", "sh", "-c", "echo hi"},
			Env: map[string]string{"A": "1"}, User: "1234:2345", WorkingDir: "/tmp"},
		Limits: runtime.Limits{Memory: 64 << 20, CPUs: 0.5, Pids: 50},
		Security: runtime.Security{HostUserNS: true, CapAdd: []string{"CAP_NET_BIND_SERVICE"}, Seccomp: runtime.SeccompUnconfined,
			Landlock: landlock.Config{Mode: landlock.ModeCustom, Rules: []landlock.Rule{{Path: "/data", Access: []string{"read", "execute"}}}}},
		Volumes: []runtime.Volume{
			{Type: runtime.MountVolume, Source: "pg", Target: "/pg", Chown: true},
			{Type: runtime.MountVolume, Source: "pg2", Target: "/pg2", Chown: true},
			{Type: runtime.MountTmpfs, Source: "mem", Target: "/mem", Size: 2 << 20},
			{Type: runtime.MountTmpfs, Source: "sized", Target: "/sized", Size: 3 << 20},
			{Type: runtime.MountTmpfs, Target: "/anon", Size: 1 << 20},
			{Type: runtime.MountTmpfs, Target: "/x", Mode: 0o700, Exec: true},
			{Type: runtime.MountTmpfs, Target: "/y", NoExec: true},
		},
		ShmSize: 128 << 20,
		Ulimits: []runtime.Ulimit{
			{Name: "core", Resource: unix.RLIMIT_CORE, Soft: runtime.RlimInfinity, Hard: runtime.RlimInfinity},
			{Name: "nofile", Resource: unix.RLIMIT_NOFILE, Soft: 100, Hard: 200},
		},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SandboxConfig:\n%+v\nwant\n%+v", got, want)
	}
	// The defaults: a private user namespace, default seccomp and Landlock.
	p.Services["db"].Security = spec.Security{UserNS: spec.UserNSPrivate, Seccomp: spec.SeccompDefault, Landlock: spec.Landlock{Mode: spec.LandlockDefault}}
	sec := SandboxConfig(p.Services["db"], p.Volumes).Service.Security
	if sec.HostUserNS || sec.Seccomp != runtime.SeccompDefault || sec.Landlock.Mode != landlock.ModeDefault {
		t.Errorf("defaults: %+v, want a private user namespace, default seccomp and Landlock", sec)
	}
}
