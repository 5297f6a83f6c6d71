package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"nucleus/compose/composeapi"
	"nucleus/internal/subid"
	"nucleus/network"
	"nucleus/reconcile/host"
	"nucleus/runtime/cgroups"
	"nucleus/spec"
)

// printLimitNotices says, one line per service, which of its limits no
// cgroup will enforce and why (cgroups.Notice): printed once by the
// commands that apply or check limits (run, up, validate), so nothing is
// dropped silently.
func printLimitNotices(w io.Writer, svcs ...*spec.Service) {
	for _, s := range svcs {
		if n := cgroups.Notice(s.Name, host.Limits(s.Resources)); n != "" {
			fmt.Fprintln(w, n)
		}
	}
}

// projectServices are p's services sorted by name.
func projectServices(p *spec.Project) []*spec.Service {
	var out []*spec.Service
	for _, n := range serviceNames(p) {
		out = append(out, p.Services[n])
	}
	return out
}

// printPortNotices warns, one line per service, of a published port the
// caller may not bind (lowPorts), which up refuses before it starts
// anything.
func printPortNotices(w io.Writer, p *spec.Project) {
	for _, l := range lowPorts(p) {
		fmt.Fprintf(w, "warning: %s\n", l)
	}
}

// lowPorts says, one line per service, which published port the caller may
// not bind (a user other than root, below
// net.ipv4.ip_unprivileged_port_start), at the service's ports key in p's
// files (FILE:LINE:COL: services.NAME.ports: ...): validate warns of them,
// up refuses them before the supervisor and the network start.
func lowPorts(p *spec.Project) []string {
	return lowServicePorts(p, projectServices(p))
}

// lowServicePorts is lowPorts of some of p's services: those a command
// will publish (up's selection, run SERVICE --service-ports).
func lowServicePorts(p *spec.Project, svcs []*spec.Service) []string {
	var pos *composeapi.Positions
	var out []string
	for _, s := range svcs {
		if err := network.CheckUnprivilegedPorts(host.Ports(s.Ports)); err != nil {
			if pos == nil {
				pos = composeapi.NewPositions(p.Files, nil)
			}
			at := pos.At("services", s.Name, "ports")
			if at != "" {
				at += ": "
			}
			out = append(out, fmt.Sprintf("%sservices.%s.ports: %v", at, s.Name, err))
		}
	}
	return out
}

// rootlessPorts is lowPorts as up's error: every line, so each is fixed
// before the next up.
func rootlessPorts(p *spec.Project) error {
	if l := lowPorts(p); len(l) > 0 {
		return errors.New(strings.Join(l, "\n"))
	}
	return nil
}

// rootlessIDs is the error every sandbox, network and image unpack of an
// ordinary user would fail with when the user has no subordinate id range
// (naming the file and the usermod command), nil for root: up checks it
// before it pulls or starts a supervisor that could only back off.
func rootlessIDs() error {
	if os.Geteuid() == 0 {
		return nil
	}
	_, err := subid.Sandbox(os.Getuid(), os.Getgid())
	return err
}

// rootlessTun is network.CheckTun when a service of p is on a network (an
// ordinary user's networks are userspace ones, which need /dev/net/tun):
// up checks it before it starts a supervisor whose every network would fail.
func rootlessTun(p *spec.Project) error {
	for _, s := range p.Services {
		if len(s.Networks) > 0 {
			return network.CheckTun()
		}
	}
	return nil
}
