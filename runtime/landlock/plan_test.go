package landlock

import (
	"testing"

	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

func TestCompilePlan(t *testing.T) {
	saved := kernelABI
	kernelABI = func() int { return 3 }
	defer func() { kernelABI = saved }()
	p, err := Compile([]Rule{
		{Path: "/usr", Access: []string{Read, Execute}, Optional: true},
		{Path: "/usr", Access: []string{Read}},
		{Path: "/tmp", Access: []string{Read, Write}, Optional: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	if p.ABI != 3 || p.Handled&ll.AccessFSTruncate == 0 || p.Handled&ll.AccessFSIoctlDev != 0 {
		t.Errorf("ABI %d handled %#x: want ABI 3 rights only (truncate yes, ioctl_dev no)", p.ABI, p.Handled)
	}
	if len(p.Entries) != 2 || p.Entries[0].Path != "/tmp" || p.Entries[1].Path != "/usr" {
		t.Fatalf("entries %+v, want /tmp and /usr merged and sorted", p.Entries)
	}
	usr, tmp := p.Entries[1], p.Entries[0]
	if usr.Optional || !tmp.Optional {
		t.Errorf("optional: /usr %v (one rule was required) /tmp %v", usr.Optional, tmp.Optional)
	}
	if usr.Dir&ll.AccessFSExecute == 0 || usr.Dir&ll.AccessFSWriteFile != 0 || usr.Dir&ll.AccessFSReadDir == 0 {
		t.Errorf("/usr dir rights %#x: want read and execute", usr.Dir)
	}
	if tmp.File&ll.AccessFSMakeDir != 0 || tmp.File&ll.AccessFSWriteFile == 0 || tmp.Dir&ll.AccessFSMakeDir == 0 {
		t.Errorf("/tmp rights dir %#x file %#x: directory-only rights must not apply to files", tmp.Dir, tmp.File)
	}
	if _, err := Compile([]Rule{{Path: "rel", Access: []string{Read}}}); err == nil {
		t.Error("relative path accepted")
	}
	kernelABI = func() int { return 0 }
	if _, err := Compile(nil); err == nil {
		t.Error("no Landlock in the kernel, yet Compile succeeded")
	}
}

// The default "/" entry lists directories and nothing else: no file right
// (READ_FILE, EXECUTE, WRITE_FILE...) reaches what lies beneath it.
func TestCompilePlanRootListOnly(t *testing.T) {
	p, err := Compile(DefaultRules([]string{"/usr"}, nil))
	if err != nil {
		t.Skip(err) // no Landlock in this kernel
	}
	for _, e := range p.Entries {
		if e.Path != "/" {
			continue
		}
		if e.Dir != uint64(ll.AccessFSReadDir) || e.File != 0 || e.Optional {
			t.Errorf(`"/" entry %+v: want dir rights READ_DIR (%#x) only, no file rights, required`, e, uint64(ll.AccessFSReadDir))
		}
		return
	}
	t.Errorf("no entry for /: %+v", p.Entries)
}
