// Package compose reads Compose files with the reference loader
// (github.com/compose-spec/compose-go/v2): interpolation, .env, merging of
// several files, extends, include, anchors and profiles behave exactly as
// in `docker compose`. convert.go maps the result onto nucleus.yaml.
package compose

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"github.com/sirupsen/logrus"

	"nucleus/compose/composeapi"
)

// LoadOptions say what to read.
type LoadOptions = composeapi.LoadOptions

// Load reads the files into Compose's own model.
func Load(ctx context.Context, o LoadOptions) (*types.Project, error) {
	p, _, err := load(ctx, o)
	return p, err
}

// logMu serialises loads: compose-go reports unset variables through
// logrus's global logger, which load captures while it runs.
var logMu sync.Mutex

// warnHook keeps the warnings compose-go logs.
type warnHook struct{ msgs []string }

func (h *warnHook) Levels() []logrus.Level { return []logrus.Level{logrus.WarnLevel} }
func (h *warnHook) Fire(e *logrus.Entry) error {
	h.msgs = append(h.msgs, e.Message)
	return nil
}

// load is Load that also returns what compose-go warned about (unset
// variables become empty strings, as in Compose), each once.
func load(ctx context.Context, o LoadOptions) (*types.Project, []string, error) {
	logMu.Lock()
	defer logMu.Unlock()
	std := logrus.StandardLogger()
	hook := &warnHook{}
	oldOut, oldHooks := std.Out, std.ReplaceHooks(logrus.LevelHooks{})
	std.SetOutput(io.Discard)
	std.AddHook(hook)
	defer func() {
		std.SetOutput(oldOut)
		std.ReplaceHooks(oldHooks)
	}()
	if slices.Contains(o.Files, "-") {
		// compose-go reads "-" from os.Stdin: hand it the bytes read once,
		// so that a reload reads the same file again.
		r, w, err := os.Pipe()
		if err != nil {
			return nil, nil, fmt.Errorf("compose: %w", err)
		}
		go func() { w.Write(o.Stdin); w.Close() }()
		old := os.Stdin
		os.Stdin = r
		defer func() { os.Stdin = old; r.Close() }()
	}
	profiles := o.Profiles
	if profiles == nil {
		for _, k := range []string{"NUCLEUS_PROFILES", "COMPOSE_PROFILES"} {
			if v := lookupEnv(o.Env, k); v != "" {
				profiles = strings.Split(v, ",")
				break
			}
		}
	}
	opts := []cli.ProjectOptionsFn{cli.WithEnv(o.Env)}
	if o.WorkingDir != "" {
		opts = append(opts, cli.WithWorkingDirectory(o.WorkingDir))
	}
	// WithDotEnv reads only the files WithEnvFiles chose (the project
	// directory's .env): without it no .env is read at all.
	opts = append(opts, cli.WithEnvFiles(), cli.WithDotEnv, cli.WithProfiles(profiles))
	if o.Name != "" {
		opts = append(opts, cli.WithName(o.Name))
	}
	po, err := cli.NewProjectOptions(o.Files, opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("compose: %w", err)
	}
	p, err := po.LoadProject(ctx)
	if err != nil {
		if msg, ok := unknownKey(err.Error()); ok {
			return nil, nil, errors.New(msg)
		}
		if msg, ok := noImage(err.Error(), po.ConfigPaths); ok {
			return nil, nil, errors.New(msg)
		}
		return nil, nil, fmt.Errorf("compose: %w", err)
	}
	var msgs []string
	for _, m := range hook.msgs {
		if !slices.Contains(msgs, m) {
			msgs = append(msgs, m)
		}
	}
	return p, msgs, nil
}

func lookupEnv(env []string, k string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, k+"="); ok {
			return v
		}
	}
	return ""
}

// unknownKey rewrites compose-go's schema errors for a key the Compose
// format does not have, "validating FILE: services.web.portz false schema"
// (the JSON Schema library's words for additionalProperties: false) and,
// at the top, "validating FILE:  additional properties 'volumez' not
// allowed", as "FILE:LINE:COL: services.web: unknown key "portz"", the
// form of every other error of a project file.
func unknownKey(msg string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, "validating ")
	i := strings.LastIndex(rest, ": ")
	if !ok || i < 0 {
		return "", false
	}
	file, where := rest[:i], rest[i+2:]
	var path []string
	if p, ok := strings.CutSuffix(where, " false schema"); ok && p != "" && !strings.Contains(p, " ") {
		path = strings.Split(p, ".")
	} else if p, key, ok := strings.Cut(where, " additional properties '"); ok && !strings.Contains(p, " ") {
		key, ok = strings.CutSuffix(key, "' not allowed")
		if !ok || strings.Contains(key, "'") {
			return "", false
		}
		if p != "" {
			path = strings.Split(p, ".")
		}
		path = append(path, key)
	} else {
		return "", false
	}
	at := composeapi.NewPositions([]string{file}, nil).At(path...)
	if len(path) > 1 {
		at += ": " + strings.Join(path[:len(path)-1], ".")
	}
	return fmt.Sprintf("%s: unknown key %q: the Compose file format has no such key here", at, path[len(path)-1]), true
}

// noImage rewrites compose-go's 'service "web" has neither an image nor a
// build context specified: invalid compose project', which names no file,
// as "FILE:LINE:COL: services.web: ..." at the service, saying what nucleus
// offers instead.
func noImage(msg string, files []string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, `service "`)
	name, rest, ok2 := strings.Cut(rest, `"`)
	if !ok || !ok2 || !strings.HasPrefix(rest, " has neither an image nor a build context specified") {
		return "", false
	}
	at := composeapi.NewPositions(files, nil).At("services", name)
	return fmt.Sprintf("%s: services.%s: neither image nor build is set: a Compose service needs an image "+
		"(to run a program of the host without one, write a nucleus.yaml service with command:)", at, name), true
}
