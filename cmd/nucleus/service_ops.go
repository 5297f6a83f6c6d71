package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/spf13/cobra"

	"nucleus/reconcile"
	"nucleus/reconcile/api"
	"nucleus/spec"
)

func init() {
	register("start", serviceOpCmd("start", "Start stopped services (and what they depend on) and wait until they run", (*api.Client).Start, nil, true))
	register("stop", serviceOpCmd("stop", "Stop services; restart policies leave them stopped until start", (*api.Client).Stop, (*api.Client).StopWithin, false))
	register("restart", serviceOpCmd("restart", "Stop and start services with the current configuration", (*api.Client).Restart, (*api.Client).RestartWithin, false))
}

// serviceOpCmd builds start, stop and restart: requests to the supervisor.
// With wait (start), the command returns once the services and their
// dependencies run (healthy, with a health check), as up --wait: the
// request alone returns while a replica still waits for a dependency.
// Without SERVICE arguments they act on every service of the project, as
// in Compose; opWithin, when given, backs -t/--timeout.
func serviceOpCmd(name, short string, op func(*api.Client, context.Context, []string) error,
	opWithin func(*api.Client, context.Context, []string, time.Duration) error, wait bool) func() *cobra.Command {
	return func() *cobra.Command {
		var noWait bool
		var timeout time.Duration
		var grace graceFlag
		cmd := &cobra.Command{
			Use:               name + " [SERVICE...]",
			Short:             short + " (every service when none is named)",
			ValidArgsFunction: completeServices,
			RunE: func(cmd *cobra.Command, args []string) error {
				p, err := loadProject()
				if err != nil {
					return err
				}
				if len(args) == 0 {
					args = allServicesInOrder(p, name == "stop")
					if name == "stop" { // not those that never ran (profiles, up SERVICE)
						args = recordedServices(p.Name, args)
					}
				}
				sel, err := reconcile.SelectServices(p, args)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				c, err := api.Dial(stateRoot(), p.Name)
				if errors.Is(err, api.ErrNoSupervisor) {
					return fmt.Errorf("%s: no supervisor is running for project %s (start one with nucleus up -d)", name, p.Name)
				}
				if err != nil {
					return err
				}
				wait := wait && !noWait
				do := op
				if grace.set {
					do = func(c *api.Client, ctx context.Context, s []string) error { return opWithin(c, ctx, s, grace.d) }
				}
				if err := do(c, context.Background(), args); err != nil {
					if wait {
						// A dependency that will not come: name it, with its log.
						if werr := api.WillNotRun(context.Background(), stateRoot(), sel); werr != nil {
							return &exitError{code: 1, err: fmt.Errorf("%s: %w", name, werr)}
						}
					}
					return fmt.Errorf("%s: %w", name, err)
				}
				if !wait {
					return nil
				}
				return waitStarted(name, sel, timeout)
			},
		}
		if wait {
			cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Minute, "give up waiting for the services to run after this long (exit code 1)")
			cmd.Flags().BoolVar(&noWait, "no-wait", false, "return once the supervisor took the request, without waiting")
		}
		if opWithin != nil {
			cmd.Flags().VarP(&grace, "timeout", "t", "grace period before killing, instead of each service's stop_grace_period (seconds, or a duration like 500ms)")
		}
		return cmd
	}
}

// allServicesInOrder lists the project's services in dependency order
// (dependencies first), or in reverse for a stop (dependents first).
func allServicesInOrder(p *spec.Project, reverse bool) []string {
	var names []string
	for _, level := range reconcile.Levels(p) {
		names = append(names, level...)
	}
	if reverse {
		slices.Reverse(names)
	}
	return names
}

// recordedServices keeps the services of names that have a replica record.
func recordedServices(project string, names []string) []string {
	recs, _ := reconcile.NewStore(stateRoot()).LoadSandboxes(project)
	has := map[string]bool{}
	for _, r := range recs {
		has[r.Service] = true
	}
	return slices.DeleteFunc(names, func(n string) bool { return !has[n] })
}

// waitStarted waits, as up --wait does, until the selected services run;
// it fails at once naming a replica that will not run.
func waitStarted(name string, sel *spec.Project, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := api.WaitReady(ctx, stateRoot(), sel); err != nil {
		if errors.Is(err, api.ErrWillNotRun) {
			return &exitError{code: 1, err: fmt.Errorf("%s: %w", name, err)}
		}
		return &exitError{code: 1, err: fmt.Errorf("%s: %w after %s", name, err, timeout)}
	}
	return nil
}
