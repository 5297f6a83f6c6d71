package spec

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// decoder turns the merged tree into the normalised model. It never stops at
// the first problem: every error is recorded with the position of the node
// that provided the value, and decoding continues with the next field.
type decoder struct {
	errs
	dir    string     // absolute project directory
	lookup lookupFunc // process environment, then .env
	root   *node      // the merged tree, for posOf
	// files read while decoding (.env, env_file, seccomp profiles) and the
	// content that was parsed, for WatchFiles and Sources.
	read      map[string][]byte
	envCache  map[string]*envFileResult
	seccomp   map[string]*seccompResult
	tried     map[string]bool // env_files and profiles looked for, read or not (checkConfigMounts)
	order     []string        // service names in the order they appear
	proj      *Project
	decoded   map[string]*Service // results of a parallel worker
	implicitN bool                // some service uses the implicit "default" network
}

func (d *decoder) errorf(n *node, path, format string, a ...any) {
	d.add(n.where(), path, fmt.Sprintf(format, a...))
}

// posOf finds where the value at path ("services.web.ports[1]",
// "networks.back.subnet") was written, by walking the merged tree; only the
// cross-field checks need it, and only for values that broke a rule. A
// mapping entry whose value is a mapping, list or null is located at its
// key; a list entry named by value (networks: [back]) at the entry.
func (d *decoder) posOf(path string) (Pos, bool) {
	n := d.root
	var at Pos
	rest := path
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ".")
		name, idx, _ := strings.Cut(part, "[")
		if n == nil {
			return Pos{}, false
		}
		switch n.kind {
		case kindMap:
			found := false
			for i, k := range n.keys {
				if k.value == name {
					n, at, found = n.vals[i], k.where(), true
					if n.kind == kindScalar {
						at = n.where()
					}
					break
				}
			}
			if !found {
				return Pos{}, false
			}
		case kindSeq:
			found := false
			for _, it := range n.items {
				if it.kind == kindScalar && it.value == name {
					n, at, found = it, it.where(), true
					break
				}
			}
			if !found {
				return Pos{}, false
			}
		default:
			return Pos{}, false
		}
		for idx != "" {
			var num string
			num, idx, _ = strings.Cut(idx, "]")
			idx = strings.TrimPrefix(idx, "[")
			i, err := strconv.Atoi(num)
			if err != nil || n.kind != kindSeq || i >= len(n.items) {
				return Pos{}, false
			}
			n = n.items[i]
			at = n.where()
		}
	}
	return at, true
}

// at is posOf without the flag.
func (d *decoder) at(path string) Pos {
	p, _ := d.posOf(path)
	return p
}

// want reports a shape mismatch.
func (d *decoder) want(n *node, path, what string) {
	d.errorf(n, path, "expected %s, got %s", what, describe(n))
}

func describe(n *node) string {
	if n.kind == kindScalar {
		return strconv.Quote(n.value)
	}
	return n.kind.String()
}

// fields walks a mapping, calling fn for every known key and reporting
// unknown ones with a suggestion. x-* keys are compose-style extensions
// (anchors live there) and are ignored. A null node has no fields.
func (d *decoder) fields(n *node, path string, known []string, fn func(key string, v *node, p string)) {
	if n == nil || n.kind == kindNull {
		return
	}
	if n.kind != kindMap {
		d.want(n, path, "a mapping")
		return
	}
	for i, k := range n.keys {
		key := k.value
		if strings.HasPrefix(key, "x-") {
			continue
		}
		if !slices.Contains(known, key) {
			d.add(k.where(), path, unknownKey(path, key, known))
			continue
		}
		if n.vals[i].bad {
			continue
		}
		p := key
		if path != "" {
			p = path + "." + key
		}
		fn(key, n.vals[i], p)
	}
}

// str returns a scalar as a string; null gives ok=false without an error.
func (d *decoder) str(n *node, path string) (string, bool) {
	if n.bad {
		return "", false
	}
	switch n.kind {
	case kindScalar:
		return n.value, true
	case kindNull:
		return "", false
	}
	d.want(n, path, "a string")
	return "", false
}

// boolean accepts only true and false (YAML 1.2): yes/no/on/off are errors
// rather than silently meaning something.
func (d *decoder) boolean(n *node, path string) (bool, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return false, false
	}
	switch s {
	case "true", "True", "TRUE":
		return true, true
	case "false", "False", "FALSE":
		return false, true
	}
	d.errorf(n, path, "expected true or false, got %q", s)
	return false, false
}

func (d *decoder) integer(n *node, path string, lo, hi int64) (int64, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
	if err != nil {
		d.errorf(n, path, "expected a whole number, got %q", s)
		return 0, false
	}
	if v < lo || v > hi {
		d.errorf(n, path, "%d is out of range; expected %s", v, rangeText(lo, hi))
		return 0, false
	}
	return v, true
}

