package landlock

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"nucleus/internal/procstat"
	"nucleus/internal/testutil"

	"golang.org/x/sys/unix"
)

// Landlock cannot be undone, so the tests confine re-executed children:
// TestMain sees childEnv and runs the scenario it names.
const (
	childEnv   = "NUCLEUS_LANDLOCK_TEST_CHILD" // "apply", "thread" or "probe"
	allowedEnv = "NUCLEUS_LANDLOCK_TEST_ALLOWED"
	deniedEnv  = "NUCLEUS_LANDLOCK_TEST_DENIED"
)

type report struct {
	ABI     int               `json:"abi"`
	Results map[string]string `json:"results"` // probe -> "" or errno name
	Err     string            `json:"err,omitempty"`
}

func TestMain(m *testing.M) {
	if s := os.Getenv(childEnv); s != "" {
		os.Exit(child(s))
	}
	os.Exit(m.Run())
}

// testRules are DefaultRules as a sandbox would get them, with the system
// directories of this host, the allowed directory writable, and the test
// binary's directory executable (the "thread" scenario re-executes it).
func testRules() []Rule {
	self, _ := os.Executable()
	sys := []string{"/usr", "/bin", "/sbin", "/lib", "/lib64", "/etc", filepath.Dir(self)}
	return DefaultRules(sys, []string{os.Getenv(allowedEnv)})
}

func child(scenario string) int {
	rep := report{Results: map[string]string{}}
	defer func() { _ = json.NewEncoder(os.Stdout).Encode(rep) }()
	var err error
	switch scenario {
	case "apply":
		rep.ABI, err = Apply(testRules())
	case "thread":
		runtime.LockOSThread() // never unlocked: exec follows
		rep.ABI, err = ApplyThread(testRules())
		if err == nil {
			self, _ := os.Executable()
			var env []string
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, childEnv+"=") {
					env = append(env, kv)
				}
			}
			env = append(env, childEnv+"=probe", fmt.Sprintf("NUCLEUS_LANDLOCK_TEST_ABI=%d", rep.ABI))
			err = syscall.Exec(self, []string{self}, env)
		}
	case "bench-apply", "bench-thread":
		start := time.Now()
		if scenario == "bench-apply" {
			rep.ABI, err = Apply(testRules())
		} else {
			runtime.LockOSThread()
			rep.ABI, err = ApplyThread(testRules())
		}
		rep.Results["ns"] = fmt.Sprint(time.Since(start).Nanoseconds())
		if err != nil {
			rep.Err = err.Error()
		}
		return 0
	case "probe":
		fmt.Sscan(os.Getenv("NUCLEUS_LANDLOCK_TEST_ABI"), &rep.ABI)
	case "bad-rule":
		_, err = Apply([]Rule{{Path: "/nonexistent-nucleus-landlock", Access: []string{Read}}})
		if err != nil {
			// Nothing may have been applied: writing outside still works.
			rep.Results["write_denied_after_failed_apply"] = errName(os.WriteFile(filepath.Join(os.Getenv(deniedEnv), "f"), []byte("x"), 0o600))
			rep.Results["apply_error"] = err.Error()
			return 0
		}
	}
	if err != nil {
		rep.Err = err.Error()
		return 0
	}
	probe(rep.Results)
	return 0
}

func errName(err error) string {
	if err == nil {
		return ""
	}
	var e syscall.Errno
	if errors.As(err, &e) {
		return unix.ErrnoName(e)
	}
	return err.Error()
}

