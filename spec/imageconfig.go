package spec

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// ImageConfig is what an image's config supplies to a service (the OCI
// image config's fields of the same names). The image store fills it in;
// spec only merges it, so spec needs nothing of the store.
type ImageConfig struct {
	Entrypoint   []string
	Cmd          []string
	Env          []string // "K=V"
	WorkingDir   string
	User         string
	StopSignal   string
	Healthcheck  *ImageHealthcheck
	ExposedPorts []string // "80/tcp"
	Labels       map[string]string
}

// ImageHealthcheck is Docker's HEALTHCHECK as an image config carries it.
// Test is ["NONE"], ["CMD", argv...] or ["CMD-SHELL", script]; an empty
// Test inherits, which for the image itself means none.
type ImageHealthcheck struct {
	Test          []string
	Interval      time.Duration
	Timeout       time.Duration
	StartPeriod   time.Duration
	StartInterval time.Duration // becomes start_interval
	Retries       int
}

// WithImageConfig returns a copy of s with the image's config as defaults;
// the service's own fields win, as in Compose:
//   - argv is (s.Entrypoint if given, else c.Entrypoint) + (s.Command if
//     given, else c.Cmd unless s.Entrypoint was given). The copy holds the
//     whole argv in Command and an empty Entrypoint, so merging it again
//     gives the same service;
//   - Env is merged, the service's environment wins;
//   - WorkingDir, User and StopSignal apply when the service has none;
//   - the Healthcheck applies when the service has none (NONE disables,
//     zero durations take the service defaults);
//   - ExposedPorts are kept for display only.
//
// An error names the service and the image field that could not be used.
func (s *Service) WithImageConfig(c ImageConfig) (*Service, error) {
	out := *s
	fail := func(format string, a ...any) (*Service, error) {
		return nil, fmt.Errorf("service %s: image %s: %s", s.Name, s.Image, fmt.Sprintf(format, a...))
	}

	var argv []string
	switch {
	case s.Entrypoint != nil:
		argv = append(slices.Clone(s.Entrypoint), s.Command...)
	case s.Command != nil:
		argv = append(slices.Clone(c.Entrypoint), s.Command...)
	default:
		argv = append(slices.Clone(c.Entrypoint), c.Cmd...)
	}
	if len(argv) == 0 && s.Entrypoint != nil && (len(c.Entrypoint) > 0 || len(c.Cmd) > 0) {
		// Compose drops the image's Cmd with its Entrypoint: say so, the
		// image does have a program.
		return fail("entrypoint: [] clears the image's entrypoint and, as in Compose, its cmd too, and the file gives no command; set command:")
	}
	if len(argv) == 0 {
		return fail("the image has no entrypoint or cmd and the file gives no command; set command: (or entrypoint:)")
	}
	out.Command, out.Entrypoint = argv, []string{}

	// The copy owns its environment: a caller may edit it without
	// touching the loaded project.
	out.Environment = maps.Clone(s.Environment)
	if len(c.Env) > 0 {
		env := make(map[string]string, len(c.Env)+len(s.Environment))
		for _, kv := range c.Env {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || !validEnvName(k) {
				return fail("invalid Env entry %q; expected KEY=VALUE", kv)
			}
			env[k] = v
		}
		maps.Copy(env, s.Environment)
		out.Environment = env
	}

	if s.WorkingDir == "" && c.WorkingDir != "" {
		if !filepath.IsAbs(c.WorkingDir) {
			return fail("WorkingDir %q is not an absolute path", c.WorkingDir)
		}
		out.WorkingDir = filepath.Clean(c.WorkingDir)
	}
	if s.User == "" && c.User != "" {
		if err := CheckUser(c.User); err != nil {
			return fail("User: %v", err)
		}
		out.User = c.User
	}
	if s.StopSignal == "" {
		out.StopSignal = DefaultStopSignal
		if c.StopSignal != "" {
			sig, err := parseImageSignal(c.StopSignal)
			if err != nil {
				return fail("StopSignal: %v", err)
			}
			out.StopSignal = sig
		}
	}

	if s.Healthcheck == nil && c.Healthcheck != nil {
		hc, err := imageHealthcheck(c.Healthcheck)
		if err != nil {
			return fail("Healthcheck: %v", err)
		}
		out.Healthcheck = hc
	}
	out.ExposedPorts = slices.Clone(c.ExposedPorts)
	return &out, nil
}

// parseImageSignal accepts what Docker accepts in STOPSIGNAL: a name
// (SIGQUIT, QUIT) or a number (3).
func parseImageSignal(v string) (Signal, error) { return ParseSignal(v) }

// imageHealthcheck turns Docker's HEALTHCHECK into the service's form; nil
// for NONE and for an empty test.
func imageHealthcheck(ih *ImageHealthcheck) (*Healthcheck, error) {
	t := ih.Test
	switch {
	case len(t) == 0, t[0] == "NONE":
		return nil, nil
	case t[0] == "CMD" && len(t) > 1, t[0] == "CMD-SHELL" && len(t) == 2:
	default:
		return nil, fmt.Errorf("test %q; expected [NONE], [CMD, program, args...] or [CMD-SHELL, script]", t)
	}
	h := &Healthcheck{Kind: HealthExec, Test: slices.Clone(t),
		Interval: DefaultHealthInterval, Timeout: DefaultHealthTimeout, Retries: DefaultHealthRetries}
	if ih.Interval > 0 {
		h.Interval = Duration(ih.Interval)
	}
	if ih.Timeout > 0 {
		h.Timeout = Duration(ih.Timeout)
	}
	if ih.StartPeriod > 0 {
		h.StartPeriod = Duration(ih.StartPeriod)
	}
	if ih.StartInterval > 0 {
		h.StartInterval = Duration(ih.StartInterval)
	}
	if ih.Retries > 0 {
		h.Retries = ih.Retries
	}
	return h, nil
}
