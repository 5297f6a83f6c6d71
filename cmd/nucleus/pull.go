package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"nucleus/image/progress"
	"nucleus/image/pullset"
	"nucleus/reconcile"
	"nucleus/reconcile/api"
	"nucleus/reconcile/images"
)

func init() { register("pull", newPullCmd) }

func newPullCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "pull [SERVICE...]",
		ValidArgsFunction: completeServices,
		Short:             "Pull the images of the project's services (all, or those named)",
		Long: "Pull the image of every service (or of the SERVICEs named), in parallel, each\n" +
			"reference once, whether the store has it or not — as docker compose pull does, so a\n" +
			"tag that moved is fetched again. pull_policy says what up may pull on its own; pull\n" +
			"fetches images with pull_policy: never too (the way to put them in the store).\n" +
			"Progress goes to stderr: one line per image on a terminal, log lines otherwise.\n" +
			"The project is recorded as a user of its images (nucleus images, USED BY; prune\n" +
			"keeps them). When a supervisor runs for the project it is asked to apply the files\n" +
			"again: a service whose image now has another digest is restarted, the others are\n" +
			"left alone. Exits 1 naming each image that failed and the services that use it.",
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject()
			if err != nil {
				return err
			}
			if _, err := reconcile.SelectServices(p, args); err != nil {
				return &exitError{code: 2, err: err}
			}
			if !images.Uses(p) {
				fmt.Fprintf(cmd.ErrOrStderr(), "no service of project %s names an image: nothing to pull\n", p.Name)
				return nil
			}
			st, err := openStore()
			if err != nil {
				return err
			}
			ctx := context.Background()
			d := progress.New(os.Stderr, progress.IsTerminal(os.Stderr))
			_, perr := pullset.Pull(ctx, st, p, pullset.Options{Services: args, Refresh: true, Reporter: d, Where: imageKeyAt(p)})
			d.Done()
			// Recorded even after a failure: what was pulled is the
			// project's, and prune must not take it meanwhile.
			if err := st.SetUses(p.Name, images.Refs(p)); err != nil {
				return errors.Join(perr, err)
			}
			if perr != nil {
				return &exitError{code: 1, err: fmt.Errorf("pull: %w", perr)}
			}
			c, err := api.Dial(stateRoot(), p.Name)
			if errors.Is(err, api.ErrNoSupervisor) {
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "supervisor of %s is running (pid %d): applying the files with the images pulled\n", p.Name, c.PID)
			res, err := c.Apply(ctx, nil)
			if err != nil {
				return err
			}
			return printApply(cmd.OutOrStdout(), res)
		},
	}
}
