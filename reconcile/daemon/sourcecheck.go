package daemon

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"nucleus/internal/rootdir"
	"nucleus/reconcile"
	"nucleus/reconcile/api"
	"nucleus/spec"
)

// PolicyRunner is the default factory: a supervisor instance of
// reconcile/api on parts (see apiRunner) whose sandboxes are also checked
// at start: Check reads path strings when the files load, but a workload that can
// write into a bind source can later swap a directory for a symlink (one
// owned by host root under userns: host), and a restart would then mount
// whatever it points to. The runtime hands every bind source and rootfs to
// CheckSource once pinned, as the path of the very object to be mounted,
// and a refusal fails the start: the replica never runs.
func PolicyRunner(pol Policy, parts api.Parts) RunnerFactory {
	return func(root rootdir.Root, project string, load func() (*spec.Project, error), onPass func(reconcile.PassResult)) (ProjectRunner, error) {
		// The files last loaded locate a refused volume in the YAML and
		// give the project directory.
		var mu sync.Mutex
		var last *spec.Project
		remember := func() (*spec.Project, error) {
			p, err := load()
			if err == nil {
				mu.Lock()
				last = p
				mu.Unlock()
			}
			return p, err
		}
		check := func(svc *spec.Service, target, real string) error {
			mu.Lock()
			p := last
			mu.Unlock()
			return pol.CheckSource(p, svc.Name, target, real)
		}
		in, err := api.Start(api.Options{Root: root, Project: project, Load: remember, Watch: true, OnPass: onPass, CheckSource: check, Parts: parts})
		if err != nil {
			return nil, err
		}
		return apiRunner{in}, nil
	}
}

// CheckSource refuses a bind source (target: its mount point) or rootfs
// (target "") of service whose real path, as pinned by the runtime, lies
// outside the project directory and the allowed prefixes. real is not
// resolved again: it is what gets mounted.
func (pol Policy) CheckSource(p *spec.Project, service, target, real string) error {
	if slices.Contains(pol.AllowHostPaths, "/") {
		return nil
	}
	if p == nil {
		return fmt.Errorf("%s: no project files loaded to check %s against", PolicyDeniedPrefix, real)
	}
	if within(spec.RealPath(p.Dir), real) {
		return nil
	}
	for _, pre := range pol.AllowHostPaths {
		if within(spec.RealPath(pre), real) {
			return nil
		}
	}
	path, match, what := []string{"services", service, "volumes"}, targetMatcher(target), "the bind source of volume "+target
	if target == "" {
		path, match, what = []string{"services", service, "rootfs"}, nil, "rootfs"
	}
	return fmt.Errorf("%s:\n%s: %s: %s is %s at start, outside the project directory (allow with nucleus daemon --allow-host-path PREFIX)",
		PolicyDeniedPrefix, newLocator(p.Files).find(path, match), strings.Join(path, "."), what, real)
}
