package main

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"nucleus/runtime/cgroups"
	"nucleus/spec"
)

// --cgroup-manager: a bad value is a usage error (exit 2); a good one is
// what sandboxes get, and a detached supervisor inherits it.
func TestCgroupManagerFlag(t *testing.T) {
	defer cgroups.SetManager(cgroups.CurrentManager())
	err := setupCgroupManager("docker", "")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "systemd, cgroupfs or none") {
		t.Fatalf("--cgroup-manager docker: %v, want a usage error naming systemd and cgroupfs", err)
	}
	if err := setupCgroupManager("", "bogus"); err == nil || !strings.Contains(err.Error(), cgroups.ManagerEnv) {
		t.Errorf("%s=bogus: %v, want an error naming the variable", cgroups.ManagerEnv, err)
	}
	if err := setupCgroupManager("cgroupfs", "systemd"); err != nil {
		t.Fatal(err)
	}
	if m := cgroups.CurrentManager(); m != cgroups.Cgroupfs {
		t.Fatalf("manager %s, want cgroupfs (the flag wins over the environment)", m)
	}
	args := superviseGlobals(&spec.Project{Name: "p"})
	if i := slices.Index(args, "--cgroup-manager"); i < 0 || i+1 >= len(args) || args[i+1] != "cgroupfs" {
		t.Errorf("supervisor arguments %q lack --cgroup-manager cgroupfs", args)
	}
	if err := setupCgroupManager("", ""); err != nil {
		t.Errorf("the host's default: %v", err)
	}
	if got, want := cgroups.CurrentManager(), cgroups.DefaultManager(); got != want {
		t.Errorf("no flag, no environment: %s, want the default %s", got, want)
	}
}
