package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"nucleus/reconcile/host"
)

func init() { register("logs", newLogsCmd) }

// parseLogTime reads --since and --until as Compose does: an RFC 3339
// time, or a duration before now.
func parseLogTime(flag, s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, fmt.Errorf("--%s %q: expected a time like 2006-01-02T15:04:05Z or a duration like 10m", flag, s)
}

func newLogsCmd() *cobra.Command {
	var (
		follow     bool
		tailN      int
		since      string
		timestamps bool
		until      string
		noPrefix   bool
	)
	cmd := &cobra.Command{
		Use:               "logs [flags] [SERVICE...]",
		ValidArgsFunction: completeServices,
		Short:             "Print the output of the project's services (from the log files; no supervisor needed)",
		Long: "Print what the services wrote, merged in time order with a `service |` prefix.\n" +
			"The log files are written by each sandbox's init, so this works while no supervisor\n" +
			"runs; -f follows them across rotation and restarts until Ctrl-C.",
		RunE: func(cmd *cobra.Command, args []string) error {
			now := time.Now()
			var untilT time.Time
			var sinceD time.Duration // host.Logs takes an age
			for _, t := range []struct {
				flag, val string
				set       func(time.Time)
			}{{"since", since, func(t time.Time) {
				if !t.Equal(now) { // --since 0 keeps its meaning: everything
					sinceD = max(now.Sub(t), time.Nanosecond)
				}
			}}, {"until", until, func(t time.Time) { untilT = t }}} {
				if t.val == "" {
					continue
				}
				at, err := parseLogTime(t.flag, t.val, now)
				if err != nil {
					return &exitError{code: 2, err: err}
				}
				t.set(at)
			}
			p, name, loadErr := projectForState()
			if name == "" {
				return &exitError{code: 2, err: loadErr}
			}
			var declared []string
			if p != nil {
				declared = slices.Collect(maps.Keys(p.Services))
			}
			root := stateRoot()
			pr := newLogPrinter(os.Stdout, timestamps)
			pr.noPrefix = noPrefix
			lines, err := host.Logs(root, name, host.LogOptions{Services: args, Tail: tailN, Since: sinceD, Until: untilT, Declared: declared}, now)
			if unknown := (*host.UnknownServiceError)(nil); errors.As(err, &unknown) {
				return &exitError{code: 2, err: err}
			}
			if err != nil {
				return fmt.Errorf("read logs of %s: %w", name, err)
			}
			for _, l := range lines {
				pr.print(l)
			}
			if !follow || !untilT.IsZero() && !untilT.After(time.Now()) {
				return nil // following past --until would print nothing
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if !untilT.IsZero() {
				var cancel context.CancelFunc
				ctx, cancel = context.WithDeadline(ctx, untilT)
				defer cancel()
			}
			return host.Follow(ctx, root, name, host.FollowOptions{Services: args, FromEnd: true}, pr.print)
		},
	}
	f := cmd.Flags()
	// -f is --follow here, as in docker compose logs -f; a local --file (no
	// shorthand) takes the global flag's place so the shorthands do not clash.
	f.StringArrayVar(&globals.files, "file", nil, "project file (repeatable)")
	f.BoolVarP(&follow, "follow", "f", false, "keep printing new output")
	f.IntVarP(&tailN, "tail", "n", -1, "only the last N lines of each replica (-1: all)")
	f.StringVar(&since, "since", "", "only lines written since this: a time (2006-01-02T15:04:05Z07:00) or a duration ago, like 10m")
	f.BoolVarP(&timestamps, "timestamps", "t", false, "show the time of each line")
	f.StringVar(&until, "until", "", "only lines written before this: a time (2006-01-02T15:04:05Z07:00) or a duration ago, like 10m")
	f.BoolVar(&noPrefix, "no-log-prefix", false, "print the lines without the `service |` prefix")
	return cmd
}
