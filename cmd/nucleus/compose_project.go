package main

import (
	"os"
	"path/filepath"

	"nucleus/reconcile"
	"nucleus/spec"
)

// projectForState loads the project for a command that can work without
// valid files (ps, logs, down): it returns the project when the files load,
// and else the load error together with the project's name, found from -p,
// $NUCLEUS_PROJECT_NAME, or the records of a project living in this
// directory (or a parent).
func projectForState() (p *spec.Project, name string, loadErr error) {
	p, err := loadSpec(true)
	if err == nil {
		return p, p.Name, nil
	}
	if globals.projectName != "" {
		return nil, globals.projectName, err
	}
	if n := os.Getenv("NUCLEUS_PROJECT_NAME"); n != "" {
		return nil, n, err
	}
	dir := globals.projectDir
	if dir == "" && len(globals.files) > 0 {
		dir = filepath.Dir(globals.files[0])
	}
	if dir == "" {
		dir, _ = os.Getwd()
	}
	dir, _ = filepath.Abs(dir)
	store := reconcile.NewStore(stateRoot())
	names, _ := store.Projects()
	for d := dir; ; d = filepath.Dir(d) {
		for _, n := range names {
			if pr, _ := store.LoadProject(n); pr != nil && pr.Dir == d {
				return nil, n, err
			}
		}
		if d == filepath.Dir(d) {
			break
		}
	}
	return nil, "", err
}
