// Package runtime runs one sandbox: namespaces, root filesystem and volumes,
// cgroups, capabilities, no_new_privs, Landlock, seccomp, and a small init
// (PID 1 inside the sandbox) that reaps zombies, forwards signals and starts
// the workload and exec'd processes.
//
// Shape of a sandbox (see README for the reasons):
//
//	caller (nucleus run / supervisor)          sandbox
//	  Create ──clone(user,mnt,pid,net,ipc,uts)──> nucleus init (re-exec of this binary)
//	         ──config on a SEQPACKET socket──>    builds the root, pivot_root, "ready"
//	  (network attaches to /proc/PID/ns/net)
//	  Start  ──"start"──>                         forks the workload from a thread that
//	                                              carries the dropped capabilities,
//	                                              no_new_privs, Landlock and seccomp
//	  Wait   <──"exit" status──                   reaps, forwards signals, exits
//
// Everything nucleus creates on the host for a sandbox lives under
// Root.Run/sandboxes/<id> and the sandbox's cgroup, so LeakCheck can find it.
package runtime
