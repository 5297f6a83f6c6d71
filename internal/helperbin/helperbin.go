// Package helperbin finds the helper binaries nucleus runs from beside
// itself (nucleus-compose, nucleus-seccomp): each keeps a costly dependency
// (compose-go's package init, cgo and libseccomp) out of every nucleus start.
package helperbin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// MissingError is a helper binary that is not where nucleus looked for
// it. It is its own type so that a start failing on it is not taken for
// the workload's command not being found (both wrap ENOENT).
type MissingError struct {
	Name string // nucleus-seccomp
	Path string // where it was expected
	msg  string
	err  error
}

func (e *MissingError) Error() string { return e.msg }
func (e *MissingError) Unwrap() error { return e.err }

// Binaries are nucleus and its helpers, which go in one directory.
var Binaries = []string{"nucleus", "nucleus-init", "nucleus-compose", "nucleus-seccomp", "nucleus-image"}

// InstallHint says how to build and install every binary into dir, as the
// README's Install says: a plain `go build ./cmd/nucleus` builds one.
func InstallHint(dir string) string {
	bins := make([]string, len(Binaries))
	for i, b := range Binaries {
		bins[i] = "bin/" + b
	}
	return fmt.Sprintf("nucleus is %d binaries that go in one directory: `make build` builds them all into bin/ "+
		"(go build ./cmd/nucleus builds nucleus alone), then `install -m 0755 %s %s/` installs them",
		len(Binaries), strings.Join(bins, " "), dir)
}

// Find returns $env when set, else name beside this executable. purpose
// says what the helper is for, as the start of the error when it is
// missing ("compose files are converted").
func Find(name, env, purpose string) (string, error) {
	if p := os.Getenv(env); p != "" {
		return p, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find %s: %w", name, err)
	}
	p := filepath.Join(filepath.Dir(exe), name)
	if _, err := os.Stat(p); err != nil {
		return "", &MissingError{Name: name, Path: p, err: err,
			msg: fmt.Sprintf("%s by %s, expected next to %s or named by $%s: %v; %s", purpose, name, exe, env, err, InstallHint(filepath.Dir(exe)))}
	}
	return p, nil
}

// reply is what a helper writes on its standard output.
type reply[Res any] struct {
	Result Res    `json:",omitempty"`
	Error  string `json:",omitempty"`
}

// Call runs the helper bin with req as JSON on its standard input and
// returns the result it answered, or its error as an error.
func Call[Req, Res any](ctx context.Context, bin string, req Req) (Res, error) {
	var rep reply[Res]
	in, err := json.Marshal(req)
	if err != nil {
		return rep.Result, fmt.Errorf("%s: encode request: %w", filepath.Base(bin), err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin)
	cmd.Stdin = bytes.NewReader(in)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	if errors.Is(runErr, fs.ErrNotExist) { // $NUCLEUS_… names no file
		return rep.Result, &MissingError{Name: filepath.Base(bin), Path: bin, err: runErr,
			msg: fmt.Sprintf("run helper %s: %v", bin, runErr)}
	}
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return rep.Result, fmt.Errorf("%s gave no answer (%v): %v %s", bin, runErr, err, bytes.TrimSpace(stderr.Bytes()))
	}
	if rep.Error != "" {
		return rep.Result, errors.New(rep.Error)
	}
	return rep.Result, nil
}

// Serve is a helper's main: one request as JSON from r, handle's result or
// error as JSON on w. It returns the exit status.
func Serve[Req, Res any](name string, r io.Reader, w io.Writer, handle func(Req) (Res, error)) int {
	var req Req
	var rep reply[Res]
	if err := json.NewDecoder(r).Decode(&req); err != nil {
		rep.Error = fmt.Sprintf("%s: read request: %v", name, err)
	} else if res, err := handle(req); err != nil {
		rep.Error = err.Error()
	} else {
		rep.Result = res
	}
	if err := json.NewEncoder(w).Encode(rep); err != nil {
		fmt.Fprintf(os.Stderr, "%s: write result: %v\n", name, err)
		return 1
	}
	return 0
}
