package reconcile

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"nucleus/internal/procstat"
	"nucleus/internal/rootdir"
	"nucleus/spec"
)

// Status shows what the records say, checked against the process table: a
// running record whose process is gone is dead; exit codes only for exits;
// HASH compares with the files now.
func TestStoreStatus(t *testing.T) {
	d := t.TempDir()
	store := NewStore(rootdir.Root{Run: filepath.Join(d, "run"), Data: filepath.Join(d, "data")})
	self := os.Getpid()
	selfStart, err := procstat.StartTime(self)
	if err != nil {
		t.Fatal(err)
	}
	web := svc("web")
	web.Healthcheck = &spec.Healthcheck{Kind: spec.HealthTCP, TCPPort: 80}
	web.Ports = []spec.Port{{Target: 80, Published: 8080, HostIP: "127.0.0.1", Protocol: "tcp"}}
	now := time.Now()
	recs := []*SandboxRecord{
		{Project: "p", Service: "web", Replica: 1, InitPID: self, InitStart: selfStart, State: StateStarting,
			Hash: spec.ServiceHash(web), Applied: web, StartedAt: now.Add(-time.Minute),
			Attachments: []Attachment{{Network: "default", IP: "10.89.1.2"}}},
		{Project: "p", Service: "job", Replica: 1, InitPID: self, InitStart: selfStart + 1, State: StateRunning,
			Hash: "v1:old", Applied: svc("job")},
		{Project: "p", Service: "once", Replica: 1, State: StateExited, ExitCode: 3, ExitedAt: now, Applied: svc("once")},
		{Project: "p", Service: "quiet", Replica: 1, State: StateStopped, ExitedAt: now, ManualStop: true, Applied: svc("quiet")},
	}
	for _, r := range recs {
		if err := store.SaveSandbox(r); err != nil {
			t.Fatal(err)
		}
	}
	desired := project(nil, web, svc("job"), svc("once"), svc("quiet"))
	rows, err := store.Status("p", desired, nil, now)
	if err != nil {
		t.Fatal(err)
	}
	by := map[string]ReplicaStatus{}
	for _, r := range rows {
		by[r.Service] = r
	}
	w := by["web"]
	if w.State != StateStarting || w.Health != "starting" || w.PID != self || w.IP != "10.89.1.2" || !w.UpToDate ||
		w.UptimeSec != 60 || len(w.Ports) != 1 || w.Ports[0] != "127.0.0.1:8080->80/tcp" || w.ExitCode != nil {
		t.Errorf("web: %+v", w)
	}
	if j := by["job"]; j.State != StateDead || j.PID != 0 || j.UpToDate {
		t.Errorf("job (PID reused: another start time): %+v", j)
	}
	if o := by["once"]; o.State != StateExited || o.ExitCode == nil || *o.ExitCode != 3 {
		t.Errorf("once: %+v", o)
	}
	if q := by["quiet"]; q.State != StateStopped || q.ExitCode != nil {
		t.Errorf("quiet: %+v", q)
	}
}

// A replica whose intent record is written but whose sandbox is not created
// yet shows as creating while its supervisor runs (a non-nil current), and
// as dead when read without one: the supervisor went away meanwhile.
func TestStoreStatusCreating(t *testing.T) {
	d := t.TempDir()
	store := NewStore(rootdir.Root{Run: filepath.Join(d, "run"), Data: filepath.Join(d, "data")})
	web := svc("web")
	web.Healthcheck = &spec.Healthcheck{Kind: spec.HealthTCP, TCPPort: 80}
	intent := &SandboxRecord{Project: "p", Service: "web", Replica: 1, ID: "p.web.1", State: StateStarting,
		Hash: spec.ServiceHash(web), Applied: web, Creating: true}
	if err := store.SaveSandbox(intent); err != nil {
		t.Fatal(err)
	}
	supervised := func(recs []*SandboxRecord) []*SandboxRecord { return recs }
	for _, tc := range []struct {
		name    string
		current func([]*SandboxRecord) []*SandboxRecord
		want    RunState
		health  string
	}{
		{"supervisor runs", supervised, StateCreating, "starting"},
		{"no supervisor", nil, StateDead, ""},
	} {
		rows, err := store.StatusCurrent("p", nil, nil, time.Now(), tc.current)
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != 1 || rows[0].State != tc.want || rows[0].PID != 0 || rows[0].Health != tc.health || rows[0].ExitCode != nil {
			t.Errorf("%s: %+v, want one row web-1 %s, health %q, no PID", tc.name, rows, tc.want, tc.health)
		}
	}
}
