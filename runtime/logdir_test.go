package runtime

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLogDirOutlivesSandboxes: sandboxes that share a Config.LogDir (the
// incarnations of one replica) append to one log, which survives their
// removal; the state directories go as usual.
func TestLogDirOutlivesSandboxes(t *testing.T) {
	root := newRoot(t)
	ctx := context.Background()
	logDir := filepath.Join(t.TempDir(), "logs", "web-1")
	for i, script := range []string{"echo first; echo oops >&2; exit 3", "echo second"} {
		svc := service("/bin/busybox", "sh", "-c", script)
		if i == 1 {
			svc.Security.HostUserNS = true // another owner must not lock it out
		}
		sb, err := Create(ctx, Config{ID: "ld" + string(rune('a'+i)), Root: root, Project: "p", Service: svc, LogDir: logDir})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := sb.LogPath(), filepath.Join(logDir, LogFile); got != want {
			t.Errorf("LogPath %s, want %s", got, want)
		}
		if err := sb.Start(); err != nil {
			t.Fatal(err)
		}
		if _, err := sb.Wait(); err != nil {
			t.Fatal(err)
		}
		if err := sb.Remove(ctx); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(filepath.Join(logDir, LogFile))
	if err != nil {
		t.Fatalf("log of removed sandboxes: %v", err)
	}
	var got []string
	for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var r LogRecord
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		got = append(got, r.Stream+":"+r.Line)
	}
	// stdout and stderr of one incarnation are pumped separately; their
	// relative order is not fixed, the incarnations' is.
	s := strings.Join(got, ",")
	if len(got) != 3 || !strings.Contains(s, "stdout:first") || !strings.Contains(s, "stderr:oops") || got[2] != "stdout:second" {
		t.Errorf("log records %q, want first and oops, then second", got)
	}
}
