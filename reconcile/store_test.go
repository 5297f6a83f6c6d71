package reconcile

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"nucleus/internal/procstat"
	"nucleus/internal/testutil"
	"nucleus/spec"
)

func sampleRecord(service string, replica int) *SandboxRecord {
	s := svc(service, memory(256<<20))
	s.Security.Seccomp = "/etc/nucleus/profile.json"
	s.Security.SeccompProfile = []byte(`{"defaultAction":"SCMP_ACT_ERRNO"}`)
	return &SandboxRecord{
		Project: "shop", Service: service, Replica: replica, ID: "shop-" + service + "-1",
		InitPID: os.Getpid(), InitStart: mustStart(os.Getpid()),
		Attachments: []Attachment{{Network: "default", IP: "10.89.0.2", Gateway: "10.89.0.1", Interface: "eth0"}},
		Hash:        serviceHash(s), Applied: s, State: StateRunning,
		Restart: RestartState{Restarts: 2, Total: 3},
	}
}

func mustStart(pid int) uint64 {
	s, err := procstat.StartTime(pid)
	if err != nil {
		panic(err)
	}
	return s
}

func TestStoreRoundTrip(t *testing.T) {
	st := NewStore(testutil.TempRoot(t))
	rec := sampleRecord("web", 1)
	if err := st.SaveSandbox(rec); err != nil {
		t.Fatal(err)
	}
	got, err := st.LoadSandboxes("shop")
	if err != nil || len(got) != 1 {
		t.Fatalf("LoadSandboxes = %v, %v", got, err)
	}
	g := got[0]
	// The reloaded configuration must hash like the original: otherwise
	// every supervisor restart would restart every service.
	if serviceHash(g.Applied) != rec.Hash {
		t.Fatalf("reloaded Applied hashes differently:\n%+v\n%+v", g.Applied, rec.Applied)
	}
	if g.Applied.Name != "web" || string(g.Applied.Security.SeccompProfile) != `{"defaultAction":"SCMP_ACT_ERRNO"}` {
		t.Fatalf("hidden fields lost: name %q profile %q", g.Applied.Name, g.Applied.Security.SeccompProfile)
	}
	// Compare the JSON forms (Applied was compared by hash above).
	g.Applied, rec.Applied = nil, nil
	a, _ := json.Marshal(g)
	b, _ := json.Marshal(rec)
	if string(a) != string(b) {
		t.Fatalf("round trip:\n got %s\nwant %s", a, b)
	}
}

