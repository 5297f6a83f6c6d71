package spec

import (
	"path/filepath"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestShortAndLongFormsAreEqual: every short form normalises to exactly the
// service its long form gives, and therefore to the same hash.
func TestShortAndLongFormsAreEqual(t *testing.T) {
	cases := []struct{ name, short, long string }{
		{"command", `command: python3 -m "http.server" '8080'`, `command: [python3, -m, http.server, "8080"]`},
		{"command escapes", `command: sh -c "echo \"hi\" \$$HOME" a\ b`, `command: [sh, -c, 'echo "hi" $$HOME', "a b"]`},
		{"environment", `environment: ["A=1", "B=x y", "C="]`, `environment: {A: 1, B: x y, C: ""}`},
		{"env_file", `env_file: .env.web`, `env_file: [{path: .env.web, required: true}]`},
		{"networks", `networks: [default]`, `networks: {default: {}}`},
		{"networks null entry", `networks: {default: }`, `networks: {default: {aliases: []}}`},
		{"ports", `ports: ["127.0.0.1:8080:80/udp", "9000-9001:90-91", "7000"]`,
			`ports: [{target: 80, published: 8080, host_ip: 127.0.0.1, protocol: udp}, {target: "90-91", published: "9000-9001"}, {target: 7000, host_ip: 0.0.0.0, protocol: tcp}]`},
		{"extra_hosts", `extra_hosts: ["b.test:192.0.2.2", "a.test=192.0.2.1"]`, `extra_hosts: {a.test: 192.0.2.1, b.test: 192.0.2.2}`},
		{"egress", `egress: {allow: [192.0.2.7, "198.51.100.0/24:5432-5433/tcp", "*.Example.com:443"]}`,
			`egress: {allow: [{cidr: 192.0.2.7/32}, {cidr: 198.51.100.0/24, port_start: 5432, port_end: 5433, protocol: tcp}, {domain: "*.example.com", port_start: 443}]}`},
		{"volumes", `volumes: ["./site:/srv:ro", "data:/data", "/tmp/x", "scratch:/scratch"]`,
			`volumes: [{type: bind, source: site, target: /srv/, read_only: true}, {type: volume, source: data, target: /data, read_only: false}, {type: tmpfs, target: /tmp/x}, {type: volume, source: scratch, target: /scratch}]`},
		{"depends_on", `depends_on: [db]`, `depends_on: {db: {condition: service_started, restart: false}}`},
		{"healthcheck string", `healthcheck: {test: "curl -f localhost"}`, `healthcheck: {test: [CMD-SHELL, curl -f localhost], interval: 30s, timeout: 30s, retries: 3, start_period: 0s}`},
		{"restart", `restart: on-failure:5`, `restart: {policy: on-failure, max_retries: 5}`},
		{"restart no", `restart: no`, `restart: "no"`},
		{"landlock", `security: {landlock: [{path: /data/, access: [write, read, read]}]}`, `security: {landlock: {mode: custom, rules: [{path: /data, access: [read, write]}]}}`},
		{"cap_add", `cap_add: [net_admin, CAP_CHOWN, NET_ADMIN]`, `cap_add: [CHOWN, CAP_NET_ADMIN]`},
		{"signals", `stop_signal: term`, `stop_signal: SIGTERM`},
		{"sizes", `resources: {memory: 256mb}`, `resources: {memory: 268435456}`},
		{"durations", `stop_grace_period: 90s`, `stop_grace_period: 1m30s`},
		{"defaults", `command: [x]`, `{command: [x], hostname: web, networks: [default], read_only: true, replicas: 1, stop_signal: SIGTERM, stop_grace_period: 10s, restart: "no", security: {userns: private, seccomp: default, landlock: default}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			short := loadService(t, tc.short)
			long := loadService(t, tc.long)
			short.EnvFile, long.EnvFile = nil, nil // different temp dirs
			if !reflect.DeepEqual(short, long) {
				t.Errorf("short and long differ:\nshort %+v\nlong  %+v", short, long)
			}
			if ServiceHash(short) != ServiceHash(long) {
				t.Error("hashes differ")
			}
		})
	}
}

// loadService loads a project whose service web has the given fields (a
// YAML flow mapping body or block lines).
func loadService(t *testing.T, fields string) *Service {
	t.Helper()
	body := "    " + fields + "\n"
	if fields[0] == '{' {
		body = "    <<: " + fields + "\n"
	}
	p := mustLoad(t, map[string]string{
		"nucleus.yaml": "volumes: {data: {}, scratch: {}}\nservices:\n  db: {command: [db]}\n  web:\n" + body,
		".env.web":     "FROM_FILE=1\n",
	}, nil)
	s := p.Services["web"]
	s.Rootfs = rel(p.Dir, s.Rootfs)
	for i := range s.Volumes {
		if s.Volumes[i].Type == MountBind {
			s.Volumes[i].Source = rel(p.Dir, s.Volumes[i].Source)
		}
	}
	return s
}

func rel(dir, p string) string {
	if r, err := filepath.Rel(dir, p); err == nil && p != "" {
		return r
	}
	return p
}

func TestDefaults(t *testing.T) {
	p := mustLoad(t, map[string]string{"nucleus.yaml": "services:\n  web:\n"}, nil)
	want := &Service{
		Name: "web", Hostname: "web",
		Networks:        map[string]*ServiceNetwork{"default": {}},
		Restart:         RestartPolicy{Policy: "no"},
		StopSignal:      "SIGTERM",
		StopGracePeriod: Duration(10e9),
		Replicas:        1,
		ReadOnly:        true,
		Security:        Security{UserNS: "private", Seccomp: "default", Landlock: Landlock{Mode: "default"}},
	}
	if got := p.Services["web"]; !reflect.DeepEqual(got, want) {
		t.Errorf("defaults:\n got %+v\nwant %+v", got, want)
	}
	if n := p.Networks["default"]; len(p.Networks) != 1 || n == nil || n.NAT != NATAuto || n.Subnet != "" {
		t.Errorf("networks: %+v", p.Networks)
	}
	h := mustLoad(t, map[string]string{"nucleus.yaml": "services:\n  web: {healthcheck: {tcp: 80}}\n"}, nil).Services["web"].Healthcheck
	if !reflect.DeepEqual(*h, Healthcheck{Kind: HealthTCP, TCPPort: 80, Interval: Duration(30e9), Timeout: Duration(30e9), Retries: 3}) {
		t.Errorf("healthcheck defaults: %+v", h)
	}
}

// TestEnvFileMerging: env files merge in order and environment: wins.
func TestEnvFileMerging(t *testing.T) {
	p := mustLoad(t, map[string]string{
		"a.env": "A=from-a\nB=from-a\nexport C=\"multi\nline\"\n# comment\nD='lit $X' # not a comment inside quotes\nE=v # comment\nPASS\n",
		"b.env": "B=from-b\n",
		"nucleus.yaml": `services:
  web:
    env_file: [a.env, b.env, {path: missing.env, required: false}]
    environment: {A: from-yaml, PASS2: }
`,
	}, map[string]string{"PASS": "p", "PASS2": "p2"})
	got := p.Services["web"].Environment
	want := map[string]string{"A": "from-yaml", "B": "from-b", "C": "multi\nline", "D": "lit $X", "E": "v", "PASS": "p", "PASS2": "p2"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("environment:\n got %q\nwant %q", got, want)
	}
	if len(p.WatchFiles) != 3 || filepath.Base(p.WatchFiles[1]) != "a.env" || filepath.Base(p.WatchFiles[2]) != "b.env" {
		t.Errorf("WatchFiles = %v", p.WatchFiles)
	}
}

// TestConfigRoundTrip: the normalised form printed by `nucleus config`
// loads again to the same services.
func TestConfigRoundTrip(t *testing.T) {
	p, err := Load(LoadOptions{WorkingDir: "testdata/full", Environ: map[string]string{}})
	if err != nil {
		t.Fatal(err)
	}
	out, err := yaml.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	again := mustLoad(t, map[string]string{"nucleus.yaml": string(out)}, nil)
	for name, s := range p.Services {
		a := again.Services[name]
		if a == nil || ServiceHash(a) != ServiceHash(s) {
			t.Errorf("service %s changed in the round trip:\n%s", name, out)
		}
	}
	if !reflect.DeepEqual(p.Networks, again.Networks) || !reflect.DeepEqual(p.Volumes, again.Volumes) {
		t.Errorf("networks/volumes changed:\n%+v\n%+v", p.Networks, again.Networks)
	}
}
