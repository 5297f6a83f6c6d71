package runtime

import (
	"fmt"
	"nucleus/runtime/landlock"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/runtime/sbinit"
)

// TestDefaultIsolation checks every default from inside a sandbox.
func TestDefaultIsolation(t *testing.T) {
	root := newRoot(t)
	r := runProbe(t, Config{Root: root, Project: "p"})
	want := map[string]string{
		"CapEff": "0000000000000000", "CapPrm": "0000000000000000", "CapInh": "0000000000000000",
		"CapBnd": "0000000000000000", "CapAmb": "0000000000000000",
		"NoNewPrivs": "1", "Seccomp": "2",
		"fds":   "0,1,2",
		"mount": "EPERM", "unshare_user": "EPERM", "unshare_mnt": "EPERM",
		"io_uring_setup": "ENOSYS", "vsock": "EPERM",
		"tiocsti":   "EPERM",
		"write_usr": "EROFS", "write_tmp": "ok",
		"shadow":   "ok:0", // masked with /dev/null
		"root_dir": "ENOENT", "home_dir": "ENOENT",
		"pid1_exe_write": "EACCES", "pid1_exe_read": "EACCES",
		"hostname": "t",
		"cwd":      "/",
	}
	for k, v := range want {
		if r[k] != v {
			t.Errorf("%s = %q, want %q", k, r[k], v)
		}
	}
	if !strings.HasPrefix(r["pid1"], "nucleus-init "+sbinit.InitArg) {
		t.Errorf("PID 1 is %q, want the nucleus init", r["pid1"])
	}
	if b, err := os.ReadFile("/etc/shadow"); err == nil && len(b) == 0 {
		t.Log("host /etc/shadow is empty: the shadow check proves less")
	}
}

// TestLandlockDeniesWriteOutsideAllowed: /dev is a writable tmpfs, so only
// Landlock stands between the workload and a new file there.
func TestLandlockDeniesWriteOutsideAllowed(t *testing.T) {
	root := newRoot(t)
	on := runProbe(t, Config{Root: root, Project: "p"})
	if on["write_dev"] != "EACCES" {
		t.Errorf("with landlock: write /dev/.probe = %s, want EACCES", on["write_dev"])
	}
	svc := service()
	svc.Security.Landlock.Mode = landlock.ModeOff
	off := runProbe(t, Config{Root: root, Project: "p", Service: svc})
	if off["write_dev"] != "ok" {
		t.Errorf("landlock off: write /dev/.probe = %s, want ok (the test must be able to fail)", off["write_dev"])
	}
}

func TestUserNamespaceMaps(t *testing.T) {
	root := newRoot(t)
	base, err := ProjectIDRange(root, "p")
	if err != nil {
		t.Fatal(err)
	}
	priv := runProbe(t, Config{Root: root, Project: "p"})
	if want := fmt.Sprintf("0 %d %d", base, IDRangeSize); priv["uid_map"] != want {
		t.Errorf("private uid_map = %q, want %q", priv["uid_map"], want)
	}
	if base < 1<<30 {
		t.Errorf("range base %d overlaps the usual user ids", base)
	}
	other, err := ProjectIDRange(root, "q")
	if err != nil {
		t.Fatal(err)
	}
	if other == base {
		t.Errorf("projects p and q share range %d", base)
	}
	svc := service()
	svc.Security.HostUserNS = true
	host := runProbe(t, Config{Root: root, Project: "p", Service: svc})
	if host["uid_map"] != "0 0 4294967295" {
		t.Errorf("host uid_map = %q, want the initial namespace's", host["uid_map"])
	}
	// Even as real root without capabilities, the host binary stays closed.
	if host["pid1_exe_write"] != "EACCES" || host["CapEff"] != "0000000000000000" {
		t.Errorf("userns host: /proc/1/exe write = %s, CapEff %s", host["pid1_exe_write"], host["CapEff"])
	}
}

func TestCapAdd(t *testing.T) {
	root := newRoot(t)
	svc := service()
	svc.Security.CapAdd = []string{"CAP_NET_BIND_SERVICE"}
	r := runProbe(t, Config{Root: root, Project: "p", Service: svc})
	if r["CapEff"] != "0000000000000400" || r["CapBnd"] != "0000000000000400" {
		t.Errorf("cap_add NET_BIND_SERVICE: CapEff %s CapBnd %s, want 0000000000000400", r["CapEff"], r["CapBnd"])
	}
	svc = service()
	svc.Security.CapAdd = []string{"CAP_NET_BIND_SERVICE"}
	svc.Process.User = "1000:1000"
	r = runProbe(t, Config{Root: root, Project: "p", Service: svc})
	if r["CapAmb"] != "0000000000000400" || r["CapEff"] != "0000000000000400" || !strings.HasPrefix(r["Uid"], "1000") {
		t.Errorf("non-root cap_add: Uid %s CapAmb %s CapEff %s", r["Uid"], r["CapAmb"], r["CapEff"])
	}
	if r["pid1_exe_read"] != "EACCES" || r["pid1_exe_write"] != "EACCES" {
		t.Errorf("non-root workload: /proc/1/exe read %s write %s, want EACCES", r["pid1_exe_read"], r["pid1_exe_write"])
	}
}

