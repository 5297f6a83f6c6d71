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
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"nucleus/image/progress"
	"nucleus/reconcile"
	"nucleus/reconcile/host"
	"nucleus/spec"
)

func init() {
	register("kill", newKillCmd)
	register("pause", newPauseCmd(true))
	register("unpause", newPauseCmd(false))
	register("top", newTopCmd)
	register("stats", newStatsCmd)
}

// replicaTargets finds the project (its files, or -p and the state root)
// and the records of its replicas of services (all when none named). A
// service the project lacks is a usage error (exit 2).
func replicaTargets(services []string) (string, []*reconcile.SandboxRecord, error) {
	p, name, loadErr := projectForState()
	if name == "" {
		return "", nil, &exitError{code: 2, err: loadErr}
	}
	var known []string
	if p != nil {
		for s := range p.Services {
			known = append(known, s)
		}
	}
	recs, err := host.Replicas(stateRoot(), name, services, known)
	var ue *host.UnknownServiceError
	if errors.As(err, &ue) {
		return "", nil, &exitError{code: 2, err: err}
	}
	return name, recs, err
}

// runningTargets is replicaTargets limited to running replicas; none is an
// error naming what was asked for.
func runningTargets(verb string, services []string) ([]*reconcile.SandboxRecord, error) {
	project, recs, err := replicaTargets(services)
	if err != nil {
		return nil, err
	}
	var out []*reconcile.SandboxRecord
	for _, r := range recs {
		if host.Running(r) {
			out = append(out, r)
		}
	}
	if len(out) == 0 {
		what := "project " + project
		if len(services) > 0 {
			what = strings.Join(services, ", ") + " of project " + project
		}
		return nil, fmt.Errorf("%s: no running replica of %s", verb, what)
	}
	return out, nil
}

func newKillCmd() *cobra.Command {
	var sigName string
	cmd := &cobra.Command{
		Use:   "kill [-s SIGNAL] [SERVICE...]",
		Short: "Send a signal (default SIGKILL) to the running replicas' workloads",
		Long: "Send SIGNAL to the workload of every running replica of the services (all when none is\n" +
			"named). The supervisor sees the exit as any other: the restart policy applies.",
		RunE: func(cmd *cobra.Command, args []string) error {
			sig, err := spec.ParseSignal(sigName)
			if err != nil {
				return &exitError{code: 2, err: fmt.Errorf("kill: -s: %w", err)}
			}
			recs, err := runningTargets("kill", args)
			if err != nil {
				return err
			}
			var errs []error
			for _, r := range recs {
				if err := host.Kill(stateRoot(), r, sig.Number()); err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %s\n", r.Ident().Name(), sig)
			}
			return errors.Join(errs...)
		},
	}
	cmd.Flags().StringVarP(&sigName, "signal", "s", "SIGKILL", "signal to send (SIGTERM, TERM, ...)")
	return cmd
}

func newPauseCmd(pause bool) func() *cobra.Command {
	return func() *cobra.Command {
		name, short := "pause", "Freeze every process of the running replicas (cgroup freezer)"
		if !pause {
			name, short = "unpause", "Thaw paused replicas"
		}
		return &cobra.Command{
			Use:   name + " [SERVICE...]",
			Short: short,
			Long: short + " of the services (all when none is named).\n" +
				"A paused replica shows as paused in ps; its exec and health checks wait until unpause.",
			RunE: func(cmd *cobra.Command, args []string) error {
				recs, err := runningTargets(name, args)
				if err != nil {
					return err
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				var errs []error
				for _, r := range recs {
					if pause {
						err = host.Pause(ctx, stateRoot(), r)
					} else {
						err = host.Unpause(stateRoot(), r)
					}
					if err != nil {
						errs = append(errs, err)
						continue
					}
					fmt.Fprintln(cmd.OutOrStdout(), r.Ident().Name())
				}
				return errors.Join(errs...)
			},
		}
	}
}

func newTopCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "top [SERVICE...]",
		Short: "List the processes of the running replicas",
		Long: "For every running replica of the services (all when none is named): its processes from its\n" +
			"cgroup (without one, those below its init), with PID inside the sandbox, PID on the host, USER inside the sandbox, CPU TIME and CMD.",
		RunE: func(cmd *cobra.Command, args []string) error {
			recs, err := runningTargets("top", args)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			var errs []error
			for i, r := range recs {
				procs, err := host.Top(stateRoot(), r)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				if i > 0 {
					fmt.Fprintln(out)
				}
				fmt.Fprintln(out, r.Ident().Name())
				tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "PID\tHOST PID\tUSER\tTIME\tCMD")
				for _, p := range procs {
					fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", p.PID, p.HostPID, p.User, cpuTime(p.CPUSec), p.Cmd)
				}
				tw.Flush()
			}
			return errors.Join(errs...)
		},
	}
}

