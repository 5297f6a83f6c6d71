package daemon

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
)

// GitCommit returns the commit checked out in the git work tree holding dir,
// or "" when dir is not inside one (or the repository cannot be read). It
// reads .git itself (HEAD, loose refs, packed-refs), so hosts without git
// work too.
func GitCommit(dir string) string {
	gitDir := findGitDir(dir)
	if gitDir == "" {
		return ""
	}
	head, err := os.ReadFile(filepath.Join(gitDir, "HEAD"))
	if err != nil {
		return ""
	}
	h := strings.TrimSpace(string(head))
	ref, ok := strings.CutPrefix(h, "ref: ")
	if !ok {
		return validHash(h) // detached HEAD
	}
	// Refs live in the common dir for linked work trees.
	for _, d := range []string{gitDir, commonDir(gitDir)} {
		if d == "" {
			continue
		}
		if b, err := os.ReadFile(filepath.Join(d, filepath.FromSlash(ref))); err == nil {
			return validHash(strings.TrimSpace(string(b)))
		}
		if c := packedRef(filepath.Join(d, "packed-refs"), ref); c != "" {
			return c
		}
	}
	return "" // an unborn branch: no commit yet
}

// findGitDir walks up from dir to the first .git (a directory, or a file
// "gitdir: PATH" as in linked work trees and submodules).
func findGitDir(dir string) string {
	d, err := filepath.Abs(dir)
	if err != nil {
		return ""
	}
	for {
		p := filepath.Join(d, ".git")
		if fi, err := os.Stat(p); err == nil {
			if fi.IsDir() {
				return p
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return ""
			}
			g, ok := strings.CutPrefix(strings.TrimSpace(string(b)), "gitdir: ")
			if !ok {
				return ""
			}
			if !filepath.IsAbs(g) {
				g = filepath.Join(d, g)
			}
			return g
		}
		parent := filepath.Dir(d)
		if parent == d {
			return ""
		}
		d = parent
	}
}

func commonDir(gitDir string) string {
	b, err := os.ReadFile(filepath.Join(gitDir, "commondir"))
	if err != nil {
		return ""
	}
	c := strings.TrimSpace(string(b))
	if !filepath.IsAbs(c) {
		c = filepath.Join(gitDir, c)
	}
	return c
}

func packedRef(file, ref string) string {
	f, err := os.Open(file)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		hash, name, ok := strings.Cut(sc.Text(), " ")
		if ok && name == ref {
			return validHash(hash)
		}
	}
	return ""
}

// validHash accepts SHA-1 and SHA-256 object names.
func validHash(s string) string {
	if len(s) != 40 && len(s) != 64 {
		return ""
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return ""
		}
	}
	return s
}