func probe(r map[string]string) {
	allowed, denied := os.Getenv(allowedEnv), os.Getenv(deniedEnv)
	r["write_allowed"] = errName(os.WriteFile(filepath.Join(allowed, "f"), []byte("x"), 0o600))
	r["write_denied"] = errName(os.WriteFile(filepath.Join(denied, "f"), []byte("x"), 0o600))
	r["read_denied"] = errName(func() error { _, err := os.ReadFile(filepath.Join(denied, "existing")); return err }())
	// "/" is list-only: names beneath it, never contents (nor writes).
	r["readdir_root"] = errName(func() error { _, err := os.ReadDir("/"); return err }())
	r["readdir_denied"] = errName(func() error { _, err := os.ReadDir(denied); return err }())
	r["exec_denied"] = errName(unwrapExec(exec.Command(filepath.Join(denied, "true")).Run()))
	r["mkdir_denied"] = errName(os.Mkdir(filepath.Join(denied, "d"), 0o700))
	r["read_system"] = errName(func() error { _, err := os.ReadFile("/etc/passwd"); return err }())
	r["readdir_system"] = errName(func() error { _, err := os.ReadDir("/usr/bin"); return err }())
	r["write_system"] = errName(os.WriteFile("/etc/nucleus-landlock-test", []byte("x"), 0o600))
	r["dev_null"] = errName(os.WriteFile("/dev/null", []byte("x"), 0))
	r["proc"] = errName(func() error { _, err := os.ReadFile("/proc/self/status"); return err }())
	r["exec_system"] = errName(exec.Command("/bin/true").Run())
	// Copy a binary into the writable directory: writable is not executable.
	if b, err := os.ReadFile("/bin/true"); err == nil {
		p := filepath.Join(allowed, "true")
		if err := os.WriteFile(p, b, 0o755); err == nil {
			r["exec_writable"] = errName(unwrapExec(exec.Command(p).Run()))
		}
	}
	// Another OS thread is confined too.
	done := make(chan string)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		done <- errName(os.WriteFile(filepath.Join(denied, "g"), []byte("x"), 0o600))
	}()
	r["write_denied_other_thread"] = <-done
	r["nnp"] = statusField("NoNewPrivs")
	// A realistic userland in the allowed directory: archive, rename across
	// directories (Landlock's "refer" right), symlinks, pipes, /dev/null.
	script := `set -e
cd "$1"
ls -la /usr/bin | sort | head -n 2 >/dev/null
tar -C /etc -czf a.tgz passwd
tar -tzf a.tgz >/dev/null
mkdir sub && mv a.tgz sub/ && ln -s sub/a.tgz link && cat link >/dev/null
echo x >/dev/null
rm -rf sub link`
	out, err := exec.Command("/bin/sh", "-c", script, "sh", allowed).CombinedOutput()
	r["userland"] = errName(err)
	if err != nil {
		r["userland_output"] = string(out)
	}
}

func unwrapExec(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// statusField is a field of this process's status, "?" when it cannot tell.
func statusField(key string) string {
	v, err := procstat.StatusField("/proc/self/status", key)
	if err != nil {
		return "?"
	}
	return v
}

// dirs makes the allowed and denied directories outside /tmp and /run
// (which the default rules make writable).
func dirs(t testing.TB) (allowed, denied string) {
	t.Helper()
	base, err := os.MkdirTemp("/var/tmp", "nucleus-landlock-test-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		os.RemoveAll(base)
		if _, err := os.Stat(base); !os.IsNotExist(err) {
			t.Errorf("%s left behind", base)
		}
	})
	allowed, denied = filepath.Join(base, "allowed"), filepath.Join(base, "denied")
	for _, d := range []string{allowed, denied} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(denied, "existing"), []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A program in the denied directory: listing it must not make it runnable.
	b, err := os.ReadFile("/bin/true")
	if err == nil {
		err = os.WriteFile(filepath.Join(denied, "true"), b, 0o755)
	}
	if err != nil {
		t.Fatal(err)
	}
	return allowed, denied
}

func runChild(t testing.TB, scenario string) report {
	t.Helper()
	allowed, denied := dirs(t)
	rep := testutil.RunChild[report](t, scenario, childEnv+"="+scenario, allowedEnv+"="+allowed, deniedEnv+"="+denied)
	if rep.Err != "" {
		t.Fatalf("child %s: %s", scenario, rep.Err)
	}
	return rep
}

func requireLandlock(t *testing.T) {
	t.Helper()
	testutil.Require(t, ABI() >= 1, "Landlock enabled in the kernel")
}

