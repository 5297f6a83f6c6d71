// Package reconcile is the brain of nucleus: it turns "what the files say"
// (a *spec.Project) and "what runs" (Observed) into an ordered list of Steps
// with field-level causes, and executes them.
//
// Functional core, imperative shell. The pure parts have no I/O and no
// clock, and are covered by table and golden tests:
//
//	plan.go, step.go, levels.go, changes.go   Plan, Step, Batches, Levels
//	policy.go, backoff.go                      ShouldRestart, Backoff
//
// The shell around them:
//
//	store.go, atomic.go, proc.go   crash-safe state records, stale detection
//	watch.go                        file watcher (directories, debounce, digest)
//	loop.go                         single-flight dirty-marking loop
//	ports.go                        what the supervisor needs from runtime and network
//	supervisor*.go                  executes plans: levels, parallelism, health, exits
//	depends.go                      depends_on: checked, never waited for (a replica waits as a record)
//	runner.go                       per-project loop: load, plan, apply; reload on change
//
// Package reconcile/host binds the ports to the real runtime and network
// packages and holds the end-to-end tests.
package reconcile
