package daemon

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/spec"
)

func loadPolicyProject(t *testing.T, dir, yaml string) *spec.Project {
	t.Helper()
	testutil.WriteFile(t, filepath.Join(dir, "nucleus.yaml"), yaml)
	p, err := spec.Load(spec.LoadOptions{Files: []string{filepath.Join(dir, "nucleus.yaml")}, ProjectName: "pol"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// assertSays checks that the refusal msg says every want; what (a policy,
// or "") prefixes the failure.
func assertSays(t *testing.T, what, msg string, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(msg, want) {
			t.Errorf("%srefusal does not say %q:\n%s", what, want, msg)
		}
	}
}

// assertPlainAllowed checks that the default policy allows a project of
// one service with the given lines, described by what.
func assertPlainAllowed(t *testing.T, what, lines string) {
	t.Helper()
	plain := loadPolicyProject(t, t.TempDir(), "services:\n  web:\n    command: [/bin/true]\n"+lines)
	if err := (Policy{}).Check(plain); err != nil {
		t.Errorf("%s was refused: %v", what, err)
	}
}

// Every host-level privilege and every host path outside the project is
// refused by default, each named with its FILE:LINE:COL and field; the
// opt-ins allow them, and a project without any is allowed.
func TestPolicyRefusesPrivilegesAndHostPaths(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink("/", filepath.Join(dir, "site")); err != nil {
		t.Fatal(err)
	}
	yaml := `services:
  web:
    command: [/bin/true]
    cap_add: [NET_BIND_SERVICE, SYS_ADMIN]
    rootfs: ` + outside + `
    volumes:
      - ./data:/data
      - ./site/etc:/hostetc:ro
      - type: bind
        source: ` + outside + `
        target: /out
    security:
      userns: host
      seccomp: unconfined
      landlock: off
`
	p := loadPolicyProject(t, dir, yaml)
	err := Policy{}.Check(p)
	if err == nil {
		t.Fatal("a privileged project was allowed")
	}
	msg := err.Error()
	file := filepath.Join(dir, "nucleus.yaml")
	assertSays(t, "", msg,
		PolicyDeniedPrefix,
		file+":4:33: services.web.cap_add: CAP_SYS_ADMIN",
		file+":5:13: services.web.rootfs: rootfs "+outside,
		file+":8:9: services.web.volumes: bind source "+filepath.Join(dir, "site/etc")+" (resolves to /etc)",
		file+":9:9: services.web.volumes: bind source "+outside,
		file+":13:15: services.web.security.userns",
		file+":14:16: services.web.security.seccomp",
		file+":15:17: services.web.security.landlock",
		"--allow-privileged", "--allow-host-path",
	)
	if strings.Contains(msg, "NET_BIND_SERVICE") || strings.Contains(msg, "/data") {
		t.Errorf("harmless fields refused:\n%s", msg)
	}
	if err := (Policy{AllowPrivileged: true, AllowHostPaths: []string{"/"}}).Check(p); err != nil {
		t.Errorf("all opt-ins given, still refused: %v", err)
	}
	err = Policy{AllowPrivileged: true, AllowHostPaths: []string{outside}}.Check(p)
	if err == nil || !strings.Contains(err.Error(), "/etc") || strings.Contains(err.Error(), "rootfs") {
		t.Errorf("--allow-host-path %s: want only the symlinked /etc refused, got %v", outside, err)
	}

	assertPlainAllowed(t, "an unprivileged project", "    cap_add: [NET_BIND_SERVICE]\n    volumes: [./data:/data]\n")
}

// An image read from an OCI layout or a docker-archive file is a host path
// like a rootfs: outside the project directory it needs --allow-host-path;
// inside it, and from a registry, it is allowed.
func TestPolicyRefusesImagePathsOutsideTheProject(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	yaml := `services:
  web:
    image: oci:` + outside + `/layout:1
  db:
    image: docker-archive:` + outside + `/db.tar
  own:
    image: oci:./build/layout:1
  reg:
    image: 127.0.0.1:5000/app:1
`
	p := loadPolicyProject(t, dir, yaml)
	err := Policy{}.Check(p)
	if err == nil {
		t.Fatal("images read from outside the project were allowed")
	}
	file := filepath.Join(dir, "nucleus.yaml")
	assertSays(t, "", err.Error(),
		file+":3:12: services.web.image: image oci: "+outside+"/layout is outside the project directory",
		file+":5:12: services.db.image: image docker-archive: "+outside+"/db.tar is outside the project directory",
		"--allow-host-path")
	if strings.Contains(err.Error(), "services.own") || strings.Contains(err.Error(), "services.reg") {
		t.Errorf("the project's own layout or a registry image refused:\n%s", err)
	}
	if err := (Policy{AllowHostPaths: []string{outside}}).Check(p); err != nil {
		t.Errorf("--allow-host-path %s: still refused: %v", outside, err)
	}
}

// A writable bind mount that opted in to writing the project's own files
// (allow_config_write) is refused even with every opt-in of the daemon: a
// sandbox that rewrites nucleus.yaml would get whatever the daemon allows.
// Without the opt-in spec.Load refuses such a mount already.
func TestPolicyRefusesConfigWriteEvenWithOptIns(t *testing.T) {
	dir := t.TempDir()
	yaml := `services:
  web:
    command: [/bin/true]
    volumes:
      - ./data:/data
      - {type: bind, source: ., target: /app, allow_config_write: true}
      - {type: bind, source: ., target: /ro, read_only: true, allow_config_write: true}
`
	p := loadPolicyProject(t, dir, yaml)
	file := filepath.Join(dir, "nucleus.yaml")
	for _, pol := range []Policy{{}, {AllowPrivileged: true}, {AllowHostPaths: []string{"/"}}, {AllowPrivileged: true, AllowHostPaths: []string{"/"}}} {
		err := pol.Check(p)
		if err == nil {
			t.Errorf("%+v: allow_config_write was allowed", pol)
			continue
		}
		msg := err.Error()
		assertSays(t, fmt.Sprintf("%+v: ", pol), msg,
			PolicyDeniedPrefix,
			file+":6:9: services.web.volumes: allow_config_write on bind source "+dir+" lets the sandbox rewrite the project's own files",
			"never allowed by the daemon", "read-only", "subdirectory")
		if strings.Count(msg, "allow_config_write") != 1 {
			t.Errorf("%+v: want only the writable mount refused (not the read-only one):\n%s", pol, msg)
		}
	}

	// Without the opt-in the project does not load at all.
	testutil.WriteFile(t, filepath.Join(dir, "nucleus.yaml"), "services:\n  web:\n    command: [/bin/true]\n    volumes: [.:/app]\n")
	if _, err := spec.Load(spec.LoadOptions{Files: []string{filepath.Join(dir, "nucleus.yaml")}, ProjectName: "pol"}); err == nil ||
		!strings.Contains(err.Error(), "contains the project's own file") {
		t.Errorf("a writable mount of the project directory loaded: %v", err)
	}
}

// Chown (:U, chown: true) is refused without --allow-privileged: it changes
// the owner of host paths the repository chooses (a checkout's .git handed
// to the sandbox's ids stops the host's git pull, or with safe.directory
// lets the sandbox's hooks run as root). Every such volume is named with
// its FILE:LINE:COL; --allow-privileged allows them, and a project whose
// writable mounts do not chown is allowed.
func TestPolicyRefusesChownWithoutAllowPrivileged(t *testing.T) {
	dir := t.TempDir()
	yaml := `services:
  web:
    command: [/bin/true]
    volumes:
      - ./data:/data
      - ./uploads:/uploads:U
      - {type: bind, source: ./logs, target: /logs, chown: true}
      - pgdata:/var/lib/pg:U
volumes: {pgdata: {}}
`
	p := loadPolicyProject(t, dir, yaml)
	file := filepath.Join(dir, "nucleus.yaml")
	err := Policy{AllowHostPaths: []string{"/"}}.Check(p)
	if err == nil {
		t.Fatal(":U was allowed without --allow-privileged")
	}
	msg := err.Error()
	assertSays(t, "", msg,
		PolicyDeniedPrefix,
		file+":6:9: services.web.volumes: chown (:U) of bind source "+filepath.Join(dir, "uploads")+" hands a host path the repository chooses to the project's ids",
		file+":7:9: services.web.volumes: chown (:U) of bind source "+filepath.Join(dir, "logs"),
		"(allow with nucleus daemon --allow-privileged)")
	if strings.Contains(msg, "/data") {
		t.Errorf("a mount without chown was refused:\n%s", msg)
	}
	// A named volume lives under the data root: its :U is the project's
	// own business (a user: postgres service on a fresh volume).
	if strings.Contains(msg, "/var/lib/pg") || strings.Contains(msg, "pgdata") {
		t.Errorf("chown of a named volume was refused:\n%s", msg)
	}
	for _, pol := range []Policy{{AllowPrivileged: true}, {AllowPrivileged: true, AllowHostPaths: []string{"/"}}} {
		if err := pol.Check(p); err != nil {
			t.Errorf("%+v: chown refused: %v", pol, err)
		}
	}
	assertPlainAllowed(t, "a project without chown", "    volumes: [./data:/data]\n")
}

// The checkout's .git (the finding: ./.git:/g:U) does not get through the
// daemon under any flags: without allow_config_write spec.Load refuses the
// writable mount of the git directory, with it the policy refuses the
// opt-in; :U is refused besides without --allow-privileged.
func TestPolicyRefusesGitDirTakeover(t *testing.T) {
	dir := t.TempDir()
	testutil.WriteFile(t, filepath.Join(dir, ".git", "HEAD"), "ref: refs/heads/main\n")
	testutil.WriteFile(t, filepath.Join(dir, "nucleus.yaml"), "services:\n  web:\n    command: [/bin/true]\n    volumes: [\"./.git:/g:U\"]\n")
	_, err := spec.Load(spec.LoadOptions{Files: []string{filepath.Join(dir, "nucleus.yaml")}, ProjectName: "pol"})
	if err == nil || !strings.Contains(err.Error(), "nucleus.yaml:4:15: services.web.volumes[0]: writable bind mount \"./.git:/g:U\" is .git of the git repository that delivers the project") {
		t.Errorf("./.git:/g:U loaded or was refused for another reason: %v", err)
	}
	p := loadPolicyProject(t, dir, "services:\n  web:\n    command: [/bin/true]\n    volumes: [{type: bind, source: ./.git, target: /g, chown: true, allow_config_write: true}]\n")
	for _, pol := range []Policy{{}, {AllowPrivileged: true, AllowHostPaths: []string{"/"}}} {
		err := pol.Check(p)
		if err == nil || !strings.Contains(err.Error(), "allow_config_write on bind source "+filepath.Join(dir, ".git")) {
			t.Errorf("%+v: the opt-in into .git was not refused: %v", pol, err)
		}
		if got := err != nil && strings.Contains(err.Error(), "chown (:U)"); got != !pol.AllowPrivileged {
			t.Errorf("%+v: chown refused = %v, want %v: %v", pol, got, !pol.AllowPrivileged, err)
		}
	}
}
