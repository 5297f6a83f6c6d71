package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sync"

	"nucleus/compose/composeapi"
	"nucleus/image/ref"
	"nucleus/reconcile/images"
	"nucleus/spec"
)

// imageKeyAt is "FILE:LINE:COL" of a service's image key in p's files (""
// when no file writes it, as with run --image), for pull errors; safe for
// the parallel pulls.
func imageKeyAt(p *spec.Project) func(service string) string {
	var once sync.Once
	var pos *composeapi.Positions
	return func(service string) string {
		once.Do(func() { pos = composeapi.NewPositions(p.Files, nil) })
		if !pos.Has("services", service, "image") {
			return ""
		}
		return pos.At("services", service, "image")
	}
}

// printImageNotices warns, one line per service, of a local image (oci:,
// docker-archive:) whose path does not exist while the store does not hold
// the image either: up would fail to pull it. A warning, not an error: a
// build step (examples/image's make) may write it before up.
func printImageNotices(w io.Writer, p *spec.Project) {
	_, missing, err := images.Peek(context.Background(), stateRoot(), p)
	if err != nil {
		return // up says it, resolving the same way
	}
	at := imageKeyAt(p)
	for _, m := range missing {
		r, err := ref.Parse(m.Ref, "")
		if err != nil || r.Transport == ref.Registry {
			continue
		}
		if _, err := os.Stat(r.Path); err == nil {
			continue
		}
		for _, s := range m.Services {
			where := at(s)
			if where != "" {
				where += ": "
			}
			fmt.Fprintf(w, "warning: %sservices.%s.image: %s: no such file or directory, and the store does not hold the image: up fails to pull it unless it is built there first\n",
				where, s, r.Path)
		}
	}
}
