package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"nucleus/internal/rootdir"
	"nucleus/network"
	"nucleus/spec"
)

// runNet is the network side of a one-off sandbox: the project networks it
// joins (--network) or a private per-run network (--publish alone), the
// ports it publishes, and what has to be undone when it exits so that the
// networks are left as they were found.
type runNet struct {
	m       *network.Manager
	project string
	nets    []*spec.Network // sorted by name; ports go to the first
	ports   []spec.Port
	// created are the networks this process made (they did not exist, so
	// no supervisor serves them): removed on exit when nobody else joined.
	created map[string]bool
	// private: the whole synthetic project is removed on exit.
	private  bool
	attached []string
	service  string
}

// runNetworkName is the network of the synthetic project `-p` without
// `--network` uses.
const runNetworkName = "run"

// prepareRunNet checks --network and --publish and ensures the networks.
// nil without either flag: the sandbox keeps its own empty namespace.
func prepareRunNet(ctx context.Context, root rootdir.Root, o *runOptions, svc *spec.Service) (*runNet, error) {
	if len(o.networks) == 0 && len(o.publish) == 0 {
		return nil, nil
	}
	setup := func(err error) error { return &exitError{code: 125, err: fmt.Errorf("nucleus run: %w", err)} }
	rn := &runNet{created: map[string]bool{}, service: svc.Name}
	for _, p := range o.publish {
		port, err := spec.ParsePort(p)
		if err != nil {
			hint := ""
			if !strings.Contains(p, ":") && !strings.ContainsAny(p, "0123456789") {
				hint = " (on `run`, -p is --publish as in docker run; give the project name as --project-name)"
			}
			return nil, setup(fmt.Errorf("--publish %q: %w%s", p, err, hint))
		}
		rn.ports = append(rn.ports, port)
	}
	if len(o.networks) > 0 {
		p, err := loadProject()
		if err != nil {
			var ee *exitError
			if errors.As(err, &ee) {
				err = ee.err
			}
			return nil, setup(fmt.Errorf("--network needs a project (nucleus.yaml here, or -f/--project-directory): %w", err))
		}
		rn.project = p.Name
		for _, name := range dedupSorted(o.networks) {
			sn := p.Networks[name]
			if sn == nil {
				have := slices.Sorted(maps.Keys(p.Networks))
				list := "it has none"
				if len(have) > 0 {
					list = "its networks: " + strings.Join(have, ", ")
				}
				return nil, setup(fmt.Errorf("--network %s: project %s has no network %q; %s", name, p.Name, name, list))
			}
			if sn.Name == "" {
				sn.Name = name
			}
			rn.nets = append(rn.nets, sn)
		}
	} else {
		// Like docker run -p without --network: a network of its own,
		// in a project of its own, gone when the sandbox is.
		b := make([]byte, 4)
		_, _ = rand.Read(b)
		rn.project, rn.private = "run-"+hex.EncodeToString(b), true
		rn.nets = []*spec.Network{{Name: runNetworkName}}
	}
	m, err := network.NewManager(root)
	if err != nil {
		return nil, setup(err)
	}
	rn.m = m
	for _, sn := range rn.nets {
		existed, err := m.NetworkExists(rn.project, sn.Name)
		if err != nil {
			rn.close(ctx)
			return nil, setup(err)
		}
		if !existed {
			rn.created[sn.Name] = true
		}
		// Idempotent: a network the supervisor runs is adopted as is (its
		// DNS stays with the supervisor); otherwise this process serves it.
		if _, err := m.EnsureNetwork(ctx, rn.project, sn); err != nil {
			rn.close(ctx)
			return nil, setup(err)
		}
	}
	svc.Networks = map[string]*spec.ServiceNetwork{}
	for _, sn := range rn.nets {
		svc.Networks[sn.Name] = &spec.ServiceNetwork{}
	}
	svc.Ports = rn.ports
	return rn, nil
}

// files are the sandbox's /etc/resolv.conf (the networks' embedded DNS) and
// /etc/hosts, as the supervisor generates them for a service.
func (rn *runNet) files(svc *spec.Service) map[string][]byte {
	if rn == nil {
		return nil
	}
	return map[string][]byte{
		"/etc/resolv.conf": rn.m.ResolvConf(rn.project, svc),
		"/etc/hosts":       rn.m.HostsFile(rn.project, svc, 1),
	}
}

// attach connects the created (not yet started) sandbox's namespace to
// each network; published ports go to the first one, as for a service.
func (rn *runNet) attach(ctx context.Context, pid int) error {
	if rn == nil {
		return nil
	}
	for i, sn := range rn.nets {
		at := network.Attachment{Project: rn.project, Network: sn.Name, Service: rn.service, Replica: 1, Pid: pid}
		if i == 0 {
			at.Ports = rn.ports
		}
		if _, err := rn.m.Attach(ctx, at); err != nil {
			return &exitError{code: 125, err: fmt.Errorf("nucleus run: %w", err)}
		}
		rn.attached = append(rn.attached, sn.Name)
	}
	return nil
}

// close detaches the sandbox, forgets its address, removes what this run
// created and stops the DNS servers this process ran.
func (rn *runNet) close(ctx context.Context) error {
	if rn == nil || rn.m == nil {
		return nil
	}
	var errs []error
	for _, name := range rn.attached {
		if err := rn.m.Detach(ctx, rn.project, name, rn.service, 1); err != nil {
			errs = append(errs, err)
		}
	}
	rn.attached = nil
	for _, sn := range rn.nets {
		// HostsFile reserved the address even when Attach never ran.
		if err := rn.m.Forget(rn.project, sn.Name, rn.service, 1); err != nil {
			errs = append(errs, err)
		}
	}
	if rn.private {
		if err := rn.m.RemoveProject(ctx, rn.project); err != nil {
			errs = append(errs, err)
		}
	} else {
		for _, sn := range rn.nets {
			if !rn.created[sn.Name] {
				continue
			}
			if _, err := rn.m.RemoveNetworkIfUnused(ctx, rn.project, sn.Name); err != nil {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, rn.m.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("nucleus run: clean up networks: %w", err)
	}
	return nil
}

func dedupSorted(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
