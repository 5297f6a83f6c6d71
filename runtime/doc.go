// Package runtime runs one sandbox: namespaces, root filesystem and volumes,
// cgroups, capabilities, no_new_privs, Landlock, seccomp, and a small init
// (PID 1 inside the sandbox) that reaps zombies, forwards signals and starts
// the workload and exec'd processes. The init itself lives in runtime/sbinit
// and is built as the small cmd/nucleus-init binary.
//
// # Shape
//
//	caller (nucleus run / supervisor)                sandbox
//	  Create ─clone(user,mnt,pid,net,ipc,uts)─>  nucleus-init (PID 1)
//	         ─config + fds (SEQPACKET)──────>    builds the root, pivot_root,
//	         ─cgroup join fds───────────────>    restricts its spawner thread
//	         <─ready (+ pty master)──────────
//	  (network attaches to /proc/PID/ns/net)
//	  Start  ─start──────────────────────────>   forks the workload from the
//	                                             spawner thread
//	  Exec   ─ctl.sock: argv + stdio fds─────>   forks it the same way
//	         <─(Terminal: pty master)────────    (own devpts, ctty, setsid)
//	  Wait   <─exit status (also exit.json)──    reaps, forwards signals, exits
//
// The caller does the policy work (seccomp compiled with libseccomp, in the
// nucleus-seccomp helper on a cache miss, and cached; Landlock rules derived from the mounts and compiled for the
// kernel's ABI); the init only applies the results, so it needs no cgo.
//
// The init's spawner thread (locked, never released) carries the workload's
// state: the workload's cgroup, a cgroup namespace rooted there, the
// workload uid/gid, capabilities dropped in all five sets but cap_add,
// no_new_privs, Landlock (thread-scoped) and seccomp (installed with TSYNC,
// so it covers the whole init too). Everything the sandbox runs is forked
// from that thread and inherits exactly that; the init is not dumpable, so
// nothing inside can ptrace it or open /proc/1/exe (CVE-2019-5736 class),
// whether the user namespace is private or the host's.
//
// The sandbox gets a network namespace of its own with lo up (networks are
// attached between Create and Start); exec'd processes whose caller gives
// up (a health check timeout) are killed with their process group.
//
// Host paths never get resolved by the init: the rootfs and bind sources
// arrive as detached mounts (open_tree of a descriptor pinned by
// openSource, which follows no symlink owned by a sandbox id range;
// Config.CheckSource sees the pinned path), the log directory, exit file,
// exec socket and cgroup files as fds. Mount targets are resolved with
// openat2 RESOLVE_IN_ROOT; a target resolving to the root itself is refused.
//
// # Files on the host
//
// Everything nucleus creates for a sandbox lives under
// Root.Run/sandboxes/<id> (record.json, exit.json, ctl.sock, logs/) and in
// the sandbox's cgroup; compiled seccomp filters are cached in
// Root.Run/seccomp, named volumes live in Root.Data/volumes/<project>
// (volumes/ is 0700: host root only; the sandbox gets the volume as a
// detached mount and never walks that path), and
// the per-project id ranges in Root.Data/idranges.json, each also leased
// host-wide in IDRegistryDir (/var/lib/nucleus-idmap/<base>.json, flock'ed
// "lock") so that no two projects of any roots share ids. A lease lives as
// long as its root's table names it; ReleaseProjectIDRange drops one, and
// stale leases of removed roots are pruned at the next allocation. LeakCheck
// lists what of a root is left (cgroups, state, init processes, mounts).
//
// # Cgroups: the workload is limited, the init is not
//
// `resources` (pids, memory, cpus) limit the workload: every process the
// user's command starts, exec sessions and health checks. The init is left
// out, on v1 and v2 alike, because everything the sandbox runs is forked
// from one thread of the init, the spawner, and only that thread joins the
// workload's cgroup (cgroups.JoinFiles: it writes "0" to files the caller
// opened and sent). A thread moving itself also skips the global
// threadgroup rwsem a cgroup.procs write takes (an RCU grace period, ~10 ms
// here). Alternatives that were rejected: cloning each workload process
// into a leaf with clone3 CLONE_INTO_CGROUP (the default seccomp filter,
// installed on the whole init with TSYNC, answers clone3 with ENOSYS, and
// the restricted spawner has no write permission on host cgroup files), or
// writing cgroup.procs between fork and exec (Go's ForkExec has no hook).
//
//   - v1: the cgroup is created after the config is sent, while the init
//     builds the root; the spawner joins each controller's "tasks" file.
//     The init is started with spawnInit (clone with CLONE_VM on a stack of
//     its own, the child in nosplit Go outside the runtime: no cgo).
//     Its memory is charged to its main thread's (the caller's) memcg.
//   - v2: v2 places whole processes, except inside a threaded subtree. The
//     sandbox cgroup is created first and is the subtree's domain: the init
//     is born there with clone3 CLONE_INTO_CGROUP (os/exec); memory.max,
//     cgroup.kill and the OOM counter live there. Its threaded child
//     "workload" has cpu.max and pids.max, and the spawner joins it through
//     cgroup.threads. Memory is a domain controller, so the init's own
//     pages are charged there too (an idle init: ~4.9 MB): memory.max is
//     `memory` plus the init's budget, its GOMEMLIMIT (initMemory, 6 MiB),
//     so the workload keeps its whole limit, give or take what the init
//     leaves unused (Stats' MemoryBytes includes the init's).
//   - v2 with the systemd cgroup manager (cgroups.Manager): as v1, the
//     init is cloned first (spawnInit) and the cgroup follows the config:
//     systemd creates a transient scope around the init (Delegate=yes,
//     MemoryMax), which is the sandbox cgroup; the workload leaf below it
//     is nucleus's as above.
//
// pids.max counts tasks; the spawner thread is one, so the cgroup gets
// pids+1 and Stats reports one less: `pids: N` leaves N tasks to the
// workload everywhere (a fork loop under pids 20 gets 19 forks). The init
// is never the OOM killer's victim while a workload process exists: once
// the workload runs, the caller sets its oom_score_adj to -1000 (host root
// with CAP_SYS_RESOURCE; otherwise it stays 0), and the init returns to 0
// around later forks so exec'd processes stay killable. Those inherit the
// init's lowered floor (oom_score_adj_min), so they could lower their own
// score; the main workload, forked before, cannot. The OOM killer's
// counter (v2 memory.events oom_kill, v1 memory.oom_control oom_kill) is
// read after every exit: ExitStatus.OOMKills counts kills of any process,
// OOMKilled says the main process was one.
//
// Where it was exercised: v1 by every kernel test on the hybrid hosts; v2
// by `make test-v2` (Debian's 6.1 kernel, pure v2, under qemu), where the
// same runtime and runtime/cgroups tests run with real v2 controllers.
// TestCloneIntoV2Cgroup also runs the v2 start path on a hybrid host, against
// its controller-less /sys/fs/cgroup/unified.
//
// # Idmapped mounts
//
// Under `userns: private`, read-only bind volumes and a rootfs are
// idmapped into the sandbox's user namespace when the filesystem supports
// it (ext4, xfs, btrfs, tmpfs... on Linux >= 5.12/6.3): files owned by host
// root appear owned by container root, an image's uid 999 as 999. Where it
// is not supported a read-only bind is used as is (Record.Idmapped is
// false): files keep their host owners, which show as nobody inside; a
// rootfs runs on a shifted copy instead (shifted.go, Record.Shifted), made
// once per id range and removed with the last sandbox that records it. Writable binds are never idmapped: what
// container root writes is owned on the host by the project's range, not
// by host root, so no setuid file of a real host user can come out of a
// sandbox; the workload writes where permissions for "other" allow, or in
// a tree handed to the range (`:U`). Named volumes are created owned by the
// project's container root and are not idmapped. Every volume is
// nosuid,nodev.
//
// # Logs
//
// When the caller attaches no output, the init writes stdout and stderr as
// JSON lines (time, stream, line) to logs/output.log through a directory fd,
// rotating at Config.LogMaxSize (3 old files kept). Because the init writes
// them, logging continues when the caller dies; a restarted supervisor
// re-attaches with ReadRecord + Adopt (pid and start time identify the init;
// Wait then reads exit.json). With Config.LogDir the files live in a
// directory the caller chose and removes: sandboxes sharing it append to one
// history (the supervisor gives each replica one, so a crashed or replaced
// sandbox's output stays visible until `nucleus down`).
//
// # Writable root
//
// `read_only: false` puts an overlayfs over the root (userxattr under a
// private user namespace). For the host view, and for a rootfs without
// Config.UpperDir, its upper layer is a tmpfs, gone with the sandbox. With
// Config.UpperDir (the supervisor gives each replica one) a rootfs's upper
// and work directories live there, owned by the sandbox's root on the
// host, so a restarted replica finds what it wrote; the caller removes the
// directory. The init mounts the overlay in its own user namespace; the
// directory arrives as a detached mount like the other sources. Where
// overlayfs refuses it (a read-only file system, one without user
// xattrs), the layer falls back to tmpfs; Record.Writable says which
// ("upper" or "tmpfs").
//
// # Exec with a terminal
//
// ExecConfig.Terminal: the init opens a pty in the sandbox's own devpts and
// forks the process from the spawner thread as a session leader with the
// slave as its controlling terminal (job control works; no host pts is
// reachable); the master comes back over ctl.sock to the caller, which
// copies it to and from its terminal and sets the size (ResizeTerminal;
// ExecConfig.Rows/Cols give the size the process starts with).
package runtime
