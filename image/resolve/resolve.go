// Package resolve turns services that name an image into services the
// runtime can run: the image is looked up in the store (pulled first when
// its pull_policy and the caller allow), its config supplies the defaults
// (spec.Service.WithImageConfig), its manifest digest becomes part of the
// service (and so of its hash), and its unpacked tree becomes the rootfs.
//
// It sits between spec (which knows nothing of the store) and reconcile:
// the supervisor resolves every project it loads, `nucleus plan` resolves
// without pulling, `nucleus run --image` resolves one service.
package resolve

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"nucleus/image/pullapi"
	"nucleus/image/ref"
	"nucleus/image/store"
	"nucleus/spec"
)

// PullFunc brings one image into the store (pull.Pull with the caller's
// progress display and options).
type PullFunc func(ctx context.Context, r ref.Ref) (*store.Image, error)

// Resolver resolves images against one store.
type Resolver struct {
	Store *store.Store
	// Pull fetches an image; nil means nothing may be pulled (plan,
	// ps): an image that is not in the store is an error that says how
	// to get it.
	Pull PullFunc
	// Always makes services with pull_policy: always pull even when the
	// store has their image (an explicit up or pull; not a hot reload or
	// a restart).
	Always bool
}

// ErrNotPulled is returned (wrapped) for an image the store does not have
// when the resolver may not pull it.
var ErrNotPulled = errors.New("image not pulled")

// Image finds (or pulls) the image of svc as its pull policy says.
func (r *Resolver) Image(ctx context.Context, svc *spec.Service) (*store.Image, error) {
	if svc.Image == "" {
		return nil, fmt.Errorf("service %s has no image", svc.Name)
	}
	rf, err := ref.Parse(svc.Image, "/")
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", svc.Name, err)
	}
	policy := svc.PullPolicy
	if policy == spec.PullAlways && r.Always && r.Pull != nil {
		return r.pull(ctx, svc, rf)
	}
	img, err := r.Store.Lookup(svc.Image)
	switch {
	case err == nil:
		return img, nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("service %s: %w", svc.Name, err)
	case policy == spec.PullNever:
		return nil, fmt.Errorf("service %s: image %s is not in the store and its pull_policy is never: run `nucleus pull %s` or change pull_policy: %w", svc.Name, svc.Image, svc.Name, ErrNotPulled)
	case r.Pull == nil:
		return nil, fmt.Errorf("service %s: image %s is not pulled yet: run `nucleus pull` or `nucleus up`: %w", svc.Name, svc.Image, ErrNotPulled)
	}
	return r.pull(ctx, svc, rf)
}

func (r *Resolver) pull(ctx context.Context, svc *spec.Service, rf ref.Ref) (*store.Image, error) {
	img, err := r.Pull(ctx, rf)
	if err != nil {
		return nil, fmt.Errorf("service %s: pull %s: %w", svc.Name, svc.Image, err)
	}
	return img, nil
}

// Service returns svc resolved against img: the image's config merged in,
// ImageDigest set and Rootfs the path of the image's tree (which the
// launch unpacks if it is not there yet: see Tree).
func (r *Resolver) Service(svc *spec.Service, img *store.Image) (*spec.Service, error) {
	cfg, err := Config(r.Store, img)
	if err != nil {
		return nil, fmt.Errorf("service %s: %w", svc.Name, err)
	}
	out, err := svc.WithImageConfig(cfg)
	if err != nil {
		return nil, err
	}
	tree, err := r.Store.TreePath(img)
	if err != nil {
		return nil, fmt.Errorf("service %s: image %s: %w", svc.Name, svc.Image, err)
	}
	out.ImageDigest, out.Rootfs = img.Manifest, tree
	return out, nil
}

