package spec

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// labels decodes Compose's labels: a mapping, or a list of KEY=VALUE (a
// KEY alone has the empty value). Labels are metadata: kept, printed by
// config and ps --json, never hashed, so changing them restarts nothing.
func (d *decoder) labels(n *node, p string) map[string]string {
	out := map[string]string{}
	add := func(k string, at *node, kp, v string) {
		if k == "" || strings.ContainsAny(k, " \t\n") {
			d.errorf(at, kp, "invalid label name %q; expected a non-empty name without spaces", k)
			return
		}
		out[k] = v
	}
	switch n.kind {
	case kindNull:
		return nil
	case kindMap:
		for i, k := range n.keys {
			kp := p + "." + k.value
			v := n.vals[i]
			switch v.kind {
			case kindNull:
				add(k.value, v, kp, "")
			case kindScalar:
				add(k.value, v, kp, v.value)
			default:
				d.want(v, kp, "a string, number or boolean")
			}
		}
	case kindSeq:
		d.strEach(n, p, false, func(s string, it *node, ip string) {
			k, v, _ := strings.Cut(s, "=")
			add(k, it, ip, v)
		})
	default:
		d.want(n, p, "a mapping or a list of KEY=VALUE")
		return nil
	}
	return out
}

// profileRe is Compose's rule for profile names.
var profileRe = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

// profiles decodes a service's profiles: list.
func (d *decoder) profiles(n *node, p string) []string {
	var out []string
	d.strEach(n, p, false, func(s string, it *node, ip string) {
		if !profileRe.MatchString(s) {
			d.errorf(it, ip, "invalid profile name %q; use letters, digits, _, . and - (starting with a letter or digit)", s)
			return
		}
		for _, o := range out {
			if o == s {
				d.errorf(it, ip, "profile %q is listed twice", s)
				return
			}
		}
		out = append(out, s)
	})
	return out
}

// CheckProfileName checks a profile named on the command line or in
// NUCLEUS_PROFILES/COMPOSE_PROFILES.
func CheckProfileName(s string) error {
	if s == "*" || profileRe.MatchString(s) {
		return nil
	}
	return fmt.Errorf("invalid profile name %q; use letters, digits, _, . and - (starting with a letter or digit), or * for all", s)
}

// labelsString is a stable rendering of labels for Diff.
func labelsString(m map[string]string) string {
	keys := sortedKeys(m)
	for i, k := range keys {
		keys[i] = k + "=" + strconv.Quote(m[k])
	}
	return strings.Join(keys, ",")
}
