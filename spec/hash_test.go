package spec

import (
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
)

// fullService sets every field, so that mutating any of them is visible.
func fullService() *Service {
	return &Service{
		Name:        "web",
		Command:     []string{"serve", "--port", "80"},
		Rootfs:      "/srv/rootfs",
		WorkingDir:  "/srv",
		User:        "1000:1000",
		Hostname:    "web",
		Environment: map[string]string{"A": "1", "B": "2"},
		EnvFile:     []string{"/p/.env.web"},
		Networks: map[string]*ServiceNetwork{
			"back": {Aliases: []string{"www"}, IPv4Address: "10.0.0.5"},
		},
		Ports:      []Port{{Target: 80, TargetEnd: 80, Published: 8080, PublishedEnd: 8080, HostIP: "127.0.0.1", Protocol: "tcp"}},
		DNS:        []string{"192.0.2.53"},
		ExtraHosts: []ExtraHost{{Host: "gw.test", IP: "192.0.2.1"}},
		Egress:     &Egress{Allow: []EgressRule{{CIDR: "192.0.2.0/24", PortStart: 443, PortEnd: 443, Protocol: "tcp"}, {Domain: "api.example.com"}}},
		Resources:  Resources{Memory: 64 << 20, CPUs: 0.5, Pids: 100},
		Volumes:    []VolumeMount{{Type: MountTmpfs, Source: "scratch", Target: "/tmp", ReadOnly: false, Size: 1 << 20}},
		DependsOn:  map[string]Dependency{"db": {Condition: ConditionHealthy, Restart: true}},
		Healthcheck: &Healthcheck{Kind: HealthExec, Test: []string{"CMD", "true"}, TCPPort: 1, HTTPURL: "http://x/",
			Interval: Duration(5e9), Timeout: Duration(1e9), Retries: 3, StartPeriod: Duration(1e9)},
		Restart:         RestartPolicy{Policy: RestartOnFailure, MaxRetries: 5},
		StopSignal:      "SIGTERM",
		StopGracePeriod: Duration(10e9),
		Replicas:        1,
		ReadOnly:        true,
		CapAdd:          []string{"CAP_NET_BIND_SERVICE"},
		Security: Security{UserNS: UserNSPrivate, Seccomp: "/p/seccomp.json", SeccompProfile: []byte(`{"defaultAction":"SCMP_ACT_ERRNO"}`),
			Landlock: Landlock{Mode: LandlockCustom, Rules: []LandlockRule{{Path: "/data", Access: []string{"read"}}}}},
	}
}

// fullImageService is fullService with the image fields set too (kept
// apart so fullService's golden hash shows that services without an image
// hash as before).
func fullImageService() *Service {
	s := fullService()
	s.Image = "docker.io/library/nginx:1.27"
	s.ImageDigest = "sha256:ab12"
	s.Entrypoint = []string{"/docker-entrypoint.sh"}
	s.PullPolicy = PullMissing
	s.ExposedPorts = []string{"80/tcp"}
	s.Ulimits = map[string]Ulimit{"nofile": {Soft: 1024, Hard: 2048}}
	s.ShmSize = 128 << 20
	exec := true
	s.Volumes[0].Mode, s.Volumes[0].Exec = 0o700, &exec
	s.Secrets = []FileMount{{Source: "db", Target: "/run/secrets/db", UID: 1, GID: 2, Mode: 0o400, Data: []byte("pw")}}
	s.Configs = []FileMount{{Source: "conf", Target: "/conf", Mode: 0o444, Data: []byte("c")}}
	s.Labels = map[string]string{"a": "b"}
	s.Profiles = []string{"debug"}
	return s
}

