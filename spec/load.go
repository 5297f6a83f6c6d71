package spec

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// LoadOptions say which files make up a project and how it is named.
type LoadOptions struct {
	// Files are the -f files in order; empty means discover nucleus.yaml or
	// nucleus.yml from WorkingDir upwards, plus nucleus.override.yaml beside it.
	Files []string
	// WorkingDir is where discovery starts and relative Files are resolved;
	// "" means the process working directory.
	WorkingDir string
	// ProjectDir overrides the directory of the first file (--project-directory).
	ProjectDir string
	// ProjectName is -p; it wins over NUCLEUS_PROJECT_NAME, name: and the
	// directory name.
	ProjectName string
	// Environ is the process environment; nil means os.Environ().
	Environ map[string]string
	// Profiles are the active profiles (--profile); empty means those of
	// NUCLEUS_PROFILES or COMPOSE_PROFILES. "*" activates all.
	Profiles []string
	// Services are named on the command line: they run whatever their
	// profiles, with what they depend on.
	Services []string
	// Converted, when set, is the project file's content, produced from
	// other files (a compose file); Files is then not read.
	Converted *Converted
}

// Converted is a nucleus.yaml made from other files (by compose's
// converter). Its errors name Path; the project's Files are From, which
// are watched, compared for changes and protected from writable mounts as
// project files are.
type Converted struct {
	Path string
	Data []byte
	From []string          // the files it was made from, in order
	Read map[string][]byte // their content as read (and any file the conversion read)
}

// Default file names, in order of preference.
var (
	DefaultFiles  = []string{"nucleus.yaml", "nucleus.yml"}
	OverrideFiles = []string{"nucleus.override.yaml", "nucleus.override.yml"}
)

// EnvProjectName is the environment variable naming the project.
const EnvProjectName = "NUCLEUS_PROJECT_NAME"

// ErrNoProject is returned (wrapped) when discovery finds no project file.
var ErrNoProject = errors.New("no nucleus.yaml or nucleus.yml found")

// source is one project file's path and content.
type source struct {
	path string
	data []byte
}

// Load reads, interpolates, merges, normalises and validates a project.
// When the files are readable but wrong it returns an ErrorList holding
// every problem, sorted by position.
func Load(opts LoadOptions) (*Project, error) {
	wd := opts.WorkingDir
	if wd == "" {
		var err error
		if wd, err = os.Getwd(); err != nil {
			return nil, fmt.Errorf("get working directory: %w", err)
		}
	}
	wd, err := filepath.Abs(wd)
	if err != nil {
		return nil, fmt.Errorf("resolve working directory %s: %w", opts.WorkingDir, err)
	}
	environ := opts.Environ
	if environ == nil {
		environ = environMap(os.Environ())
	}
	if c := opts.Converted; c != nil {
		dir := wd
		if opts.ProjectDir != "" {
			dir = opts.ProjectDir
		} else if len(c.From) > 0 {
			dir = filepath.Dir(c.From[0])
		}
		return load([]source{{path: c.Path, data: c.Data}}, dir, opts.ProjectName, environ, nil, &opts)
	}
	files, probed, err := projectFiles(opts.Files, wd)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(files[0])
	if opts.ProjectDir != "" {
		dir = opts.ProjectDir
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(wd, dir)
		}
		dir = filepath.Clean(dir)
	}
	srcs := make([]source, 0, len(files))
	var list errs
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			list.add(Pos{File: f, order: i}, "", "cannot read project file: "+errText(err))
			continue
		}
		srcs = append(srcs, source{path: f, data: data})
	}
	if len(list.list) > 0 {
		return nil, list.list.sort()
	}
	return load(srcs, dir, opts.ProjectName, environ, probed, &opts)
}

// errText strips the path os errors repeat, since Error already names the file.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func environMap(env []string) map[string]string {
	m := make(map[string]string, len(env))
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" {
			m[k] = v
		}
	}
	return m
}

// projectFiles returns the absolute project files: the -f files, or the
// discovered file plus its override. probed are the other paths discovery
// looked at: a file created there would change what the next load reads.
func projectFiles(given []string, wd string) (files, probed []string, err error) {
	if len(given) > 0 {
		out := make([]string, len(given))
		for i, f := range given {
			if !filepath.IsAbs(f) {
				f = filepath.Join(wd, f)
			}
			out[i] = filepath.Clean(f)
		}
		return out, nil, nil
	}
	for dir := wd; ; {
		for _, name := range DefaultFiles {
			p := filepath.Join(dir, name)
			if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
				files := []string{p}
				for _, o := range OverrideFiles {
					op := filepath.Join(dir, o)
					if fi, err := os.Stat(op); err == nil && fi.Mode().IsRegular() {
						files = append(files, op)
						break
					}
					probed = append(probed, op)
				}
				return files, probed, nil
			}
			probed = append(probed, p)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil, nil, fmt.Errorf("%w in %s or any parent directory; create one or name it with -f", ErrNoProject, wd)
		}
		dir = parent
	}
}

