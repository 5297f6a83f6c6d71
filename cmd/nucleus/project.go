package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"nucleus/compose/composeapi"
	"nucleus/loader"
	"nucleus/reconcile"
	"nucleus/spec"
)

// loadOptions builds spec.LoadOptions from the global flags.
func loadOptions() spec.LoadOptions {
	selMu.Lock()
	defer selMu.Unlock()
	return spec.LoadOptions{
		Files:       globals.files,
		ProjectDir:  globals.projectDir,
		ProjectName: globals.projectName,
		Profiles:    slices.Clone(globals.profiles),
		Services:    slices.Clone(globals.services),
	}
}

// selMu guards globals.profiles and globals.services, which a supervisor's
// apply requests extend while its passes load the project.
var selMu sync.Mutex

// addSelection enables more profiles and services for every later load of
// this process's supervisor: profiles stay active across reloads, as do
// services named by an `up SERVICE`, until down.
func addSelection(profiles, services []string) {
	selMu.Lock()
	defer selMu.Unlock()
	for _, p := range profiles {
		if !slices.Contains(globals.profiles, p) {
			globals.profiles = append(globals.profiles, p)
		}
	}
	for _, s := range services {
		if !slices.Contains(globals.services, s) {
			globals.services = append(globals.services, s)
		}
	}
}

var (
	stdinOnce sync.Once
	stdinData []byte
	warnOnce  sync.Once
	// createBindSources is set by the commands that start services (up,
	// supervise): they create a compose file's missing bind sources as
	// `docker compose up` does; validate, config or ps change nothing.
	createBindSources bool
	// notesWanted is set for the commands that print a compose file's
	// conversion notes (notesCommands): those that apply, check or export
	// the file. ps, logs, exec and the like would repeat them at every call.
	notesWanted bool
)

// notesCommands print a compose file's conversion notes; convert prints
// its own.
var notesCommands = map[string]bool{"up": true, "validate": true, "config": true, "plan": true, "pull": true, "k8s": true}

// projectOptions are loader.Options from the global flags: -f - reads
// standard input once, and only the first load of a command that wants
// them (notesCommands) prints a compose file's conversion notes (a reload
// does not repeat them).
func projectOptions(warn bool) loader.Options {
	o := loader.Options{LoadOptions: loadOptions(), CreateHostPaths: createBindSources}
	if slices.Contains(globals.files, "-") {
		stdinOnce.Do(func() { stdinData, _ = io.ReadAll(os.Stdin) })
		o.Stdin = stdinData
	}
	if warn && notesWanted {
		warnOnce.Do(func() {
			o.Warn = func(w composeapi.Warning) { fmt.Fprintln(os.Stderr, "warning: "+w.String()) }
		})
	}
	return o
}

// loadSpec loads the project named by the global flags (nucleus.yaml or a
// compose file, through loader). With -p NAME and no project file here
// (nor -f), it loads the files the project NAME was last applied from, as
// its record under the state root names them: so `nucleus -p api ps`
// works from any directory, as in Compose.
func loadSpec(warn bool) (*spec.Project, error) {
	o := projectOptions(warn)
	p, err := loader.Load(o)
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
	return loader.Load(o)
}

// reloadProject is the supervisor's load: the same files, quietly.
func reloadProject() (*spec.Project, error) { return loadSpec(false) }

// loadProject loads the project named by the global flags. A project that
// cannot be found or is invalid is a usage problem: exit code 2, with every
// error on its own line.
func loadProject() (*spec.Project, error) {
	p, err := loadSpec(true)
	if err != nil {
		return nil, &exitError{code: 2, err: err}
	}
	return p, nil
}
