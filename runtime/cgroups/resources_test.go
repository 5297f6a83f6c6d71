package cgroups

import (
	"reflect"
	"strings"
	"testing"

	"nucleus/internal/rootdir"
)

func TestCPUQuota(t *testing.T) {
	for _, c := range []struct {
		cpus float64
		want int64
	}{{0, -1}, {-1, -1}, {0.5, 50000}, {1, 100000}, {2.25, 225000}, {0.001, 1000}, {0.0123, 1230}} {
		if got := cpuQuota(c.cpus); got != c.want {
			t.Errorf("cpuQuota(%v) = %d, want %d", c.cpus, got, c.want)
		}
	}
}

func TestToV2(t *testing.T) {
	mem := int64(256 << 20)
	zero := int64(0)
	r := toV2(Resources{Memory: mem, CPUs: 0.5, Pids: 128}, true)
	if r.CPU.Max != "50000 100000" {
		t.Errorf("cpu.max = %q, want \"50000 100000\"", r.CPU.Max)
	}
	if r.Memory.Max == nil || *r.Memory.Max != mem || r.Memory.Swap == nil || *r.Memory.Swap != zero {
		t.Errorf("memory = %+v, want max %d and swap.max 0", r.Memory, mem)
	}
	if r.Pids.Max != 128 {
		t.Errorf("pids.max = %d, want 128", r.Pids.Max)
	}
	if got := r.EnabledControllers(); !reflect.DeepEqual(got, []string{"cpu", "memory", "pids"}) {
		t.Errorf("controllers = %v", got)
	}
	if v := v2UnlimitedMemory(Resources{Memory: mem}, true); v != nil {
		t.Errorf("limited memory resets %v", v)
	}

	// Unlimited everything: cpu.max "max", pids.max "max", memory files reset.
	u := toV2(Resources{}, true)
	if u.CPU.Max != "max 100000" || u.Pids.Max != -1 || u.Memory.Max != nil || u.Memory.Swap != nil {
		t.Errorf("unlimited = cpu %q pids %d memory %+v", u.CPU.Max, u.Pids.Max, u.Memory)
	}
	if got := v2UnlimitedMemory(Resources{}, true); !reflect.DeepEqual(got, []string{"memory.max", "memory.swap.max"}) {
		t.Errorf("unlimited memory resets %v", got)
	}
	if got := v2UnlimitedMemory(Resources{}, false); !reflect.DeepEqual(got, []string{"memory.max"}) {
		t.Errorf("unlimited memory without swap accounting resets %v", got)
	}
	// Without swap accounting there is no memory.swap.max to write.
	if r := toV2(Resources{Memory: 1 << 20}, false); r.Memory.Swap != nil {
		t.Errorf("swap.max set without swap accounting")
	}
}

func TestV1MemoryOrder(t *testing.T) {
	for _, c := range []struct {
		cur, next  int64
		memswFirst bool
	}{
		{-1, 64 << 20, false},       // new limit: limit first, memsw is still unlimited
		{64 << 20, 128 << 20, true}, // growing
		{128 << 20, 64 << 20, false},
		{64 << 20, -1, true}, // removing the limit
		{-1, -1, true},
	} {
		if got := v1MemoryOrder(c.cur, c.next); got != c.memswFirst {
			t.Errorf("v1MemoryOrder(%d, %d) = %v, want %v", c.cur, c.next, got, c.memswFirst)
		}
	}
}

func TestGroupPath(t *testing.T) {
	root := rootdir.Root{Run: "/tmp/x/run", Data: "/tmp/x/data"}
	g, err := groupPath(root, "proj-web-1")
	if err != nil || g != "/nucleus-"+root.ID()+"/proj-web-1" {
		t.Errorf("groupPath = %q, %v", g, err)
	}
	for _, bad := range []string{"", "..", "a/b", "../x", ".hidden", strings.Repeat("a", 201)} {
		if _, err := groupPath(root, bad); err == nil {
			t.Errorf("groupPath accepted %q", bad)
		}
	}
}

func TestParsers(t *testing.T) {
	if n, ok := kvField([]byte("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"), "oom_kill"); !ok || n != 3 {
		t.Errorf("kvField = %d, %v", n, ok)
	}
	if _, ok := kvField([]byte("oom_kill_disable 0\n"), "oom_kill"); ok {
		t.Error("kvField matched a prefix")
	}
	if got := unescapeMount(`/sys/fs/cgroup/a\040b`); got != "/sys/fs/cgroup/a b" {
		t.Errorf("unescapeMount = %q", got)
	}
	if normLimit(9223372036854771712) != 0 || normLimit(1<<62-1) == 0 || normLimit(42) != 42 {
		t.Error("normLimit")
	}
}
