package spec

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"nucleus/internal/testutil"
)

func TestParsePort(t *testing.T) {
	checkParse(t, "ParsePort", ParsePort, Port.String, []parseCase[Port]{
		{in: "80", want: Port{Target: 80, TargetEnd: 80, HostIP: "0.0.0.0", Protocol: "tcp"}},
		{in: "8080:80", want: Port{Target: 80, TargetEnd: 80, Published: 8080, PublishedEnd: 8080, HostIP: "0.0.0.0", Protocol: "tcp"}},
		{in: "127.0.0.1:8080:80/udp", want: Port{Target: 80, TargetEnd: 80, Published: 8080, PublishedEnd: 8080, HostIP: "127.0.0.1", Protocol: "udp"}},
		{in: "127.0.0.1::80", want: Port{Target: 80, TargetEnd: 80, HostIP: "127.0.0.1", Protocol: "tcp"}},
		{in: "9000-9002:7000-7002", want: Port{Target: 7000, TargetEnd: 7002, Published: 9000, PublishedEnd: 9002, HostIP: "0.0.0.0", Protocol: "tcp"}},
		{in: "7000-7002/udp", err: "container port range 7000-7002 needs a host port range of the same length"},
		{in: "9000-9001:80", err: "host port range 9000-9001 has 2 ports but container port range 80 has 1"},
		{in: "9002-9000:80", err: "host port range 9002-9000 ends before it starts"},
		{in: "65536", err: "container port 65536 is out of range 1-65535"},
		{in: "http", err: `container port "http" is not a number`},
		{in: "80/sctp", err: `unknown protocol "sctp"`},
		{in: "[::1]:80:80", err: "IPv6 host addresses are not supported"},
		{in: "::80", err: "empty host address"},
		{in: "", err: `container port "" is not a number`},
	})
}

func TestParseVolumeMount(t *testing.T) {
	checkParse(t, "ParseVolumeMount", func(in string) (VolumeMount, error) { return ParseVolumeMount(in, "/p") }, nil, []parseCase[VolumeMount]{
		{in: "./site:/srv:ro", want: VolumeMount{Type: MountBind, Source: "/p/site", Target: "/srv", ReadOnly: true}},
		{in: "../shared:/shared", want: VolumeMount{Type: MountBind, Source: "/shared", Target: "/shared"}},
		{in: "/abs/dir:/x/:rw", want: VolumeMount{Type: MountBind, Source: "/abs/dir", Target: "/x"}},
		{in: "data:/var/lib/web", want: VolumeMount{Type: MountVolume, Source: "data", Target: "/var/lib/web"}},
		{in: "/cache", want: VolumeMount{Type: MountTmpfs, Target: "/cache"}},
		{in: "/cache:ro", want: VolumeMount{Type: MountTmpfs, Target: "/cache", ReadOnly: true}},
		{in: "data:relative", err: `target "relative" must be an absolute path`},
		{in: "data:/x:z", err: `unknown option "z"`},
		{in: "./data:/data:U", want: VolumeMount{Type: MountBind, Source: "/p/data", Target: "/data", Chown: true}},
		{in: "./data:/data:rw,U", want: VolumeMount{Type: MountBind, Source: "/p/data", Target: "/data", Chown: true}},
		{in: "./data:/data:ro,U", err: "makes no sense with ro"},
		{in: "data:/data:U", want: VolumeMount{Type: MountVolume, Source: "data", Target: "/data", Chown: true}},
		{in: "data:/data:ro,U", err: "makes no sense with ro"},
		{in: "/cache:U", err: "U (chown) applies only to bind mounts and named volumes, not to a tmpfs"},
		{in: "./x:/x:ro,rw", err: "ro and rw together"},
		{in: "./x:/x:ro,", err: "empty option"},
		{in: "~/x:/x", err: "~ is not expanded"},
		{in: "Data:/x", err: `source "Data" is neither a path`},
		{in: "a:/b:ro:extra", err: "expected [SOURCE:]TARGET[:ro|rw][,U]"},
		{in: "./x:/", err: "target must not be /"},
		{in: ":/x", err: "empty source"},
	})
}

