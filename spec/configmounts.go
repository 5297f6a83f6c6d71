package spec

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
)

// A sandbox must never be able to change the files that configure it: a
// service that could write nucleus.yaml would have hot reload (or the next
// `nucleus up`, or the daemon) apply whatever it wrote, for example a new
// service mounting / read-write. So a writable bind mount whose source is,
// or is an ancestor of, a file the loader reads or looks for is refused
// unless the mount says allow_config_write: true (the daemon's policy
// refuses that opt-in too). Read-only mounts are fine.
//
// The check compares real paths (symlinks resolved on both sides) and,
// for what exists, file identities (device and inode), so that a directory
// the host shows at a second path (a bind mount on the host) or a hard link
// to a project file counts too. These file-system facts are gathered at the
// loading seam by realPaths; checkConfigMounts itself is pure.

// fileID identifies a file or directory by whatever path it is reached.
type fileID struct{ dev, ino uint64 }

// configFile is one file the loader reads or would read if it existed.
type configFile struct {
	path   string   // as the loader names it
	reals  []string // where it really is: its name in its resolved directory, and its target if it is a symlink
	exists bool
	// ids are the file (when it exists) and every existing directory above
	// its real locations, each with the path it was found at.
	ids map[fileID]string
}

// bindSource is what a bind source really is.
type bindSource struct {
	real  string
	id    fileID
	hasID bool // the source exists
}

// pathFacts are the real paths and identities checkConfigMounts compares.
type pathFacts struct {
	files   []configFile
	sources map[string]bindSource // by the source as written (absolute)
}

