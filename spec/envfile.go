package spec

import (
	"strings"
)

// envFileResult is a parsed env file (.env or an env_file).
type envFileResult struct {
	keys []string // in file order
	vars map[string]string
	errs ErrorList
	err  error // could not be read
}

// parseEnvFile reads dotenv syntax: KEY=VALUE lines, optional "export ",
// # comments, 'single' (literal) and "double" (escapes, may span lines)
// quotes, and ${VAR} interpolation in unquoted and double-quoted values
// (earlier keys of the same file are visible after lookup). A line with only
// KEY takes the value from lookup, and is skipped when that is unset.
func parseEnvFile(data []byte, file string, order int, lookup lookupFunc) *envFileResult {
	r := &envFileResult{vars: map[string]string{}}
	get := func(k string) (string, bool) {
		if v, ok := lookup(k); ok {
			return v, true
		}
		v, ok := r.vars[k]
		return v, ok
	}
	text := strings.ReplaceAll(string(data), "\r\n", "\n")
	text = strings.TrimPrefix(text, "\ufeff")
	line := 0
	for len(text) > 0 {
		line++
		var l string
		l, text, _ = strings.Cut(text, "\n")
		startLine := line
		t := strings.TrimSpace(l)
		if t == "" || t[0] == '#' {
			continue
		}
		t = strings.TrimPrefix(t, "export ")
		t = strings.TrimLeft(t, " \t")
		key, val, hasEq := strings.Cut(t, "=")
		key = strings.TrimSpace(key)
		pos := Pos{File: file, Line: startLine, Col: 1, order: order}
		if !validEnvKey(key) {
			r.errs = append(r.errs, &Error{File: file, Line: startLine, Col: 1, Msg: "invalid variable name " + quoteShort(key) + "; expected KEY=VALUE", order: order})
			continue
		}
		if !hasEq {
			if v, ok := lookup(key); ok {
				r.set(key, v)
			}
			continue
		}
		val = strings.TrimLeft(val, " \t")
		var value string
		var interp bool
		switch {
		case strings.HasPrefix(val, "'"):
			end := strings.IndexByte(val[1:], '\'')
			for end < 0 && len(text) > 0 {
				var more string
				more, text, _ = strings.Cut(text, "\n")
				line++
				val += "\n" + more
				end = strings.IndexByte(val[1:], '\'')
			}
			if end < 0 {
				r.errs = append(r.errs, &Error{File: pos.File, Line: pos.Line, Col: 1, Msg: "unterminated single-quoted value of " + key, order: order})
				continue
			}
			value = val[1 : end+1]
		case strings.HasPrefix(val, `"`):
			end := closingQuote(val)
			for end < 0 && len(text) > 0 {
				var more string
				more, text, _ = strings.Cut(text, "\n")
				line++
				val += "\n" + more
				end = closingQuote(val)
			}
			if end < 0 {
				r.errs = append(r.errs, &Error{File: pos.File, Line: pos.Line, Col: 1, Msg: "unterminated double-quoted value of " + key, order: order})
				continue
			}
			value, interp = unescapeDouble(val[1:end]), true
		default:
			if i := strings.Index(val, " #"); i >= 0 {
				val = val[:i]
			}
			value, interp = strings.TrimRight(val, " \t"), true
		}
		if interp {
			v, err := interpolate(value, get)
			if err != nil {
				r.errs = append(r.errs, &Error{File: pos.File, Line: pos.Line, Col: 1, Path: key, Msg: err.Error(), order: order})
				continue
			}
			value = v
		}
		r.set(key, value)
	}
	return r
}

func (r *envFileResult) set(k, v string) {
	if _, ok := r.vars[k]; !ok {
		r.keys = append(r.keys, k)
	}
	r.vars[k] = v
}

// closingQuote returns the index of the unescaped closing " in s (s[0] is the
// opening quote), or -1.
func closingQuote(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

func unescapeDouble(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' || i+1 == len(s) {
			b.WriteByte(s[i])
			continue
		}
		i++
		if e, ok := commonEscape(s[i]); ok {
			b.WriteByte(e)
			continue
		}
		switch s[i] {
		case '$':
			b.WriteString("$$") // stays a literal $ through interpolation
		default:
			b.WriteByte('\\')
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// commonEscape is the byte a backslash escape stands for in both
// double-quoted forms nucleus reads (env files and YAML): \n, \t, \r, \"
// and \\. Each form adds its own escapes.
func commonEscape(c byte) (byte, bool) {
	switch c {
	case 'n':
		return '\n', true
	case 't':
		return '\t', true
	case 'r':
		return '\r', true
	case '"', '\\':
		return c, true
	}
	return 0, false
}

// validEnvKey accepts the names compose accepts in env files.
func validEnvKey(k string) bool {
	if k == "" || !isNameStart(k[0]) {
		return false
	}
	for i := 1; i < len(k); i++ {
		c := k[i]
		if !isNameChar(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func quoteShort(s string) string {
	if len(s) > 40 {
		s = s[:40] + "..."
	}
	return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"`
}
