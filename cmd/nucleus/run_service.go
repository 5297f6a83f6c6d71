package main

import (
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"nucleus/reconcile/oneoff"
	"nucleus/spec"
)

// runServiceFlags are the flags only `run SERVICE` reads.
type runServiceFlags struct {
	noDeps       bool
	servicePorts bool
}

// serviceRunTarget says whether `nucleus run ARGS` is the service form:
// the first argument names a service of the project and comes before any
// "--" (`run -- CMD` stays the plain one-off form even where a service is
// called like CMD). It returns the loaded project then.
func serviceRunTarget(cmd *cobra.Command, args []string) (*spec.Project, bool) {
	if len(args) == 0 || cmd.ArgsLenAtDash() == 0 {
		return nil, false
	}
	p, err := loadSpec(false) // nucleus.yaml or a compose file, quietly
	if err != nil || p.Services[args[0]] == nil {
		return nil, false
	}
	return p, true
}

// runServiceCmd runs `nucleus run SERVICE [CMD...]`: a one-off sandbox with
// the service's settings (image or host view, environment, volumes,
// networks with the project's DNS, limits, security), the flags on top,
// removed when it exits. Its dependencies are started first (up -d --wait
// of them) unless --no-deps.
func runServiceCmd(cmd *cobra.Command, o *runOptions, sf *runServiceFlags, p *spec.Project, args []string, entrypoint *string) error {
	service := args[0]
	command := args[1:]
	if len(command) > 0 && command[0] == "--" {
		command = command[1:]
	}
	if o.image != "" || o.rootfs != "" {
		return &exitError{code: 125, err: fmt.Errorf("run %s: --image and --rootfs do not go with a service (it has its own root)", service)}
	}
	flags, err := runService(o, nil) // the same parsing and checks as the plain form
	if err != nil {
		return err
	}
	if o.name == "" {
		o.name = p.Name + "-" + service + "-run-" + randomHex()
	}
	ov := oneoff.Overrides{Name: o.name, Command: command, Env: flags.Environment, Volumes: flags.Volumes,
		User: o.user, WorkingDir: o.workdir, ServicePorts: sf.servicePorts}
	if entrypoint != nil {
		ep, err := spec.SplitCommand(*entrypoint)
		if err != nil {
			return &exitError{code: 125, err: fmt.Errorf("--entrypoint: %w", err)}
		}
		ov.Entrypoint = append([]string{}, ep...)
	}
	svc, err := oneoff.ForService(p, service, ov)
	if err != nil {
		return &exitError{code: 125, err: fmt.Errorf("run %s: %w", service, err)}
	}
	overrideFromFlags(cmd, svc, flags)
	if cmd.Flags().Changed("pull") && svc.Image != "" {
		if svc.PullPolicy, err = spec.ParsePullPolicy(o.pull); err != nil {
			return &exitError{code: 125, err: fmt.Errorf("--pull: %w", err)}
		}
	}
	if err := servicePortsAllowed(p, service, sf.servicePorts, o.publish); err != nil {
		return err
	}
	if deps := oneoff.Dependencies(p, service); len(deps) > 0 && !sf.noDeps {
		// As compose run: the dependencies come up first (and stay).
		quiet := &cobra.Command{}
		quiet.SetOut(os.Stderr)
		quiet.SetErr(os.Stderr)
		if err := runUp(quiet, &upOptions{detach: true, wait: true, waitTimeout: 2 * time.Minute}, deps); err != nil {
			return &exitError{code: 125, err: fmt.Errorf("run %s: start its dependencies (--no-deps skips them): %w", service, err)}
		}
	}
	o.networks = oneoff.Networks(p, service)
	return launchRun(cmd, o, svc, p.Name, p.Volumes)
}

// overrideFromFlags puts the plain form's flags the user gave on top of the
// service's settings (limits, capabilities, hostname, root, security).
func overrideFromFlags(cmd *cobra.Command, svc, flags *spec.Service) {
	set := cmd.Flags().Changed
	if set("memory") {
		svc.Resources.Memory = flags.Resources.Memory
	}
	if set("cpus") {
		svc.Resources.CPUs = flags.Resources.CPUs
	}
	if set("pids") {
		svc.Resources.Pids = flags.Resources.Pids
	}
	if set("cap-add") {
		svc.CapAdd = append(slices.Clone(svc.CapAdd), flags.CapAdd...)
	}
	if set("hostname") {
		svc.Hostname = flags.Hostname
	}
	if set("read-only") {
		svc.ReadOnly = flags.ReadOnly
	}
	if set("userns") {
		svc.Security.UserNS = flags.Security.UserNS
	}
	if set("landlock") {
		svc.Security.Landlock.Mode = flags.Security.Landlock.Mode
	}
	if set("seccomp") {
		svc.Security.Seccomp, svc.Security.SeccompProfile = flags.Security.Seccomp, flags.Security.SeccompProfile
	}
}
