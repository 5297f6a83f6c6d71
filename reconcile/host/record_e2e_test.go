package host

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"nucleus/reconcile"
	"nucleus/runtime"
)

// TestReplicaRecordKeepsOnlyTheSandboxID: the runtime owns its record
// (record.json in the sandbox's state directory); a replica record names
// the sandbox and holds no copy of it. A record written by the previous
// version, with a (here stale) copy under "runtime", is still adopted, and
// adoption, ps and logs read the runtime's own record, not the copy.
func TestReplicaRecordKeepsOnlyTheSandboxID(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	defer func() { e.supervisor().Down(ctx) }()
	sv := e.supervisor()
	pass(t, sv, e.load("one", "64M"))
	sv.Close()
	before := e.pids()

	files, _ := filepath.Glob(filepath.Join(e.root.Run, "projects", e.project, "sandboxes", "*.json"))
	if len(files) != 2 {
		t.Fatalf("replica records %v, want 2", files)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, ok := m["runtime"]; ok {
			t.Errorf("%s holds a copy of the runtime's record: %s", f, m["runtime"])
		}
		if len(m["id"]) < 3 {
			t.Errorf("%s names no sandbox id: %s", f, b)
		}
		// As the previous version wrote it: with a copy, here a stale one.
		m["runtime"] = json.RawMessage(`{"id":"stale","pid":1,"landlock_abi":0,"seccomp":"stale","log_path":"/nonexistent/current.log"}`)
		if b, err = json.Marshal(m); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	sv = e.supervisor()
	defer sv.Close()
	if err := sv.Adopt(ctx); err != nil {
		t.Fatalf("adopt records of the previous version: %v", err)
	}
	if got := pass(t, sv, e.load("one", "64M")); len(got) != 0 {
		t.Fatalf("after adoption the plan is %q, want nothing", got)
	}
	if after := e.pids(); len(after) != 2 || after["a-1"] != before["a-1"] || after["b-1"] != before["b-1"] {
		t.Fatalf("pids after adoption %v, want %v", after, before)
	}
	rec, err := reconcile.NewStore(e.root).LoadSandbox(e.project, "a", 1)
	if err != nil || rec == nil {
		t.Fatalf("record of a-1: %v %v", rec, err)
	}
	rr, err := runtime.ReadRecord(e.root, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := LogPath(e.root, rec); got != rr.LogPath || got == "/nonexistent/current.log" {
		t.Errorf("log path of a-1 is %q, want the runtime's %q", got, rr.LogPath)
	}
	var st reconcile.ReplicaStatus
	st.State = rec.State
	Inspector(e.root)(rec, &st)
	if st.Seccomp != rr.Seccomp || st.LandlockABI != rr.LandlockABI || st.Seccomp == "stale" {
		t.Errorf("ps shows landlock %d seccomp %q, want the runtime's %d %q", st.LandlockABI, st.Seccomp, rr.LandlockABI, rr.Seccomp)
	}
}
