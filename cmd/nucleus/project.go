package main

import "nucleus/spec"

// loadOptions builds spec.LoadOptions from the global flags.
func loadOptions() spec.LoadOptions {
	return spec.LoadOptions{
		Files:       globals.files,
		ProjectDir:  globals.projectDir,
		ProjectName: globals.projectName,
	}
}

// loadProject loads the project named by the global flags. A project that
// cannot be found or is invalid is a usage problem: exit code 2, with every
// error on its own line.
func loadProject() (*spec.Project, error) {
	p, err := spec.Load(loadOptions())
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return p, nil
}