// count is integer for an int field (replicas, retries).
func (d *decoder) count(n *node, path string, lo, hi int) (int, bool) {
	v, ok := d.integer(n, path, int64(lo), int64(hi))
	return int(v), ok
}

func rangeText(lo, hi int64) string {
	if hi == math.MaxInt64 {
		return fmt.Sprintf("at least %d", lo)
	}
	return fmt.Sprintf("%d to %d", lo, hi)
}

func (d *decoder) float(n *node, path string) (float64, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		d.errorf(n, path, "expected a number, got %q", s)
		return 0, false
	}
	return v, true
}

// each calls fn for every item of a sequence with its indexed path. An
// empty entry ("- " alone, or ~) is never meaningful and is reported here.
func (d *decoder) each(n *node, path string, fn func(i int, it *node, p string)) {
	switch n.kind {
	case kindNull:
		return
	case kindSeq:
		for i, it := range n.items {
			p := path + "[" + strconv.Itoa(i) + "]"
			if it.kind == kindNull {
				d.errorf(it, p, "empty list entry")
				continue
			}
			if it.bad {
				continue
			}
			fn(i, it, p)
		}
		return
	}
	d.want(n, path, "a list")
}

// strEach calls fn for every string of a list (or for the one string, when
// withString allows it), with that string's node and path.
func (d *decoder) strEach(n *node, path string, withString bool, fn func(s string, it *node, p string)) {
	if withString && n.kind == kindScalar {
		fn(n.value, n, path)
		return
	}
	if n.kind == kindMap || n.kind == kindScalar {
		if withString {
			d.want(n, path, "a string or a list of strings")
		} else {
			d.want(n, path, "a list of strings")
		}
		return
	}
	d.each(n, path, func(i int, it *node, p string) {
		if s, ok := d.str(it, p); ok {
			fn(s, it, p)
		} else if it.kind == kindNull {
			d.errorf(it, p, "expected a string, got null")
		}
	})
}

// strList accepts a list of scalars; withString also accepts one string.
func (d *decoder) strList(n *node, path string, withString bool) []string {
	out := make([]string, 0, max(len(n.items), 1))
	d.strEach(n, path, withString, func(s string, _ *node, _ string) { out = append(out, s) })
	if n.kind == kindMap || (n.kind == kindScalar && !withString) {
		return nil // not a list: strEach reported it
	}
	return out
}

// duration parses a Go/compose duration scalar.
func (d *decoder) duration(n *node, path string) (Duration, bool) {
	return parseScalar(d, n, path, ParseDuration)
}

func (d *decoder) size(n *node, path string) (ByteSize, bool) {
	return parseScalar(d, n, path, ParseByteSize)
}

// parseScalar parses a string scalar with parse, reporting its error at n.
func parseScalar[T any](d *decoder, n *node, path string, parse func(string) (T, error)) (T, bool) {
	var zero T
	s, ok := d.str(n, path)
	if !ok {
		return zero, false
	}
	v, err := parse(s)
	if err != nil {
		d.errorf(n, path, "%v", err)
		return zero, false
	}
	return v, true
}

// set returns a function that stores a decoded value in dst when decoding
// succeeded: set(&s.Field)(d.duration(v, p)). A failed decode has already
// recorded its error and leaves the default in place.
func set[T any](dst *T) func(T, bool) {
	return func(v T, ok bool) {
		if ok {
			*dst = v
		}
	}
}

// oneOf checks a scalar against a fixed set of words.
func (d *decoder) oneOf(n *node, path string, words ...string) (string, bool) {
	s, ok := d.str(n, path)
	if !ok {
		return "", false
	}
	if slices.Contains(words, s) {
		return s, true
	}
	d.errorf(n, path, "unknown value %q; expected %s%s", s, orList(words), suggest(s, words))
	return "", false
}

// orList formats "a, b or c".
func orList(words []string) string {
	if len(words) == 1 {
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " or " + words[len(words)-1]
}

// validName is the rule for service, network and volume names.
func validName(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '_' || c == '-') && i > 0:
		default:
			return false
		}
	}
	return true
}

func (d *decoder) checkName(k key, path, what string) bool {
	if what == "service" {
		if ValidServiceName(k.value) {
			return true
		}
		d.add(k.where(), path, fmt.Sprintf("invalid service name %q: use letters, digits, ., _ and - (starting with a letter or digit, no empty part between dots, not ending with . or -), at most 63 characters", k.value))
		return false
	}
	if validName(k.value) {
		return true
	}
	d.add(k.where(), path, fmt.Sprintf("invalid %s name %q: use lowercase letters, digits, _ and - (starting with a letter or digit), at most 40 characters", what, k.value))
	return false
}