// configFiles lists every path whose content configures the project: the
// YAML files, .env (even absent: creating it sets variables), every
// env_file and seccomp profile looked for (an optional env_file may appear
// later), and the files discovery looked for (one created there is found
// first next time). The YAML files come first, the rest sorted.
func configFiles(p *Project, d *decoder, dotenv string, probed []string) []string {
	seen := map[string]bool{}
	out := make([]string, 0, len(p.Files)+len(d.tried)+len(probed)+1)
	for _, f := range p.Files {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	rest := []string{dotenv}
	rest = append(rest, probed...)
	for f := range d.tried {
		rest = append(rest, f)
	}
	for f := range d.read {
		rest = append(rest, f)
	}
	sort.Strings(rest)
	for _, f := range rest {
		if !seen[f] {
			seen[f] = true
			out = append(out, f)
		}
	}
	return out
}

// bindSources lists the sources of the mounts the rule applies to:
// writable bind mounts without the opt-in.
func bindSources(p *Project) []string {
	var out []string
	for _, s := range p.Services {
		if s == nil {
			continue
		}
		for _, m := range s.Volumes {
			if configMountCandidate(m) {
				out = append(out, m.Source)
			}
		}
	}
	return out
}

func configMountCandidate(m VolumeMount) bool {
	return m.Type == MountBind && !m.ReadOnly && !m.AllowConfigWrite
}

// realPaths resolves the symlinks of files and bind sources and looks up
// their identities. It does the file-system reads; with no bind source to
// check it does none.
func realPaths(files, sources []string) pathFacts {
	f := pathFacts{sources: make(map[string]bindSource, len(sources))}
	if len(sources) == 0 {
		return f
	}
	for _, s := range sources {
		if _, done := f.sources[s]; !done {
			id, ok := statID(s)
			f.sources[s] = bindSource{real: realPath(s), id: id, hasID: ok}
		}
	}
	for _, name := range files {
		cf := configFile{path: name, ids: map[fileID]string{}}
		_, err := os.Lstat(name)
		cf.exists = err == nil
		named := filepath.Join(realPath(filepath.Dir(name)), filepath.Base(name))
		cf.reals = append(cf.reals, named)
		if r := realPath(name); r != named {
			cf.reals = append(cf.reals, r)
		}
		for _, r := range cf.reals {
			for p := r; ; p = filepath.Dir(p) {
				if id, ok := statID(p); ok {
					if _, seen := cf.ids[id]; !seen {
						cf.ids[id] = p
					}
				}
				if p == filepath.Dir(p) {
					break
				}
			}
		}
		f.files = append(f.files, cf)
	}
	return f
}

// statID is the identity of what p names (symlinks followed).
func statID(p string) (fileID, bool) {
	fi, err := os.Stat(p)
	if err != nil {
		return fileID{}, false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileID{}, false
	}
	return fileID{uint64(st.Dev), st.Ino}, true // Dev is not uint64 on every platform
}

// realPath is p with every symlink of its longest existing prefix resolved
// (the rest may not exist yet: a bind source is created on first use, an
// optional env_file may appear later).
func realPath(p string) string {
	p = filepath.Clean(p)
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// pathWithin reports whether p is dir or lies beneath it.
func pathWithin(dir, p string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}

// checkConfigMounts refuses writable bind mounts that contain a project
// file (see the comment at the top of this file), naming the volume, the
// files and the ways out.
func (d *decoder) checkConfigMounts(p *Project, f pathFacts) {
	if len(f.sources) == 0 {
		return
	}
	for _, name := range d.order {
		s := p.Services[name]
		if s == nil {
			continue
		}
		for _, m := range s.Volumes {
			if !configMountCandidate(m) {
				continue
			}
			src, ok := f.sources[m.Source]
			if !ok {
				continue
			}
			var hit []configFile
			alias := "" // a path the source is known by, when only the identity matched
			for _, cf := range f.files {
				if slices.ContainsFunc(cf.reals, func(r string) bool { return pathWithin(src.real, r) }) {
					hit = append(hit, cf)
				} else if at, same := cf.ids[src.id]; src.hasID && same {
					hit = append(hit, cf)
					if alias == "" {
						alias = at
					}
				}
			}
			if len(hit) == 0 {
				continue
			}
			n, path := d.volumeNode(name, m.Target)
			at := d.at(path)
			if n != nil {
				at = n.where()
			}
			d.add(at, path, configMountMessage(p.Dir, n, m, src.real, alias, hit))
		}
	}
}

// volumeNode finds the volumes entry of service that mounts target, and
// its path; without it, the volumes key.
func (d *decoder) volumeNode(service, target string) (*node, string) {
	path := "services." + service + ".volumes"
	list := d.root.get("services").get(service).get("volumes")
	if list == nil || list.kind != kindSeq {
		return nil, path
	}
	for i, it := range list.items {
		t := ""
		switch it.kind {
		case kindScalar:
			if m, err := ParseVolumeMount(it.value, d.dir); err == nil {
				t = m.Target
			}
		case kindMap:
			if tn := it.get("target"); tn != nil && tn.kind == kindScalar && tn.value != "" {
				t = filepath.Clean(tn.value)
			}
		}
		if t == target {
			return it, path + "[" + strconv.Itoa(i) + "]"
		}
	}
	return nil, path
}

// configMountMessage says which volume holds which project files, and
// what to do: mount it read-only, mount a subdirectory, or opt in.
func configMountMessage(projectDir string, n *node, m VolumeMount, realSrc, alias string, hit []configFile) string {
	source := m.Source
	written := source + ":" + m.Target
	readOnly := "read_only: true"
	if n != nil && n.kind == kindScalar {
		written = n.value
		parts := strings.Split(n.value, ":")
		source = parts[0]
		readOnly = strconv.Quote(parts[0] + ":" + parts[1] + ":ro")
	} else if n != nil {
		if sn := n.get("source"); sn != nil && sn.kind == kindScalar {
			source = sn.value
		}
		written = "{type: bind, source: " + source + ", target: " + m.Target + "}"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "writable bind mount %s", strconv.Quote(written))
	if realSrc != filepath.Clean(m.Source) {
		fmt.Fprintf(&b, " (source resolves to %s)", realSrc)
	}
	if alias != "" {
		fmt.Fprintf(&b, " (source is %s by another path)", alias)
	}
	// Files that exist first; the ones that would be read if created after.
	var present, absent []string
	for _, cf := range hit {
		name := cf.path
		if pathWithin(projectDir, cf.path) {
			name, _ = filepath.Rel(projectDir, cf.path)
		}
		if cf.exists {
			present = append(present, name)
		} else {
			absent = append(absent, name)
		}
	}
	b.WriteString(" contains the project's own file")
	if len(hit) > 1 {
		b.WriteString("s")
	}
	if len(present) > 0 {
		b.WriteString(" " + shortList(present))
		if len(absent) > 0 {
			b.WriteString(" (and " + shortList(absent) + ", read if created)")
		}
	} else {
		b.WriteString(" " + shortList(absent) + " (read if created)")
	}
	fmt.Fprintf(&b, ", so the sandbox could rewrite its own configuration; mount it read-only (%s), mount a subdirectory that holds no project file, or opt in with {type: bind, source: %s, target: %s, allow_config_write: true}",
		readOnly, source, m.Target)
	return b.String()
}

// shortList joins names, naming at most three.
func shortList(names []string) string {
	const shown = 3
	if len(names) <= shown {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:shown], ", "), len(names)-shown)
}
