package images_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"nucleus/image/imagetest"
	"nucleus/image/pull"
	"nucleus/image/ref"
	"nucleus/image/store"
	"nucleus/internal/rootdir"
	"nucleus/reconcile/images"
	"nucleus/spec"
)

// BenchmarkSupervisorResolve is what every supervisor pass adds for a
// project of 10 image services on 2 images already in the store (the
// store's lookups re-hash each manifest and config).
func BenchmarkSupervisorResolve(b *testing.B) {
	root := rootdir.Resolve(b.TempDir())
	st, err := store.Open(root.Data)
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	var refs []string
	for i := range 2 {
		imagetest.WriteLayout(b, filepath.Join(dir, "img"), imagetest.Busybox(b), fmt.Sprint(i))
		r, err := ref.Parse(fmt.Sprintf("oci:%s:%d", filepath.Join(dir, "img"), i), dir)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := pull.Pull(context.Background(), st, r, pull.Options{}); err != nil {
			b.Fatal(err)
		}
		refs = append(refs, r.String())
	}
	p := &spec.Project{Name: "bench", Services: map[string]*spec.Service{}}
	for i := range 10 {
		n := fmt.Sprintf("s%d", i)
		p.Services[n] = &spec.Service{Name: n, Image: refs[i%2], PullPolicy: spec.PullMissing, Command: []string{"true"}}
	}
	resolve := images.Supervisor(root)
	b.ResetTimer()
	for b.Loop() {
		if _, err := resolve(context.Background(), p); err != nil {
			b.Fatal(err)
		}
	}
}
