package main

import (
	"context"
	"fmt"
	"os"

	"nucleus/image/progress"
	"nucleus/image/pullapi"
	"nucleus/image/ref"
	"nucleus/image/resolve"
	"nucleus/image/store"
	"nucleus/spec"
)

// runImage resolves the image of a `nucleus run` (pulling it as its pull
// policy says, with progress on stderr), leases its tree for the sandbox
// holder once owned says the holder's owner record is written, and returns
// the service to launch and the lease's release.
func runImage(ctx context.Context, svc *spec.Service, holder string, owned func() error) (*spec.Service, func(), error) {
	st, err := openStore()
	if err != nil {
		return nil, nil, err
	}
	d := progress.New(os.Stderr, progress.IsTerminal(os.Stderr))
	res := &resolve.Resolver{Store: st, Always: true, Pull: func(ctx context.Context, r ref.Ref) (*store.Image, error) {
		img, err := pullapi.Pull(ctx, st, r, pullapi.Options{Progress: d.Func(r.String()), Unpack: true})
		d.Finish(r.String(), img, err)
		return img, err
	}}
	img, err := res.Image(ctx, svc)
	d.Done()
	if err != nil {
		return nil, nil, err
	}
	out, err := res.Service(svc, img)
	if err != nil {
		return nil, nil, err
	}
	// Leased before it is unpacked or used, so a prune meanwhile keeps it.
	dir, err := st.TreePath(img)
	if err != nil {
		return nil, nil, err
	}
	if err := owned(); err != nil {
		return nil, nil, err
	}
	if err := st.Lease(dir, holder); err != nil {
		return nil, nil, err
	}
	release := func() {
		if err := st.Release(dir, holder); err != nil {
			fmt.Fprintf(os.Stderr, "nucleus run: %v\n", err)
		}
	}
	if _, err := resolve.Tree(ctx, st, out); err != nil {
		release()
		return nil, nil, err
	}
	return out, release, nil
}
