package main

import (
	"testing"
)

// The lazy tree picks a command by its registered name, so the name must
// be the one the command answers to.
func TestRegisteredNamesAreCommandNames(t *testing.T) {
	seen := map[string]bool{}
	for _, sc := range subcommands {
		if got := sc.mk().Name(); got != sc.name {
			t.Errorf("registered as %q, the command is named %q", sc.name, got)
		}
		if seen[sc.name] {
			t.Errorf("%q registered twice", sc.name)
		}
		seen[sc.name] = true
	}
}

// The lazy tree runs the same command as the whole tree, with root flags
// (and their values) before the command; args naming no command get the
// whole tree (help, completion, a typo).
func TestLazyTreeFindsTheSameCommand(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string // the command word; "" = the whole tree
	}{
		{[]string{"version"}, "version"},
		{[]string{"run", "--rm", "--", "/bin/true"}, "run"},
		{[]string{"--root", "up", "exec", "-T", "svc"}, "exec"}, // "up" is --root's value
		{[]string{"--root=/r", "-p", "ps", "logs", "-f"}, "logs"},
		{[]string{"-fnucleus.yaml", "down"}, "down"},
		{[]string{"-f", "x.yaml", "--profile", "a", "--log-level", "debug", "--cgroup-manager", "none", "--project-directory", "d", "up", "-d"}, "up"},
		{[]string{"image", "ls"}, "image"},
		{[]string{"help", "up"}, ""},
		{[]string{"completion", "bash"}, ""},
		{[]string{"__complete", "exec", ""}, ""},
		{[]string{"uppp"}, ""},
		{[]string{"--root", "/r"}, ""},
		{nil, ""},
	} {
		root := newRootCmd(tc.args)
		all := newRootCmd(nil)
		n := len(root.Commands())
		if tc.want == "" {
			if n != len(all.Commands()) {
				t.Errorf("%q: %d commands, want the whole tree (%d)", tc.args, n, len(all.Commands()))
			}
			continue
		}
		if n != 1 || root.Commands()[0].Name() != tc.want {
			t.Errorf("%q: built %d commands, want only %q", tc.args, n, tc.want)
			continue
		}
		got, _, err := root.Traverse(tc.args)
		want, _, err2 := all.Traverse(tc.args)
		if err != nil || err2 != nil || got.CommandPath() != want.CommandPath() {
			t.Errorf("%q: lazy tree runs %q (%v), the whole tree %q (%v)", tc.args, got.CommandPath(), err, want.CommandPath(), err2)
		}
	}
}

// BenchmarkRootCmd: building the whole tree (help, completion) against
// the one command a start runs.
func BenchmarkRootCmd(b *testing.B) {
	for _, bc := range []struct {
		name string
		args []string
	}{{"whole", nil}, {"version", []string{"version"}}} {
		b.Run(bc.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				newRootCmd(bc.args)
			}
		})
	}
}