var wantConfined = map[string]string{
	"write_allowed":             "",
	"write_denied":              "EACCES",
	"read_denied":               "EACCES",
	"readdir_root":              "",
	"readdir_denied":            "",
	"exec_denied":               "EACCES",
	"mkdir_denied":              "EACCES",
	"read_system":               "",
	"readdir_system":            "",
	"write_system":              "EACCES",
	"dev_null":                  "",
	"proc":                      "",
	"exec_system":               "",
	"exec_writable":             "EACCES",
	"write_denied_other_thread": "EACCES",
	"nnp":                       "1",
	"userland":                  "",
}

func checkConfined(t *testing.T, rep report) {
	t.Helper()
	for k, v := range wantConfined {
		if got, ok := rep.Results[k]; !ok || got != v {
			t.Errorf("%s: got %q, want %q %s", k, got, v, rep.Results[k+"_output"])
		}
	}
	if testutil.InCI() || ABI() == 7 {
		// The documented test machines offer ABI 7.
		if rep.ABI != 7 {
			t.Errorf("effective ABI %d, want 7", rep.ABI)
		}
	}
	if rep.ABI != effectiveABI() {
		t.Errorf("Apply reported ABI %d, the kernel offers %d", rep.ABI, effectiveABI())
	}
}

func TestApplyWholeProcess(t *testing.T) {
	requireLandlock(t)
	checkConfined(t, runChild(t, "apply"))
}

func TestApplyThreadThenExec(t *testing.T) {
	requireLandlock(t)
	checkConfined(t, runChild(t, "thread"))
}

// The probes must succeed without Landlock, or EACCES above proves nothing.
func TestProbesWithoutLandlock(t *testing.T) {
	testutil.RequireRoot(t) // the /etc write probe only succeeds as root
	t.Cleanup(func() {
		os.Remove("/etc/nucleus-landlock-test")
		if _, err := os.Lstat("/etc/nucleus-landlock-test"); !os.IsNotExist(err) {
			t.Errorf("/etc/nucleus-landlock-test left behind (%v)", err)
		}
	})
	rep := runChild(t, "probe")
	for _, k := range []string{"write_denied", "read_denied", "readdir_denied", "exec_denied", "mkdir_denied", "exec_writable", "write_denied_other_thread"} {
		if rep.Results[k] != "" {
			t.Errorf("%s without Landlock: %q", k, rep.Results[k])
		}
	}
}

func TestApplyFailureIsAnError(t *testing.T) {
	requireLandlock(t)
	rep := runChild(t, "bad-rule")
	if !strings.Contains(rep.Results["apply_error"], "/nonexistent-nucleus-landlock") {
		t.Errorf("apply error = %q, want it to name the missing path", rep.Results["apply_error"])
	}
	if rep.Results["write_denied_after_failed_apply"] != "" {
		t.Errorf("a failed Apply confined the process anyway: %q", rep.Results["write_denied_after_failed_apply"])
	}
}

func TestForConfig(t *testing.T) {
	sys, w := []string{"/usr"}, []string{"/data"}
	if r, err := ForConfig(Config{Mode: ModeOff}, sys, w); err != nil || r != nil {
		t.Errorf("off = %v, %v", r, err)
	}
	def, err := ForConfig(Config{Mode: ModeDefault}, sys, w)
	if err != nil || len(def) != len(DefaultRules(sys, w)) {
		t.Errorf("default = %v, %v", def, err)
	}
	custom, err := ForConfig(Config{Mode: ModeCustom, Rules: []Rule{{Path: "/data", Access: []string{"execute"}}}}, sys, w)
	if err != nil || len(custom) != len(def)+1 || custom[len(custom)-1].Path != "/data" {
		t.Errorf("custom = %v, %v", custom, err)
	}
	for _, bad := range []Config{
		{Mode: "sometimes"},
		{Mode: ModeCustom, Rules: []Rule{{Path: "rel", Access: []string{"read"}}}},
		{Mode: ModeCustom, Rules: []Rule{{Path: "/x", Access: []string{"fly"}}}},
	} {
		if _, err := ForConfig(bad, sys, w); err == nil {
			t.Errorf("ForConfig(%+v) accepted", bad)
		}
	}
}

