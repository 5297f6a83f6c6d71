package sbinit

import (
	"nucleus/runtime/landlock"
	"nucleus/spec"
)

// landlockPlan is the Landlock ruleset of a sandbox, derived from its mounts
// as seen from inside (after pivot_root).
type landlockPlan struct {
	rules []landlock.Rule
}

func planLandlock(c *Config) (*landlockPlan, error) {
	var system, writable []string
	if c.Rootfs {
		system = []string{"/"}
	} else {
		system = append(system, hostSystemDirs...)
	}
	if !c.ReadOnly {
		writable = append(writable, "/")
	}
	// Read-only volumes are like system directories: read and execute.
	var readOnly, execOK []string
	for _, m := range c.Mounts {
		if m.ReadOnly {
			execOK = append(execOK, m.Target)
		} else {
			writable = append(writable, m.Target)
		}
	}
	for p := range c.Files {
		readOnly = append(readOnly, p)
	}
	l := spec.Landlock{Mode: c.LandlockMode}
	for _, r := range c.LandlockCustom {
		l.Rules = append(l.Rules, spec.LandlockRule{Path: r.Path, Access: r.Access})
	}
	rules, err := landlock.FromSpec(l, system, writable)
	if err != nil {
		return nil, err
	}
	if rules == nil {
		return nil, nil
	}
	for _, p := range execOK {
		rules = append(rules, landlock.Rule{Path: p, Access: []string{landlock.Read, landlock.Execute}, Optional: true})
	}
	for _, p := range readOnly {
		rules = append(rules, landlock.Rule{Path: p, Access: []string{landlock.Read}, Optional: true})
	}
	return &landlockPlan{rules: rules}, nil
}

// apply confines the calling (locked) thread; it returns the ABI in force.
func (p *landlockPlan) apply() (int, error) { return landlock.ApplyThread(p.rules) }
