package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"
)

// treeYAML: two services of one image, read-only and not, whose volume,
// tmpfs and config targets the image lacks (a config's default target is
// /NAME, never in an image).
const treeYAML = `name: NAME
configs:
  greeting: {content: hello-config}
secrets:
  pw: {file: ./pw.txt}
x-mounts: &mounts
  image: APP_REF
  volumes: ["./site:/srv/site:ro"]
  tmpfs: /cache
  configs: [greeting]
  secrets: [pw, {source: pw, target: /pw}]
  stop_grace_period: 1s
services:
  ro:
    <<: *mounts
    command: ["sh", "-c", "echo ro $(cat /greeting) $(cat /run/secrets/pw) $(cat /pw) $(cat /srv/site/i) $(touch /cache/x && echo cached); trap 'exit 0' TERM; while true; do sleep 0.2; done"]
  rw:
    <<: *mounts
    read_only: false
    command: ["sh", "-c", "echo rw $(cat /greeting) $(cat /run/secrets/pw) $(cat /pw) $(cat /srv/site/i) $(touch /cache/x && echo cached); trap 'exit 0' TERM; while true; do sleep 0.2; done"]
`

// TestCLIImageTreeUnchanged: services of an image with mount targets the
// image lacks see their mounts, and the store's unpacked tree (shared by
// every service and replica of the image) is the same after up and down.
func TestCLIImageTreeUnchanged(t *testing.T) {
	c := newImageCLI(t)
	testutil.WriteFiles(t, c.dir, map[string]string{"pw.txt": "s3cret", "site/i": "site-file"})
	c.writeYAML(strings.NewReplacer("NAME", c.project, "APP_REF", c.toolRef).Replace(treeYAML))
	c.pullIntoStore(c.toolRef)
	trees, _ := filepath.Glob(filepath.Join(c.rootdir().Data, "images", "trees", "*"))
	if len(trees) == 0 {
		t.Fatal("no unpacked tree in the store after the pull")
	}
	before := map[string]string{}
	for _, tr := range trees {
		before[tr] = testutil.TreeSnapshot(t, tr)
	}

	c.must("up", "-d", "--wait", "--wait-timeout", "60s")
	c.logs("ro", "ro hello-config s3cret s3cret site-file cached")
	c.logs("rw", "rw hello-config s3cret s3cret site-file cached")
	for tr, b := range before {
		if d := testutil.TreeChanges(b, testutil.TreeSnapshot(t, tr)); d != "" {
			t.Errorf("the store's tree %s changed while its services ran:\n%s", tr, d)
		}
	}
	c.must("down", "--timeout", "5s")
	for tr, b := range before {
		if _, err := os.Stat(tr); err != nil {
			t.Errorf("the store's tree went with down: %v", err)
		} else if d := testutil.TreeChanges(b, testutil.TreeSnapshot(t, tr)); d != "" {
			t.Errorf("the store's tree %s changed by up and down:\n%s", tr, d)
		}
	}
	c.assertNoLeaks()
	c.assertNoImageState()
}
