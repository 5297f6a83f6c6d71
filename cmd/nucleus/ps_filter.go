package main

import (
	"fmt"
	"slices"
	"strings"

	"nucleus/reconcile"
)

// composeStates maps Compose's container states onto nucleus's replica
// states, so `ps --status running` means what it means in Compose (a
// running replica, whatever its health).
var composeStates = map[string][]reconcile.RunState{
	"running":    {reconcile.StateRunning, reconcile.StateStarting, reconcile.StateHealthy, reconcile.StateUnhealthy},
	"restarting": {reconcile.StateBackoff, reconcile.StateCrashloop},
	"created":    {reconcile.StateCreating, reconcile.StateWaiting},
	"paused":     {},
	"removing":   {},
}

var nucleusStates = []reconcile.RunState{
	reconcile.StateStarting, reconcile.StateRunning, reconcile.StateHealthy, reconcile.StateUnhealthy,
	reconcile.StateExited, reconcile.StateBackoff, reconcile.StateCrashloop, reconcile.StateStopped,
	reconcile.StateWaiting, reconcile.StateDead, reconcile.StateCreating, reconcile.StateCorrupt,
}

// statusSet turns --status values and --filter status=... into the set of
// replica states they select; nil selects every state.
func statusSet(statuses, filters []string) (map[reconcile.RunState]bool, error) {
	for _, f := range filters {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k != "status" {
			return nil, fmt.Errorf("--filter %q: expected status=STATE (the one filter ps supports)", f)
		}
		statuses = append(statuses, v)
	}
	if len(statuses) == 0 {
		return nil, nil
	}
	set := map[reconcile.RunState]bool{}
	for _, s := range statuses {
		if m, ok := composeStates[s]; ok {
			for _, st := range m {
				set[st] = true
			}
			continue
		}
		if !slices.Contains(nucleusStates, reconcile.RunState(s)) {
			names := make([]string, 0, len(nucleusStates))
			for _, st := range nucleusStates {
				names = append(names, string(st))
			}
			return nil, fmt.Errorf("--status %q: unknown state; expected one of %s, or Compose's running, restarting, created, paused, removing", s, strings.Join(names, ", "))
		}
		set[reconcile.RunState(s)] = true
	}
	return set, nil
}
