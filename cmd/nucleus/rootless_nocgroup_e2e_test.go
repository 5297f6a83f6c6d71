package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"nucleus/internal/leaktest"
	"nucleus/internal/testutil"
)

// TestRootlessReplicaCmdsWithoutCgroup: an ordinary user's replica on this
// hybrid host has no cgroup (manager none). top still lists its processes
// (from its init's process tree), stats reports usage from /proc and says
// there is no cgroup and why, pause fails naming the missing freezer and
// what would give one, and unpause says nothing is paused. Before, all
// four gave raw "load cgroup ...: no such file or directory" errors (stats:
// "no running replica").
func TestRootlessReplicaCmdsWithoutCgroup(t *testing.T) {
	u := testutil.RootlessUser(t, testutil.UserA)
	e := testutil.NewUserEnv(t, u)
	defer leaktest.Check(t, e.Root)
	mark := testutil.SleepMark()
	e.WriteProject(t, fmt.Sprintf(`name: rlnocg
services:
  web:
    command: [/bin/busybox, sh, -c, "/bin/busybox sleep %s & exec /bin/busybox sleep %s"]
    networks: []
    stop_grace_period: 1s
    resources: {memory: 64M}
`, mark, mark))
	if r := e.Run(t, nucleusBin, "up", "-d", "--wait-timeout", "30s"); r.Code != 0 {
		t.Fatalf("up as %s:\n%s", u.Name, r)
	}
	defer e.Run(t, nucleusBin, "down", "--timeout", "5s")
	testutil.WaitFor(t, "the two sleeps of web", 10*time.Second, func() bool {
		return len(testutil.ProcsWithArg(mark)) == 2
	})

	r := e.Run(t, nucleusBin, "top")
	if r.Code != 0 || strings.Count(r.Stdout, "sleep "+mark) != 2 {
		t.Errorf("top: want exit 0 and both sleeps listed:\n%s", r)
	}
	for _, pid := range testutil.ProcsWithArg(mark) {
		if !strings.Contains(r.Stdout, " "+strconv.Itoa(pid)+" ") {
			t.Errorf("top lacks host PID %d:\n%s", pid, r)
		}
	}

	why := fmt.Sprintf("no cgroup delegated to uid %d", u.UID)
	r = e.Run(t, nucleusBin, "stats", "--no-stream", "--interval", "200ms")
	if r.Code != 0 || !strings.Contains(r.Stdout, "web-1") || !strings.Contains(r.Stdout, "web-1: no cgroup (") ||
		!strings.Contains(r.Stdout, why) || !strings.Contains(r.Stdout, "limits not enforced") {
		t.Errorf("stats: want exit 0, a row of web-1 and a line saying it has no cgroup (%s):\n%s", why, r)
	}
	r = e.Run(t, nucleusBin, "stats", "--no-stream", "--json", "--interval", "200ms")
	var rows []struct {
		Name     string `json:"name"`
		Memory   uint64 `json:"memory_bytes"`
		Pids     uint64 `json:"pids"`
		NoCgroup string `json:"no_cgroup"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &rows); err != nil || r.Code != 0 || len(rows) != 1 {
		t.Fatalf("stats --json: %v:\n%s", err, r)
	}
	if s := rows[0]; s.Pids < 2 || s.Memory == 0 || !strings.Contains(s.NoCgroup, why) {
		t.Errorf("stats --json: %+v; want pids >= 2 (the sleeps and their shell's), memory from /proc > 0, no_cgroup naming %q", s, why)
	}

	r = e.Run(t, nucleusBin, "pause")
	for _, w := range []string{"pause web-1", "no cgroup", why, "freezer", "loginctl enable-linger"} {
		if r.Code == 0 || !strings.Contains(r.Stderr, w) {
			t.Errorf("pause: want a failure naming %q:\n%s", w, r)
		}
	}
	if r = e.Run(t, nucleusBin, "unpause"); r.Code == 0 || !strings.Contains(r.Stderr, "not paused") {
		t.Errorf("unpause: want a failure saying web-1 is not paused:\n%s", r)
	}
	if r := e.Run(t, nucleusBin, "down", "--timeout", "5s"); r.Code != 0 {
		t.Errorf("down as %s:\n%s", u.Name, r)
	}
}