// cpuTime formats CPU seconds as ps does: [DD-]HH:MM:SS.
func cpuTime(sec float64) string {
	s := int64(sec)
	return fmt.Sprintf("%02d:%02d:%02d", s/3600, s/60%60, s%60)
}

func newStatsCmd() *cobra.Command {
	var noStream, asJSON bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "stats [SERVICE...]",
		Short: "Show the running replicas' CPU, memory, pids and block I/O, live",
		Long: "Usage of every running replica of the services (all when none is named), from its cgroup\n" +
			"(without one, from /proc, no limit):\n" +
			"CPU % (of one CPU, over the last interval), memory usage/limit, pids/limit, block I/O read/written.\n" +
			"Refreshed every interval until Ctrl-C (redrawn in place on a terminal); --no-stream prints one\n" +
			"sample (measured over one interval) and exits.",
		RunE: func(cmd *cobra.Command, args []string) error {
			_, recs, err := replicaTargets(args)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			out := cmd.OutOrStdout()
			tty := !asJSON && term.IsTerminal(int(os.Stdout.Fd()))
			prev := map[string]*host.ReplicaStats{}
			sample := func() []*host.ReplicaStats {
				var rows []*host.ReplicaStats
				for _, r := range recs {
					s, err := host.Stats(stateRoot(), r, prev[r.ID])
					if err != nil {
						continue // not running (now)
					}
					prev[r.ID] = s
					rows = append(rows, s)
				}
				return rows
			}
			sample() // the baseline of CPU %
			for {
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(interval):
				}
				rows := sample()
				if len(rows) == 0 {
					return errors.New("stats: no running replica")
				}
				if tty {
					fmt.Fprint(out, "\x1b[H\x1b[2J")
				}
				if asJSON {
					if err := printJSON(out, rows); err != nil {
						return err
					}
				} else {
					printStats(out, rows)
				}
				if noStream {
					return nil
				}
			}
		},
	}
	cmd.Flags().BoolVar(&noStream, "no-stream", false, "print one sample and exit")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print each sample as a JSON array")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "time between samples")
	return cmd
}

func printStats(out interface{ Write([]byte) (int, error) }, rows []*host.ReplicaStats) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tPIDS\tBLOCK I/O")
	limit := func(n uint64) string {
		if n == 0 || n >= 1<<60 {
			return "-"
		}
		return progress.Bytes(int64(n))
	}
	for _, r := range rows {
		memPct := "-"
		if r.MemoryLimit > 0 && r.MemoryLimit < 1<<60 {
			memPct = fmt.Sprintf("%.2f%%", 100*float64(r.MemoryBytes)/float64(r.MemoryLimit))
		}
		name := r.Name
		if r.Paused {
			name += " (paused)"
		}
		pids := fmt.Sprint(r.Pids)
		if r.PidsLimit > 0 && r.PidsLimit < 1<<60 {
			pids += fmt.Sprintf("/%d", r.PidsLimit)
		}
		fmt.Fprintf(tw, "%s\t%.2f%%\t%s / %s\t%s\t%s\t%s / %s\n", name, r.CPUPercent,
			progress.Bytes(int64(r.MemoryBytes)), limit(r.MemoryLimit), memPct, pids,
			progress.Bytes(int64(r.ReadBytes)), progress.Bytes(int64(r.WriteBytes)))
	}
	tw.Flush()
	// One line per reason for the replicas without a cgroup.
	var whys []string
	names := map[string][]string{}
	for _, r := range rows {
		if r.NoCgroup != "" {
			if names[r.NoCgroup] == nil {
				whys = append(whys, r.NoCgroup)
			}
			names[r.NoCgroup] = append(names[r.NoCgroup], r.Name)
		}
	}
	for _, why := range whys {
		fmt.Fprintf(out, "%s: no cgroup (%s): usage from /proc, limits not enforced\n", strings.Join(names[why], ", "), why)
	}
}
