package main

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"nucleus/network"
	"nucleus/reconcile/host"
	"nucleus/spec"
)

// runNetSpec turns --network and --publish into what the sandbox asks of
// the networks (network.RunSession does the rest). nil without either flag:
// the sandbox keeps its own empty namespace.
func runNetSpec(o *runOptions, svc *spec.Service) (*network.RunNetSpec, error) {
	if len(o.networks) == 0 && len(o.publish) == 0 {
		return nil, nil
	}
	ns := &network.RunNetSpec{Service: svc.Name}
	ports, err := publishPorts(o.publish)
	if err != nil {
		return nil, err
	}
	svc.Ports = append(svc.Ports, ports...)
	ns.Ports = host.Ports(svc.Ports)
	if len(o.networks) == 0 {
		return ns, nil // like docker run -p: a private network, gone with the sandbox
	}
	p, err := loadProject()
	if err != nil {
		var ee *exitError
		if errors.As(err, &ee) {
			err = ee.err
		}
		return nil, runSetupError(fmt.Errorf("--network needs a project (nucleus.yaml here, or -f/--project-directory): %w", err))
	}
	ns.Project = p.Name
	ns.Reserved = slices.Sorted(maps.Keys(p.Services))
	for _, name := range dedupSorted(o.networks) {
		sn := p.Networks[name]
		if sn == nil {
			have := slices.Sorted(maps.Keys(p.Networks))
			list := "it has none"
			if len(have) > 0 {
				list = "its networks: " + strings.Join(have, ", ")
			}
			return nil, runSetupError(fmt.Errorf("--network %s: project %s has no network %q; %s", name, p.Name, name, list))
		}
		if sn.Name == "" {
			sn.Name = name
		}
		ns.Networks = append(ns.Networks, host.NetworkConfig(sn))
	}
	return ns, nil
}

func runSetupError(err error) error {
	return &exitError{code: 125, err: fmt.Errorf("nucleus run: %w", err)}
}

// publishPorts parses --publish and refuses a port the caller may not bind
// before anything starts: the network's own check comes once the run's
// network exists.
func publishPorts(publish []string) ([]spec.Port, error) {
	var out []spec.Port
	for _, p := range publish {
		port, err := spec.ParsePort(p)
		if err != nil {
			hint := ""
			if !strings.Contains(p, ":") && !strings.ContainsAny(p, "0123456789") {
				hint = " (on `run`, -p is --publish as in docker run; give the project name as --project-name)"
			}
			return nil, runSetupError(fmt.Errorf("--publish %q: %w%s", p, err, hint))
		}
		if err := network.CheckUnprivilegedPorts(host.Ports([]spec.Port{port})); err != nil {
			return nil, runSetupError(fmt.Errorf("--publish %q: %w", p, err))
		}
		out = append(out, port)
	}
	return out, nil
}

// servicePortsAllowed refuses, for run SERVICE, what it would publish and
// the caller may not bind (--service-ports: the service's ports, at their
// file:line:key, as up refuses them; -p), before its dependencies start.
func servicePortsAllowed(p *spec.Project, service string, servicePorts bool, publish []string) error {
	if servicePorts {
		if l := lowServicePorts(p, []*spec.Service{p.Services[service]}); len(l) > 0 {
			return runSetupError(errors.New(strings.Join(l, "\n")))
		}
	}
	_, err := publishPorts(publish)
	return err
}

func dedupSorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
