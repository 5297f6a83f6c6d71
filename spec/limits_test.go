package spec

import (
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestUlimitsShmTmpfsLoad(t *testing.T) {
	p := mustLoad(t, map[string]string{"nucleus.yaml": `
services:
  a:
    command: [x]
    ulimits:
      nofile: {soft: 1024, hard: 4096}
      nproc: 512
      core: unlimited
      memlock: {soft: -1, hard: -1}
    shm_size: 256m
    tmpfs: [/run/x, "/cache:size=8m,mode=0700,exec", "/ro:ro,noexec,nosuid"]
    volumes:
      - {type: tmpfs, target: /compose, tmpfs: {size: 2m, mode: 1770}}
      - {type: tmpfs, target: /flat, size: 1m, mode: "755", exec: false}
  b:
    command: [x]
    tmpfs: /one
`}, nil)
	a := p.Services["a"]
	want := map[string]Ulimit{"nofile": {1024, 4096}, "nproc": {512, 512}, "core": {-1, -1}, "memlock": {-1, -1}}
	if len(a.Ulimits) != len(want) {
		t.Errorf("ulimits %v; want %v", a.Ulimits, want)
	}
	for k, w := range want {
		if a.Ulimits[k] != w {
			t.Errorf("ulimits.%s = %+v; want %+v", k, a.Ulimits[k], w)
		}
	}
	if a.ShmSize != 256<<20 {
		t.Errorf("shm_size %d; want 256 MiB", a.ShmSize)
	}
	got := mountsString(a.Volumes)
	wantMounts := "tmpfs::/compose:ro=false:size=2097152:mode=1770,tmpfs::/flat:ro=false:size=1048576:mode=0755:exec=false," +
		"tmpfs::/run/x:ro=false:size=0,tmpfs::/cache:ro=false:size=8388608:mode=0700:exec=true,tmpfs::/ro:ro=true:size=0:exec=false"
	if got != wantMounts {
		t.Errorf("volumes:\n got %s\nwant %s", got, wantMounts)
	}
	if got := mountsString(p.Services["b"].Volumes); got != "tmpfs::/one:ro=false:size=0" {
		t.Errorf("tmpfs: /one gave %s", got)
	}
}

func TestUlimitsShmTmpfsErrors(t *testing.T) {
	for _, c := range []struct{ yaml, want string }{
		{"ulimits: {nofiles: 5}", `services.a.ulimits: unknown key "nofiles"`},
		{"ulimits: {nofile: {soft: 10, hard: 5}}", "services.a.ulimits.nofile: soft limit 10 is above the hard limit 5"},
		{"ulimits: {nofile: {soft: unlimited, hard: 5}}", "soft limit unlimited is above the hard limit 5"},
		{"ulimits: {nofile: {soft: 10}}", "services.a.ulimits.nofile: give both soft and hard"},
		{"ulimits: {nofile: many}", `services.a.ulimits.nofile: expected a whole number, got "many"`},
		{"shm_size: lots", "services.a.shm_size"},
		{"tmpfs: [relative]", "services.a.tmpfs[0]"},
		{`tmpfs: ["/x:uid=1000"]`, `tmpfs option "uid=1000" of /x is not supported; expected size=SIZE, mode=OCTAL, exec, noexec, ro or rw`},
		{`tmpfs: ["/x:mode=999"]`, `invalid mode "999"`},
		{"tmpfs: /data\n    volumes: [{type: tmpfs, target: /data}]", "services.a.tmpfs: /data is already mounted by volumes[0]"},
		{"volumes: [{type: bind, source: ., target: /x, mode: 700}]", "services.a.volumes[0]: tmpfs, mode and exec apply only to tmpfs mounts"},
		{"volumes: [{type: tmpfs, target: /x, tmpfs: {uid: 1}}]", `services.a.volumes[0].tmpfs: unknown key "uid"`},
	} {
		_, err := loadString(t, "services:\n  a:\n    command: [x]\n    "+c.yaml+"\n")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v; want it to contain %q", c.yaml, err, c.want)
		}
	}
}

