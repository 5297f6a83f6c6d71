package spec

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"
)

// benchProject writes a project of services services and networks networks,
// each service using the common short forms (command string, environment,
// two networks with an alias, a published port, depends_on, healthcheck,
// resources, volumes, restart policy).
func benchProject(services, networks int) string {
	var b strings.Builder
	b.WriteString("name: bench\nvolumes:\n  data: {}\nnetworks:\n")
	for i := 0; i < networks; i++ {
		fmt.Fprintf(&b, "  net%d:\n    subnet: 10.%d.%d.0/24\n", i, 100+i/200, i%200)
	}
	b.WriteString("services:\n")
	for i := 0; i < services; i++ {
		fmt.Fprintf(&b, `  svc%d:
    command: /usr/bin/server --port 8080 --name svc%d
    environment:
      MODE: prod
      INDEX: "%d"
    networks:
      net%d:
        aliases: [api%d]
      net%d: {}
    ports: ["127.0.0.1:%d:8080"]
    depends_on: [svc%d]
    healthcheck:
      test: ["CMD", "/usr/bin/check"]
      interval: 5s
    resources: {memory: 64M, cpus: 0.5}
    volumes: ["data:/var/lib/svc%d"]
    restart: on-failure:3
`, i, i, i, i%networks, i, (i+1)%networks, 20000+i, (i+1)%services, i)
	}
	return b.String()
}

// BenchmarkLoad measures load + validate + hash of 1,000 services on 50
// networks (the budget: under 50 ms and 50 MB per operation).
func BenchmarkLoad(b *testing.B) {
	text := benchProject(1000, 50)
	// svc999 depends on svc0: break the ring so the project is valid.
	text = strings.Replace(text, "depends_on: [svc0]", "depends_on: []", 1)
	dir := writeFiles(b, map[string]string{"nucleus.yaml": text})
	opts := LoadOptions{WorkingDir: dir, Environ: map[string]string{}}
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	// CPU time per operation, next to wall time: on a shared machine the
	// wall time depends on what else runs, the CPU time much less.
	cpu0 := cpuTime()
	for b.Loop() {
		p := loadAndHash(b, opts)
		if len(p.Services) != 1000 || len(p.Networks) != 50 {
			b.Fatalf("%d services, %d networks", len(p.Services), len(p.Networks))
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N)/1e6, "cpu-ms/op")
}

// cpuTime is the user+system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLoadExample measures a typical small project (testdata/full).
func BenchmarkLoadExample(b *testing.B) {
	opts := LoadOptions{WorkingDir: "testdata/full", Environ: map[string]string{}}
	b.ReportAllocs()
	for b.Loop() {
		loadAndHash(b, opts)
	}
}

// loadAndHash is one operation of the load benchmarks: load, validate and
// hash every service, as a reconcile pass does.
func loadAndHash(b *testing.B, opts LoadOptions) *Project {
	p, err := Load(opts)
	if err != nil {
		b.Fatal(err)
	}
	for _, s := range p.Services {
		_ = ServiceHash(s)
	}
	return p
}