// TestSelfInitFallback: without nucleus-init next to it, the binary runs
// itself as the init; the sandbox is the same.
func TestSelfInitFallback(t *testing.T) {
	root := newRoot(t)
	initBinary()
	saved := initPath
	initPath = "/proc/self/exe"
	defer func() { initPath = saved }()
	r := runProbe(t, Config{Root: root, Project: "p"})
	if r["CapEff"] != "0000000000000000" || r["Seccomp"] != "2" || r["pid1_exe_write"] != "EACCES" || r["fds"] != "0,1,2" {
		t.Errorf("self-init sandbox: %v", r)
	}
	if !strings.HasPrefix(r["pid1"], "nucleus-init "+InitArg) {
		t.Errorf("PID 1 is %q", r["pid1"])
	}
}

// TestTerminalFromSandboxDevpts: the workload's terminal comes from the
// sandbox's private devpts; TIOCSTI into it is refused.
func TestTerminalFromSandboxDevpts(t *testing.T) {
	root := newRoot(t)
	var out testutil.SyncBuffer
	svc := service("/bin/busybox", "sh", "-c", "tty; /probe/probe | grep -o '\"tiocsti\":\"[A-Z]*\"'")
	r := run(t, Config{Root: root, Project: "p", Service: svc, Terminal: true, Stdout: &out,
		Mounts: []ResolvedMount{probeMount(t)}})
	got := strings.ReplaceAll(out.String(), "\r", "")
	if r.st.Code != 0 || !strings.Contains(got, "/dev/pts/0\n") || !strings.Contains(got, `"tiocsti":"EPERM"`) {
		t.Errorf("terminal workload: %+v %q", r.st, got)
	}
}

// TestSeccompProfileAndUnconfined: `seccomp: FILE` loads an OCI profile,
// `unconfined` installs none (no_new_privs stays).
func TestSeccompProfileAndUnconfined(t *testing.T) {
	root := newRoot(t)
	profile := []byte(`{"defaultAction":"SCMP_ACT_ALLOW","architectures":["SCMP_ARCH_X86_64"],
		"syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}`)
	path := filepath.Join(t.TempDir(), "profile.json")
	if err := os.WriteFile(path, profile, 0o644); err != nil {
		t.Fatal(err)
	}
	svc := service("/bin/busybox", "sh", "-c", "mkdir /tmp/d 2>&1; grep Seccomp: /proc/self/status")
	svc.Security.Seccomp, svc.Security.SeccompProfile = path, profile
	r := run(t, Config{Root: root, Project: "p", Service: svc})
	if !strings.Contains(r.out, "Operation not permitted") || !strings.Contains(r.out, "Seccomp:\t2") {
		t.Errorf("profile denying mkdir: %q", r.out)
	}
	if r.sb.SeccompMode() != "profile:profile.json" {
		t.Errorf("seccomp mode %q", r.sb.SeccompMode())
	}
	svc = service()
	svc.Security.Seccomp = SeccompUnconfined
	u := runProbe(t, Config{Root: root, Project: "p", Service: svc})
	if u["Seccomp"] != "0" || u["NoNewPrivs"] != "1" || u["io_uring_setup"] == "ENOSYS" {
		t.Errorf("unconfined: Seccomp %s NoNewPrivs %s io_uring_setup %s", u["Seccomp"], u["NoNewPrivs"], u["io_uring_setup"])
	}
}

// TestLandlockCustomRules: default rules give writable volumes no execute;
// a custom rule grants it.
func TestLandlockCustomRules(t *testing.T) {
	root := newRoot(t)
	script := "cp /bin/busybox /scratch/busybox && /scratch/busybox echo ran"
	mounts := []ResolvedMount{{Type: MountTmpfs, Target: "/scratch", Size: 16 << 20}}
	// tmpfs volumes are mounted without noexec, so only Landlock decides.
	def := run(t, Config{Root: root, Project: "p", Service: service("/bin/busybox", "sh", "-c", script), Mounts: mounts})
	if strings.Contains(def.out, "ran") {
		t.Errorf("default landlock let a binary run from a writable volume: %q", def.out)
	}
	svc := service("/bin/busybox", "sh", "-c", script)
	svc.Security.Landlock = landlock.Config{Mode: landlock.ModeCustom, Rules: []landlock.Rule{{Path: "/scratch", Access: []string{"read", "write", "execute"}}}}
	custom := run(t, Config{Root: root, Project: "p", Service: svc, Mounts: mounts})
	if custom.out != "ran\n" {
		t.Errorf("custom execute rule: out %q err %q", custom.out, custom.err)
	}
	if custom.sb.LandlockABI() < 1 {
		t.Errorf("landlock ABI recorded as %d", custom.sb.LandlockABI())
	}
}

