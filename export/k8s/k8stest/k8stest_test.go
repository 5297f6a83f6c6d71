package k8stest

import (
	"archive/tar"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/export/k8s"
)

// TestFixtureExportNamesTheArchiveImage: the image the export of the web
// fixture runs is the one FixtureImageArchive tags, and the archive holds
// it under that name (what ctr import reads from manifest.json).
func TestFixtureExportNamesTheArchiveImage(t *testing.T) {
	out := string(Export(t, FixtureDir(t, "web"), k8s.Options{}))
	if n := strings.Count(out, "image: "+FixtureImageName+"\n"); n != 2 {
		t.Errorf("the export names %s %d times, want 2 (web and client):\n%s", FixtureImageName, n, out)
	}
	tarPath := filepath.Join(t.TempDir(), "fixture.tar")
	FixtureImageArchive(t, tarPath)
	f, err := os.Open(tarPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			t.Fatal("no manifest.json in the archive")
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Name != "manifest.json" {
			continue
		}
		var m []struct{ RepoTags []string }
		if err := json.NewDecoder(tr).Decode(&m); err != nil {
			t.Fatal(err)
		}
		if len(m) != 1 || len(m[0].RepoTags) != 1 || m[0].RepoTags[0] != FixtureImageName {
			t.Fatalf("archive tags %+v, want [%s]", m, FixtureImageName)
		}
		return
	}
}
