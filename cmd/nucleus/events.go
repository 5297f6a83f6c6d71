package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"nucleus/reconcile"
	"nucleus/reconcile/api"
)

func init() { register("events", newEventsCmd) }

func newEventsCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "events [SERVICE...]",
		Short: "Stream the replicas' lifecycle events from the supervisor until Ctrl-C",
		Long: "Print each replica lifecycle event the project's supervisor records, as it happens:\n" +
			"create, start, restart, die (with the exit code), stop, health_status, destroy. One line\n" +
			"each (TIME TYPE NAME details), or one JSON object per line with --json. Needs a supervisor.",
		RunE: func(cmd *cobra.Command, args []string) error {
			project, _, err := replicaTargets(args) // checks the service names
			if err != nil {
				return err
			}
			c, err := api.Dial(stateRoot(), project)
			if errors.Is(err, api.ErrNoSupervisor) {
				return fmt.Errorf("events: no supervisor is running for project %s (start one with nucleus up -d)", project)
			}
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			want := map[string]bool{}
			for _, s := range args {
				want[s] = true
			}
			err = c.Events(ctx, nil, func(ev reconcile.Event) {
				if len(want) > 0 && !want[ev.Service] {
					return
				}
				if asJSON {
					_ = printJSONLine(out, ev)
					return
				}
				fmt.Fprintf(out, "%s %s %s%s\n", ev.Time.Local().Format(time.RFC3339Nano), ev.Type, ev.Name, eventDetails(ev))
			})
			if errors.Is(err, api.ErrNoSupervisor) { // down: the stream ends
				fmt.Fprintf(cmd.ErrOrStderr(), "events: the supervisor of project %s stopped\n", project)
				return nil
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object per line")
	return cmd
}

func eventDetails(ev reconcile.Event) string {
	s := " (id " + ev.ID
	if ev.PID > 0 && ev.Type != "die" && ev.Type != "destroy" {
		s += fmt.Sprintf(", pid %d", ev.PID)
	}
	if ev.ExitCode != nil {
		s += fmt.Sprintf(", exit code %d", *ev.ExitCode)
	}
	if ev.Health != "" {
		s += ", " + ev.Health
	}
	return s + ")"
}
