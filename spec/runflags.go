package spec

import "fmt"

// Validators shared with `nucleus run`, whose flags must mean exactly what
// the matching service keys mean (the YAML decoder uses the same rules).

// CheckHostname validates a hostname value.
func CheckHostname(s string) error {
	if !validHostname(s) {
		return fmt.Errorf("invalid hostname %q; use letters, digits, - and . (at most 63 characters)", s)
	}
	return nil
}

// CheckUser validates a user value: uid[:gid] or name[:group].
func CheckUser(s string) error {
	if !userRe.MatchString(s) {
		return fmt.Errorf("invalid user %q; expected uid[:gid] or name[:group]", s)
	}
	return nil
}
