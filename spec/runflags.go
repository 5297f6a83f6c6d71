package spec

import (
	"fmt"

	"nucleus/image/ref"
)

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

// RunImage applies `nucleus run --image REF [--entrypoint CMD]` to svc,
// with the same rules as the image and entrypoint keys: the reference in
// its canonical form (relative paths against dir), exclusive with
// --rootfs, pull policy missing. entrypoint nil means the flag was not
// given; "" clears the image's entrypoint, anything else is split like
// command. Without --image, --entrypoint goes in front of the command, as
// entrypoint: does without image:. Either way a run needs something to
// execute: a command, or an image (which may supply one).
func RunImage(svc *Service, image string, entrypoint *string, dir string) error {
	var ep []string
	if entrypoint != nil {
		args, err := SplitCommand(*entrypoint)
		if err != nil {
			return fmt.Errorf("--entrypoint: %w", err)
		}
		ep = append([]string{}, args...)
	}
	if image == "" {
		if ep != nil {
			svc.Command = append(ep, svc.Command...)
		}
		if len(svc.Command) == 0 {
			return fmt.Errorf("no command given: name one after --, or give --image")
		}
		return nil
	}
	if svc.Rootfs != "" {
		return fmt.Errorf("--image and --rootfs are exclusive: the image is the root file system")
	}
	r, err := ref.Parse(image, dir)
	if err != nil {
		return fmt.Errorf("--image: %w; expected NAME[:TAG][@DIGEST], oci:PATH[:TAG] or docker-archive:PATH", err)
	}
	svc.Image, svc.Entrypoint, svc.PullPolicy = r.String(), ep, PullMissing
	return nil
}