func TestParseEgressRule(t *testing.T) {
	checkParse(t, "ParseEgressRule", ParseEgressRule, EgressRule.String, []parseCase[EgressRule]{
		{in: "192.0.2.0/24", want: EgressRule{CIDR: "192.0.2.0/24"}},
		{in: "192.0.2.7", want: EgressRule{CIDR: "192.0.2.7/32"}},
		{in: "198.51.100.7:5432/tcp", want: EgressRule{CIDR: "198.51.100.7/32", PortStart: 5432, PortEnd: 5432, Protocol: "tcp"}},
		{in: "198.51.100.0/24:8000-8100", want: EgressRule{CIDR: "198.51.100.0/24", PortStart: 8000, PortEnd: 8100}},
		{in: "192.0.2.7/udp", want: EgressRule{CIDR: "192.0.2.7/32", Protocol: "udp"}},
		{in: "API.Example.com:443", want: EgressRule{Domain: "api.example.com", PortStart: 443, PortEnd: 443}},
		{in: "*.example.com", want: EgressRule{Domain: "*.example.com"}},
		{in: "192.0.2.1/24", err: "has host bits set; did you mean 192.0.2.0/24?"},
		{in: "1.2.3", err: `"1.2.3" is not an IPv4 address`},
		{in: "a.*.com", err: "a wildcard is allowed only as a leading *."},
		{in: "example.com:99999", err: "port 99999 is out of range"},
		{in: "example.com:443/icmp", err: `port "443/icmp" is not a number`},
		{in: "::1", err: "IPv6 is not supported"},
		{in: "", err: "empty egress entry"},
	})
}

// parseCase is one input of a parser's table test: the value it gives, or
// a substring of its error.
type parseCase[T comparable] struct {
	in   string
	want T
	err  string
}

// checkParse runs parse (name in failures) over cases; with str, every
// parsed value must parse back to itself from its String form.
func checkParse[T comparable](t *testing.T, name string, parse func(string) (T, error), str func(T) string, cases []parseCase[T]) {
	t.Helper()
	for _, tc := range cases {
		got, err := parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s(%q) error = %v, want %q", name, tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s(%q) = %+v, %v; want %+v", name, tc.in, got, err, tc.want)
		}
		if str != nil && err == nil {
			if back, err := parse(str(got)); err != nil || back != got {
				t.Errorf("round trip of %q via %q: %+v %v", tc.in, str(got), back, err)
			}
		}
	}
}

