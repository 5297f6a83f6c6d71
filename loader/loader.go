// Package loader is the one place a project is read from either kind of
// file: nucleus.yaml through spec, or a Compose file through compose's
// converter and then spec. Every command and the supervisor's reload go
// through Load, so both kinds behave the same everywhere.
package loader

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"

	"nucleus/compose/composeapi"
	"nucleus/spec"
)

// Options say what to load.
type Options struct {
	spec.LoadOptions
	// Stdin is the content of the file "-", read once by the caller so
	// that a reload reads the same project.
	Stdin    []byte
	Profiles []string // active Compose profiles
	// Warn receives the conversion's notes (nil drops them): the caller
	// prints them on its first load, not on every reload.
	Warn func(composeapi.Warning)
	// CreateHostPaths creates missing bind sources of a compose file as
	// `docker compose up` does.
	CreateHostPaths bool
}

// Load reads the project named by o.
func Load(o Options) (*spec.Project, error) {
	wd := o.WorkingDir
	if wd == "" {
		var err error
		if wd, err = os.Getwd(); err != nil {
			return nil, fmt.Errorf("get working directory: %w", err)
		}
	}
	files := o.Files
	if len(files) == 0 {
		found, isCompose := discover(wd)
		if found == nil {
			_, err := spec.Load(o.LoadOptions)
			if errors.Is(err, spec.ErrNoProject) {
				return nil, fmt.Errorf("%w (nor %s) in %s or any parent directory; create one or name it with -f", spec.ErrNoProject, strings.Join(composeapi.DefaultFileNames, ", "), wd)
			}
			return nil, err
		}
		if !isCompose {
			return spec.Load(o.LoadOptions)
		}
		files = found
	} else {
		kinds := 0
		for _, f := range files {
			if IsCompose(f, o.Stdin, wd) {
				kinds |= 1
			} else {
				kinds |= 2
			}
		}
		switch kinds {
		case 2:
			if !slices.Contains(files, "-") {
				return spec.Load(o.LoadOptions)
			}
			if len(files) > 1 {
				return nil, fmt.Errorf("-f -: standard input is the only project file nucleus.yaml can come from; write the other files' content into it")
			}
			lo := o.LoadOptions
			lo.Converted = &spec.Converted{Path: "<stdin>", Data: o.Stdin}
			if lo.ProjectDir == "" {
				lo.ProjectDir = wd
			}
			return spec.Load(lo)
		case 3:
			return nil, fmt.Errorf("-f: nucleus.yaml files and compose files cannot be merged; convert the compose files with `nucleus convert` and merge the results")
		}
	}
	return loadCompose(o, files, wd)
}

// loadCompose converts the compose files and loads the result.
func loadCompose(o Options, files []string, wd string) (*spec.Project, error) {
	env := os.Environ()
	if o.Environ != nil {
		env = env[:0:0]
		for k, v := range o.Environ {
			env = append(env, k+"="+v)
		}
	}
	abs := make([]string, len(files))
	for i, f := range files {
		if f != "-" && !filepath.IsAbs(f) {
			f = filepath.Join(wd, f)
		}
		abs[i] = f
	}
	dir := o.ProjectDir
	if dir != "" && !filepath.IsAbs(dir) {
		dir = filepath.Join(wd, dir)
	}
	if dir == "" && slices.Contains(abs, "-") && abs[0] == "-" {
		dir = wd
	}
	res, err := composeapi.Convert(context.Background(), composeapi.LoadOptions{
		Files: abs, WorkingDir: dir, Name: o.ProjectName, Env: env,
		Profiles: o.Profiles, Stdin: o.Stdin, CreateHostPaths: o.CreateHostPaths,
	})
	if err != nil {
		return nil, err
	}
	var fatal []string
	for _, w := range res.Warnings {
		if w.Fatal {
			fatal = append(fatal, w.String())
		} else if o.Warn != nil {
			o.Warn(w)
		}
	}
	if len(fatal) > 0 {
		return nil, errors.New(strings.Join(fatal, "\n"))
	}
	from := slices.DeleteFunc(slices.Clone(res.ComposeFiles[:len(files)]), func(f string) bool { return f == "-" })
	first := "<stdin>"
	if len(from) > 0 {
		first = from[0]
	}
	lo := o.LoadOptions
	lo.ProjectDir = res.Dir
	lo.Converted = &spec.Converted{Path: first + " (converted)", Data: res.YAML, From: from, Read: res.Sources}
	p, err := spec.Load(lo)
	// Errors in the converted file point at what the compose files wrote.
	var list spec.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			if e.File != lo.Converted.Path {
				continue
			}
			if f, line, col, ok := res.Locate(e.Path); ok {
				e.File, e.Line, e.Col = f, line, col
			}
		}
	}
	return p, err
}

