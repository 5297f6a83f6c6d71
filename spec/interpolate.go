package spec

import (
	"fmt"
	"strings"
)

// lookupFunc returns a variable's value and whether it is set.
type lookupFunc func(name string) (string, bool)

// interpolate expands compose-style variables in s:
//
//	$VAR ${VAR}          value; an unset variable is an error (nucleus is stricter than compose)
//	${VAR:-d} ${VAR-d}   d when VAR is unset or empty / unset
//	${VAR:?m} ${VAR?m}   error m when VAR is unset or empty / unset
//	${VAR:+r} ${VAR+r}   r when VAR is set and non-empty / set, else ""
//	$$                   a literal $
//
// Defaults, messages and replacements may themselves contain variables.
// A $ that does not start a variable ("$1", "a $ b") is kept as is.
func interpolate(s string, lookup lookupFunc) (string, error) {
	if strings.IndexByte(s, '$') < 0 {
		return s, nil
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		next := s[i+1]
		switch {
		case next == '$':
			b.WriteByte('$')
			i += 2
		case next == '{':
			end, err := closingBrace(s, i+2)
			if err != nil {
				return "", err
			}
			v, err := expandBraced(s[i+2:end], lookup)
			if err != nil {
				return "", err
			}
			b.WriteString(v)
			i = end + 1
		case isNameStart(next):
			j := i + 2
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			name := s[i+1 : j]
			v, ok := lookup(name)
			if !ok {
				return "", unsetVariable(name)
			}
			b.WriteString(v)
			i = j
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), nil
}

// closingBrace finds the "}" matching a "${" whose body starts at from,
// skipping nested "${...}" in defaults.
func closingBrace(s string, from int) (int, error) {
	depth := 1
	for i := from; i < len(s); i++ {
		switch s[i] {
		case '$':
			if i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '$') {
				if s[i+1] == '{' {
					depth++
				}
				i++
			}
		case '}':
			depth--
			if depth == 0 {
				return i, nil
			}
		}
	}
	return 0, fmt.Errorf("invalid interpolation %q: missing closing brace", s[from-2:])
}

// expandBraced expands the body of "${...}".
func expandBraced(body string, lookup lookupFunc) (string, error) {
	j := 0
	for j < len(body) && isNameChar(body[j]) {
		j++
	}
	name := body[:j]
	if name == "" || !isNameStart(name[0]) {
		return "", fmt.Errorf("invalid interpolation \"${%s}\": expected a variable name like ${NAME}", body)
	}
	rest := body[j:]
	val, set := lookup(name)
	if rest == "" {
		if !set {
			return "", unsetVariable(name)
		}
		return val, nil
	}
	colon := strings.HasPrefix(rest, ":")
	if colon {
		rest = rest[1:]
	}
	if rest == "" {
		return "", fmt.Errorf("invalid interpolation \"${%s}\": expected :-, -, :?, ?, :+ or + after %s", body, name)
	}
	op, arg := rest[0], rest[1:]
	present := set && (!colon || val != "")
	switch op {
	case '-':
		if present {
			return val, nil
		}
		return interpolate(arg, lookup)
	case '?':
		if present {
			return val, nil
		}
		msg, err := interpolate(arg, lookup)
		if err != nil {
			return "", err
		}
		if msg == "" {
			msg = "it must be set"
		}
		return "", fmt.Errorf("required variable %s is missing a value: %s", name, msg)
	case '+':
		if present {
			return interpolate(arg, lookup)
		}
		return "", nil
	}
	return "", fmt.Errorf("invalid interpolation \"${%s}\": unsupported operator %q after %s (supported: :-, -, :?, ?, :+, +)", body, rest[:1], name)
}

func isNameStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isNameChar(c byte) bool { return isNameStart(c) || (c >= '0' && c <= '9') }

// unsetVariable is the error for a variable nucleus.yaml uses without a
// value. Compose would read it as empty; nucleus does not guess, and says
// how to ask for Compose's behaviour.
func unsetVariable(name string) error {
	return fmt.Errorf("variable %s is not set; set it in the environment or in .env, give a default with ${%s:-default}, or write ${%s:-} for an empty value as Compose does", name, name, name)
}
