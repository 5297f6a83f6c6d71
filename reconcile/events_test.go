package reconcile

import (
	"strings"
	"testing"
)

// TestRecordEvents: which record writes are which lifecycle events.
func TestRecordEvents(t *testing.T) {
	rec := func(id string, st RunState, pid int, creating bool, exit int) *SandboxRecord {
		return &SandboxRecord{Project: "p", Service: "web", Replica: 1, ID: id, State: st, InitPID: pid, Creating: creating, ExitCode: exit}
	}
	for _, c := range []struct {
		name      string
		old, rec  *SandboxRecord
		restarted bool
		want      string
	}{
		{"intent record", nil, rec("a", StateStarting, 0, true, 0), false, "create"},
		{"started after intent", rec("a", StateStarting, 0, true, 0), rec("a", StateStarting, 10, false, 0), false, "start"},
		{"started without intent", nil, rec("a", StateRunning, 10, false, 0), false, "create start"},
		{"restart", rec("a", StateStarting, 0, true, 0), rec("a", StateRunning, 10, false, 0), true, "restart"},
		{"healthy", rec("a", StateStarting, 10, false, 0), rec("a", StateHealthy, 10, false, 0), false, "health_status"},
		{"unhealthy", rec("a", StateHealthy, 10, false, 0), rec("a", StateUnhealthy, 10, false, 0), false, "health_status"},
		{"same state again", rec("a", StateHealthy, 10, false, 0), rec("a", StateHealthy, 10, false, 0), false, ""},
		{"exit", rec("a", StateRunning, 10, false, 0), rec("a", StateExited, 10, false, 3), false, "die"},
		{"stop", rec("a", StateRunning, 10, false, 0), rec("a", StateStopped, 0, false, 137), false, "die stop"},
		{"removed while running", rec("a", StateRunning, 10, false, 0), nil, false, "die destroy"},
		{"removed after exit", rec("a", StateExited, 10, false, 3), nil, false, "destroy"},
		{"replaced", rec("a", StateExited, 10, false, 3), rec("b", StateStarting, 0, true, 0), false, "destroy create"},
		{"nothing", nil, nil, false, ""},
		{"tombstone of nucleus rm", nil, &SandboxRecord{Project: "p", Service: "web", Replica: 1, ID: "a", State: StateExited, InitPID: 10, Removed: true}, false, ""},
	} {
		var got []string
		for _, e := range recordEvents(c.old, c.rec, c.restarted) {
			got = append(got, e.Type)
			if e.Name != "web-1" {
				t.Errorf("%s: event %s names %q, want web-1", c.name, e.Type, e.Name)
			}
			if e.Type == "die" && c.rec != nil && (e.ExitCode == nil || *e.ExitCode != c.rec.ExitCode) {
				t.Errorf("%s: die with exit code %v, want %d", c.name, e.ExitCode, c.rec.ExitCode)
			}
		}
		if g := strings.Join(got, " "); g != c.want {
			t.Errorf("%s: events %q, want %q", c.name, g, c.want)
		}
	}
}
