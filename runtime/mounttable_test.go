package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestDefaultMountTable pins the default root's whole mount table, as
// /proc/self/mountinfo shows it inside the sandbox: every mount point, its
// parent, the source's root, the per-mount flags, the propagation (none:
// nothing is shared with or received from the host), the file system and
// our own file systems' options. What differs between hosts (which system
// directories and secrets exist, which masked /proc files the kernel has,
// the host file systems' atime flags) is read from the host. Read-only
// root (the default) and the writable overlay (read_only: false).
func TestDefaultMountTable(t *testing.T) {
	root := newRoot(t)
	host := hostMounts(t)
	for _, readOnly := range []bool{true, false} {
		t.Run(fmt.Sprintf("read-only=%v", readOnly), func(t *testing.T) {
			svc := service("/bin/cat", "/proc/self/mountinfo")
			svc.ReadOnly = readOnly
			r := run(t, Config{Root: root, Project: "p", Service: svc})
			if r.st.Code != 0 {
				t.Fatalf("cat exited %+v: %s", r.st, r.err)
			}
			got := normalMountinfo(t, r.out)
			want := wantMountTable(t, host, readOnly)
			// One line per difference: each names the mount.
			inGot, inWant := map[string]bool{}, map[string]bool{}
			for _, l := range got {
				inGot[l] = true
			}
			for _, l := range want {
				inWant[l] = true
				if !inGot[l] {
					t.Errorf("missing mount: %s", l)
				}
			}
			for _, l := range got {
				if !inWant[l] {
					t.Errorf("unexpected mount: %s", l)
				}
			}
			if t.Failed() {
				t.Logf("mountinfo inside the sandbox:\n%s", r.out)
			}
		})
	}
}

// mountLine is one /proc/self/mountinfo line.
type mountLine struct {
	id, parent, root, point, opts, optional, fstype, source, super string
}

func parseMountinfo(t *testing.T, text string) []mountLine {
	t.Helper()
	var ms []mountLine
	for _, l := range strings.Split(strings.TrimSpace(text), "\n") {
		pre, post, ok := strings.Cut(l, " - ")
		f, g := strings.Fields(pre), strings.Fields(post)
		if !ok || len(f) < 6 || len(g) < 3 {
			t.Fatalf("mountinfo line %q: expected 'ID PARENT MAJ:MIN ROOT POINT OPTS [OPTIONAL] - TYPE SOURCE SUPER'", l)
		}
		ms = append(ms, mountLine{id: f[0], parent: f[1], root: f[3], point: f[4], opts: f[5],
			optional: strings.Join(f[6:], " "), fstype: g[0], source: g[1], super: g[2]})
	}
	return ms
}

// normalMountinfo turns the sandbox's mountinfo into sorted lines
// "POINT parent=PARENT-POINT root=ROOT OPTS [OPTIONAL] TYPE SOURCE SUPER",
// SUPER only for the file systems the init makes (tmpfs, devpts, proc,
// sysfs) and without uid/gid (the mapped root's ids differ per sandbox).
func normalMountinfo(t *testing.T, text string) []string {
	ms := parseMountinfo(t, text)
	byID := map[string]string{}
	for _, m := range ms {
		byID[m.id] = m.point
	}
	var out []string
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%s parent=%s root=%s %s [%s] %s %s %s", m.point, byID[m.parent], m.root, m.opts, m.optional, m.fstype, m.source, superOf(m)))
	}
	sort.Strings(out)
	return out
}

// superOf is m's super options as normalMountinfo shows them: for tmpfs,
// devpts, proc and sysfs without uid/gid (the mapped root's ids differ per
// sandbox) and inode64; for overlayfs the layers and userxattr (other options vary by
// kernel); "-" for other file systems (the host's, bound).
func superOf(m mountLine) string {
	var keep []string
	for _, o := range strings.Split(m.super, ",") {
		k, _, _ := strings.Cut(o, "=")
		switch m.fstype {
		case "tmpfs", "devpts", "proc", "sysfs":
			// inode64: Debian's 6.1 shows tmpfs's default, 6.18 does not.
			if k != "uid" && k != "gid" && k != "inode64" {
				keep = append(keep, o)
			}
		case "overlay":
			if k == "lowerdir" || k == "upperdir" || k == "workdir" || k == "userxattr" {
				keep = append(keep, o)
			}
		default:
			return "-"
		}
	}
	return strings.Join(keep, ",")
}

// hostMounts is the test process's own mount table.
func hostMounts(t *testing.T) []mountLine {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	return parseMountinfo(t, string(b))
}

// hostMountOf is the host mount holding path p (the longest mount point
// that is p or a parent of it; the last one mounted there).
func hostMountOf(host []mountLine, p string) mountLine {
	var best mountLine
	for _, m := range host {
		if (m.point == p || m.point == "/" || strings.HasPrefix(p, m.point+"/")) && len(m.point) >= len(best.point) {
			best = m
		}
	}
	return best
}

// bindOpts are the per-mount options of the init's plain binds of single
// host files (/dev/null over a masked path, the /dev devices): MS_BIND
// without flags keeps the host mount's atime flag only.
func bindOpts(opts string) string { return "rw," + atime(opts) }

