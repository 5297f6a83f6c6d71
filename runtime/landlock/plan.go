package landlock

import (
	"errors"
	"sort"
)

// A Plan is a ruleset compiled for the kernel's Landlock ABI, as plain
// numbers, so that a process can apply it without this package: the sandbox
// init, which stays free of cgo and of the spec package (see
// runtime/sbinit). The policy (what read, write and execute mean, which
// rights an ABI handles) stays here; the init only opens the paths inside
// the sandbox, picks Dir or File rights by what it finds, and restricts
// itself.
type Plan struct {
	ABI     int         `json:"abi"`
	Handled uint64      `json:"handled"` // handled_access_fs of the ruleset
	Entries []PlanEntry `json:"entries"`
}

// PlanEntry grants rights beneath Path.
type PlanEntry struct {
	Path string `json:"path"`
	Dir  uint64 `json:"dir"`  // rights when Path is a directory
	File uint64 `json:"file"` // rights when it is not (0: skip)
	// Optional entries are skipped when Path does not exist; all rules for
	// the path must have been optional.
	Optional bool `json:"optional,omitempty"`
}

// Compile turns rules into a Plan for the kernel's ABI. It fails when the
// kernel offers no Landlock: the caller asked for confinement.
func Compile(rules []Rule) (*Plan, error) {
	abi := effectiveABI()
	if abi == 0 {
		return nil, errors.New("landlock: the kernel offers no Landlock")
	}
	handled := uint64(config(abi).HandledAccessFS)
	byPath := map[string]*PlanEntry{}
	for _, r := range rules {
		a, err := r.rights()
		if err != nil {
			return nil, err
		}
		e := byPath[r.Path]
		if e == nil {
			e = &PlanEntry{Path: r.Path, Optional: true}
			byPath[r.Path] = e
		}
		e.Dir |= uint64(a) & handled
		e.File |= uint64(a&fileRights) & handled
		e.Optional = e.Optional && r.Optional
	}
	p := &Plan{ABI: abi, Handled: handled}
	for _, e := range byPath {
		if e.Dir != 0 || e.File != 0 {
			p.Entries = append(p.Entries, *e)
		}
	}
	sort.Slice(p.Entries, func(i, j int) bool { return p.Entries[i].Path < p.Entries[j].Path })
	return p, nil
}
