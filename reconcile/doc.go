// Package reconcile is the brain of nucleus: it turns "what the files say"
// (a *spec.Project) and "what runs" (Observed) into an ordered list of Steps
// with field-level causes (Plan, pure), decides restarts and back-off
// (pure), records sandboxes in a crash-safe state store, watches the
// project's files, and runs one reconcile pass at a time per project.
//
// Functional core, imperative shell: Plan, the restart policy and the
// back-off are pure functions covered by table and golden tests; the
// supervisor only glues them to the runtime and network packages through the
// small interfaces in ports.go.
package reconcile
