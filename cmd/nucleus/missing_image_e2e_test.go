package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMissingLocalImage: validate warns of a local image (oci:,
// docker-archive:) whose path does not exist, at the service's image key
// (it said the project was valid, nothing more); up's pull error starts at
// that key and names the image once (it had no file or line and said the
// image twice), and up starts nothing.
func TestMissingLocalImage(t *testing.T) {
	dir := writeProject(t, map[string]string{"nucleus.yaml": "name: missing\nservices:\n" +
		"  web:\n    image: oci:./missing:1\n" +
		"  db:\n    image: docker-archive:./missing.tar\n"})
	c := &cli{t: t, root: t.TempDir(), dir: dir}
	_, errs, code := c.run("validate")
	for _, want := range []string{
		"warning: nucleus.yaml:4:5: services.web.image: " + filepath.Join(dir, "missing") + ": no such file or directory, and the store does not hold the image",
		"warning: nucleus.yaml:6:5: services.db.image: " + filepath.Join(dir, "missing.tar") + ": no such file or directory, and the store does not hold the image",
	} {
		if code != 0 || !strings.Contains(errs, want+":") {
			t.Errorf("validate: exit %d, want 0 and %q:\n%s", code, want, errs)
		}
	}
	_, errs, code = c.run("up", "-d")
	var pullLines []string
	for _, l := range strings.Split(errs, "\n") {
		if strings.Contains(l, "no such file or directory") {
			pullLines = append(pullLines, l)
		}
	}
	if code != 1 || len(pullLines) != 2 ||
		!strings.HasPrefix(pullLines[0], "pull: nucleus.yaml:4:5: services.web.image: oci:"+filepath.Join(dir, "missing")+":1: ") ||
		!strings.HasPrefix(pullLines[1], "nucleus.yaml:6:5: services.db.image: docker-archive:"+filepath.Join(dir, "missing.tar")+": ") {
		t.Errorf("up: exit %d, want 1 and one error line per image at its image key:\n%s", code, errs)
	}
	for _, l := range pullLines {
		if strings.Count(l, "missing:1") > 1 || strings.Count(l, "docker-archive:") > 1 {
			t.Errorf("up: the error names its image more than once: %q", l)
		}
	}
	if entries, _ := os.ReadDir(c.rootdir().Run); len(entries) > 0 {
		t.Errorf("up with a missing image left %d entries in %s", len(entries), c.rootdir().Run)
	}
}
