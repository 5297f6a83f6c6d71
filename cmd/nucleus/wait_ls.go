package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"nucleus/reconcile/api"
	"nucleus/reconcile/host"
)

func init() { register("wait", newWaitCmd); register("ls", newLsCmd) }

func newWaitCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "wait SERVICE...",
		Short: "Block until the services' replicas exit; print their exit codes",
		Long: "Wait until every replica of the services has exited (one that does not run counts at once),\n" +
			"print each exit code on a line of its own, in service and replica order, and exit with\n" +
			"the first one's. A replica that the restart policy starts again counts as exited.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, recs, err := replicaTargets(args)
			if err != nil {
				return err
			}
			if len(recs) == 0 {
				return fmt.Errorf("wait: %s has no replica (is the project up?)", strings.Join(args, ", "))
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			first := -1
			for _, r := range recs {
				code, err := host.WaitExit(ctx, stateRoot(), r)
				if err != nil {
					return fmt.Errorf("wait: %w", err)
				}
				fmt.Fprintln(cmd.OutOrStdout(), code)
				if first < 0 {
					first = code
				}
			}
			if first > 0 {
				return &exitError{code: first, err: errors.New("")}
			}
			return nil
		},
	}
}

func newLsCmd() *cobra.Command {
	var asJSON, all bool
	cmd := &cobra.Command{
		Use:   "ls",
		Short: "List the projects under the state root with their status and files",
		Long: "One row per project with state under the state root (--root): NAME, STATUS (replicas by\n" +
			"state, \"running(2), exited(1)\") and CONFIG FILES. Without -a only projects with a running replica.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, err := host.Projects(stateRoot(), func(project string) bool {
				_, running := api.Running(stateRoot(), project)
				return running
			})
			if err != nil {
				return err
			}
			rows := []host.ProjectSummary{}
			for _, p := range ps {
				if all || p.Running > 0 {
					rows = append(rows, p)
				}
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tSTATUS\tCONFIG FILES")
			for _, p := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", p.Name, p.Status, strings.Join(p.Files, ","))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "also projects without a running replica")
	return cmd
}
