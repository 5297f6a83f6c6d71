package cgroups

import (
	"math"

	"github.com/containerd/cgroups/v3/cgroup2"
)

// Resources are a cgroup's limits; zero means unlimited. The cgroup package
// owns them so that a change of the file format (spec) stops at the
// conversion in reconcile/host.
type Resources struct {
	Memory int64 // bytes
	CPUs   float64
	Pids   int64
}

// cpuPeriod is the CFS period in microseconds; cpus: 0.5 is a quota of half of it.
const cpuPeriod = 100000

// minCPUQuota is the kernel's smallest CFS quota (1 ms).
const minCPUQuota = 1000

// unlimited is how v1 limit files and containerd's v1 API spell "no limit".
const unlimited int64 = -1

// cpuQuota translates cpus into a CFS quota per cpuPeriod; -1 is unlimited.
func cpuQuota(cpus float64) int64 {
	if cpus <= 0 {
		return unlimited
	}
	q := int64(math.Round(cpus * cpuPeriod))
	if q < minCPUQuota {
		q = minCPUQuota
	}
	return q
}

func memoryLimit(m int64) int64 {
	if m <= 0 {
		return unlimited
	}
	return m
}

func pidsLimit(p int64) int64 {
	if p <= 0 {
		return unlimited
	}
	return p
}

// toV2 converts r into containerd's cgroup2 resources. A memory limit comes
// with memory.swap.max = 0 (when the host accounts swap) so that the limit
// ends in an OOM kill instead of swapping. Unlimited memory has no
// representation there (memory.max wants the word "max"): Memory.Max is
// nil and v2UnlimitedMemory says which files to reset.
func toV2(r Resources, swapAccounting bool) *cgroup2.Resources {
	period := uint64(cpuPeriod)
	res := &cgroup2.Resources{
		CPU:    &cgroup2.CPU{},
		Memory: &cgroup2.Memory{},
		Pids:   &cgroup2.Pids{Max: pidsLimit(r.Pids)},
	}
	if q := cpuQuota(r.CPUs); q > 0 {
		res.CPU.Max = cgroup2.NewCPUMax(&q, &period)
	} else {
		res.CPU.Max = cgroup2.NewCPUMax(nil, &period) // "max 100000"
	}
	if m := memoryLimit(r.Memory); m > 0 {
		res.Memory.Max = &m
		if swapAccounting {
			zero := int64(0)
			res.Memory.Swap = &zero
		}
	}
	return res
}

// v2UnlimitedMemory lists the files to set to "max" when r has no memory limit.
func v2UnlimitedMemory(r Resources, swapAccounting bool) []string {
	if memoryLimit(r.Memory) > 0 {
		return nil
	}
	if swapAccounting {
		return []string{"memory.max", "memory.swap.max"}
	}
	return []string{"memory.max"}
}

// v1MemoryOrder says whether memory.memsw.limit_in_bytes must be written
// before memory.limit_in_bytes: memsw may never be below the memory limit,
// so when the limit grows (or goes away) memsw moves first.
func v1MemoryOrder(current, next int64) (memswFirst bool) {
	if next == unlimited {
		return true
	}
	if current == unlimited {
		return false
	}
	return next > current
}

// normLimit maps the kernel's "no limit" figures to 0.
func normLimit(v uint64) uint64 {
	if v >= 1<<62 {
		return 0
	}
	return v
}
