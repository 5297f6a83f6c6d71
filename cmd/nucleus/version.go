package main

import (
	"fmt"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func init() {
	register("version", func() *cobra.Command {
		return &cobra.Command{
			Use:   "version",
			Short: "Print the nucleus version",
			Args:  cobra.NoArgs,
			Run: func(cmd *cobra.Command, args []string) {
				rev := ""
				if bi, ok := debug.ReadBuildInfo(); ok {
					for _, s := range bi.Settings {
						if s.Key == "vcs.revision" && len(s.Value) >= 12 {
							rev = " (" + s.Value[:12] + ")"
						}
					}
				}
				fmt.Fprintf(cmd.OutOrStdout(), "nucleus %s%s\n", version, rev)
			},
		}
	})
}
