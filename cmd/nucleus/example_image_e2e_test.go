package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"nucleus/internal/testutil"
)

// TestExampleImage (issue 12) runs examples/image as its README says, on
// free ports and a temporary state root: `make` builds the OCI layout from
// busybox-static (into a temporary directory through OUT, so the checkout
// stays clean); up -d --wait brings both services to healthy through the
// image's own HEALTHCHECK; each page is served on 127.0.0.1 from the image;
// the image's user runs the server; ps names the image's digest; down
// leaves nothing, no process and no lease on the unpacked tree.
func TestExampleImage(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.Require(t, testutil.FileExists("/bin/busybox"), "/bin/busybox (busybox-static)")
	testutil.RequireBinary(t, "make", "Debian package make")
	dir, err := filepath.Abs("../../examples/image")
	if err != nil {
		t.Fatal(err)
	}
	layout := filepath.Join(t.TempDir(), "layout")
	built := testutil.Run(t, "make", "-C", dir, "OUT="+layout)
	// scripts/mkimage's last line: "sha256:... N layers M bytes".
	digest := regexp.MustCompile(`(?m)^(sha256:[0-9a-f]{64}) \d+ layers`).FindStringSubmatch(built)
	if digest == nil {
		t.Fatalf("make printed no image digest:\n%s", built)
	}

	webPort, statusPort := testutil.FreePort(t), testutil.FreePort(t)
	c := &cli{t: t, root: t.TempDir(), dir: dir, project: "eximg" + testutil.RandHex(3)}
	c.env = []string{
		"NUCLEUS_PROJECT_NAME=" + c.project,
		"WEB_PORT=" + strconv.Itoa(webPort),
		"STATUS_PORT=" + strconv.Itoa(statusPort),
		"IMAGE=oci:" + layout + ":1",
	}
	var pids []int
	t.Cleanup(func() {
		c.run("down", "--timeout", "0s")
		c.assertNoLeaks()
		for _, pid := range pids {
			if testutil.Alive(pid) {
				t.Errorf("process %d of the project (%s) still runs after down", pid, cmdline(pid))
			}
		}
		leases, _ := filepath.Glob(filepath.Join(c.rootdir().Data, "images", "leases", "*", "*"))
		if len(leases) > 0 {
			t.Errorf("leases on image trees left after down: %v", leases)
		}
	})

	start := time.Now()
	c.must("up", "-d", "--wait", "--wait-timeout", "90s")
	t.Logf("up -d --wait (pull from oci: included): %v", time.Since(start).Round(time.Millisecond))
	c.assertHealthy("web", "status")
	pids = c.projectPIDs()

	for port, want := range map[int]string{
		webPort:    "hello from an OCI image",
		statusPort: "ok: served by the second service of the same image",
	} {
		page, err := httpGet("http://127.0.0.1:" + strconv.Itoa(port) + "/")
		if err != nil || !strings.Contains(page, want) {
			t.Errorf("GET http://127.0.0.1:%d/: %q, %v; want a page with %q", port, page, err, want)
		}
	}
	if uid := strings.TrimSpace(c.must("exec", "web", "--", "/bin/busybox", "id", "-u")); uid != "999" {
		t.Errorf("web runs as uid %s inside, want 999 (the image's user app)", uid)
	}
	// ps shows the digest (the table at least its first 12 hex digits,
	// --json whole) and that both run what the file says: the desired hash
	// is the resolved service's.
	short := digest[1][:len("sha256:")+12]
	ps := c.must("ps")
	if strings.Count(ps, short) < 2 {
		t.Errorf("ps does not show the image digest %s for both services:\n%s", digest[1], ps)
	}
	var rows []struct {
		Service     string `json:"service"`
		UpToDate    bool   `json:"up_to_date"`
		ImageDigest string `json:"image_digest"`
	}
	if err := json.Unmarshal([]byte(c.must("ps", "--json")), &rows); err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		if r.ImageDigest != digest[1] {
			t.Errorf("ps --json: %s has image_digest %q, want %s", r.Service, r.ImageDigest, digest[1])
		}
		if !r.UpToDate {
			t.Errorf("ps says %s runs an older configuration (HASH changed) right after up:\n%s", r.Service, ps)
		}
	}

	c.must("down")
	for _, pid := range pids {
		if testutil.Alive(pid) {
			t.Errorf("process %d of the project (%s) still runs after down", pid, cmdline(pid))
		}
	}
	if _, err := os.Stat(filepath.Join(c.rootdir().Data, "images")); err != nil {
		t.Errorf("the image store is gone after down (%v); down keeps pulled images", err)
	}
}
