package compiler

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// BenchmarkCompileDefault is what Default() costs the first time in a process.
func BenchmarkCompileDefault(b *testing.B) {
	p := defaultProfile(nil)
	for b.Loop() {
		if _, err := compile(p); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkInstallBPF measures Install of prebuilt BPF (what the sandbox init
// does) in fresh child processes, since a filter cannot be removed again.
// The reported install-ns/op excludes process start-up.
func BenchmarkInstallBPF(b *testing.B) {
	benchChild(b, "bench-install", defaultBPFFile(b))
}

// BenchmarkInstallThreadBPF is InstallThread (no TSYNC), as the sandbox
// init's spawner thread uses it.
func BenchmarkInstallThreadBPF(b *testing.B) {
	benchChild(b, "bench-thread", defaultBPFFile(b))
}

// BenchmarkCompileAndInstallInChild is the alternative the runtime avoids:
// building the filter with libseccomp inside the init, then installing it.
func BenchmarkCompileAndInstallInChild(b *testing.B) {
	benchChild(b, "bench-libseccomp", "")
}

// defaultBPFFile writes the default profile's BPF to a file for a child.
func defaultBPFFile(b *testing.B) string {
	b.Helper()
	prog, err := Default()
	if err != nil {
		b.Fatal(err)
	}
	f := filepath.Join(b.TempDir(), "default.bpf")
	if err := os.WriteFile(f, prog.BPF(), 0o600); err != nil {
		b.Fatal(err)
	}
	return f
}

func benchChild(b *testing.B, scenario, file string) {
	var total time.Duration
	n := 0
	for b.Loop() {
		rep := runChildScenario(b, scenario, file)
		ns, err := strconv.ParseInt(rep.Values["install_ns"], 10, 64)
		if err != nil {
			b.Fatal(err)
		}
		total += time.Duration(ns)
		n++
	}
	b.ReportMetric(float64(total.Nanoseconds())/float64(n), "install-ns/op")
}