// TestStoreReadsRecordsOfThePreviousVersion: a replica record holds the
// sandbox ID and what only the supervisor knows. The previous version also
// wrote a copy of the runtime's record and fields nothing set (cgroup, nft
// handles, slirp, log files): such a record still loads, and the next save
// drops them.
func TestStoreReadsRecordsOfThePreviousVersion(t *testing.T) {
	root := testutil.TempRoot(t)
	st := NewStore(root)
	dir := filepath.Join(root.Run, "projects", "shop", "sandboxes")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	old := `{"project":"shop","service":"web","replica":1,"id":"shop.web.1","init_pid":42,"init_start":7,
		"boot_id":"b","cgroup":"/nucleus/shop.web.1","nft_handles":[7,9],"slirp_pid":3,"slirp_start":4,
		"log_files":["/run/nucleus/logs/web-1.log"],"hash":"h","state":"running","restart":{},
		"runtime":{"id":"shop.web.1","pid":42,"landlock_abi":7,"seccomp":"filter"}}`
	if err := os.WriteFile(filepath.Join(dir, "web-1.json"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	recs, err := st.LoadSandboxes("shop")
	if err != nil || len(recs) != 1 {
		t.Fatalf("LoadSandboxes = %v, %v", recs, err)
	}
	r := recs[0]
	if r.ID != "shop.web.1" || r.InitPID != 42 || r.InitStart != 7 || r.Hash != "h" || r.State != StateRunning {
		t.Fatalf("record of the previous version read as %+v", r)
	}
	if err := st.SaveSandbox(r); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "web-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"runtime", "cgroup", "nft_handles", "slirp_pid", "slirp_start", "log_files"} {
		if v, ok := m[k]; ok {
			t.Errorf("saved record still has %q: %s", k, v)
		}
	}
}

func TestStoreAtomicLeavesNoTemporaries(t *testing.T) {
	root := testutil.TempRoot(t)
	st := NewStore(root)
	for i := range 20 {
		rec := sampleRecord("web", 1)
		rec.Restart.Total = i
		if err := st.SaveSandbox(rec); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(root.Run, "projects", "shop", "sandboxes")
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 || ents[0].Name() != "web-1.json" {
		t.Fatalf("files in %s: %v, want only web-1.json", dir, ents)
	}
	// A temporary file left by a crash mid-write is ignored on load.
	os.WriteFile(filepath.Join(dir, ".web-2.json.tmp-123"), []byte(`{"proj`), 0o600)
	recs, err := st.LoadSandboxes("shop")
	if err != nil || len(recs) != 1 || recs[0].Restart.Total != 19 {
		t.Fatalf("load after crash leftovers: %v, %v", recs, err)
	}
}

// TestStoreSetsAsideCorruptRecords (issue 11, defect 9): an empty, garbled
// or meaningless record does not block the project: it is set aside as
// <name>.json.corrupt (kept for a look), the good records load, and ps
// (Status) shows the replica as corrupt with the file and what is wrong.
func TestStoreSetsAsideCorruptRecords(t *testing.T) {
	root := testutil.TempRoot(t)
	st := NewStore(root)
	if err := st.SaveSandbox(sampleRecord("web", 1)); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root.Run, "projects", "shop", "sandboxes")
	bad := map[string]string{
		"db-1.json":    "{not json",
		"db-2.json":    "",
		"cache-1.json": `{"project": "shop"}`,
	}
	for name, content := range bad {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := st.LoadSandboxes("shop")
	if err != nil || len(recs) != 1 || recs[0].Service != "web" {
		t.Fatalf("LoadSandboxes with corrupt records: %v, %v; want the good record and no error", recs, err)
	}
	for name := range bad {
		if testutil.FileExists(filepath.Join(dir, name)) || !testutil.FileExists(filepath.Join(dir, name+".corrupt")) {
			t.Errorf("%s was not set aside as %s.corrupt", name, name)
		}
	}
	if r, err := st.LoadSandbox("shop", "db", 1); r != nil || err != nil {
		t.Errorf("LoadSandbox of a set-aside record: %v, %v; want none", r, err)
	}
	rows, err := st.Status("shop", nil, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"db-1": "invalid character", "db-2": "empty", "cache-1": `service ""`}
	for _, r := range rows {
		if w, ok := want[r.Name]; ok {
			delete(want, r.Name)
			path := filepath.Join(dir, r.Name+".json.corrupt")
			if r.State != StateCorrupt || !strings.Contains(r.Error, path) || !strings.Contains(r.Error, w) {
				t.Errorf("ps row %s: state %q, error %q; want corrupt, naming %s and %q", r.Name, r.State, r.Error, path, w)
			}
		}
	}
	if len(want) > 0 || len(rows) != 4 {
		t.Errorf("ps rows %+v: missing %v", rows, want)
	}
	// A good record written again (the supervisor re-records what it
	// runs) replaces the corrupt row.
	if err := st.SaveSandbox(sampleRecord("db", 1)); err != nil {
		t.Fatal(err)
	}
	rows, _ = st.Status("shop", nil, nil, time.Now())
	for _, r := range rows {
		if r.Name == "db-1" && r.State == StateCorrupt {
			t.Errorf("db-1 still shown corrupt after a good record was written")
		}
	}
}

func TestStoreObserveDetectsStale(t *testing.T) {
	st := NewStore(testutil.TempRoot(t))
	alive := sampleRecord("web", 1)

	reused := sampleRecord("web", 2)
	reused.InitStart++ // same PID, another process: the PID was reused

	cmd := exec.Command("/bin/true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	gone := sampleRecord("db", 1)
	gone.InitPID = cmd.Process.Pid // exited and reaped

	exited := sampleRecord("job", 1)
	exited.InitPID, exited.State, exited.ExitCode = cmd.Process.Pid, StateBackoff, 3
	exited.Restart.NextAttempt = time.Date(2026, 1, 1, 0, 0, 5, 0, time.UTC)

	rebooted := sampleRecord("cache", 1)
	rebooted.BootID = "00000000-0000-0000-0000-000000000000" // a previous boot
	rebooted.State = StateExited

	for _, r := range []*SandboxRecord{alive, reused, gone, exited, rebooted} {
		if err := st.SaveSandbox(r); err != nil {
			t.Fatal(err)
		}
	}
	nets := []NetworkState{{Name: "default", Subnet: "10.89.0.0/24", Applied: &spec.Network{NAT: spec.NATKernel}}}
	if err := st.SaveProject(&ProjectRecord{Name: "shop", Networks: nets}); err != nil {
		t.Fatal(err)
	}
	obs, stale, err := st.Observe("shop")
	if err != nil {
		t.Fatal(err)
	}
	var got, gotStale []string
	for _, r := range obs.Replicas {
		got = append(got, Ident{Service: r.Service, Index: r.Replica}.Name()+":"+string(r.State))
	}
	for _, r := range stale {
		gotStale = append(gotStale, r.Ident().Name())
	}
	if want := []string{"cache-1:dead", "db-1:dead", "job-1:backoff", "web-1:running", "web-2:dead"}; !reflect.DeepEqual(got, want) {
		t.Errorf("observed %v, want %v", got, want)
	}
	if want := []string{"cache-1", "db-1", "web-2"}; !reflect.DeepEqual(gotStale, want) {
		t.Errorf("stale %v, want %v", gotStale, want)
	}
	if len(obs.Networks) != 1 || obs.Networks[0].Subnet != "10.89.0.0/24" {
		t.Errorf("observed networks %+v", obs.Networks)
	}
	job := obs.Replicas[2]
	if job.ExitCode != 3 || job.Restarts != 2 || !job.NextAttempt.Equal(exited.Restart.NextAttempt) || len(job.Networks) != 1 {
		t.Errorf("observed job replica lost fields: %+v", job)
	}
	// An observed, unchanged, running replica plans nothing.
	p := project(nil, svc("web", memory(256<<20)))
	p.Services["web"].Security = alive.Applied.Security
	o := Observed{Replicas: obs.Replicas[3:4], Networks: []NetworkState{{Name: "default", Subnet: "10.89.0.0/24", Applied: p.Networks["default"]}}}
	if steps := Plan(p, o); len(steps) != 0 {
		t.Errorf("reloaded record plans %v, want nothing", steps)
	}
}

func TestStoreProjectAndRemove(t *testing.T) {
	root := testutil.TempRoot(t)
	st := NewStore(root)
	if r, err := st.LoadProject("shop"); r != nil || err != nil {
		t.Fatalf("missing project record = %v, %v; want nil, nil", r, err)
	}
	pr := &ProjectRecord{Name: "shop", Dir: "/srv/shop", Files: []string{"/srv/shop/nucleus.yaml"},
		Digest: "sha256:abc", AttemptDigest: "sha256:def", LastError: "nucleus.yaml:3:5: services.web: bad"}
	if err := st.SaveProject(pr); err != nil {
		t.Fatal(err)
	}
	st.SaveSandbox(sampleRecord("web", 1))
	got, err := st.LoadProject("shop")
	if err != nil || !reflect.DeepEqual(got, pr) {
		t.Fatalf("LoadProject = %+v, %v", got, err)
	}
	if ps, _ := st.Projects(); !reflect.DeepEqual(ps, []string{"shop"}) {
		t.Fatalf("Projects = %v", ps)
	}
	if err := st.RemoveSandbox("shop", "web", 1); err != nil {
		t.Fatal(err)
	}
	if err := st.RemoveSandbox("shop", "web", 1); err != nil {
		t.Fatalf("removing a missing record must succeed: %v", err)
	}
	if err := st.RemoveProject("shop"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root.Run, "projects", "shop")); !os.IsNotExist(err) {
		t.Fatalf("project directory still there: %v", err)
	}
}
