package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"nucleus/reconcile"
	"nucleus/spec"
)

// TestReplicaWithoutAddressFailsItsStart: a replica whose address cannot
// be reserved (more replicas than a /29 has addresses; validate refuses
// that in a file, so the count is raised after loading, as a scale would)
// fails its start before a sandbox exists, with an error that names the
// replica, the network and "no free address"; it never runs with
// 127.0.1.1 as its own address in /etc/hosts.
func TestReplicaWithoutAddressFailsItsStart(t *testing.T) {
	e := newE2E(t)
	ctx := context.Background()
	subnet := tinyNet(251)
	p := e.loadYAML("services:\n" + sleeper("web", 5, "tiny") + "networks:\n  tiny: {subnet: \"" + subnet + "\"}\n")
	p.Services["web"].Replicas = 6 // five host addresses: .2 to .6

	sv := e.supervisor()
	rt := &createLog{Runtime: sv.Runtime}
	sv.Runtime = rt
	e.downAtEnd(sv)
	if _, err := sv.Pass(ctx, p); err == nil || !strings.Contains(err.Error(), "no free address") {
		t.Errorf("pass: %v, want the failed start's error", err)
	}
	store := reconcile.NewStore(e.root)
	recs, err := store.LoadSandboxes(e.project)
	if err != nil {
		t.Fatal(err)
	}
	var failed []*reconcile.SandboxRecord
	for _, r := range recs {
		if r.Error != "" || !r.Alive() {
			failed = append(failed, r)
		}
	}
	if len(recs) != 6 || len(failed) != 1 {
		t.Fatalf("%d records, %d failed: want 6 with 1 failed start", len(recs), len(failed))
	}
	f := failed[0]
	t.Logf("%s: %s", f, f.Error)
	for _, want := range []string{"no free address", "network tiny", f.Ident().Name()} {
		if !strings.Contains(f.Error, want) {
			t.Errorf("error of the failed start %q does not name %q", f.Error, want)
		}
	}
	if f.Permanent != reconcile.PermanentNetwork {
		t.Errorf("failed start classified %q, want %q (up --wait fails at once)", f.Permanent, reconcile.PermanentNetwork)
	}
	// Every sandbox made has its own address of the network in /etc/hosts;
	// none was made for the replica without one.
	rt.mu.Lock()
	defer rt.mu.Unlock()
	prefix := strings.TrimSuffix(subnet, "0/29")
	for _, req := range rt.reqs {
		hosts := string(req.Files["/etc/hosts"])
		if req.Replica.Name() == f.Ident().Name() || !strings.Contains(hosts, "\n"+prefix) || strings.Contains(hosts, "127.0.1.1") {
			t.Errorf("sandbox %s was created with /etc/hosts:\n%s", req.Replica.Name(), hosts)
		}
	}
	if len(rt.reqs) != 5 {
		t.Errorf("%d sandboxes created, want 5 (one per address)", len(rt.reqs))
	}
}

// createLog is the real runtime, noting the files each sandbox was to be
// created with (the launch path generates them right before Create).
type createLog struct {
	reconcile.Runtime
	mu   sync.Mutex
	reqs []created
}

type created struct {
	Replica reconcile.Ident
	Files   map[string][]byte
}

func (c *createLog) Launch(ctx context.Context, req reconcile.LaunchRequest) (reconcile.Sandbox, []reconcile.Attachment, error) {
	req.Networks = filesLog{Networks: req.Networks, c: c, id: req.Replica}
	return c.Runtime.Launch(ctx, req)
}

// filesLog notes the files generated for a replica.
type filesLog struct {
	reconcile.Networks
	c  *createLog
	id reconcile.Ident
}

func (f filesLog) Files(project string, s *spec.Service, own string) (map[string][]byte, error) {
	files, err := f.Networks.Files(project, s, own)
	f.c.mu.Lock()
	f.c.reqs = append(f.c.reqs, created{Replica: f.id, Files: files})
	f.c.mu.Unlock()
	return files, err
}

// TestRemovedReplicasGiveTheirAddressesBack: a /29 holds five replicas.
// After web is scaled from 5 to 2 and then removed, api's five replicas
// fit again: removed replicas do not keep addresses reserved (restarted
// ones do, to keep theirs).
func TestRemovedReplicasGiveTheirAddressesBack(t *testing.T) {
	passesFit(t, tinyNet(252), "", 5, []version{
		{"web 5", sleeper("web", 5, "tiny")},
		{"web 2, api 3", sleeper("web", 2, "tiny") + sleeper("api", 3, "tiny")},
		{"api 5", sleeper("api", 5, "tiny")},
	})
}

// TestReplicaLeavingANetworkGivesItsAddressBack: api's five replicas fill
// a /29; when api moves to another network, web's five replicas (started
// after api: depends_on) fit on the /29 in the same pass.
func TestReplicaLeavingANetworkGivesItsAddressBack(t *testing.T) {
	passesFit(t, tinyNet(253), "  wide: {}\n", 10, []version{
		{"api 5 on tiny", sleeper("api", 5, "tiny")},
		{"api moved to wide, web 5 on tiny", sleeper("api", 5, "wide") + sleeper("web", 5, "tiny") + "    depends_on: [api]\n"},
	})
}

// version is one version of a project's services.
type version struct{ what, services string }

// passesFit applies each version in turn on network tiny (subnet) and
// more networks; each must start everything, and want replicas run at
// the end.
func passesFit(t *testing.T, subnet, more string, want int, passes []version) {
	e := newE2E(t)
	sv := e.supervisor()
	e.downAtEnd(sv)
	for _, p := range passes {
		y := "services:\n" + p.services + "networks:\n  tiny: {subnet: \"" + subnet + "\"}\n" + more
		if _, err := sv.Pass(context.Background(), e.loadYAML(y)); err != nil {
			t.Fatalf("%s: %v", p.what, err)
		}
	}
	if got := len(e.pids()); got != want {
		t.Fatalf("%d replicas running, want %d", got, want)
	}
}

// tinyNet is a /29 (five addresses: .2 to .6) of 10.SECOND.x.0 for this
// test process.
func tinyNet(second int) string { return fmt.Sprintf("10.%d.%d.0/29", second, os.Getpid()%250) }

// sleeper is a service of replicas sleeping replicas on networks.
func sleeper(name string, replicas int, networks string) string {
	return fmt.Sprintf("  %s:\n    command: [\"/bin/sleep\", \"1000\"]\n    hostname: %s\n    stop_signal: SIGKILL\n    replicas: %d\n    networks: [%s]\n",
		name, name, replicas, networks)
}

// loadYAML writes the project file and loads it.
func (e *e2e) loadYAML(y string) *spec.Project {
	e.t.Helper()
	file := filepath.Join(e.dir, "nucleus.yaml")
	if err := os.WriteFile(file, []byte(y), 0o644); err != nil {
		e.t.Fatal(err)
	}
	p, err := spec.Load(spec.LoadOptions{Files: []string{file}, ProjectName: e.project})
	if err != nil {
		e.t.Fatal(err)
	}
	return p
}

// downAtEnd takes the project down when the test ends and checks that
// nothing is left.
func (e *e2e) downAtEnd(sv *reconcile.Supervisor) {
	e.t.Cleanup(func() {
		if err := sv.Down(context.Background()); err != nil {
			e.t.Error(err)
		}
		sv.Close()
		noLeaks(e.t, e.root)
	})
}
