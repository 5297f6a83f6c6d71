// Package images connects the image store to the supervisor: every project
// a supervisor loads is resolved (image/resolve) before it is planned, the
// project's references are recorded as its uses, and `down` drops them.
// `plan` and `ps` resolve without pulling (Peek).
//
// A project without images costs nothing: no store is opened and no
// directory is created.
package images

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"

	"nucleus/image/progress"
	"nucleus/image/pullapi"
	"nucleus/image/pullset"
	"nucleus/image/ref"
	"nucleus/image/resolve"
	"nucleus/image/store"
	"nucleus/internal/rootdir"
	"nucleus/spec"
)

// Uses reports whether a service of p names an image.
func Uses(p *spec.Project) bool {
	for _, s := range p.Services {
		if s.Image != "" {
			return true
		}
	}
	return false
}

// Refs are the references p's services use, sorted (store.SetUses).
func Refs(p *spec.Project) []string {
	var out []string
	for _, s := range p.Services {
		if s.Image != "" && !slices.Contains(out, s.Image) {
			out = append(out, s.Image)
		}
	}
	slices.Sort(out)
	return out
}

// Supervisor returns the reconcile.Runner.Resolve of a supervisor of the
// data root: images missing from the store are pulled (pull_policy
// missing; never fails the load with the resolver's message), each pull
// logged as plain lines. pull_policy always does not pull on every pass
// (passes run on every exit and health change): `nucleus up` and `nucleus
// pull` fetch such images before they ask for a pass.
func Supervisor(root rootdir.Root) func(ctx context.Context, p *spec.Project) (*spec.Project, error) {
	var (
		mu   sync.Mutex
		last []string // the uses last recorded
	)
	return func(ctx context.Context, p *spec.Project) (*spec.Project, error) {
		if !Uses(p) {
			return p, nil
		}
		st, err := store.Open(root.Data)
		if err != nil {
			return nil, err
		}
		r := resolve.Resolver{Store: st, Pull: func(ctx context.Context, rf ref.Ref) (*store.Image, error) {
			return logPull(ctx, st, p.Name, rf)
		}}
		out, err := r.Project(ctx, p)
		if err != nil {
			return nil, err
		}
		refs := Refs(out)
		mu.Lock()
		defer mu.Unlock()
		if !slices.Equal(refs, last) {
			if err := st.SetUses(p.Name, refs); err != nil {
				return nil, fmt.Errorf("record the images project %s uses: %w", p.Name, err)
			}
			last = refs
		}
		return out, nil
	}
}

// logPull pulls and unpacks one image, logging its start, its layers and
// its end.
func logPull(ctx context.Context, st *store.Store, project string, rf ref.Ref) (*store.Image, error) {
	slog.Info("pulling image", "project", project, "image", rf.String())
	img, err := pullapi.Pull(ctx, st, rf, pullapi.Options{Unpack: true, Progress: func(e pullapi.Event) {
		if e.Phase == pullapi.Verified || e.Phase == pullapi.Cached {
			slog.Info("image layer "+string(e.Phase), "image", rf.String(), "layer", spec.ShortDigest(e.Layer), "bytes", e.Total)
		}
	}})
	if err != nil {
		slog.Error("pull image", "project", project, "image", rf.String(), "err", err)
		return nil, err
	}
	slog.Info("pulled image", "project", project, "image", rf.String(), "digest", img.Manifest, "bytes", img.Size)
	return img, nil
}

// Missing is an image Peek found absent from the store.
type Missing struct {
	Ref      string
	Services []string // sorted
}

// Peek resolves p without pulling and without creating anything (plan,
// ps): services whose image is in the store are resolved, the others are
// left as the file says them and returned as missing, by reference.
func Peek(ctx context.Context, root rootdir.Root, p *spec.Project) (*spec.Project, []Missing, error) {
	if !Uses(p) {
		return p, nil, nil
	}
	st := readOnly(root)
	r := resolve.Resolver{Store: st}
	out := *p
	out.Services = maps.Clone(p.Services)
	missing := map[string][]string{}
	var errs []error
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[name]
		if s.Image == "" {
			continue
		}
		img, err := r.Image(ctx, s)
		if errors.Is(err, resolve.ErrNotPulled) {
			missing[s.Image] = append(missing[s.Image], name)
			continue
		}
		if err == nil {
			out.Services[name], err = r.Service(s, img)
		}
		errs = append(errs, err)
	}
	var ms []Missing
	for _, rf := range slices.Sorted(maps.Keys(missing)) {
		ms = append(ms, Missing{Ref: rf, Services: missing[rf]})
	}
	return &out, ms, errors.Join(errs...)
}

// Forget drops what project uses (down). Without a store there is nothing
// to drop.
func Forget(root rootdir.Root, project string) error {
	st, ok := existing(root)
	if !ok {
		return nil
	}
	if err := st.DropUses(project); err != nil {
		return fmt.Errorf("forget the images project %s uses: %w", project, err)
	}
	return nil
}

// readOnly is the store of root as it is, not created (Lookup of an
// absent store says not found).
func readOnly(root rootdir.Root) *store.Store {
	return &store.Store{Dir: filepath.Join(root.Data, "images")}
}

// existing is the store of root when it exists.
func existing(root rootdir.Root) (*store.Store, bool) {
	st := readOnly(root)
	_, err := os.Stat(st.Dir)
	return st, err == nil
}

// Lease returns the root directory of svc, a resolved image service: the
// image's tree (unpacked now if it is not there yet), leased to holder (a
// sandbox ID) so that neither prune nor rm removes it while it runs.
func Lease(ctx context.Context, root rootdir.Root, svc *spec.Service, holder string) (string, error) {
	st, err := store.Open(root.Data)
	if err != nil {
		return "", err
	}
	tree, err := resolve.Tree(ctx, st, svc)
	if err != nil {
		return "", err
	}
	if err := st.Lease(tree, holder); err != nil {
		return "", fmt.Errorf("service %s: %w", svc.Name, err)
	}
	return tree, nil
}

// Relet leases tree to holder again: a sandbox adopted after a supervisor
// restart (its lease may have been taken for a dead holder meanwhile).
func Relet(root rootdir.Root, tree, holder string) error {
	st, ok := existing(root)
	if !ok {
		return fmt.Errorf("image store %s is gone: the tree %s of %s with it", st.Dir, tree, holder)
	}
	return st.Lease(tree, holder)
}

// Release drops every lease holder has (its sandbox is gone). Without a
// store there is none.
func Release(root rootdir.Root, holder string) error {
	st, ok := existing(root)
	if !ok {
		return nil
	}
	trees, err := os.ReadDir(filepath.Join(st.Dir, "leases"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("release the image trees of %s: %w", holder, err)
	}
	var errs []error
	for _, t := range trees {
		errs = append(errs, st.Release(filepath.Join(st.Dir, "trees", t.Name()), holder))
	}
	return errors.Join(errs...)
}

// PullForUp pulls what the pull policies of p's services ask for before
// `nucleus up` starts anything (missing: the absent images; always: every
// one), in parallel, showing progress on w (one redrawn line per image on
// a terminal, else plain lines). An error names each image that failed
// and its services, at where(service) (pullset.Options.Where).
func PullForUp(ctx context.Context, root rootdir.Root, p *spec.Project, w io.Writer, where func(service string) string) error {
	if !Uses(p) {
		return nil
	}
	st, err := store.Open(root.Data)
	if err != nil {
		return err
	}
	d := progress.New(w, progress.IsTerminal(w))
	_, err = pullset.Pull(ctx, st, p, pullset.Options{Reporter: d, Where: where})
	d.Done()
	return err
}
