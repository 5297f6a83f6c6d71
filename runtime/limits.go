package runtime

import (
	"os"
	"strconv"

	"nucleus/internal/rootdir"
	"nucleus/runtime/cgroups"
)

// spawnerTasks is what the init itself puts into the workload's cgroup:
// its spawner thread, one task (see cgroups.JoinFiles). pids.max counts
// tasks, so it gets that one task more than `pids`, and Stats subtracts it:
// `pids: N` leaves N tasks to the workload, on v1 and v2 alike.
const spawnerTasks = 1

// initMemory is the init's own memory budget (its GOMEMLIMIT). On v2 the
// init's pages are charged to the sandbox cgroup with the workload's
// (memory is a domain controller; see cgroups.WorkloadLeaf), so memory.max
// gets this on top of `memory` and the workload keeps its whole limit. (An
// idle init charges ~4.9 MB there: 4.5 MB anon, 0.4 MB kernel; Debian 6.1.)
const initMemory = 6 << 20

// Limits are a sandbox's cgroup limits as the workload sees them (the
// init's share is added by cgroupLimits); zero means unlimited.
type Limits = cgroups.Resources

// cgroupLimits translates a service's limits into the cgroup's.
func cgroupLimits(r Limits, v2 bool) Limits {
	if r.Pids > 0 {
		r.Pids += spawnerTasks
	}
	if v2 && r.Memory > 0 {
		r.Memory += initMemory
	}
	return r
}

// workloadStats is the inverse of cgroupLimits for usage figures.
func workloadStats(st cgroups.Stats, v2 bool) cgroups.Stats {
	if st.Pids >= spawnerTasks {
		st.Pids -= spawnerTasks
	}
	if st.PidsLimit > spawnerTasks {
		st.PidsLimit -= spawnerTasks
	}
	if v2 && st.MemoryLimit > initMemory {
		st.MemoryLimit -= initMemory // (MemoryBytes includes the init's)
	}
	return st
}

// CgroupStats reads the usage of sandbox id from its cgroup, as
// Sandbox.Stats does, without adopting the sandbox (nucleus ps).
// A sandbox without a cgroup gives a *NoCgroupError (see ProcStats).
func CgroupStats(root rootdir.Root, id string) (Stats, error) {
	cg, err := sandboxCgroup(root, id, "stats")
	if err != nil {
		return Stats{}, err
	}
	st, err := cg.Stats()
	if err != nil {
		return st, err
	}
	return workloadStats(st, cg.V2()), nil
}

// protectInit makes the init the OOM killer's last choice (oom_score_adj
// -1000): it may share the memory cgroup with the workload (v2, and the
// spawner thread on v1), and killing it ends the sandbox, while a workload
// process is what the limit is about. Written after the workload was
// forked, so the workload keeps 0 (oom_score_adj is inherited at fork);
// the init raises its own score to 0 around later forks (exec, health
// checks; see sbinit's spawner). Host root only (CAP_SYS_RESOURCE): for
// others it is left as is.
func protectInit(pid int) {
	_ = os.WriteFile("/proc/"+strconv.Itoa(pid)+"/oom_score_adj", []byte("-1000"), 0)
}
