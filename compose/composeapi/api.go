// Package composeapi is what the nucleus command needs of the Compose
// converter without linking it: the options, the result and finding
// positions in the compose files, and Convert, which runs the converter as
// the nucleus-compose binary beside nucleus. compose-go (its JSON Schema
// library compiles every meta-schema at package init, ~3.5 ms) is linked
// only into nucleus-compose, so `nucleus version`, `run` and `exec` do not
// pay for it on every start (issue 15).
package composeapi

import (
	"slices"
	"strings"
)

// DefaultFileNames and DefaultOverrideFileNames are Compose's project file
// names in its order of preference (compose-go's cli.DefaultFileNames and
// cli.DefaultOverrideFileNames; a test in package compose keeps them equal).
var (
	DefaultFileNames         = []string{"compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"}
	DefaultOverrideFileNames = []string{"compose.override.yml", "compose.override.yaml", "docker-compose.override.yml", "docker-compose.override.yaml"}
)

// LoadOptions say what to read.
type LoadOptions struct {
	Files      []string // compose files, merged in order ("-" = Stdin)
	WorkingDir string   // project directory ("" = the first file's)
	Name       string   // project name ("" = Compose's rules)
	Env        []string // KEY=VALUE, the process environment as Compose sees it
	Profiles   []string // active profiles (nil = $NUCLEUS_PROFILES, else $COMPOSE_PROFILES, from Env)
	Stdin      []byte   // the content of the file "-", read once by the caller
	// CreateHostPaths creates missing bind sources as `docker compose up`
	// does (convert only says it would).
	CreateHostPaths bool
}

// Warning is one line about the conversion: a note on an approximate
// mapping, or (Fatal) something that matters and cannot be mapped.
type Warning struct {
	Pos   string // FILE:LINE:COL, "" when not known
	Path  string // services.web.mem_limit
	Msg   string
	Fatal bool
}

func (w Warning) String() string {
	s := w.Msg
	if w.Path != "" {
		s = w.Path + ": " + s
	}
	if w.Pos != "" {
		s = w.Pos + ": " + s
	}
	return s
}

// Result is a converted project.
type Result struct {
	YAML     []byte    // the nucleus.yaml
	Warnings []Warning // in the order of the services and keys
	// Files are what the conversion read: the compose files, then .env
	// and env_file files. A change to any of them changes the result.
	Files        []string
	ComposeFiles []string          // the compose files of Files
	Sources      map[string][]byte // content of Files as read (stdin under "-")
	Name         string            // the project name Compose chose
	Dir          string            // the project directory

	// Pos finds keys in the compose files; built from ComposeFiles and
	// Sources when nil (a result read back from nucleus-compose).
	Pos *Positions `json:"-"`
}

// nucleusKeys are where Compose writes what nucleus.yaml spells
// differently, by the nucleus key path below a service.
var nucleusKeys = map[string][][]string{
	"resources.memory": {{"mem_limit"}, {"deploy", "resources", "limits", "memory"}},
	"resources.cpus":   {{"cpus"}, {"deploy", "resources", "limits", "cpus"}},
	"resources.pids":   {{"pids_limit"}, {"deploy", "resources", "limits", "pids"}},
	"replicas":         {{"scale"}, {"deploy", "replicas"}},
	"security.userns":  {{"userns_mode"}},
	"security.seccomp": {{"security_opt"}},
}

// Locate finds where the compose files wrote what the converted file has
// at path (services.web.resources.memory: mem_limit's FILE, LINE, COL), so
// that an error nucleus finds in the converted file points into the
// compose file; ok is false when no written key is found.
func (r *Result) Locate(path string) (file string, line, col int, ok bool) {
	if r.Pos == nil {
		if r.Sources == nil {
			return "", 0, 0, false
		}
		r.Pos = NewPositions(r.ComposeFiles, r.Sources)
	}
	var parts []string
	for _, p := range strings.Split(path, ".") {
		if i := strings.IndexByte(p, '['); i >= 0 {
			p = p[:i]
		}
		parts = append(parts, p)
	}
	var cands [][]string
	if len(parts) >= 3 && parts[0] == "services" {
		for k, alts := range nucleusKeys {
			if strings.HasPrefix(strings.Join(parts[2:], ".")+".", k+".") {
				for _, a := range alts {
					cands = append(cands, append([]string{"services", parts[1]}, a...))
				}
			}
		}
	}
	cands = append(cands, parts)
	for _, c := range cands {
		for n := len(c); n > 0; n-- {
			if f, k, _ := r.Pos.Node(c[:n]...); k != nil {
				return f, k.Line, k.Column, true
			}
		}
	}
	return "", 0, 0, false
}

// Failed says whether something that matters could not be mapped.
func (r *Result) Failed() bool {
	return slices.ContainsFunc(r.Warnings, func(w Warning) bool { return w.Fatal })
}
