package oneoff

import (
	"fmt"
	"maps"
	"slices"

	"nucleus/spec"
)

// Overrides are what the flags of `nucleus run SERVICE [CMD...]` change of
// the service (Compose's run: the service's settings, these on top).
type Overrides struct {
	Name       string   // the one-off sandbox's ID
	Command    []string // replaces the service's command when not empty
	Entrypoint []string // replaces the entrypoint when not nil ([] clears it)
	Env        map[string]string
	Volumes    []spec.VolumeMount
	User       string
	WorkingDir string
	// ServicePorts publishes the service's ports (compose run
	// --service-ports); otherwise none of them, as compose run.
	ServicePorts bool
}

// ForService is the one-off service `nucleus run SERVICE` launches: a copy
// of the project's service with the overrides applied, and without what
// only a replica has (health check, restart policy, dependencies,
// replicas). The project is not changed.
func ForService(p *spec.Project, service string, o Overrides) (*spec.Service, error) {
	src := p.Services[service]
	if src == nil {
		return nil, fmt.Errorf("no service %q in project %s (services: %v)", service, p.Name, slices.Sorted(maps.Keys(p.Services)))
	}
	svc := *src
	svc.Name = o.Name
	svc.Environment = maps.Clone(src.Environment)
	if svc.Environment == nil {
		svc.Environment = map[string]string{}
	}
	maps.Copy(svc.Environment, o.Env)
	svc.Volumes = append(slices.Clone(src.Volumes), o.Volumes...)
	svc.Ports = nil
	if o.ServicePorts {
		svc.Ports = slices.Clone(src.Ports)
	}
	svc.Healthcheck, svc.DependsOn, svc.Restart = nil, nil, spec.RestartPolicy{Policy: spec.RestartNo}
	if o.User != "" {
		svc.User = o.User
	}
	if o.WorkingDir != "" {
		svc.WorkingDir = o.WorkingDir
	}
	if len(o.Command) > 0 {
		svc.Command = slices.Clone(o.Command)
	}
	if o.Entrypoint != nil {
		if svc.Image == "" {
			// The host view has no image entrypoint: it goes in front of
			// the command, as `nucleus run --entrypoint` without --image.
			svc.Command = append(slices.Clone(o.Entrypoint), svc.Command...)
		} else {
			svc.Entrypoint = slices.Clone(o.Entrypoint)
		}
	}
	if svc.Image == "" && len(svc.Command) == 0 {
		return nil, fmt.Errorf("service %s has no command and no image: name a command after the service", service)
	}
	return &svc, nil
}

// Dependencies are the services SERVICE's depends_on names, sorted
// (compose run starts them unless --no-deps).
func Dependencies(p *spec.Project, service string) []string {
	if s := p.Services[service]; s != nil {
		return slices.Sorted(maps.Keys(s.DependsOn))
	}
	return nil
}

// Networks are the project networks the service joins, sorted.
func Networks(p *spec.Project, service string) []string {
	if s := p.Services[service]; s != nil {
		return slices.Sorted(maps.Keys(s.Networks))
	}
	return nil
}