// TestMaskedProcPaths reads, from inside, paths runc and moby hide: masked
// files read empty, masked directories list empty, /proc/sysrq-trigger is
// read-only. Each is compared with the host, where it is not empty.
func TestMaskedProcPaths(t *testing.T) {
	root := newRoot(t)
	files := []string{"/proc/interrupts", "/proc/keys", "/proc/timer_list", "/proc/sched_debug"}
	script := ""
	for _, f := range files {
		script += "echo " + f + " $(cat " + f + " 2>/dev/null | wc -c); "
	}
	script += "echo /sys/firmware $(ls /sys/firmware | wc -l); "
	script += "echo x 2>/dev/null > /proc/sysrq-trigger && echo sysrq writable; true"
	r := run(t, Config{Root: root, Project: "p", Service: service("/bin/busybox", "sh", "-c", script)})
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(r.out), "\n") {
		if k, v, ok := strings.Cut(l, " "); ok {
			got[k] = v
		}
	}
	checked := 0
	for _, f := range append(files, "/sys/firmware") {
		host, err := os.ReadFile(f)
		if ents, derr := os.ReadDir(f); derr == nil {
			host, err = []byte(fmt.Sprint(len(ents))), nil
			if len(ents) == 0 {
				host = nil
			}
		}
		if err != nil || len(host) == 0 {
			continue // nothing to hide on this host
		}
		checked++
		if got[f] != "0" {
			t.Errorf("%s inside: %q, want empty (host: %d bytes/entries)", f, got[f], len(host))
		}
	}
	if checked < 2 {
		t.Errorf("only %d of the masked paths exist on the host: the test proves too little", checked)
	}
	if got["sysrq"] != "" {
		t.Error("/proc/sysrq-trigger is writable inside")
	}
}

// TestLandlockListsRoot: the workload can list "/" (and the directories
// the runtime creates for nested mount targets, such as /srv below), so a
// file server started in the default working directory serves it. The
// listing right opens nothing else: /dev (a writable tmpfs) stays closed to
// new files and directories, and a program copied to a writable volume
// still cannot run; what only Landlock decides (landlock off allows both).
// Reads beneath "/" that the rules deny stay denied: runtime/landlock's
// probes (read_denied, exec_denied).
func TestLandlockListsRoot(t *testing.T) {
	root := newRoot(t)
	script := `echo "root:" $(ls / | sort); echo "srv:" $(ls /srv); ` +
		`echo x 2>/dev/null >/dev/.probe && echo "dev file:"; mkdir /dev/.d 2>/dev/null && echo "dev dir:"; ` +
		`cp /bin/busybox /srv/data/busybox && /srv/data/busybox true 2>/dev/null && echo "exec volume:"; `
	if _, err := os.Stat("/usr/bin/python3"); err == nil {
		// The reported symptom: http.server in "/" answered 404.
		script += `python3 -m http.server --bind 127.0.0.1 8000 >/dev/null 2>&1 & i=0; ` +
			`until page=$(busybox wget -qO- http://127.0.0.1:8000/ 2>/dev/null); do i=$((i+1)); [ $i -lt 100 ] || break; sleep 0.1; done; ` +
			`echo "http:" $(echo "$page" | grep -c 'href="usr/"'); kill $!; `
	}
	script += "true"
	mounts := []ResolvedMount{{Type: MountTmpfs, Target: "/srv/data", Size: 16 << 20}}
	run := func(mode string) map[string]string {
		svc := service("/bin/busybox", "sh", "-c", script)
		svc.Security.Landlock.Mode = mode
		r := run(t, Config{Root: root, Project: "p", Service: svc, Mounts: mounts})
		got := map[string]string{}
		for _, l := range strings.Split(strings.TrimSpace(r.out), "\n") {
			k, v, _ := strings.Cut(l, ":")
			got[k] = strings.TrimSpace(v)
		}
		got["stderr"] = r.err
		return got
	}
	got := run(landlock.ModeDefault)
	for _, d := range []string{"dev", "etc", "proc", "srv", "tmp", "usr"} {
		if !strings.Contains(" "+got["root"]+" ", " "+d+" ") {
			t.Errorf("ls / = %q, want %s in it (stderr %q)", got["root"], d, got["stderr"])
		}
	}
	if got["srv"] != "data" {
		t.Errorf("ls /srv = %q, want data (stderr %q)", got["srv"], got["stderr"])
	}
	if h, ok := got["http"]; ok && h != "1" {
		t.Errorf("python3 -m http.server in /: the page does not list usr/ (%q)", h)
	}
	for _, k := range []string{"dev file", "dev dir", "exec volume"} {
		if _, ok := got[k]; ok {
			t.Errorf("%s: allowed with the default rules", k)
		}
	}
	// The denials above must be Landlock's, or they prove nothing.
	off := run(landlock.ModeOff)
	for _, k := range []string{"dev file", "dev dir", "exec volume"} {
		if _, ok := off[k]; !ok {
			t.Errorf("%s: denied with landlock off too (stderr %q)", k, off["stderr"])
		}
	}
}
