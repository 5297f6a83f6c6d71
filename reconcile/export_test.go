package reconcile

// Internal helpers for the tests of package reconcile_test, which use the
// exported fakes of reconcile/reconciletest (that package imports this
// one, so the tests using it live outside).

var (
	Svc           = svc
	DependsOn     = dependsOn
	Replicas      = replicas
	Memory        = memory
	RestartPolicy = restartPolicy
	ProjectOf     = project
)

// SandboxPath is where the store keeps a replica's record.
func (s *Store) SandboxPath(project, service string, replica int) string {
	return s.sandboxPath(project, service, replica)
}
