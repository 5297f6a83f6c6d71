// Package daemon is the multi-project GitOps daemon behind
// `nucleus daemon --watch DIR`: every directory under DIR holding a
// nucleus.yaml (or nucleus.yml) is a project, reconciled by its own
// reconcile.Runner; a project directory that appears is brought up, one that
// disappears is brought down.
//
//	scan.go      find the project directories under the tree and name them
//	tree.go      fsnotify on the tree's directories, debounced
//	daemon.go    the daemon: scan passes (single-flight), start/stop runners, guard
//	project.go   one managed project: its runner's lifecycle and pass records
//	runner.go    the per-project supervisor: reconcile/api's Instance, as `nucleus up` runs
//	state.go     the daemon's own record (<Run>/daemon/state.json) and lock
//	gitrev.go    the git commit of a directory, read from .git without git
//	status.go    `nucleus status`: per-project condition from the records
//
// Ownership: the daemon only ever brings down projects it brought up (they
// are listed in its state file), never projects started by `nucleus up` in
// the same state root. A project that moves out of the watched tree
// (another --watch) is released and keeps running.
package daemon
