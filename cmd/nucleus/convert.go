package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"nucleus/compose/composeapi"
	"nucleus/internal/atomicfile"
)

func init() { register("convert", newConvertCmd) }

func newConvertCmd() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "convert [-f compose.yaml]... [-o nucleus.yaml]",
		Short: "Convert Compose files to a nucleus.yaml",
		Long: "Read compose files as `docker compose` does (interpolation, .env, several -f merged, extends,\n" +
			"include, profiles) and print the equivalent nucleus.yaml. Notes on approximate mappings go to\n" +
			"stderr as FILE:LINE:COL: PATH: MESSAGE. Exit 0 when converted, 2 when something that matters\n" +
			"cannot be mapped (then nothing is written).",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			files := globals.files
			if len(files) == 0 {
				wd, _ := os.Getwd()
				for _, n := range composeapi.DefaultFileNames {
					if _, err := os.Stat(filepath.Join(wd, n)); err == nil {
						files = []string{filepath.Join(wd, n)}
						for _, o := range composeapi.DefaultOverrideFileNames {
							if _, err := os.Stat(filepath.Join(wd, o)); err == nil {
								files = append(files, filepath.Join(wd, o))
								break
							}
						}
						break
					}
				}
				if len(files) == 0 {
					return &exitError{code: 2, err: fmt.Errorf("no compose file found in %s (looked for %v); name one with -f", wd, composeapi.DefaultFileNames)}
				}
			}
			o := projectOptions(false)
			res, err := composeapi.Convert(context.Background(), composeapi.LoadOptions{
				Files: files, WorkingDir: globals.projectDir, Name: globals.projectName,
				Env: os.Environ(), Stdin: o.Stdin,
			})
			if err != nil {
				return &exitError{code: 2, err: err}
			}
			stderr := cmd.ErrOrStderr()
			for _, w := range res.Warnings {
				if w.Fatal {
					fmt.Fprintln(stderr, "error: "+w.String())
				} else {
					fmt.Fprintln(stderr, "warning: "+w.String())
				}
			}
			if res.Failed() {
				return &exitError{code: 2, err: errors.New("not converted: the errors above cannot be mapped onto nucleus.yaml")}
			}
			if out == "" || out == "-" {
				_, err := cmd.OutOrStdout().Write(res.YAML)
				return err
			}
			return atomicfile.Write(out, res.YAML, 0o644)
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "write the nucleus.yaml to this file instead of standard output")
	return cmd
}