func TestDefaultRulesShape(t *testing.T) {
	rules := DefaultRules([]string{"/usr"}, []string{"/data"})
	got := map[string]string{}
	for _, r := range rules {
		got[r.Path] = strings.Join(r.Access, "+")
	}
	for p, want := range map[string]string{
		"/usr": "read+execute", "/data": "read+write", "/tmp": "read+write", "/run": "read+write",
		"/dev/shm": "read+write", "/dev/null": "read+write", "/proc": "read", "/sys": "read",
	} {
		if got[p] != want {
			t.Errorf("%s: %q, want %q", p, got[p], want)
		}
	}
	// "/" is list-only (hierarchical: every directory can be listed, no
	// file beneath it read, written or executed through this rule).
	if got["/"] != List {
		t.Errorf(`"/": %q, want %q only`, got["/"], List)
	}
}

// compile drops directory rights on files, merges rules per path, and
// rejects what the kernel would.
func TestCompile(t *testing.T) {
	requireLandlock(t)
	lr, err := compile([]Rule{
		{Path: "/dev/null", Access: []string{Read, Write}},
		{Path: "/usr", Access: []string{Read}},
		{Path: "/usr", Access: []string{Execute}},
		{Path: "/nonexistent-nucleus", Access: []string{Read}, Optional: true},
	}, effectiveABI())
	if err != nil {
		t.Fatal(err)
	}
	if len(lr) != 2 {
		t.Errorf("compiled %d rules, want 2 (merged /usr, skipped missing): %v", len(lr), lr)
	}
	for _, bad := range []Rule{
		{Path: "usr", Access: []string{Read}},
		{Path: "/usr", Access: nil},
		{Path: "/usr", Access: []string{"admin"}},
		{Path: "/nonexistent-nucleus", Access: []string{Read}},
	} {
		if _, err := compile([]Rule{bad}, effectiveABI()); err == nil {
			t.Errorf("compile(%+v) accepted", bad)
		}
	}
}

// BenchmarkApply measures Apply (all threads, via libpsx on ABI < 8) and
// ApplyThread (calling thread only) in fresh children; the metric excludes
// process start-up.
func BenchmarkApply(b *testing.B) {
	for _, sc := range []string{"bench-apply", "bench-thread"} {
		b.Run(sc, func(b *testing.B) {
			var total int64
			n := 0
			for b.Loop() {
				rep := runChild(b, sc)
				var ns int64
				fmt.Sscan(rep.Results["ns"], &ns)
				total += ns
				n++
			}
			b.ReportMetric(float64(total)/float64(n), "apply-ns/op")
		})
	}
}

// The rules are accepted by the kernel for every ABI up to the kernel's:
// on an older kernel the same rules lose the rights it does not know.
func TestRulesValidForEveryABI(t *testing.T) {
	requireLandlock(t)
	self, _ := os.Executable()
	rules := DefaultRules([]string{"/usr", "/etc", filepath.Dir(self)}, []string{t.TempDir()})
	for abi := 1; abi <= effectiveABI(); abi++ {
		lr, err := compile(rules, abi)
		if err != nil {
			t.Fatalf("ABI %d: %v", abi, err)
		}
		fd, _, err := config(abi).NewRulesetFD(lr...)
		if err != nil {
			t.Errorf("ABI %d: kernel refused the ruleset: %v", abi, err)
			continue
		}
		unix.Close(fd)
	}
}

func TestNoLandlockIsAnError(t *testing.T) {
	old := kernelABI
	kernelABI = func() int { return 0 }
	defer func() { kernelABI = old }()
	if _, err := Apply(DefaultRules(nil, nil)); err == nil || !strings.Contains(err.Error(), "no Landlock") {
		t.Errorf("Apply without Landlock: %v, want an error", err)
	}
	if _, err := ApplyThread(DefaultRules(nil, nil)); err == nil {
		t.Error("ApplyThread without Landlock succeeded")
	}
}
