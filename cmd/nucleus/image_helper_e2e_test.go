package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"nucleus/image/imagetest"
	"nucleus/internal/testutil"
)

// TestCLIImageHelperOnlyWhenMissing: pulls and unpacks run in
// nucleus-image beside nucleus (issue 15: its libraries stay out of every
// nucleus start). Without it a missing image is an error naming it and
// where it was expected; an image already in the store runs without it.
func TestCLIImageHelperOnlyWhenMissing(t *testing.T) {
	testutil.RequireRoot(t)
	reg := imagetest.Registry(t)
	img := reg.Push(t, "helper:1", appImage(t, "helper"))
	root := t.TempDir()
	// nucleus with every helper but nucleus-image beside it.
	alone := filepath.Join(t.TempDir(), "nucleus")
	for _, b := range []string{"nucleus", "nucleus-seccomp"} {
		if err := os.Link(filepath.Join(filepath.Dir(nucleusBin), b), filepath.Join(filepath.Dir(alone), b)); err != nil {
			t.Fatal(err)
		}
	}
	env := slices.DeleteFunc(os.Environ(), func(e string) bool { return strings.HasPrefix(e, "NUCLEUS_IMAGE=") })
	run := func(bin string) (string, error) {
		cmd := exec.Command(bin, "--root", root, "run", "--rm", "--image", img, "--", "/bin/cat", "/etc/motd")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(alone); err == nil || !strings.Contains(out, "nucleus-image, expected next to "+alone) {
		t.Errorf("run of a missing image without nucleus-image: %v\n%s\nwant an error naming nucleus-image and where it was expected", err, out)
	}
	if out, err := run(nucleusBin); err != nil || !strings.Contains(out, "helper\n") {
		t.Fatalf("run of a missing image with nucleus-image beside nucleus: %v\n%s", err, out)
	}
	// Present now (and unpacked): no helper needed.
	if out, err := run(alone); err != nil || !strings.Contains(out, "helper\n") {
		t.Errorf("run of an image in the store without nucleus-image: %v\n%s", err, out)
	}
}
