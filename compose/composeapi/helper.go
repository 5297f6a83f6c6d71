package composeapi

import (
	"context"
	"fmt"
	"io"

	"nucleus/internal/helperbin"
)

// HelperName is the converter's binary, found next to the nucleus binary.
const HelperName = "nucleus-compose"

// helperPath is $NUCLEUS_COMPOSE, else nucleus-compose beside this binary.
func helperPath() (string, error) {
	return helperbin.Find(HelperName, "NUCLEUS_COMPOSE", "compose files are converted")
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
	// A load error (the helper's answer) is passed on as it is: it names
	// the file and position.
	res, err := helperbin.Call[LoadOptions, *Result](ctx, bin, o)
	if err != nil {
		return nil, err
	}
	if res == nil {
		return nil, fmt.Errorf("compose: %s answered neither a result nor an error", bin)
	}
	return res, nil
}

// Serve is nucleus-compose's main: one request (LoadOptions as JSON) from
// r, convert's result or error as JSON on w. It returns the exit status.
func Serve(r io.Reader, w io.Writer, convert func(context.Context, LoadOptions) (*Result, error)) int {
	return helperbin.Serve(HelperName, r, w, func(o LoadOptions) (*Result, error) {
		return convert(context.Background(), o)
	})
}
