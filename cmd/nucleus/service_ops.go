package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"nucleus/reconcile/api"
)

func init() {
	subcommands = append(subcommands,
		serviceOpCmd("start", "Start stopped services (and what they depend on)", (*api.Client).Start),
		serviceOpCmd("stop", "Stop services; restart policies leave them stopped until start", (*api.Client).Stop),
		serviceOpCmd("restart", "Stop and start services with the current configuration", (*api.Client).Restart),
	)
}

// serviceOpCmd builds start, stop and restart: requests to the supervisor.
func serviceOpCmd(name, short string, op func(*api.Client, context.Context, []string) error) func() *cobra.Command {
	return func() *cobra.Command {
		return &cobra.Command{
			Use:   name + " SERVICE...",
			Short: short,
			Args:  cobra.MinimumNArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				p, err := loadProject()
				if err != nil {
					return err
				}
				for _, s := range args {
					if p.Services[s] == nil {
						return &exitError{code: 2, err: fmt.Errorf("no service %q in project %s", s, p.Name)}
					}
				}
				c, err := api.Dial(stateRoot(), p.Name)
				if errors.Is(err, api.ErrNoSupervisor) {
					return fmt.Errorf("%s: no supervisor is running for project %s (start one with nucleus up -d)", name, p.Name)
				}
				if err != nil {
					return err
				}
				if err := op(c, context.Background(), args); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				return nil
			},
		}
	}
}
