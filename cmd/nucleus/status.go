package main

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"nucleus/reconcile/daemon"
)

func init() { register("status", newStatusCmd) }

func newStatusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Per project: applied and attempted revision, condition, last applies",
		Long: "Read the state root (works whether the daemon or a supervisor runs or not) and print, per\n" +
			"project, the last applied revision (content digest, git commit inside a git work tree), the\n" +
			"last attempted one, a condition (Ready, Progressing, Degraded, Stalled) with its reason, and\n" +
			"the last 5 applies with outcome and duration.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			rep, err := daemon.Status(stateRoot())
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return printJSON(out, rep)
			}
			printStatus(out, rep)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printStatus(out io.Writer, rep *daemon.Report) {
	if d := rep.Daemon; d != nil {
		state := "not running"
		if d.Running {
			state = fmt.Sprintf("running (pid %d, since %s)", d.PID, d.StartedAt.Format(time.RFC3339))
		}
		fmt.Fprintf(out, "daemon: %s, watching %s\n", state, d.Watch)
		if d.Guard != "" {
			fmt.Fprintf(out, "  guard: %s\n", d.Guard)
		}
	}
	if len(rep.Projects) == 0 {
		fmt.Fprintln(out, "no projects")
		return
	}
	for _, p := range rep.Projects {
		fmt.Fprintf(out, "\n%s  %s (%s)  %d/%d running\n", p.Name, p.Condition, p.Reason, p.Running, p.Replicas)
		if p.Dir != "" {
			fmt.Fprintf(out, "  dir:       %s\n", p.Dir)
		}
		if p.Message != "" {
			fmt.Fprintf(out, "  message:   %s\n", indentRest(p.Message, "             "))
		}
		fmt.Fprintf(out, "  applied:   %s\n", revision(p.Applied.Digest, p.Applied.Commit, p.Applied.At))
		fmt.Fprintf(out, "  attempted: %s\n", revision(p.Attempted.Digest, p.Attempted.Commit, p.Attempted.At))
		for i, h := range p.History {
			label := "  applies:   "
			if i > 0 {
				label = "             "
			}
			line := fmt.Sprintf("%s %-7s %8.1f ms  %d steps  %s", h.At.Format(time.RFC3339), h.Outcome, h.DurationMS, h.Steps, revision(h.Digest, h.Commit, time.Time{}))
			if h.Error != "" {
				line += "  " + firstLine(h.Error)
			}
			fmt.Fprintln(out, label+line)
		}
	}
}

func revision(digest, commit string, at time.Time) string {
	if digest == "" {
		return "-"
	}
	s := strings.TrimPrefix(digest, "sha256:")
	if len(s) > 12 {
		s = s[:12]
	}
	s = "sha256:" + s
	if commit != "" {
		s += " commit " + commit[:min(12, len(commit))]
	}
	if !at.IsZero() {
		s += " at " + at.Format(time.RFC3339)
	}
	return s
}

func firstLine(s string) string {
	first, rest, _ := strings.Cut(s, "\n")
	if rest != "" {
		first += " (…)"
	}
	return first
}

func indentRest(s, indent string) string { return strings.ReplaceAll(s, "\n", "\n"+indent) }
