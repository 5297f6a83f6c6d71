package network

import (
	"testing"
)

// A one-off sandbox leaves a network as it found it: its address is
// forgotten after Detach, and a network it made is removed only while
// nobody else is attached.
func TestOneOffHelpers(t *testing.T) {
	e := newEnv(t)
	if ok, err := e.m.NetworkExists(e.project, "net"); ok || err != nil {
		t.Fatalf("before EnsureNetwork: exists %v %v", ok, err)
	}
	e.network("net", nil)
	if ok, err := e.m.NetworkExists(e.project, "net"); !ok || err != nil {
		t.Fatalf("after EnsureNetwork: exists %v %v", ok, err)
	}
	svc := e.attach(Attachment{Network: "net", Service: "svc", PID: sandbox(t)})
	run := e.attach(Attachment{Network: "net", Service: "run-1", PID: sandbox(t)})

	// Still attached: Forget keeps the address, the network stays.
	if err := e.m.Forget(e.project, "net", "run-1", 1); err != nil {
		t.Fatal(err)
	}
	n, _ := e.m.loadNetwork(e.project, "net")
	if n.Allocs["run-1/1"] != run.IP {
		t.Errorf("Forget of an attached replica dropped its address: %v", n.Allocs)
	}
	if err := e.m.Detach(e.ctx, e.project, "net", "run-1", 1); err != nil {
		t.Fatal(err)
	}
	if err := e.m.Forget(e.project, "net", "run-1", 1); err != nil {
		t.Fatal(err)
	}
	n, _ = e.m.loadNetwork(e.project, "net")
	if _, ok := n.Allocs["run-1/1"]; ok || n.Allocs["svc/1"] != svc.IP {
		t.Errorf("after Detach+Forget: allocs %v, want only svc/1=%s", n.Allocs, svc.IP)
	}
	if removed, err := e.m.RemoveNetworkIfUnused(e.ctx, e.project, "net"); removed || err != nil {
		t.Errorf("with svc attached: removed %v %v, want kept", removed, err)
	}
	if err := e.m.Detach(e.ctx, e.project, "net", "svc", 1); err != nil {
		t.Fatal(err)
	}
	if removed, err := e.m.RemoveNetworkIfUnused(e.ctx, e.project, "net"); !removed || err != nil {
		t.Errorf("unused: removed %v %v, want removed", removed, err)
	}
	if ok, _ := e.m.NetworkExists(e.project, "net"); ok {
		t.Error("network still recorded after RemoveNetworkIfUnused")
	}
	if removed, err := e.m.RemoveNetworkIfUnused(e.ctx, e.project, "net"); removed || err != nil {
		t.Errorf("gone already: removed %v %v", removed, err)
	}
}
