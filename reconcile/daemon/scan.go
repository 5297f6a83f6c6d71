package daemon

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
	"gopkg.in/yaml.v3"

	"nucleus/loader"
	"nucleus/spec"
)

// MaxDepth is how deep below the watched tree project directories are
// looked for (DIR/a is depth 1, DIR/team/a depth 2).
const MaxDepth = 3

// ProjectFiles returns the project files of dir: nucleus.yaml (or, failing
// that, nucleus.yml) and its override beside it, else a compose file and
// its override (converted as `nucleus convert` does); nil when dir holds
// no project file. Files are given to the loader explicitly so that a
// project directory whose file was deleted never falls back to a file
// found in a parent directory.
func ProjectFiles(dir string) []string { return loader.FilesIn(dir) }

// Scan returns the project directories under tree (absolute, sorted): every
// directory below it, down to MaxDepth, that holds a project file. It does
// not descend into project directories (their subdirectories are the
// project's content) nor into hidden ones (.git). An unreadable tree is an
// error: the caller must not read it as "no projects".
func Scan(tree string) ([]string, error) {
	root, err := filepath.Abs(tree)
	if err != nil {
		return nil, fmt.Errorf("scan %s: %w", tree, err)
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("scan project tree: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("scan project tree: %s is not a directory", root)
	}
	var out []string
	// The trailing separator makes the walk follow a root that is a
	// symlink (a deploy that swaps "current -> release-N").
	start := root + string(filepath.Separator)
	err = filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start {
				return err
			}
			return nil // a subdirectory vanished or is unreadable: not a project
		}
		if !d.IsDir() || p == start {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		if ProjectFiles(p) != nil {
			out = append(out, p)
			return filepath.SkipDir
		}
		if depth(root, p) >= MaxDepth {
			return filepath.SkipDir
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("scan project tree %s: %w", root, err)
	}
	slices.Sort(out)
	return out, nil
}

// dirID identifies a directory's inode: a project directory replaced by
// another (rename, symlink swap) gets a new one, and its runner, whose
// watches follow the old inode, is restarted.
func dirID(dir string) [2]uint64 {
	var st unix.Stat_t
	if err := unix.Stat(dir, &st); err != nil {
		return [2]uint64{}
	}
	return [2]uint64{st.Dev, st.Ino}
}

func depth(root, p string) int {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return MaxDepth
	}
	return strings.Count(rel, string(filepath.Separator)) + 1
}

// LoadOptions are the options the daemon loads a project directory with.
// name pins the project name ("" = resolve it from the files).
func LoadOptions(dir, name string, environ map[string]string) spec.LoadOptions {
	return spec.LoadOptions{Files: ProjectFiles(dir), WorkingDir: dir, ProjectName: name, Environ: environ}
}

// ResolveName names the project in dir as spec.Load would (name:, else the
// directory name). When the files do not load, it still finds a top-level
// name: if the YAML parses, else falls back to the directory name, so an
// invalid project can be reported under its name. ok is false when the
// files did not load.
func ResolveName(dir string, environ map[string]string) (name string, loadErr error) {
	files := ProjectFiles(dir)
	if files == nil {
		return "", errors.New("no nucleus.yaml, nucleus.yml or compose file in " + dir)
	}
	p, err := loader.Load(loader.Options{LoadOptions: LoadOptions(dir, "", environ)})
	if err == nil {
		return p.Name, nil
	}
	for _, f := range files {
		var top struct {
			Name string `yaml:"name"`
		}
		if b, rerr := os.ReadFile(f); rerr == nil && yaml.Unmarshal(b, &top) == nil && top.Name != "" {
			name = spec.NormaliseProjectName(top.Name)
		}
	}
	if name == "" {
		name = spec.NormaliseProjectName(filepath.Base(dir))
	}
	return name, err
}

// Environ is the environment projects are loaded with: the daemon's own,
// without NUCLEUS_PROJECT_NAME (which would give every project one name).
func Environ() map[string]string {
	m := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok && k != "" && k != spec.EnvProjectName {
			m[k] = v
		}
	}
	return m
}
