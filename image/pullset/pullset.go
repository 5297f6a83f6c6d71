// Package pullset pulls the images of a project's services in parallel, each
// reference once however many services use it, as `nucleus up` (before it
// starts anything) and `nucleus pull` need: for up, pull_policy decides
// which are pulled (missing: only those absent from the store; always: all;
// never: none, and an absent one is an error); pull fetches them all. A
// failure names the image and the services that use it.
package pullset

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"nucleus/image/pullapi"
	"nucleus/image/ref"
	"nucleus/image/store"
	"nucleus/spec"
)

// Reporter shows the pulls; *progress.Display is one.
type Reporter interface {
	Func(ref string) func(pullapi.Event)
	Finish(ref string, img *store.Image, err error)
	Skip(ref, why string)
}

// Options tune Pull.
type Options struct {
	// Services limits the pull to these services (nil: every service).
	Services []string
	// Refresh pulls every selected image, present or not, whatever its
	// pull_policy: `nucleus pull`, the explicit request, which (as `docker
	// compose pull`) fetches what a tag names now. pull_policy says what
	// up may do on its own; never is how a service says "only what
	// nucleus pull brought", so pull does not skip it (compose does).
	Refresh bool
	// Reporter (may be nil) shows progress.
	Reporter Reporter
	// Platform is every pull's platform (default the host's).
	Platform string
	// Pull pulls one image (default pullapi.Pull, in nucleus-image; tests
	// give image/pull's with their own transport).
	Pull func(ctx context.Context, st *store.Store, r ref.Ref, o pullapi.Options) (*store.Image, error)
	// Parallel bounds the images pulled at once (default 4).
	Parallel int
	// Where (may be nil) is "FILE:LINE:COL" of a service's image key, ""
	// when unknown: a failure then starts there, as load errors do.
	Where func(service string) string
}

// want is one reference and what its services ask of it.
type want struct {
	ref      ref.Ref
	services []string
	policy   string // the most eager of its services' policies
}

// Pull brings the images of p's (selected) services into st, unpacked, and
// returns the record of every one of them, pulled or already present, by
// canonical reference. Images are pulled in parallel; every failure is
// reported (joined), each naming its image and services.
func Pull(ctx context.Context, st *store.Store, p *spec.Project, o Options) (map[string]*store.Image, error) {
	wants, err := collect(p, o.Services)
	if err != nil {
		return nil, err
	}
	if o.Parallel <= 0 {
		o.Parallel = 4
	}
	if o.Pull == nil {
		o.Pull = pullapi.Pull
	}
	var (
		mu   sync.Mutex
		out  = map[string]*store.Image{}
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, o.Parallel)
	)
	fail := func(w *want, err error) {
		f := failure(w, err, o.Where)
		mu.Lock()
		errs = append(errs, f)
		mu.Unlock()
	}
	for _, w := range wants {
		name := w.ref.String()
		img, lerr := st.Lookup(name)
		present := lerr == nil
		switch {
		case o.Refresh:
		case w.policy == spec.PullNever && present:
			out[name] = img
			continue
		case w.policy == spec.PullNever:
			if o.Reporter != nil {
				o.Reporter.Skip(name, "not pulled: pull_policy is never")
			}
			why := "not in the store"
			if !errors.Is(lerr, store.ErrNotFound) {
				why = lerr.Error()
			}
			fail(w, fmt.Errorf("%s, and pull_policy: never forbids pulling it", why))
			continue
		case w.policy == spec.PullMissing && present && !o.Refresh:
			out[name] = img
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				fail(w, ctx.Err())
				return
			}
			po := pullapi.Options{Platform: o.Platform, Unpack: true}
			if o.Reporter != nil {
				po.Progress = o.Reporter.Func(name)
			}
			img, err := o.Pull(ctx, st, w.ref, po)
			if o.Reporter != nil {
				o.Reporter.Finish(name, img, err)
			}
			if err != nil {
				fail(w, err)
				return
			}
			mu.Lock()
			out[name] = img
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.SortFunc(errs, func(a, b error) int { return strings.Compare(a.Error(), b.Error()) })
	return out, errors.Join(errs...)
}

// pullError is a failed image, said once: at its first service's image key
// when Where knows it, else naming its services.
type pullError struct {
	text string
	err  error
}

func (e *pullError) Error() string { return e.text }
func (e *pullError) Unwrap() error { return e.err }

// failure is err of w's image, its "image REF: " prefix dropped (the pull
// names its image; so does the failure).
func failure(w *want, err error, where func(string) string) error {
	msg := strings.TrimPrefix(err.Error(), "image "+w.ref.String()+": ")
	at := ""
	if where != nil {
		at = where(w.services[0])
	}
	if at == "" {
		return &pullError{fmt.Sprintf("image %s (%s %s): %s", w.ref, plural(len(w.services), "service"), strings.Join(w.services, ", "), msg), err}
	}
	also := ""
	if len(w.services) > 1 {
		also = " (and " + plural(len(w.services)-1, "service") + " " + strings.Join(w.services[1:], ", ") + ")"
	}
	return &pullError{fmt.Sprintf("%s: services.%s.image%s: %s: %s", at, w.services[0], also, w.ref, msg), err}
}

// collect groups the selected services by image reference.
func collect(p *spec.Project, services []string) ([]*want, error) {
	names := services
	if len(names) == 0 {
		names = slices.Sorted(maps.Keys(p.Services))
	}
	byRef := map[string]*want{}
	var order []*want
	for _, n := range slices.Compact(slices.Sorted(slices.Values(names))) {
		s, ok := p.Services[n]
		if !ok {
			return nil, fmt.Errorf("no such service: %s (the project has %s)", n, strings.Join(slices.Sorted(maps.Keys(p.Services)), ", "))
		}
		if s.Image == "" {
			continue
		}
		w := byRef[s.Image]
		if w == nil {
			r, err := ref.Parse(s.Image, p.Dir)
			if err != nil {
				return nil, fmt.Errorf("service %s: image %s: %w", n, s.Image, err)
			}
			w = &want{ref: r, policy: spec.PullNever}
			byRef[s.Image] = w
			order = append(order, w)
		}
		w.services = append(w.services, n)
		if eagerness(s.PullPolicy) > eagerness(w.policy) {
			w.policy = s.PullPolicy
		}
	}
	return order, nil
}

// eagerness orders policies: a reference shared by services with different
// policies is pulled as the most eager of them asks.
func eagerness(policy string) int {
	switch policy {
	case spec.PullAlways:
		return 2
	case spec.PullNever:
		return 0
	}
	return 1 // missing, and "" (the default)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
