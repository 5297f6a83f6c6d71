package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"nucleus/reconcile"
	"nucleus/reconcile/api"
)

func init() { register("supervise", newSuperviseCmd) }

// newSuperviseCmd is the detached supervisor `nucleus up -d` starts (in its
// own session, output to its log file under the state root). SIGHUP
// reloads; SIGTERM and SIGINT end the supervisor and leave the services
// running (a later `up` adopts them); `nucleus down` ends it too.
func newSuperviseCmd() *cobra.Command {
	var (
		noWatch  bool
		noDeps   bool
		services []string
		scale    []string
	)
	cmd := &cobra.Command{
		Use:    "supervise",
		Short:  "Run a project's supervisor in the foreground without output streaming (started by up -d)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			createBindSources = true
			globals.services = services
			p, err := loadProject()
			if err != nil {
				return err
			}
			sc, err := parseScale(scale)
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			in, err := api.Start(api.Options{
				Root: stateRoot(), Project: p.Name, Services: services, Watch: !noWatch,
				UpFlags: reconcile.UpFlags{NoDeps: noDeps, Scale: sc},
				Load:    reloadProject, Select: addSelection,
				OnPass: func(res reconcile.PassResult) {
					if res.Changes == 0 && res.ApplyErr == nil {
						return // nothing done: at most a replica still waits
					}
					for _, st := range res.Steps {
						slog.Info("step", "project", p.Name, "step", st.String())
					}
					slog.Info("pass done", "project", p.Name, "steps", res.Changes, "duration", res.Duration, "err", res.ApplyErr)
				},
			})
			if err != nil {
				return err
			}
			defer in.Close()
			slog.Info("supervisor started", "project", p.Name, "pid", os.Getpid())
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			sigs := make(chan os.Signal, 4)
			signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
			go func() {
				for s := range sigs {
					if s == syscall.SIGHUP {
						slog.Info("SIGHUP: reloading", "project", p.Name)
						in.Reload()
						continue
					}
					slog.Info("exiting; the services keep running", "signal", s.String())
					cancel()
					return
				}
			}()
			err = in.Run(ctx)
			if errors.Is(err, api.ErrDown) {
				slog.Info("project taken down; supervisor exits", "project", p.Name)
				return nil
			}
			if err != nil {
				return fmt.Errorf("supervise %s: %w", p.Name, err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&noWatch, "no-watch", false, "do not watch the project files")
	cmd.Flags().StringArrayVar(&services, "service", nil, "limit to this service and its dependencies (repeatable)")
	cmd.Flags().BoolVar(&noDeps, "no-deps", false, "limit to the --service services, without their dependencies")
	cmd.Flags().StringArrayVar(&scale, "scale", nil, "SERVICE=N replicas instead of the file's (repeatable)")
	return cmd
}
