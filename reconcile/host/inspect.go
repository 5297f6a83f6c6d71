package host

import (
	"errors"

	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/runtime"
)

// Inspector adds what the runtime knows to `nucleus ps` rows: usage from
// the cgroup of a running replica, its Landlock ABI and seccomp mode.
func Inspector(root rootdir.Root) reconcile.Inspector {
	return func(rec *reconcile.SandboxRecord, st *reconcile.ReplicaStatus) {
		// The runtime's record goes with its sandbox: a replica without
		// one (stopped, failed to start) shows no Landlock ABI or usage.
		rr, err := runtime.ReadRecord(root, rec.ID)
		if err != nil {
			return
		}
		st.LandlockABI, st.Seccomp = rr.LandlockABI, rr.Seccomp
		st.LimitsNotEnforced, st.NotEnforcedWhy = rr.LimitsNotEnforced, rr.NotEnforcedWhy
		if !st.State.Alive() {
			return
		}
		st.Paused, _ = runtime.Paused(root, rr.ID)
		s, err := runtime.CgroupStats(root, rr.ID)
		var nc *runtime.NoCgroupError
		if errors.As(err, &nc) {
			s, err = runtime.ProcStats(rr.PID), nil // usage from /proc
		}
		if err != nil {
			return
		}
		st.OOMKills = s.OOMKills
		st.Usage = &reconcile.Usage{CPUSeconds: float64(s.CPUUsec) / 1e6, MemoryBytes: s.MemoryBytes,
			MemoryLimit: s.MemoryLimit, Pids: s.Pids}
	}
}