// atime is the atime flag among per-mount options.
func atime(opts string) string {
	for _, o := range strings.Split(opts, ",") {
		switch o {
		case "relatime", "noatime", "strictatime":
			return o
		}
	}
	return "strictatime"
}

// What the default root hides and binds, written out here rather than
// taken from sbinit: a path dropped from sbinit's lists fails the test.
var (
	pinnedSystemDirs = []string{"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc", "/opt"}
	pinnedMaskedEtc  = []string{"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/security/opasswd",
		"/etc/sudoers", "/etc/sudoers.d", "/etc/ssh/ssh_host_*",
		"/etc/ssl/private", "/etc/pki/tls/private", "/etc/pki/CA/private", "/etc/letsencrypt",
		"/etc/ipsec.secrets", "/etc/ipsec.d/private", "/etc/swanctl/private", "/etc/krb5.keytab",
		"/etc/wireguard", "/etc/NetworkManager/system-connections", "/etc/credstore", "/etc/credstore.encrypted"}
	pinnedMaskedProc = []string{"/proc/acpi", "/proc/asound", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap"}
	pinnedReadonlyProc = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}
)

// wantMountTable is the mount table the default root must have on this
// host, in normalMountinfo's form.
func wantMountTable(t *testing.T, host []mountLine, readOnly bool) []string {
	var want []string
	add := func(format string, a ...any) { want = append(want, fmt.Sprintf(format, a...)) }
	rootRO := "rw"
	if readOnly {
		rootRO = "ro"
	}
	add("/ parent= root=/ %s,nosuid,nodev,relatime [] tmpfs nucleus-root rw,size=4096k,mode=755", rootRO)
	for _, d := range pinnedSystemDirs {
		fi, err := os.Lstat(d)
		if err != nil || !fi.IsDir() {
			continue
		}
		if !readOnly {
			ovl := strings.ReplaceAll(strings.Trim(d, "/"), "/", "_")
			add("%s parent=/ root=/ rw,nosuid,nodev,relatime [] overlay overlay lowerdir=%s,upperdir=/tmp/scratch/ovl/%s/upper,workdir=/tmp/scratch/ovl/%s/work,userxattr", d, d, ovl, ovl)
			continue
		}
		h := hostMountOf(host, d)
		for _, sub := range host {
			if strings.HasPrefix(sub.point, d+"/") {
				t.Fatalf("host has a mount under %s (%s): this test does not model recursive binds", d, sub.point)
			}
		}
		hroot := filepath.Join(h.root, strings.TrimPrefix(d, strings.TrimSuffix(h.point, "/")))
		add("%s parent=/ root=%s ro,nosuid,nodev,%s [] %s %s %s", d, hroot, atime(h.opts), h.fstype, h.source, superOf(h))
	}
	devNull := hostMountOf(host, "/dev/null")
	null := func(p, parent string) {
		add("%s parent=%s root=/null %s [] %s %s %s", p, parent, bindOpts(devNull.opts), devNull.fstype, devNull.source, superOf(devNull))
	}
	emptyDir := func(p, parent string) {
		add("%s parent=%s root=/ ro,nosuid,nodev,noexec,relatime [] tmpfs tmpfs ro,size=0k", p, parent)
	}
	for _, pat := range pinnedMaskedEtc {
		matches, _ := filepath.Glob(pat)
		for _, m := range matches {
			fi, err := os.Lstat(m)
			switch {
			case err != nil:
			case fi.IsDir():
				emptyDir(m, "/etc")
			default:
				null(m, "/etc")
			}
		}
	}
	add("/proc parent=/ root=/ rw,nosuid,nodev,noexec,relatime [] proc proc rw")
	add("/dev parent=/ root=/ rw,nosuid,noexec,relatime [] tmpfs tmpfs rw,size=64k,mode=755")
	for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
		add("/dev/%s parent=/dev root=/%s %s [] %s %s %s", d, d, bindOpts(devNull.opts), devNull.fstype, devNull.source, superOf(devNull))
	}
	add("/dev/pts parent=/dev root=/ rw,nosuid,noexec,relatime [] devpts devpts rw,mode=620,ptmxmode=666")
	add("/dev/shm parent=/dev root=/ rw,nosuid,nodev,noexec,relatime [] tmpfs shm rw,size=65536k")
	add("/sys parent=/ root=/ ro,nosuid,nodev,noexec,relatime [] sysfs sysfs ro")
	// The sandbox's proc and sysfs show the same kernel's entries as the host's.
	for _, p := range pinnedMaskedProc {
		parent := "/" + strings.Split(p, "/")[1]
		fi, err := os.Lstat(p)
		switch {
		case err != nil:
		case fi.IsDir():
			emptyDir(p, parent)
		default:
			null(p, parent)
		}
	}
	for _, p := range pinnedReadonlyProc {
		if _, err := os.Lstat(p); err == nil {
			add("%s parent=/proc root=%s ro,nosuid,nodev,noexec,relatime [] proc proc rw", p, strings.TrimPrefix(p, "/proc"))
		}
	}
	add("/tmp parent=/ root=/ rw,nosuid,nodev,relatime [] tmpfs tmpfs rw,size=65536k")
	add("/run parent=/ root=/ rw,nosuid,nodev,relatime [] tmpfs tmpfs rw,size=16384k,mode=755")
	sort.Strings(want)
	return want
}