// walkLeaves calls fn with the path and value of every field that can be
// mutated: scalars, byte/string slices, maps of scalars, and the presence of
// pointers and slices of structs (by appending or clearing).
func walkLeaves(v reflect.Value, path string, fn func(path string, v reflect.Value)) {
	switch v.Kind() {
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			walkLeaves(v.Field(i), strings.TrimPrefix(path+"."+v.Type().Field(i).Name, "."), fn)
		}
	case reflect.Pointer:
		fn(path, v) // toggle nil
		if !v.IsNil() {
			walkLeaves(v.Elem(), path, fn)
		}
	case reflect.Slice:
		fn(path, v) // append an element
		if v.Type().Elem().Kind() == reflect.Struct && v.Len() > 0 {
			walkLeaves(v.Index(0), path+"[0]", fn)
		}
	case reflect.Map:
		fn(path, v) // add an entry
		if v.Type().Elem().Kind() == reflect.Pointer {
			for _, k := range v.MapKeys() {
				walkLeaves(v.MapIndex(k).Elem(), path+"."+k.String(), fn)
			}
		}
	default:
		fn(path, v)
	}
}

// mutate changes v in place.
func mutate(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		v.SetString(v.String() + "x")
	case reflect.Int, reflect.Int64:
		v.SetInt(v.Int() + 1)
	case reflect.Uint32:
		v.SetUint(v.Uint() + 1)
	case reflect.Float64:
		v.SetFloat(v.Float() + 0.25)
	case reflect.Bool:
		v.SetBool(!v.Bool())
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		} else {
			v.SetZero()
		}
	case reflect.Slice:
		v.Set(reflect.Append(v, reflect.Zero(v.Type().Elem())))
	case reflect.Map:
		v.SetMapIndex(reflect.ValueOf("zz-new"), reflect.Zero(v.Type().Elem()))
	}
}

// notHashed are the fields the hash leaves out on purpose (allow_config_write
// only lets the loader accept a mount; the sandbox is the same;
// pull_policy says when to pull, and exposed_ports are informational).
var notHashed = regexp.MustCompile(`^(Name|EnvFile|DependsOn|Replicas|Security\.Seccomp|Volumes\[0\]\.AllowConfigWrite|PullPolicy|ExposedPorts|Labels|Profiles)$`)

// liveFields change in place; everything else hashed needs a restart.
var liveFields = regexp.MustCompile(`^(Resources\..*|Ports.*|Egress.*|ExtraHosts.*|DNS|Networks\.[^.]+\.Aliases)$`)

// TestHashCoversEveryField mutates every field of a fully populated service
// and checks the hash and Diff agree with the field's class.
func TestHashCoversEveryField(t *testing.T) {
	base := ServiceHash(fullImageService())
	var paths []string
	walkLeaves(reflect.ValueOf(fullImageService()).Elem(), "", func(p string, _ reflect.Value) { paths = append(paths, p) })
	if len(paths) < 60 {
		t.Fatalf("only %d fields walked", len(paths))
	}
	for _, path := range paths {
		s := fullImageService()
		walkLeaves(reflect.ValueOf(s).Elem(), "", func(p string, v reflect.Value) {
			if p == path {
				mutate(v)
			}
		})
		changed := ServiceHash(s) != base
		changes := Diff(fullImageService(), s)
		switch {
		case notHashed.MatchString(path):
			if changed {
				t.Errorf("%s: hash changed, but this field is excluded", path)
			}
			for _, c := range changes {
				if c.Class != ClassNone {
					t.Errorf("%s: Diff reports %s (%s), want only ClassNone", path, c.Path, c.Class)
				}
			}
		default:
			if !changed {
				t.Errorf("%s: hash did not change", path)
			}
			want := ClassRestart
			if liveFields.MatchString(path) {
				want = ClassLive
			}
			if len(changes) == 0 {
				t.Errorf("%s: Diff found nothing", path)
			}
			for _, c := range changes {
				if c.Class != want {
					t.Errorf("%s: Diff says %s is %s, want %s", path, c.Path, c.Class, want)
				}
			}
		}
	}
}

func TestHashFormatAndGolden(t *testing.T) {
	h := ServiceHash(fullService())
	if !regexp.MustCompile(`^v1:[0-9a-f]{64}$`).MatchString(h) {
		t.Fatalf("hash %q is not v1:<sha256 hex>", h)
	}
	// If this changes, the canonical encoding changed: bump HashVersion so
	// running services are not compared against incompatible hashes.
	const golden = "v1:ea1eb986cc40ccebfd76235857f69602765f86b958ab7f9871fc79d988f4e0c2"
	if h != golden {
		t.Errorf("hash = %s, want %s", h, golden)
	}
}

