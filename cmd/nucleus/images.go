package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"nucleus/image/progress"
	"nucleus/image/ref"
	"nucleus/image/store"
	"nucleus/reconcile/imagelease"
)

func init() { register("images", newImagesCmd); register("image", newImageCmd) }

// openStore opens the image store under the state root's data directory.
func openStore() (*store.Store, error) {
	return store.Open(stateRoot().Data)
}

// imageRow is one image of `nucleus images --json`.
type imageRow struct {
	Ref      string    `json:"ref"`
	Digest   string    `json:"digest"`
	Size     int64     `json:"size"`
	Users    []string  `json:"users"`
	Pulled   time.Time `json:"pulled"`
	Platform string    `json:"platform"`
	Layers   int       `json:"layers"`
	ChainID  string    `json:"chain_id"`
}

func newImagesCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "images",
		Short: "List the images in the store: reference, digest, size, the projects that use them, when pulled",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore()
			if err != nil {
				return err
			}
			imgs, err := st.List()
			if err != nil {
				return err
			}
			rows := make([]imageRow, 0, len(imgs))
			for _, im := range imgs {
				users := im.Users
				if users == nil {
					users = []string{}
				}
				rows = append(rows, imageRow{Ref: im.Ref, Digest: im.Manifest, Size: im.Size, Users: users,
					Pulled: im.Pulled, Platform: im.Platform, Layers: len(im.Layers), ChainID: im.ChainID})
			}
			if asJSON {
				return printJSON(cmd.OutOrStdout(), rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "REFERENCE\tDIGEST\tSIZE\tUSED BY\tPULLED")
			for _, r := range rows {
				users := strings.Join(r.Users, ",")
				if users == "" {
					users = "-"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Ref, progress.Short(r.Digest), progress.Bytes(r.Size), users, r.Pulled.Local().Format("2006-01-02 15:04:05"))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array (full digests, sizes in bytes)")
	return cmd
}

func newImageCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "image",
		Short: "Manage the image store (ls, rm, prune)",
		Args:  cobra.NoArgs,
	}
	ls := newImagesCmd() // docker image ls
	ls.Use, ls.Short = "ls", "The same as nucleus images"
	cmd.AddCommand(ls, newImageRmCmd(), newImagePruneCmd())
	return cmd
}

func newImageRmCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "rm REF...",
		Short: "Remove images from the store (refused for an image a project uses, unless -f)",
		Long: "Remove the record of each REF (canonical or short form: nginx:1.27 is\n" +
			"docker.io/library/nginx:1.27), then the blobs and unpacked trees no other image\n" +
			"needs. A tree a running sandbox uses is never removed. An image a project uses\n" +
			"(nucleus images, USED BY) is refused unless -f.",
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			st, err := openStore()
			if err != nil {
				return err
			}
			cwd, _ := os.Getwd()
			var total store.Summary
			var errs []error
			for _, a := range args {
				r, err := ref.Parse(a, cwd)
				if err != nil {
					errs = append(errs, fmt.Errorf("%s: %w", a, err))
					continue
				}
				sum, err := st.Remove(r.String(), force)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", r)
				total.Blobs, total.Trees, total.Bytes = total.Blobs+sum.Blobs, total.Trees+sum.Trees, total.Bytes+sum.Bytes
			}
			if len(errs) < len(args) {
				printReclaimed(cmd.OutOrStdout(), total)
			}
			if len(errs) > 0 {
				return &exitError{code: 1, err: fmt.Errorf("image rm: %w", errors.Join(errs...))}
			}
			return nil
		},
	}
	fileFlagWithoutShorthand(cmd)
	cmd.Flags().BoolVarP(&force, "force", "f", false, "remove images that projects use too")
	return cmd
}

func newImagePruneCmd() *cobra.Command {
	var all, force bool
	cmd := &cobra.Command{
		Use:   "prune",
		Short: "Remove images no project uses (-a: every image); never one a running sandbox uses",
		Long: "Remove every image no project uses (nucleus images, USED BY), or with -a every\n" +
			"image, then the blobs and trees nothing else needs, and print what was removed and\n" +
			"the space reclaimed. An image whose tree a running sandbox (a replica, or a\n" +
			"nucleus run --image) uses is always kept. Asks for confirmation on a terminal;\n" +
			"elsewhere -f is required.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if !force {
				what := "images no project uses"
				if all {
					what = "every image no running sandbox uses"
				}
				if !term.IsTerminal(int(os.Stdin.Fd())) {
					return &exitError{code: 2, err: fmt.Errorf("image prune: would remove %s; give -f to do so without asking", what)}
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "This removes %s. Continue? [y/N] ", what)
				var answer string
				_, _ = fmt.Fscanln(os.Stdin, &answer)
				if a := strings.ToLower(answer); a != "y" && a != "yes" {
					return &exitError{code: 1, err: errors.New("image prune: cancelled")}
				}
			}
			st, err := openStore()
			if err != nil {
				return err
			}
			sum, err := st.Prune(all, imagelease.Alive(stateRoot()))
			for _, r := range sum.Images {
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", r)
			}
			printReclaimed(cmd.OutOrStdout(), sum)
			if err != nil {
				return fmt.Errorf("image prune: %w", err)
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&all, "all", "a", false, "remove every image, used by a project or not (not those a running sandbox uses)")
	fileFlagWithoutShorthand(cmd)
	cmd.Flags().BoolVarP(&force, "force", "f", false, "do not ask for confirmation")
	return cmd
}

// fileFlagWithoutShorthand frees -f for --force, as docker image rm/prune
// use it: a local --file of the same name (no shorthand) makes cobra skip
// the inherited one, as logs does for -f/--follow.
func fileFlagWithoutShorthand(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&globals.files, "file", nil, "project file (repeatable)")
}

func printReclaimed(w io.Writer, s store.Summary) {
	fmt.Fprintf(w, "reclaimed %s (%d blobs, %d unpacked trees)\n", progress.Bytes(s.Bytes), s.Blobs, s.Trees)
}
