package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"nucleus/reconcile/api"
	"nucleus/reconcile/oneoff"
)

func init() { register("down", newDownCmd) }

func newDownCmd() *cobra.Command {
	var (
		timeout graceFlag
		volumes bool
	)
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop and remove the project's sandboxes, networks and state (-v: named volumes too)",
		Long: "Stop the services in reverse dependency order and remove their sandboxes, networks\n" +
			"(with NAT state and DNS records) and state records. When a supervisor runs it does\n" +
			"this and exits; without one, down works from the state records. Idempotent.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, name, loadErr := projectForState()
			if name == "" {
				return &exitError{code: 2, err: fmt.Errorf("cannot tell which project to take down (give -p NAME): %w", loadErr)}
			}
			o := api.DownOptions{Volumes: volumes}
			if timeout.set {
				o.Timeout = &timeout.d
			}
			// One-off runs killed before they could clean up may hold
			// attachments on this project's networks: remove them first.
			if _, err := oneoff.Sweep(context.Background(), stateRoot()); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "warning: cleaning up killed nucleus run sandboxes: %v\n", err)
			}
			if err := api.Down(context.Background(), stateRoot(), name, o); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "project %s is down\n", name)
			return nil
		},
	}
	cmd.Flags().VarP(&timeout, "timeout", "t", "grace period before killing, instead of each service's stop_grace_period (seconds, or a duration like 500ms)")
	cmd.Flags().BoolVarP(&volumes, "volumes", "v", false, "also remove the project's named volumes")
	cmd.Flags().Bool("remove-orphans", false, "accepted for habit: down always removes every sandbox of the project, also of services no longer in the files")
	return cmd
}
