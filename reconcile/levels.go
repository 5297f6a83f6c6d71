package reconcile

import (
	"maps"
	"slices"

	"nucleus/spec"
)

// Levels groups the project's services by dependency level: level 0 depends
// on nothing, level n only on services of lower levels. Services of one
// level are independent and may start in parallel; stop in reverse order.
func Levels(p *spec.Project) [][]string {
	deps := map[string][]string{}
	for name, s := range p.Services {
		deps[name] = slices.Sorted(maps.Keys(s.DependsOn))
	}
	return groupLevels(levelsOf(deps))
}

// levelsOf computes the level of every node of a dependency graph. Edges to
// unknown nodes are ignored; a cycle (never in a validated project) is cut
// where it is found so the function always terminates.
func levelsOf(deps map[string][]string) map[string]int {
	level := map[string]int{}
	visiting := map[string]bool{}
	var visit func(n string) int
	visit = func(n string) int {
		if l, ok := level[n]; ok {
			return l
		}
		if visiting[n] {
			return -1
		}
		visiting[n] = true
		l := 0
		for _, d := range deps[n] {
			if _, known := deps[d]; !known {
				continue
			}
			l = max(l, visit(d)+1)
		}
		visiting[n] = false
		level[n] = l
		return l
	}
	for _, n := range slices.Sorted(maps.Keys(deps)) {
		visit(n)
	}
	return level
}

func groupLevels(level map[string]int) [][]string {
	var out [][]string
	for _, n := range slices.Sorted(maps.Keys(level)) {
		l := level[n]
		for len(out) <= l {
			out = append(out, nil)
		}
		out[l] = append(out[l], n)
	}
	return out
}