// FilesIn are the project files of exactly dir (no parents): nucleus.yaml
// (or .yml) with its override, else the first compose file in Compose's
// order with its override; nil when dir holds no project file. The GitOps
// daemon finds its projects with it.
func FilesIn(dir string) []string {
	pick := func(names []string) string {
		for _, n := range names {
			if p := filepath.Join(dir, n); regular(p) {
				return p
			}
		}
		return ""
	}
	for _, kind := range [][2][]string{{spec.DefaultFiles, spec.OverrideFiles}, {composeapi.DefaultFileNames, composeapi.DefaultOverrideFileNames}} {
		if f := pick(kind[0]); f != "" {
			if o := pick(kind[1]); o != "" {
				return []string{f, o}
			}
			return []string{f}
		}
	}
	return nil
}

// discover finds the project file from wd upwards: at each directory a
// nucleus.yaml wins over a compose file. For a compose file it returns it
// and its override, as Compose merges them.
func discover(wd string) (files []string, isCompose bool) {
	for dir := wd; ; dir = filepath.Dir(dir) {
		if files := FilesIn(dir); files != nil {
			return files, !slices.Contains(spec.DefaultFiles, filepath.Base(files[0]))
		}
		if dir == filepath.Dir(dir) {
			return nil, false
		}
	}
}

func regular(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}

// composeOnly are keys that only a compose file has (nucleus.yaml spells
// them differently or not at all).
var composeOnly = map[string]bool{"version": true, "include": true, "models": true}

var composeServiceOnly = map[string]bool{
	"build": true, "container_name": true, "expose": true, "deploy": true, "mem_limit": true, "cpus": true,
	"pids_limit": true, "network_mode": true, "privileged": true, "links": true, "logging": true,
	"cap_drop": true, "security_opt": true, "userns_mode": true, "init": true, "platform": true,
	"scale": true, "extends": true, "stdin_open": true, "tty": true,
}

// IsCompose says whether the file f is a compose file: by its name
// (compose.yaml, docker-compose.yml, ...), else by its content (a key only
// Compose has). stdin is the content of "-".
func IsCompose(f string, stdin []byte, wd string) bool {
	var data []byte
	if f == "-" {
		data = stdin
	} else {
		base := strings.ToLower(filepath.Base(f))
		switch {
		case strings.Contains(base, "compose"):
			return true
		case strings.Contains(base, "nucleus"):
			return false
		}
		if !filepath.IsAbs(f) {
			f = filepath.Join(wd, f)
		}
		var err error
		if data, err = os.ReadFile(f); err != nil {
			return false // spec reports the read error
		}
	}
	return composeContent(data)
}

func composeContent(data []byte) bool {
	var top map[string]yaml.Node
	if yaml.Unmarshal(data, &top) != nil {
		return false
	}
	for k := range top {
		if composeOnly[k] {
			return true
		}
	}
	var svcs map[string]map[string]yaml.Node
	if n, ok := top["services"]; !ok || n.Decode(&svcs) != nil {
		return false
	}
	for _, s := range svcs {
		for k := range s {
			if composeServiceOnly[k] {
				return true
			}
		}
	}
	return false
}