// load is Load after the files have been read; the fuzz target calls it
// directly. probed are paths discovery looked at without finding a file.
func load(srcs []source, dir, nameOpt string, environ map[string]string, probed []string, opts *LoadOptions) (*Project, error) {
	if opts == nil {
		opts = &LoadOptions{}
	}
	d := &decoder{
		dir:      dir,
		read:     map[string][]byte{},
		tried:    map[string]bool{},
		envCache: map[string]*envFileResult{},
		seccomp:  map[string]*seccompResult{},
	}
	// Variables: the process environment wins over the project's .env.
	dotenvPath := filepath.Join(dir, ".env")
	dotenv := map[string]string{}
	if data, err := os.ReadFile(dotenvPath); err == nil {
		d.read[dotenvPath] = data
		envLookup := func(k string) (string, bool) { v, ok := environ[k]; return v, ok }
		r := parseEnvFile(data, dotenvPath, len(srcs), envLookup)
		dotenv = r.vars
		// A converted file's .env was read by Compose's rules already (an
		// unset variable is empty there): only its values matter here.
		if opts == nil || opts.Converted == nil {
			for _, e := range r.errs {
				d.list = append(d.list, e)
			}
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		d.add(Pos{File: dotenvPath, order: len(srcs)}, "", "cannot read: "+errText(err))
	}
	d.lookup = func(k string) (string, bool) {
		if v, ok := environ[k]; ok {
			return v, true
		}
		v, ok := dotenv[k]
		return v, ok
	}

	var root *node
	broken := false
	for i, src := range srcs {
		t := parseFile(src, i, d.lookup, &d.errs)
		if t == nil {
			broken = true
			continue
		}
		if t.kind != kindMap && t.kind != kindNull {
			d.want(t, "", "a mapping with services, networks and volumes at the top level")
			continue
		}
		root = merge(root, t)
	}
	if broken {
		// Without a file the rest would only produce follow-up errors.
		return nil, d.list.sort()
	}
	if root == nil {
		root = &node{kind: kindNull}
	}

	d.root = root
	p := &Project{Dir: dir, Sources: make(map[string][]byte, len(srcs)+len(d.read))}
	for _, s := range srcs {
		p.Files = append(p.Files, s.path)
		p.Sources[s.path] = s.data
	}
	if conv := opts.Converted; conv != nil {
		p.Files = slices.Clone(conv.From)
		p.Sources = maps.Clone(conv.Read)
		for f, b := range conv.Read {
			if !slices.Contains(conv.From, f) {
				d.read[f] = b // env files and .env: watched and protected
			}
		}
	}
	p.Name = d.projectName(root, nameOpt, dir)
	d.project(root, p)
	d.validate(p)
	d.applyProfiles(p, opts.Profiles, opts.Services)
	// The one check that needs file-system facts (real paths) beyond
	// reading files: they are gathered here and handed to a pure check.
	d.checkConfigMounts(p, realPaths(configFiles(p, d, dotenvPath, probed), p.Dir, bindSources(p)))
	watch := make([]string, 0, len(p.Files)+len(d.read))
	watch = append(watch, p.Files...)
	for f := range d.read {
		watch = append(watch, f)
	}
	sort.Strings(watch[len(p.Files):])
	p.WatchFiles = watch
	maps.Copy(p.Sources, d.read)
	if len(d.list) > 0 {
		return nil, d.list.sort()
	}
	return p, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// yamlError splits a yaml.v3 error into its line (0 if unknown) and text.
func yamlError(err error) (int, string) {
	s := err.Error()
	line := 0
	if m := yamlLine.FindStringSubmatch(s); m != nil {
		line, _ = strconv.Atoi(m[1])
		s = s[len(m[0]):]
	}
	return line, "invalid YAML: " + strings.TrimPrefix(s, "yaml: ")
}

// projectName applies the precedence -p > NUCLEUS_PROJECT_NAME > name: >
// directory name, then lowercases and keeps only [a-z0-9_-].
func (d *decoder) projectName(root *node, opt, dir string) string {
	raw, where := opt, "-p/--project-name"
	var n *node
	if raw == "" {
		if v, ok := d.lookup(EnvProjectName); ok && v != "" {
			raw, where = v, EnvProjectName
		}
	}
	if raw == "" {
		if n = root.get("name"); n != nil {
			if s, ok := d.str(n, "name"); ok {
				raw, where = s, "name"
			}
		}
	}
	if raw == "" {
		raw, where = filepath.Base(dir), "the project directory name"
	}
	name := normaliseProjectName(raw)
	if name == "" {
		msg := fmt.Sprintf("project name %q (from %s) has no letters or digits left after reducing it to [a-z0-9_-]; set name: or -p", raw, where)
		if n != nil {
			d.errorf(n, "name", "%s", msg)
		} else {
			d.add(Pos{}, "", msg)
		}
	}
	return name
}

func normaliseProjectName(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '_' || r == '-' {
			b.WriteRune(r)
		}
	}
	return strings.TrimLeft(b.String(), "_-")
}