func TestSplitCommand(t *testing.T) {
	cases := []struct {
		in   string
		want []string
		err  string
	}{
		{in: "python3 -m http.server 8080", want: []string{"python3", "-m", "http.server", "8080"}},
		{in: `  sh   -c  'echo "a  b"; exit 1'  `, want: []string{"sh", "-c", `echo "a  b"; exit 1`}},
		{in: `echo "x \"y\" \$z \\ \q"`, want: []string{"echo", `x "y" $z \ \q`}},
		{in: `a\ b c\\d ''`, want: []string{"a b", `c\d`, ""}},
		{in: `pre"mid"'post'`, want: []string{"premidpost"}},
		{in: "line\\\ncontinued", want: []string{"linecontinued"}},
		{in: "", want: nil},
		{in: `echo 'open`, err: "unterminated single quote"},
		{in: `echo "open`, err: "unterminated double quote"},
	}
	for _, tc := range cases {
		got, err := SplitCommand(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("SplitCommand(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("SplitCommand(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

func TestParseRestart(t *testing.T) {
	for in, want := range map[string]RestartPolicy{
		"no": {Policy: "no"}, "always": {Policy: "always"}, "unless-stopped": {Policy: "unless-stopped"},
		"on-failure": {Policy: "on-failure"}, "on-failure:3": {Policy: "on-failure", MaxRetries: 3},
	} {
		if got, err := ParseRestart(in); err != nil || got != want {
			t.Errorf("ParseRestart(%q) = %+v, %v", in, got, err)
		}
	}
	for in, msg := range map[string]string{
		"alway":        `did you mean "always"?`,
		"always:3":     "expected no, always, on-failure[:MAX] or unless-stopped",
		"on-failure:x": "must be a positive number",
		"false":        `invalid restart policy "false"`,
	} {
		if _, err := ParseRestart(in); err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseRestart(%q) error = %v, want %q", in, err, msg)
		}
	}
}

func TestLoadSeccompProfile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		testutil.WriteFile(t, p, content)
		return p
	}
	good := write("good.json", `{"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [{"names": ["read", "write", "exit_group", "openat"], "action": "SCMP_ACT_ALLOW"}]}`)
	data, err := LoadSeccompProfile(good)
	if err != nil || !strings.Contains(string(data), "exit_group") {
		t.Fatalf("good profile: %v", err)
	}
	cases := map[string]string{
		write("syntax.json", "{\n  \"defaultAction\": \"SCMP_ACT_ERRNO\",\n  oops\n}"):                                                          "not valid JSON at line 3, column 3",
		write("nodefault.json", `{"syscalls": []}`):                                                                                             "defaultAction is missing",
		write("action.json", `{"defaultAction": "SCMP_ACT_MAYBE"}`):                                                                             `unknown defaultAction "SCMP_ACT_MAYBE"`,
		write("names.json", `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read", "frobnicate"], "action": "SCMP_ACT_ERRNO"}]}`): `unknown syscall "frobnicate"`,
		write("type.json", `{"defaultAction": 3}`):                                                                                              "defaultAction has the wrong type",
		filepath.Join(dir, "missing.json"):                                                                                                      "no such file or directory",
	}
	for path, msg := range cases {
		if _, err := LoadSeccompProfile(path); err == nil || !strings.Contains(err.Error(), msg) || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error = %v, want one naming the file and containing %q", filepath.Base(path), err, msg)
		}
	}
}

func TestEnvFileSyntax(t *testing.T) {
	r := parseEnvFile([]byte("A=1\n\n# c\nexport B = two words  # trailing\nC=\"x\\ny\\\"z\\$\"\nD='${NOT}'\n1BAD=x\nE=${A}-${UNSET:-d}\nF=\"unterminated\n"), "/p/.env", 0,
		func(string) (string, bool) { return "", false })
	want := map[string]string{"A": "1", "B": "two words", "C": "x\ny\"z$", "D": "${NOT}", "E": "1-d"}
	if !reflect.DeepEqual(r.vars, want) {
		t.Errorf("vars = %q, want %q", r.vars, want)
	}
	var msgs []string
	for _, e := range r.errs {
		msgs = append(msgs, e.Error())
	}
	if strings.Join(msgs, "\n") != "/p/.env:7:1: invalid variable name \"1BAD\"; expected KEY=VALUE\n/p/.env:9:1: unterminated double-quoted value of F" {
		t.Errorf("errors = %q", msgs)
	}
}

// TestYAML12Scalars: values keep their text where a string is expected (no
// YAML 1.1 booleans, octals or base-60), and booleans accept only true/false.
func TestYAML12Scalars(t *testing.T) {
	p := mustLoad(t, map[string]string{"nucleus.yaml": `services:
  web:
    command: [on, off, yes, no, 0777, 1:30, 0x1F, 1e3, ~x, "null"]
    environment: {A: no, B: 012, C: 1.50, D: true, E: null, F: ""}
    hostname: on
    read_only: false
`}, nil)
	s := p.Services["web"]
	if got := strings.Join(s.Command, " "); got != "on off yes no 0777 1:30 0x1F 1e3 ~x null" {
		t.Errorf("command = %q", got)
	}
	want := map[string]string{"A": "no", "B": "012", "C": "1.50", "D": "true", "F": ""}
	if !reflect.DeepEqual(s.Environment, want) || s.Hostname != "on" || s.ReadOnly {
		t.Errorf("environment %q hostname %q read_only %v", s.Environment, s.Hostname, s.ReadOnly)
	}
}