// Project returns a copy of p in which every service with an image is
// resolved; images are found or pulled in parallel, each reference once.
// Services without an image are shared with p, unchanged.
func (r *Resolver) Project(ctx context.Context, p *spec.Project) (*spec.Project, error) {
	refs := map[string][]*spec.Service{}
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		if s := p.Services[name]; s.Image != "" {
			refs[s.Image] = append(refs[s.Image], s)
		}
	}
	if len(refs) == 0 {
		return p, nil
	}
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		images = map[string]*store.Image{}
		errs   []error
	)
	for _, rf := range slices.Sorted(maps.Keys(refs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// The policy of the first service decides; with several
			// services on one reference the strictest would be a
			// guess, and always/missing differ only in freshness.
			img, err := r.Image(ctx, pickPolicy(refs[rf]))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			images[rf] = img
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
		return nil, errors.Join(errs...)
	}
	out := *p
	out.Services = make(map[string]*spec.Service, len(p.Services))
	for name, s := range p.Services {
		if s.Image == "" {
			out.Services[name] = s
			continue
		}
		rs, err := r.Service(s, images[s.Image])
		if err != nil {
			return nil, err
		}
		out.Services[name] = rs
	}
	if err := spec.CheckHealthyDependencies(&out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Present returns a copy of p in which every service whose image the
// store already has gets the image's config merged in (its user, command,
// health check): what an export can learn without pulling. It never
// pulls, whatever r.Pull; missing names the services whose image the
// store lacks (or whose config does not merge), sorted.
func (r *Resolver) Present(p *spec.Project) (out *spec.Project, missing []string) {
	cp := *p
	cp.Services = make(map[string]*spec.Service, len(p.Services))
	for _, name := range slices.Sorted(maps.Keys(p.Services)) {
		s := p.Services[name]
		cp.Services[name] = s
		if s.Image == "" {
			continue
		}
		img, err := r.Store.Lookup(s.Image)
		if err != nil {
			missing = append(missing, name)
			continue
		}
		cfg, err := Config(r.Store, img)
		if err != nil {
			missing = append(missing, name)
			continue
		}
		rs, err := s.WithImageConfig(cfg)
		if err != nil {
			missing = append(missing, name)
			continue
		}
		cp.Services[name] = rs
	}
	return &cp, missing
}

// pickPolicy returns the service whose policy governs a reference several
// services share: never wins (nothing may be fetched), then always.
func pickPolicy(svcs []*spec.Service) *spec.Service {
	for _, want := range []string{spec.PullNever, spec.PullAlways} {
		for _, s := range svcs {
			if s.PullPolicy == want {
				return s
			}
		}
	}
	return svcs[0]
}

// Config reads img's config blob (verified by the store) as the defaults
// it gives a service.
func Config(st *store.Store, img *store.Image) (spec.ImageConfig, error) {
	b, err := st.ReadBlob(img.Config)
	if err != nil {
		return spec.ImageConfig{}, fmt.Errorf("image %s: config: %w", img.Ref, err)
	}
	var cf configFile
	if err := json.Unmarshal(b, &cf); err != nil {
		return spec.ImageConfig{}, fmt.Errorf("image %s: config %s: %w", img.Ref, img.Config, err)
	}
	c := cf.Config
	out := spec.ImageConfig{
		Entrypoint: c.Entrypoint, Cmd: c.Cmd, Env: c.Env,
		WorkingDir: c.WorkingDir, User: c.User, StopSignal: c.StopSignal,
		Labels: c.Labels,
	}
	for p := range c.ExposedPorts {
		out.ExposedPorts = append(out.ExposedPorts, p)
	}
	slices.Sort(out.ExposedPorts)
	if h := c.Healthcheck; h != nil {
		out.Healthcheck = &spec.ImageHealthcheck{
			Test: h.Test, Interval: h.Interval, Timeout: h.Timeout,
			StartPeriod: h.StartPeriod, Retries: h.Retries,
			StartInterval: startInterval(b),
		}
	}
	return out, nil
}

// Tree returns the unpacked tree of a resolved service, unpacking it when
// it is missing. The record must still name the digest the service was
// resolved to (a pull may have moved the reference on; the next
// resolution picks the new digest up).
func Tree(ctx context.Context, st *store.Store, svc *spec.Service) (string, error) {
	img, err := st.Lookup(svc.Image)
	if err != nil {
		return "", fmt.Errorf("service %s: %w", svc.Name, err)
	}
	if img.Manifest != svc.ImageDigest {
		// A replica of the previous digest restarting before the reload:
		// its tree is still there unless pruned.
		if fi, err := os.Stat(svc.Rootfs); err == nil && fi.IsDir() && svc.Rootfs != "" {
			return svc.Rootfs, nil
		}
		return "", fmt.Errorf("service %s: image %s is now %s, not %s as planned: reload to apply it", svc.Name, svc.Image, spec.ShortDigest(img.Manifest), spec.ShortDigest(svc.ImageDigest))
	}
	return pullapi.Tree(ctx, st, img)
}

// startInterval reads Healthcheck.StartInterval of an image config, which
// go-containerregistry's HealthConfig does not carry (Docker added it with
// API 1.44); 0 when absent or unreadable.
func startInterval(config []byte) time.Duration {
	var c struct {
		Config struct {
			Healthcheck struct{ StartInterval time.Duration }
		} `json:"config"`
	}
	_ = json.Unmarshal(config, &c)
	return c.Config.Healthcheck.StartInterval
}

// configFile is what Config reads of an OCI image config (the fields and
// JSON names of go-containerregistry's v1.ConfigFile, without linking it).
type configFile struct {
	Config struct {
		Entrypoint   []string            `json:"Entrypoint,omitempty"`
		Cmd          []string            `json:"Cmd,omitempty"`
		Env          []string            `json:"Env,omitempty"`
		WorkingDir   string              `json:"WorkingDir,omitempty"`
		User         string              `json:"User,omitempty"`
		StopSignal   string              `json:"StopSignal,omitempty"`
		Labels       map[string]string   `json:"Labels,omitempty"`
		ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
		Healthcheck  *struct {
			Test        []string      `json:",omitempty"`
			Interval    time.Duration `json:",omitempty"`
			Timeout     time.Duration `json:",omitempty"`
			StartPeriod time.Duration `json:",omitempty"`
			Retries     int           `json:",omitempty"`
		} `json:"Healthcheck,omitempty"`
	} `json:"config"`
}
