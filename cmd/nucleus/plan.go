package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"nucleus/reconcile"
	"nucleus/reconcile/images"
)

func init() { register("plan", newPlanCmd) }

func newPlanCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan",
		Short: "Print the steps the supervisor would take now, each with its cause",
		Long: "Compare the project files with what runs (from the state records) and print the steps.\n" +
			"Replicas waiting for a dependency (unchanged) are listed as waiting: the supervisor starts\n" +
			"them when the dependency is ready; they are no change to apply.\n" +
			"Exit code: 0 nothing to do (or only waiting), 1 there are changes, 2 error.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject()
			if err != nil {
				return err
			}
			// Images resolve against the store as it is: one not pulled
			// yet is a step of its own (up pulls it), not an error.
			p, missing, err := images.Peek(context.Background(), stateRoot(), p)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			steps, err := reconcile.CurrentPlan(stateRoot(), p)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("read state of project %s: %w", p.Name, err)}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				all := []reconcile.Step{}
				for _, m := range missing {
					for _, s := range m.Services {
						all = append(all, reconcile.Step{Action: "pull", Service: s, Causes: []string{"image " + m.Ref + " is not pulled yet"}})
					}
				}
				if err := printJSON(out, append(all, steps...)); err != nil {
					return &exitError{code: 2, err: err}
				}
			}
			changes := reconcile.Changes(steps)
			if !asJSON {
				if len(changes) == 0 && len(missing) == 0 {
					fmt.Fprintln(out, "nothing to do")
				}
				for _, m := range missing {
					fmt.Fprintf(out, "pull %s (%s)\n", m.Ref, strings.Join(m.Services, ", "))
				}
				for _, s := range changes {
					fmt.Fprintln(out, s.String())
				}
				for _, s := range steps {
					if s.Waiting {
						fmt.Fprintf(out, "%s: %s; the supervisor starts it then\n", strings.Join(s.ReplicaNames(), ", "), strings.Join(s.Causes, ", "))
					}
				}
			}
			if len(changes) > 0 || len(missing) > 0 {
				return &exitError{code: 1, err: errors.New("")}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the steps as a JSON array")
	return cmd
}
