package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"nucleus/spec"
)

func init() { register("validate", newValidateCmd) }

func newValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate",
		Short: "Check the project files and print a one-line summary",
		Long: "Load, interpolate, merge and validate the project. Prints one summary line and exits 0 when\n" +
			"the project is valid; prints every error as FILE:LINE:COL: PATH: MESSAGE and exits 2 when not.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := loadProject()
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), summary(p))
			printLimitNotices(cmd.ErrOrStderr(), projectServices(p)...)
			printPortNotices(cmd.ErrOrStderr(), p)
			printImageNotices(cmd.ErrOrStderr(), p)
			if err := rootlessIDs(); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "nucleus: %v\n", err)
			}
			if err := rootlessTun(p); err != nil {
				fmt.Fprintf(cmd.ErrOrStderr(), "nucleus: %v\n", err)
			}
			return nil
		},
	}
}

// summary is "nucleus.yaml: project shop is valid: 3 services, 2 networks, 1 volume".
func summary(p *spec.Project) string {
	files := make([]string, len(p.Files))
	for i, f := range p.Files {
		files[i] = relPath(f)
	}
	return fmt.Sprintf("%s: project %s is valid: %s, %s, %s", strings.Join(files, ", "), p.Name,
		plural(len(p.Services), "service"), plural(len(p.Networks), "network"), plural(len(p.Volumes), "volume"))
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// relPath shows a path relative to the working directory when it is beneath it.
func relPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	if rel, err := filepath.Rel(wd, p); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return p
}
