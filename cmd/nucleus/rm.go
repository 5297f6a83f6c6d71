package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"nucleus/reconcile"
	"nucleus/reconcile/api"
)

func init() { register("rm", newRmCmd) }

func newRmCmd() *cobra.Command {
	var force, stopFirst bool
	cmd := &cobra.Command{
		Use:   "rm [SERVICE...]",
		Short: "Remove the stopped and exited replicas of services",
		Long: "Remove the replicas of the services (all when none is named) that do not run — stopped,\n" +
			"exited, dead: their network addresses and writable layer go, and ps -a no longer lists\n" +
			"them; they stay down until up creates them anew. Asks first on a terminal; elsewhere needs\n" +
			"-f (name a project file before \"rm\": -f is --force here). -s stops running replicas first.\n" +
			"Through the supervisor.",
		RunE: func(cmd *cobra.Command, args []string) error {
			project, recs, err := replicaTargets(args)
			if err != nil {
				return err
			}
			c, err := api.Dial(stateRoot(), project)
			if errors.Is(err, api.ErrNoSupervisor) {
				return fmt.Errorf("rm: no supervisor is running for project %s (rm acts through it; down removes everything of the project)", project)
			}
			if err != nil {
				return err
			}
			ctx := context.Background()
			services := args
			if len(services) == 0 {
				for _, r := range recs {
					services = append(services, r.Service)
				}
				services = slices.Compact(services) // recs are sorted by service
			}
			if stopFirst {
				var running []string
				for _, r := range recs {
					if r.State.Alive() && !slices.Contains(running, r.Service) {
						running = append(running, r.Service)
					}
				}
				if len(running) > 0 {
					if err := c.Stop(ctx, running); err != nil {
						return fmt.Errorf("rm -s: %w", err)
					}
					if _, recs, err = replicaTargets(args); err != nil {
						return err
					}
				}
			}
			var names []string
			for _, r := range recs {
				if !r.Removed && (r.State == reconcile.StateStopped || r.State == reconcile.StateExited || r.State == reconcile.StateDead) {
					names = append(names, r.Ident().Name())
				}
			}
			out := cmd.OutOrStdout()
			if len(names) == 0 {
				fmt.Fprintln(cmd.ErrOrStderr(), "no stopped replicas")
				return nil
			}
			if !force {
				if !term.IsTerminal(int(os.Stdin.Fd())) {
					return &exitError{code: 2, err: fmt.Errorf("rm: would remove %s; give -f to do so without a terminal to ask on", strings.Join(names, ", "))}
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "Going to remove %s\nAre you sure? [y/N] ", strings.Join(names, ", "))
				answer, _ := bufio.NewReader(os.Stdin).ReadString('\n')
				if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
					return nil
				}
			}
			res, err := c.Rm(ctx, services)
			if err != nil {
				return fmt.Errorf("rm: %w", err)
			}
			for _, n := range res.Removed {
				fmt.Fprintln(out, n)
			}
			return nil
		},
	}
	fileFlagWithoutShorthand(cmd) // -f is --force, as in compose rm
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask")
	cmd.Flags().BoolVarP(&stopFirst, "stop", "s", false, "stop the running replicas first")
	return cmd
}
