package syscalltab

import (
	"sort"
	"testing"

	libseccomp "github.com/seccomp/libseccomp-golang"
)

// libseccompNames collects every name libseccomp resolves from a number, on
// every architecture it supports: the plain tables (0..1099), MIPS's
// o32/n64/n32 bases, x32's syscall bit, and the pseudo numbers (__PNR_*)
// it gives names the architecture lacks.
func libseccompNames(t *testing.T) map[string]bool {
	arches := []libseccomp.ScmpArch{
		libseccomp.ArchX86, libseccomp.ArchAMD64, libseccomp.ArchX32, libseccomp.ArchARM,
		libseccomp.ArchARM64, libseccomp.ArchMIPS, libseccomp.ArchMIPS64, libseccomp.ArchMIPS64N32,
		libseccomp.ArchMIPSEL, libseccomp.ArchMIPSEL64, libseccomp.ArchMIPSEL64N32,
		libseccomp.ArchPPC, libseccomp.ArchPPC64, libseccomp.ArchPPC64LE, libseccomp.ArchS390,
		libseccomp.ArchS390X, libseccomp.ArchPARISC, libseccomp.ArchPARISC64, libseccomp.ArchRISCV64,
	}
	var nums []int
	for n := 0; n < 1100; n++ {
		nums = append(nums, n, 4000+n, 5000+n, 6000+n, 0x40000000+n)
	}
	for n := -10000; n > -11000; n-- { // __PNR_*
		nums = append(nums, n)
	}
	for n := -100; n > -300; n-- { // socketcall/ipc multiplexed pseudo numbers
		nums = append(nums, n)
	}
	found := map[string]bool{}
	for _, a := range arches {
		for _, n := range nums {
			if name, err := libseccomp.ScmpSyscall(n).GetNameByArch(a); err == nil && name != "" {
				found[name] = true
			}
		}
	}
	if len(found) < 300 {
		t.Fatalf("libseccomp named only %d syscalls; the enumeration is broken", len(found))
	}
	return found
}

// TestTableMatchesLibseccomp: Known answers as libseccomp's name lookup does
// (what spec validated with before the nucleus binary lost cgo), for every
// name in the table, every name libseccomp can produce, and names it lacks.
func TestTableMatchesLibseccomp(t *testing.T) {
	resolves := func(n string) bool { _, err := libseccomp.GetSyscallFromName(n); return err == nil }
	if !sort.StringsAreSorted(names[:]) {
		t.Fatal("names is not sorted: run go generate ./internal/syscalltab")
	}
	for _, n := range names {
		if !resolves(n) {
			t.Errorf("table has %q, libseccomp does not resolve it", n)
		}
	}
	for n := range libseccompNames(t) {
		if !Known(n) {
			t.Errorf("libseccomp resolves %q, the table lacks it (go generate ./internal/syscalltab)", n)
		}
	}
	// Names newer than this libseccomp, misspelt or empty: unknown to both.
	for _, n := range []string{"mseal", "uretprobe", "setxattrat", "frobnicate", "", "READ", "read "} {
		if Known(n) != resolves(n) {
			t.Errorf("Known(%q) = %v, libseccomp resolves it: %v", n, Known(n), resolves(n))
		}
	}
	for _, n := range []string{"read", "socketcall", "clone3", "io_uring_setup", "_llseek"} {
		if !Known(n) || !resolves(n) {
			t.Errorf("%q: Known %v, libseccomp %v; want both true", n, Known(n), resolves(n))
		}
	}
}