// TestHashStableAcrossSpelling: key order, comments, flow vs block style and
// short vs long forms give the same hash; depends_on and replicas do not count.
func TestHashStableAcrossSpelling(t *testing.T) {
	a := mustLoad(t, map[string]string{"nucleus.yaml": `
services:
  web:
    command: serve --port 80
    environment: {B: "2", A: "1"}
    ports: ["80"]
    restart: always
    depends_on: [db]
    replicas: 1
  db: {command: [db]}
`}, nil)
	b := mustLoad(t, map[string]string{"nucleus.yaml": `
# the same service, written differently
services:
  db:
    command: [db]
  web:
    restart: always          # comment
    replicas: 3
    depends_on:
      db: {condition: service_started, restart: true}
    ports:
      - target: 80
        protocol: tcp
    environment:
      - A=1
      - B=2
    command:
      - serve
      - --port
      - "80"
`}, nil)
	if ha, hb := ServiceHash(a.Services["web"]), ServiceHash(b.Services["web"]); ha != hb {
		t.Errorf("hashes differ: %s vs %s", ha, hb)
	}
	changes := Diff(a.Services["web"], b.Services["web"])
	var paths []string
	for _, c := range changes {
		paths = append(paths, c.Path+"="+c.Class.String())
	}
	sort.Strings(paths)
	if strings.Join(paths, " ") != "depends_on=none replicas=none" {
		t.Errorf("Diff = %v", paths)
	}
}

func TestHashFollowsFileContents(t *testing.T) {
	files := map[string]string{
		"nucleus.yaml": "services:\n  web: {command: [x], env_file: .env.web, security: {seccomp: ./p.json}}\n",
		".env.web":     "A=1\n",
		"p.json":       `{"defaultAction": "SCMP_ACT_ALLOW"}`,
	}
	first := mustLoad(t, files, nil)
	base := ServiceHash(first.Services["web"])
	var watched []string
	for _, f := range first.WatchFiles {
		watched = append(watched, filepath.Base(f))
	}
	if strings.Join(watched, " ") != "nucleus.yaml .env.web p.json" {
		t.Errorf("WatchFiles = %v, want the project file, the env_file and the seccomp profile", watched)
	}
	files[".env.web"] = "A=2\n"
	envChanged := mustLoad(t, files, nil).Services["web"]
	files[".env.web"] = "A=1\n"
	files["p.json"] = `{"defaultAction": "SCMP_ACT_ERRNO"}`
	profChanged := mustLoad(t, files, nil).Services["web"]
	if ServiceHash(envChanged) == base || ServiceHash(profChanged) == base {
		t.Error("hash ignores env_file or seccomp profile contents")
	}
	if d := Diff(profChanged, envChanged); len(d) != 2 || d[0].Path != "environment.A" || d[1].Path != "security.seccomp" {
		t.Errorf("Diff = %+v", d)
	}
}

func TestDiffDetails(t *testing.T) {
	a, b := fullService(), fullService()
	b.Environment["A"] = "changed"
	delete(b.Environment, "B")
	b.Resources.Memory = 128 << 20
	b.Networks["back"].Aliases = []string{"www", "web2"}
	b.Networks["front"] = &ServiceNetwork{}
	got := Diff(a, b)
	want := []Change{
		{Path: "environment.A", Class: ClassRestart, Old: `"1"`, New: `"changed"`},
		{Path: "environment.B", Class: ClassRestart, Old: `"2"`, New: ""},
		{Path: "networks.back.aliases", Class: ClassLive, Old: "www", New: "www,web2"},
		{Path: "networks.front", Class: ClassRestart, Old: "", New: "attached"},
		{Path: "resources.memory", Class: ClassLive, Old: "64M", New: "128M"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Diff:\n got %+v\nwant %+v", got, want)
	}
}
