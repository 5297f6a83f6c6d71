package main

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"nucleus/image/progress"
	"nucleus/reconcile"
	"nucleus/reconcile/api"
	"nucleus/reconcile/images"
)

func init() { register("ps", newPsCmd) }

func newPsCmd() *cobra.Command {
	var asJSON, all, quiet, services bool
	var statuses, filters []string
	cmd := &cobra.Command{
		Use:   "ps",
		Short: "List the project's service replicas with state, health, usage and confinement",
		Long: "One row per replica, from the supervisor when one runs, else from the state records.\n" +
			"Stopped and exited replicas are shown with -a. HASH says whether the replica runs what\n" +
			"the files say now (ok) or an older configuration (changed).\n" +
			"-q prints the host PID of each replica's sandbox init, one per line, where Compose prints\n" +
			"container IDs: nucleus has no container IDs, and the PID works with kill, nsenter and /proc\n" +
			"(a replica without a process prints nothing). --status and --filter status=STATE take\n" +
			"nucleus's states or Compose's (running covers starting, healthy and unhealthy; restarting\n" +
			"is backoff and crashloop; created is creating and waiting) and imply -a.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			want, err := statusSet(statuses, filters)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			p, name, loadErr := projectForState()
			if name == "" {
				return &exitError{code: 2, err: loadErr}
			}
			if p != nil {
				// The hash of an image service includes its digest: compare
				// with the files resolved against the store (nothing pulled).
				if rp, _, err := images.Peek(context.Background(), stateRoot(), p); err == nil {
					p = rp
				}
			}
			st, err := api.Status(context.Background(), stateRoot(), name, p)
			if err != nil {
				return err
			}
			rows := st.Replicas
			if want != nil {
				rows = slices.DeleteFunc(slices.Clone(rows), func(r reconcile.ReplicaStatus) bool { return !want[r.State] })
			} else if !all {
				rows = nil
				for _, r := range st.Replicas {
					// A failed start stays visible: it is why the service is down.
					if r.State != reconcile.StateStopped && r.State != reconcile.StateExited || r.Error != "" {
						rows = append(rows, r)
					}
				}
			}
			out := cmd.OutOrStdout()
			switch {
			case quiet:
				for _, r := range rows {
					if r.PID > 0 {
						fmt.Fprintln(out, r.PID)
					}
				}
			case services:
				var seen []string
				for _, r := range rows {
					if !slices.Contains(seen, r.Service) {
						seen = append(seen, r.Service)
						fmt.Fprintln(out, r.Service)
					}
				}
			case asJSON:
				if rows == nil {
					rows = []reconcile.ReplicaStatus{}
				}
				if err := printJSON(out, rows); err != nil {
					return err
				}
			default:
				printPs(cmd, rows)
			}
			if st.PID == 0 && slices.ContainsFunc(rows, func(r reconcile.ReplicaStatus) bool { return r.PID > 0 }) {
				// Read from the records: the states were right when the
				// supervisor died, and nothing keeps them so since.
				fmt.Fprintf(cmd.ErrOrStderr(), "no supervisor runs project %s (it was killed or exited): the states are its records'; "+
					"nothing restarts or health-checks its replicas, nor forwards the published ports of userspace networks, "+
					"until `nucleus up -d` adopts them\n", name)
			}
			if loadErr != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "the files do not load (the last good configuration keeps running):\n%v\n", loadErr)
			} else if st.Record != nil && st.Record.LastError != "" {
				fmt.Fprintf(cmd.ErrOrStderr(), "last apply failed at %s:\n%s\n", st.Record.LastErrorAt.Format(time.RFC3339), st.Record.LastError)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	cmd.Flags().BoolVarP(&all, "all", "a", false, "also show stopped and exited replicas")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "print only the host PID of each replica's sandbox init")
	cmd.Flags().BoolVar(&services, "services", false, "print the services that have a replica shown, one per line")
	cmd.Flags().StringArrayVar(&statuses, "status", nil, "only replicas in this state (repeatable; implies -a)")
	cmd.Flags().StringArrayVar(&filters, "filter", nil, "only replicas matching status=STATE (repeatable; implies -a)")
	return cmd
}

func printPs(cmd *cobra.Command, rows []reconcile.ReplicaStatus) {
	tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tSTATE\tPID\tADDRESS\tPORTS\tRESTARTS\tEXIT\tUPTIME\tHEALTH\tCPU\tMEM\tPIDS\tLIMITS\tLANDLOCK\tSECCOMP\tIMAGE\tHASH")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, r := range rows {
		pid, exit, uptime := "-", "-", "-"
		if r.PID > 0 {
			pid = strconv.Itoa(r.PID)
		}
		if r.ExitCode != nil {
			exit = strconv.Itoa(*r.ExitCode)
		}
		if r.PID > 0 && !r.StartedAt.IsZero() {
			uptime = time.Since(r.StartedAt).Round(time.Second).String()
		}
		state := string(r.State)
		if r.Paused {
			state = "paused"
		}
		if !r.NextAttempt.IsZero() && (r.State == reconcile.StateBackoff || r.State == reconcile.StateCrashloop) {
			state += " (next " + r.NextAttempt.Local().Format("15:04:05") + ")"
		}
		if r.OOMKills > 0 { // killed by the memory limit: the main process or another
			state += fmt.Sprintf(" (oom kills: %d)", r.OOMKills)
		}
		cpu, mem, pids := "-", "-", "-"
		if u := r.Usage; u != nil {
			cpu = fmt.Sprintf("%.2fs", u.CPUSeconds)
			mem = progress.Bytes(int64(u.MemoryBytes))
			if u.MemoryLimit > 0 && u.MemoryLimit < 1<<60 {
				mem += "/" + progress.Bytes(int64(u.MemoryLimit))
			}
			pids = strconv.FormatUint(u.Pids, 10)
		}
		// LIMITS: "-" when every limit set is enforced (or none is set).
		limits := "-"
		if len(r.LimitsNotEnforced) > 0 {
			limits = strings.Join(r.LimitsNotEnforced, ",") + " not enforced"
		}
		ll := "off"
		if r.LandlockABI > 0 {
			ll = "v" + strconv.Itoa(r.LandlockABI)
		}
		hash := "?"
		if r.DesiredHash != "" {
			hash = "changed"
			if r.UpToDate {
				hash = "ok"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			r.Name, state, pid, dash(r.IP), dash(strings.Join(r.Ports, ",")), r.Restarts, exit, uptime,
			dash(r.Health), cpu, mem, pids, limits, ll, dash(r.Seccomp), dash(progress.Short(r.ImageDigest)), hash)
	}
	tw.Flush()
	// A failed start has no process to show; its error says why. So does
	// a record that was set aside, and a replica waiting for a dependency.
	for _, r := range rows {
		switch {
		case r.State == reconcile.StateCorrupt:
			fmt.Fprintf(cmd.OutOrStdout(), "%s: state unknown: %s\n", r.Name, r.Error)
		case r.State == reconcile.StateWaiting && r.Permanent != "":
			fmt.Fprintf(cmd.OutOrStdout(), "%s: will not start: dependency %s\n", r.Name, r.Permanent)
		case r.State == reconcile.StateWaiting:
			fmt.Fprintf(cmd.OutOrStdout(), "%s: waiting for %s\n", r.Name, r.WaitingFor)
		case r.Error != "":
			fmt.Fprintf(cmd.OutOrStdout(), "%s: start failed: %s\n", r.Name, r.Error)
		}
	}
}
