package main

import (
	"errors"

	"nucleus/reconcile"
	"nucleus/spec"
)

// loadOptions builds spec.LoadOptions from the global flags.
func loadOptions() spec.LoadOptions {
	return spec.LoadOptions{
		Files:       globals.files,
		ProjectDir:  globals.projectDir,
		ProjectName: globals.projectName,
	}
}

// loadSpec loads the project named by the global flags. With -p NAME and
// no project file here (nor -f), it loads the files the project NAME was
// last applied from, as its record under the state root names them: so
// `nucleus -p api ps` works from any directory, as in Compose.
func loadSpec() (*spec.Project, error) {
	o := loadOptions()
	p, err := spec.Load(o)
	if err == nil || !errors.Is(err, spec.ErrNoProject) || len(o.Files) > 0 || o.ProjectName == "" {
		return p, err
	}
	pr, _ := reconcile.NewStore(stateRoot()).LoadProject(o.ProjectName)
	if pr == nil || len(pr.Files) == 0 {
		return nil, err
	}
	o.Files, o.WorkingDir = pr.Files, pr.Dir
	if o.ProjectDir == "" {
		o.ProjectDir = pr.Dir
	}
	return spec.Load(o)
}

// loadProject loads the project named by the global flags. A project that
// cannot be found or is invalid is a usage problem: exit code 2, with every
// error on its own line.
func loadProject() (*spec.Project, error) {
	p, err := loadSpec()
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return p, nil
}
