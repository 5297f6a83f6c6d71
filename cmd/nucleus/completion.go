package main

import (
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"nucleus/spec"
)

// completeServices completes the service names of the project the global
// flags name (cobra's `completion bash|zsh|fish|powershell` scripts call it
// through the hidden __complete command), leaving out those already given.
func completeServices(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	p, err := everyProfileProject()
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

// completeProfiles completes --profile with the profiles the project's
// services declare.
func completeProfiles(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	p, err := everyProfileProject()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var out []string
	for _, pr := range profileNames(p) {
		if strings.HasPrefix(pr, toComplete) {
			out = append(out, pr)
		}
	}
	return out, cobra.ShellCompDirectiveNoFileComp
}

// everyProfileProject loads the project with every profile active, so
// that services of inactive profiles (which a command may name) are in it.
func everyProfileProject() (*spec.Project, error) {
	saved := globals.profiles
	defer func() { globals.profiles = saved }()
	globals.profiles = []string{spec.AllProfiles}
	return loadSpec(false)
}

// profileNames are the profiles p's services declare, sorted.
func profileNames(p *spec.Project) []string {
	var out []string
	for _, s := range p.Services {
		for _, pr := range s.Profiles {
			if !slices.Contains(out, pr) {
				out = append(out, pr)
			}
		}
	}
	slices.Sort(out)
	return out
}

// completeServiceArgs gives every command whose usage takes services and
// that sets no completion of its own the project's service names: all its
// arguments for "SERVICE...", the first one for "SERVICE".
func completeServiceArgs(root *cobra.Command) {
	for _, c := range root.Commands() {
		if c.ValidArgsFunction != nil || c.DisableFlagParsing {
			continue
		}
		switch {
		case strings.Contains(c.Use, "SERVICE..."):
			c.ValidArgsFunction = completeServices
		case strings.Contains(c.Use, "SERVICE"):
			c.ValidArgsFunction = completeService
		}
	}
}

// completeService completes one service name (the first argument only).
func completeService(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveDefault
	}
	return completeServices(cmd, args, toComplete)
}
