package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"
)

// completeServices completes the service names of the project the global
// flags name (cobra's `completion bash|zsh|fish|powershell` scripts call it
// through the hidden __complete command), leaving out those already given.
func completeServices(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	p, err := loadSpec(false)
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, n := range serviceNames(p) {
		if strings.HasPrefix(n, toComplete) && !slices.Contains(args, n) {
			out = append(out, n)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// completeService completes one service name (the first argument only).
func completeService(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveDefault
	}
	return completeServices(cmd, args, toComplete)
}
