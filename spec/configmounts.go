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
//
// The git repository that delivers the project is a project file too: the
// host's `git pull` (the daemon's GitOps timer) runs as root with whatever
// hooks and core.fsmonitor its .git holds, and refuses a .git a sandbox
// owns. So the first .git found walking up from the project directory (a
// directory, or a "gitdir:" file with its target and that target's common
// dir), and the project directory's own .git even before it exists, are
// protected as trees: a writable bind mount that is, contains or lies
// inside one is refused (read-only stays allowed; allow_config_write opts
// in, and the daemon refuses that).

// fileID identifies a file or directory by whatever path it is reached.
type fileID struct{ dev, ino uint64 }

// configFile is one file the loader reads or would read if it existed.
type configFile struct {
	path   string   // as the loader names it
	git    bool     // part of the git repository that delivers the project: protected as a tree
	reals  []string // where it really is: its name in its resolved directory, and its target if it is a symlink
	exists bool
	// ids are the file (when it exists) and every existing directory above
	// its real locations, each with the path it was found at.
	ids map[fileID]string
	// self is the identity of the file itself (git entries: a source below
	// it by another path is inside it).
	self    fileID
	hasSelf bool
}

// bindSource is what a bind source really is.
type bindSource struct {
	real  string
	id    fileID
	hasID bool // the source exists
	// above are the identities of the existing directories strictly above
	// the source's real path, each with the path it was found at.
	above map[fileID]string
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

// realPaths resolves the symlinks of files, of the git repository that
// delivers projectDir and of bind sources, and looks up their identities.
// It does the file-system reads; with no bind source to check it does none.
func realPaths(files []string, projectDir string, sources []string) pathFacts {
	f := pathFacts{sources: make(map[string]bindSource, len(sources))}
	if len(sources) == 0 {
		return f
	}
	for _, s := range sources {
		if _, done := f.sources[s]; !done {
			id, ok := statID(s)
			bs := bindSource{real: RealPath(s), id: id, hasID: ok, above: map[fileID]string{}}
			for p := filepath.Dir(bs.real); ; p = filepath.Dir(p) {
				if id, ok := statID(p); ok {
					if _, seen := bs.above[id]; !seen {
						bs.above[id] = p
					}
				}
				if p == filepath.Dir(p) {
					break
				}
			}
			f.sources[s] = bs
		}
	}
	seen := map[string]bool{}
	for _, name := range files {
		seen[name] = true
	}
	var gits []string
	for _, g := range gitPaths(projectDir) {
		if !seen[g] {
			seen[g] = true
			gits = append(gits, g)
		}
	}
	for i, name := range append(slices.Clip(files), gits...) {
		cf := configFile{path: name, git: i >= len(files), ids: map[fileID]string{}}
		_, err := os.Lstat(name)
		cf.exists = err == nil
		cf.self, cf.hasSelf = statID(name)
		named := filepath.Join(RealPath(filepath.Dir(name)), filepath.Base(name))
		cf.reals = append(cf.reals, named)
		if r := RealPath(name); r != named {
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

// gitPaths are the paths of the git repository that delivers the project
// in dir, as the host's git and the daemon (findGitDir) find it: the first
// .git walking up from dir — a directory, or a file "gitdir: PATH" (linked
// work trees, submodules) together with PATH and PATH's common dir (where
// a linked work tree's config and hooks live) — and dir/.git, which, once
// created, would be found first.
func gitPaths(dir string) []string {
	if dir == "" {
		return nil
	}
	own := filepath.Join(dir, ".git")
	out := []string{own}
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, ".git")
		fi, err := os.Stat(p)
		if err != nil {
			if filepath.Dir(d) == d {
				return out
			}
			continue
		}
		if p != own {
			out = append(out, p)
		}
		if fi.IsDir() {
			return out
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return out
		}
		g, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir:")
		if !ok {
			return out
		}
		g = resolvePath(strings.TrimSpace(g), d)
		out = append(out, g)
		if c, err := os.ReadFile(filepath.Join(g, "commondir")); err == nil {
			if c := strings.TrimSpace(string(c)); c != "" {
				out = append(out, resolvePath(c, g))
			}
		}
		return out
	}
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

// RealPath is p with every symlink of its longest existing prefix resolved
// (the rest may not exist yet: a bind source is created on first use, an
// optional env_file may appear later). The daemon's policy compares paths
// the same way.
func RealPath(p string) string {
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
			var git []gitHit
			alias := "" // a path the source is known by, when only the identity matched
			for _, cf := range f.files {
				contains := slices.ContainsFunc(cf.reals, func(r string) bool { return pathWithin(src.real, r) })
				at, same := cf.ids[src.id]
				same = same && src.hasID
				if !cf.git {
					if contains {
						hit = append(hit, cf)
					} else if same {
						hit = append(hit, cf)
						if alias == "" {
							alias = at
						}
					}
					continue
				}
				// A git entry that does not exist is only refused as the
				// source itself or above it (a writable mount of ./.git
				// creates it); one that exists also when the source lies
				// inside it.
				inside := slices.ContainsFunc(cf.reals, func(r string) bool { return pathWithin(r, src.real) })
				contains = contains && (cf.exists || inside)
				switch {
				case contains || inside:
					git = append(git, gitHit{cf, relation(contains, inside)})
				case same && cf.exists:
					git = append(git, gitHit{cf, relation(true, cf.self == src.id)})
					if alias == "" {
						alias = at
					}
				case cf.hasSelf && cf.exists:
					if _, in := src.above[cf.self]; in {
						git = append(git, gitHit{cf, "lies inside"})
						if alias == "" {
							alias = "inside " + cf.reals[len(cf.reals)-1]
						}
					}
				}
			}
			if len(hit) == 0 && len(git) == 0 {
				continue
			}
			n, path := d.volumeNode(name, m.Target)
			at := d.at(path)
			if n != nil {
				at = n.where()
			}
			d.add(at, path, configMountMessage(p.Dir, n, m, src.real, alias, hit, git))
		}
	}
}

// gitHit is a git entry a source is ("is"), holds ("contains") or lies
// inside ("lies inside").
type gitHit struct {
	cf  configFile
	rel string
}

func relation(contains, inside bool) string {
	switch {
	case contains && inside:
		return "is"
	case contains:
		return "contains"
	}
	return "lies inside"
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
func configMountMessage(projectDir string, n *node, m VolumeMount, realSrc, alias string, hit []configFile, git []gitHit) string {
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
		name := shortName(projectDir, cf.path)
		if cf.exists {
			present = append(present, name)
		} else {
			absent = append(absent, name)
		}
	}
	if len(hit) > 0 {
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
	}
	if len(git) > 0 {
		// The first is the one the source is closest to: the .git the
		// loader found, else the gitdir it points to.
		g := git[0]
		rel := g.rel
		if len(hit) > 0 {
			rel = "and" // continues "contains the project's own files ..."
			if g.rel == "lies inside" {
				rel = "and lies inside"
			}
		}
		fmt.Fprintf(&b, " %s %s of the git repository that delivers the project", rel, shortName(projectDir, g.cf.path))
	}
	what := "its own configuration"
	if len(hit) == 0 {
		what = "the repository that delivers its configuration (hooks and .git/config that the host's git runs as root)"
	}
	fmt.Fprintf(&b, ", so the sandbox could rewrite %s; mount it read-only (%s), mount a subdirectory that holds no project file, or opt in with {type: bind, source: %s, target: %s, allow_config_write: true}",
		what, readOnly, source, m.Target)
	return b.String()
}

// shortName is p relative to the project directory when it lies in it.
func shortName(projectDir, p string) string {
	if pathWithin(projectDir, p) {
		if rel, err := filepath.Rel(projectDir, p); err == nil {
			return rel
		}
	}
	return p
}

// shortList joins names, naming at most three.
func shortList(names []string) string {
	const shown = 3
	if len(names) <= shown {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:shown], ", "), len(names)-shown)
}