// TestLimitsKeysLeaveHashAlone: a service that does not use the new keys
// hashes as before; using them changes the hash.
func TestLimitsKeysLeaveHashAlone(t *testing.T) {
	base := "services:\n  a:\n    command: [x]\n    volumes: [{type: tmpfs, target: /t}]\n"
	h := func(y string) string {
		p := mustLoad(t, map[string]string{"nucleus.yaml": y}, nil)
		return ServiceHash(p.Services["a"])
	}
	b := h(base)
	if b != h("services:\n  a:\n    command: [x]\n    tmpfs: /t\n") {
		t.Errorf("tmpfs: /t hashes unlike volumes: [{type: tmpfs, target: /t}]")
	}
	for _, extra := range []string{"    ulimits: {nofile: 10}\n", "    shm_size: 1m\n", "    tmpfs: [\"/u:mode=700\"]\n"} {
		if h(base+extra) == b {
			t.Errorf("adding %q left the hash unchanged", extra)
		}
	}
}

// TestLimitsConfigRoundTrip: what nucleus config prints of the new keys
// loads back to the same service.
func TestLimitsConfigRoundTrip(t *testing.T) {
	p := mustLoad(t, map[string]string{"nucleus.yaml": `
services:
  a:
    command: [x]
    ulimits: {nofile: {soft: 1024, hard: 4096}, core: unlimited}
    shm_size: 1g
    tmpfs: ["/c:size=8m,mode=0700,exec", "/d:noexec"]
`}, nil)
	out, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	again := mustLoad(t, map[string]string{"nucleus.yaml": string(out)}, nil)
	if a, b := p.Services["a"], again.Services["a"]; ServiceHash(a) != ServiceHash(b) {
		t.Errorf("changed in the round trip: %v\n%s", Diff(a, b), out)
	}
	for _, want := range []string{"mode: \"0700\"", "exec: true", "exec: false", "soft: -1", "shm_size: 1G"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("nucleus config output lacks %q:\n%s", want, out)
		}
	}
}

// depends_on.required: false accepts a dependency that is not in the
// project and prints back; without it an unknown service is an error.
func TestDependsOnRequired(t *testing.T) {
	const y = "services:\n  a:\n    command: [x]\n    depends_on: {gone: {condition: service_started, required: %s}}\n"
	p := mustLoad(t, map[string]string{"nucleus.yaml": strings.Replace(y, "%s", "false", 1)}, nil)
	if d := p.Services["a"].DependsOn["gone"]; d.IsRequired() {
		t.Errorf("required: false loaded as %+v", d)
	}
	out, _ := yaml.Marshal(p)
	if !strings.Contains(string(out), "required: false") {
		t.Errorf("nucleus config lacks required: false:\n%s", out)
	}
	if _, err := loadString(t, strings.Replace(y, "%s", "true", 1)); err == nil || !strings.Contains(err.Error(), `unknown service "gone"`) {
		t.Errorf("required: true with an unknown service: %v", err)
	}
}

// extra_hosts: Compose's forms (HOST:IP, HOST=IP, the map, IPv6 with and
// without brackets) and host-gateway, kept as written until a start fills
// in the address.
func TestExtraHostsForms(t *testing.T) {
	p := mustLoad(t, map[string]string{"nucleus.yaml": `
services:
  a:
    command: [x]
    extra_hosts: ["colon:192.0.2.1", "equals=192.0.2.2", "v6:2001:db8::1", "v6b=[::1]", "gw:host-gateway", {host: gw2, ip: host-gateway}]
  b:
    command: [x]
    extra_hosts: {m: 192.0.2.3, mgw: host-gateway}
`}, nil)
	got := hostsString(p.Services["a"].ExtraHosts) + " | " + hostsString(p.Services["b"].ExtraHosts)
	want := "colon:192.0.2.1,equals:192.0.2.2,gw:host-gateway,gw2:host-gateway,v6:2001:db8::1,v6b:::1 | m:192.0.2.3,mgw:host-gateway"
	if got != want {
		t.Errorf("extra_hosts:\n got %s\nwant %s", got, want)
	}
	if _, err := loadString(t, "services:\n  a:\n    command: [x]\n    extra_hosts: [\"x:gateway\"]\n"); err == nil ||
		!strings.Contains(err.Error(), `invalid IP address "gateway" for host x`) {
		t.Errorf("x:gateway: %v", err)
	}
}

// IPv6 host addresses in ports are refused with the reason, in both forms.
func TestPortsIPv6HostRefused(t *testing.T) {
	for _, y := range []string{`ports: ["[::1]:8080:80"]`, `ports: [{target: 80, published: 8081, host_ip: "::1"}]`} {
		_, err := loadString(t, "services:\n  a:\n    command: [x]\n    "+y+"\n")
		if err == nil || !strings.Contains(err.Error(), "IPv6 host addresses are not supported") {
			t.Errorf("%s: %v; want the IPv6 reason", y, err)
		}
	}
}
