package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIUpSeccompHelperMissing: nucleus installed without nucleus-seccomp
// (a user copied only nucleus), on a fresh root whose seccomp filter cache
// is empty. up blamed the service's command ("command not found", exit code
// 127) although the error named the missing helper; the failure must be
// nucleus's (125) and say which helper is missing where.
func TestCLIUpSeccompHelperMissing(t *testing.T) {
	c := newCLI(t)
	c.bin = filepath.Join(t.TempDir(), "nucleus")
	if err := os.Link(nucleusBin, c.bin); err != nil {
		t.Fatal(err)
	}
	c.env = []string{"NUCLEUS_SECCOMP="} // empty: not set (helperbin.Find)
	c.writeYAML("name: " + c.project + `
services:
  web:
    command: ["/bin/busybox", "sleep", "1000"]
    stop_grace_period: 0s
`)
	expected := filepath.Join(filepath.Dir(c.bin), "nucleus-seccomp")
	want := "nucleus-seccomp is missing (expected at " + expected + ")"
	out, errOut, code := c.run("up", "-d", "--wait", "--wait-timeout", "30s")
	t.Logf("up -d --wait:\n%s%s", out, errOut)
	if code == 0 || !strings.Contains(errOut, want) || strings.Contains(out+errOut, "command not found") || strings.Contains(out, "the command was not found") {
		t.Errorf("up -d --wait without nucleus-seccomp: exit code %d, stderr:\n%s\nwant non-zero, naming %q, not blaming the command", code, errOut, want)
	}
	if r := c.ps("-a")["web"]; r.ExitCode == nil || *r.ExitCode != 125 {
		t.Errorf("ps -a: web %+v, want exit code 125 (nucleus could not set up the sandbox), not 127", r)
	}
	out, errs, _ := c.run("up", "-d") // plans the failed start again: its cause
	plan := out + errs
	if strings.Contains(plan, "the command was not found") || !strings.Contains(plan, "nucleus-seccomp") {
		t.Errorf("up -d after the failed start:\n%s\nwant the missing nucleus-seccomp, not the command, named", plan)
	}
}
