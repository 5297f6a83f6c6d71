// Package compose reads Compose files with the reference loader
// (github.com/compose-spec/compose-go/v2): interpolation, .env, merging of
// several files, extends, include, anchors and profiles behave exactly as
// in `docker compose`. Mapping the result onto nucleus's model lives
// beside it.
package compose

import (
	"context"
	"fmt"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// LoadOptions say what to read.
type LoadOptions struct {
	Files      []string // compose files, merged in order
	WorkingDir string   // project directory ("" = the first file's)
	Name       string   // project name ("" = Compose's rules)
	Env        []string // KEY=VALUE, the process environment as Compose sees it
	Profiles   []string // active profiles
}

// Load reads the files into Compose's own model.
func Load(ctx context.Context, o LoadOptions) (*types.Project, error) {
	opts := []cli.ProjectOptionsFn{cli.WithEnv(o.Env)}
	if o.WorkingDir != "" {
		opts = append(opts, cli.WithWorkingDirectory(o.WorkingDir))
	}
	// WithDotEnv reads only the files WithEnvFiles chose (the project
	// directory's .env): without it no .env is read at all.
	opts = append(opts, cli.WithEnvFiles(), cli.WithDotEnv, cli.WithProfiles(o.Profiles))
	if o.Name != "" {
		opts = append(opts, cli.WithName(o.Name))
	}
	po, err := cli.NewProjectOptions(o.Files, opts...)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	p, err := po.LoadProject(ctx)
	if err != nil {
		return nil, fmt.Errorf("compose: %w", err)
	}
	return p, nil
}
