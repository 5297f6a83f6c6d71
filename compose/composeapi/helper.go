package composeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
)

// HelperName is the converter's binary, found next to the nucleus binary.
const HelperName = "nucleus-compose"

// reply is what nucleus-compose writes on its standard output.
type reply struct {
	Result *Result `json:",omitempty"`
	Error  string  `json:",omitempty"`
}

// helperPath is $NUCLEUS_COMPOSE, else nucleus-compose beside this binary.
func helperPath() (string, error) {
	if p := os.Getenv("NUCLEUS_COMPOSE"); p != "" {
		return p, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("compose: find %s: %w", HelperName, err)
	}
	p := filepath.Join(filepath.Dir(exe), HelperName)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("compose files are converted by %s, expected next to %s (make build puts both in bin/; install them together) or named by $NUCLEUS_COMPOSE: %w", HelperName, exe, err)
	}
	return p, nil
}

// Convert reads the compose files as Compose does and maps them onto
// nucleus.yaml, in the nucleus-compose process (see the package comment).
// A load error (bad YAML, a schema error) is returned as error; mapping
// problems are Warnings with Fatal set.
func Convert(ctx context.Context, o LoadOptions) (*Result, error) {
	bin, err := helperPath()
	if err != nil {
		return nil, err
	}
	req, err := json.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("compose: encode request: %w", err)
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin)
	cmd.Stdin = bytes.NewReader(req)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var rep reply
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		return nil, fmt.Errorf("compose: %s gave no answer (%v): %v %s", bin, runErr, err, bytes.TrimSpace(stderr.Bytes()))
	}
	if rep.Error != "" {
		return nil, errors.New(rep.Error)
	}
	if rep.Result == nil {
		return nil, fmt.Errorf("compose: %s answered neither a result nor an error", bin)
	}
	return rep.Result, nil
}

// Serve is nucleus-compose's main: one request (LoadOptions as JSON) from
// r, convert's result or error as JSON on w. It returns the exit status.
func Serve(r io.Reader, w io.Writer, convert func(context.Context, LoadOptions) (*Result, error)) int {
	var o LoadOptions
	var rep reply
	if err := json.NewDecoder(r).Decode(&o); err != nil {
		rep.Error = fmt.Sprintf("%s: read request: %v", HelperName, err)
	} else if res, err := convert(context.Background(), o); err != nil {
		rep.Error = err.Error()
	} else {
		rep.Result = res
	}
	if err := json.NewEncoder(w).Encode(rep); err != nil {
		fmt.Fprintf(os.Stderr, "%s: write result: %v\n", HelperName, err)
		return 1
	}
	return 0
}
