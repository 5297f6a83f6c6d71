package spec

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Pos is a position in one of the project's files. Line and Col are 1-based;
// zero means "unknown" (for example a default that no file provided).
type Pos struct {
	File      string
	Line, Col int
	// order is the index of File among the loaded files, so errors sort in
	// load order first (the first file before its override).
	order int
}

// Error is one problem found while loading a project. Error() prints
// "FILE:LINE:COL: PATH: MSG", the form editors and terminals link to.
type Error struct {
	File      string
	Line, Col int
	Path      string
	Msg       string
	order     int
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(displayPath(e.File))
		if e.Line > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Line))
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(e.Col))
		}
		b.WriteString(": ")
	}
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// displayPath shows a file relative to the working directory when it lies
// beneath it, so messages stay short and clickable; otherwise absolute.
func displayPath(p string) string {
	if !filepath.IsAbs(p) {
		return p
	}
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	rel, err := filepath.Rel(wd, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return p
	}
	return rel
}

// ErrorList is every error of one load, sorted by position. It implements
// error with one error per line.
type ErrorList []*Error

func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// sort orders errors by file (load order), line, column, path and message,
// and drops exact duplicates (a merged node can be reached twice).
func (l ErrorList) sort() ErrorList {
	sort.SliceStable(l, func(i, j int) bool {
		a, b := l[i], l[j]
		if a.order != b.order {
			return a.order < b.order
		}
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		if a.Col != b.Col {
			return a.Col < b.Col
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Msg < b.Msg
	})
	out := l[:0]
	for i, e := range l {
		if i > 0 && *e == *l[i-1] {
			continue
		}
		out = append(out, e)
	}
	return out
}

// errs collects errors during a load.
type errs struct {
	list ErrorList
}

func (c *errs) add(p Pos, path, msg string) {
	c.list = append(c.list, &Error{File: p.File, Line: p.Line, Col: p.Col, Path: path, Msg: msg, order: p.order})
}

// suggest returns ` (did you mean "x"?)` when one candidate is close to s.
func suggest(s string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		d := levenshtein(strings.ToLower(s), c)
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(s) >= 9 {
		limit = 3
	}
	if best == "" || bestD > limit || bestD >= len(s) {
		return ""
	}
	return "; did you mean " + strconv.Quote(best) + "?"
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
