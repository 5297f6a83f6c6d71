package spec

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// TestImageRules: every error of the image keys, with file:line:col.
func TestImageRules(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string
	}{
		{"bad reference", "services:\n  web:\n    image: \"Nginx:1.27\"\n",
			[]string{`nucleus.yaml:3:12: services.web.image: image reference "Nginx:1.27": could not parse reference: Nginx:1.27; expected NAME[:TAG][@DIGEST], oci:PATH[:TAG] or docker-archive:PATH`}},
		{"empty reference", "services:\n  web:\n    image: \"\"\n",
			[]string{`nucleus.yaml:3:12: services.web.image: empty image reference; expected NAME[:TAG][@DIGEST], oci:PATH[:TAG] or docker-archive:PATH`}},
		{"image and rootfs", "services:\n  web:\n    image: nginx\n    rootfs: ./root\n",
			[]string{`nucleus.yaml:4:13: services.web.rootfs: image and rootfs are exclusive: the image is the root file system; remove one of them`}},
		{"pull_policy without image", "services:\n  web:\n    command: [\"true\"]\n    pull_policy: always\n",
			[]string{`nucleus.yaml:4:18: services.web.pull_policy: pull_policy applies only to a service with image`}},
		{"unknown pull_policy", "services:\n  web:\n    image: nginx\n    pull_policy: allways\n",
			[]string{`nucleus.yaml:4:18: services.web.pull_policy: invalid pull_policy "allways"; expected missing, always or never; did you mean "always"?`}},
		{"image_digest from the file", "services:\n  web:\n    image: nginx\n    image_digest: sha256:00\n",
			[]string{`nucleus.yaml:4:19: services.web.image_digest: image_digest is filled in from the image, not read from the file; to pin a digest write image: REF@sha256:...`}},
		{"exposed_ports from the file", "services:\n  web:\n    image: nginx\n    exposed_ports: [80/tcp]\n",
			[]string{`nucleus.yaml:4:20: services.web.exposed_ports: exposed_ports is filled in from the image, not read from the file`}},
		{"entrypoint unbalanced quote", "services:\n  web:\n    image: nginx\n    entrypoint: \"sh -c 'x\"\n",
			nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadString(t, tc.yaml)
			got := errorLines(err)
			if tc.want == nil {
				if len(got) != 1 || !strings.HasPrefix(got[0], "nucleus.yaml:4:17: services.web.entrypoint: ") {
					t.Errorf("errors = %q, want one at nucleus.yaml:4:17 naming services.web.entrypoint", got)
				}
				return
			}
			if d := diffLines(got, tc.want); d != "" {
				t.Error(d)
			}
		})
	}
}

// TestServiceHealthyOnImage: service_healthy on a service with an image and
// no healthcheck of its own loads, since the image may bring HEALTHCHECK.
func TestServiceHealthyOnImage(t *testing.T) {
	_, err := loadString(t, "services:\n  web:\n    command: [\"true\"]\n    depends_on:\n      db: {condition: service_healthy}\n  db: {image: \"oci:img:1\"}\n")
	if err != nil {
		t.Errorf("service_healthy on an image service without healthcheck: %v, want it to load", err)
	}
}

// TestImageKeysLoad: what the loader makes of image, entrypoint and
// pull_policy.
func TestImageKeysLoad(t *testing.T) {
	for _, tc := range []struct {
		name, svc  string
		image      string
		entrypoint Argv
		command    []string
		pull       string
	}{
		{"short name", "{image: \"nginx:1.27\"}", "docker.io/library/nginx:1.27", nil, nil, PullMissing},
		{"no tag", "{image: nginx}", "docker.io/library/nginx:latest", nil, nil, PullMissing},
		{"oci layout, relative", "{image: \"oci:img:v1\"}", "oci:/PROJECT/img:v1", nil, nil, PullMissing},
		{"docker archive", "{image: \"docker-archive:x.tar\"}", "docker-archive:/PROJECT/x.tar", nil, nil, PullMissing},
		{"pull always", "{image: nginx, pull_policy: always}", "docker.io/library/nginx:latest", nil, nil, PullAlways},
		{"compose if_not_present", "{image: nginx, pull_policy: if_not_present}", "docker.io/library/nginx:latest", nil, nil, PullMissing},
		{"entrypoint string", "{image: nginx, entrypoint: \"/bin/sh -c 'echo hi'\"}", "docker.io/library/nginx:latest", Argv{"/bin/sh", "-c", "echo hi"}, nil, PullMissing},
		{"entrypoint cleared by []", "{image: nginx, entrypoint: [], command: [a]}", "docker.io/library/nginx:latest", Argv{}, []string{"a"}, PullMissing},
		{"entrypoint cleared by empty string", "{image: nginx, entrypoint: \"\"}", "docker.io/library/nginx:latest", Argv{}, nil, PullMissing},
		{"entrypoint without image is prepended", "{entrypoint: [env], command: [true]}", "", nil, []string{"env", "true"}, ""},
		{"no image, no pull policy", "{command: [true]}", "", nil, []string{"true"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{"nucleus.yaml": "services:\n  web: " + tc.svc + "\n"})
			p, err := Load(LoadOptions{WorkingDir: dir, Environ: map[string]string{}})
			if err != nil {
				t.Fatal(err)
			}
			s := p.Services["web"]
			if want := strings.ReplaceAll(tc.image, "/PROJECT", p.Dir); s.Image != want {
				t.Errorf("Image = %q, want %q", s.Image, want)
			}
			if !reflect.DeepEqual(s.Entrypoint, tc.entrypoint) {
				t.Errorf("Entrypoint = %#v, want %#v", s.Entrypoint, tc.entrypoint)
			}
			if !reflect.DeepEqual(s.Command, tc.command) {
				t.Errorf("Command = %#v, want %#v", s.Command, tc.command)
			}
			if s.PullPolicy != tc.pull {
				t.Errorf("PullPolicy = %q, want %q", s.PullPolicy, tc.pull)
			}
		})
	}
}

// TestStopSignalFromImage: an image service's stop_signal is the file's,
// else the image's, else SIGTERM; writing the default changes nothing
// once the image is merged.
func TestStopSignalFromImage(t *testing.T) {
	p := mustLoad(t, map[string]string{"nucleus.yaml": "services:\n  a: {image: x, hostname: h}\n  b: {image: x, hostname: h, stop_signal: SIGTERM}\n"}, nil)
	merge := func(s *Service, c ImageConfig) *Service {
		t.Helper()
		m, err := s.WithImageConfig(c)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := merge(p.Services["a"], ImageConfig{Cmd: []string{"x"}}), merge(p.Services["b"], ImageConfig{Cmd: []string{"x"}})
	if a.StopSignal != DefaultStopSignal || ServiceHash(a) != ServiceHash(b) {
		t.Errorf("stop_signal %q; writing the default stop_signal changes the hash: %v", a.StopSignal, Diff(a, b))
	}
	img := ImageConfig{Cmd: []string{"x"}, StopSignal: "SIGQUIT"}
	a, b = merge(p.Services["a"], img), merge(p.Services["b"], img)
	if a.StopSignal != "SIGQUIT" || b.StopSignal != DefaultStopSignal {
		t.Errorf("stop_signal %q (unset) and %q (written SIGTERM) with the image's SIGQUIT; want SIGQUIT and SIGTERM", a.StopSignal, b.StopSignal)
	}
}

// TestWithImageConfig: the image supplies defaults, the service wins, as
// in Compose.
func TestWithImageConfig(t *testing.T) {
	img := ImageConfig{
		Entrypoint: []string{"/entry"}, Cmd: []string{"serve"},
		Env:        []string{"PATH=/usr/bin", "A=image"},
		WorkingDir: "/app", User: "999", StopSignal: "SIGQUIT",
		Healthcheck:  &ImageHealthcheck{Test: []string{"CMD", "check"}, Interval: time.Second},
		ExposedPorts: []string{"80/tcp"},
	}
	base := func() *Service {
		return &Service{Name: "web", Image: "docker.io/library/x:1"} // stop_signal unset, as loaded
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Service)
		image func(*ImageConfig)
		check func(t *testing.T, s *Service)
	}{
		{"image entrypoint and cmd", nil, nil, func(t *testing.T, s *Service) {
			eq(t, "argv", s.Command, []string{"/entry", "serve"})
			eq(t, "entrypoint", s.Entrypoint, []string{})
		}},
		{"command replaces cmd", func(s *Service) { s.Command = []string{"run"} }, nil, func(t *testing.T, s *Service) {
			eq(t, "argv", s.Command, []string{"/entry", "run"})
		}},
		{"entrypoint replaces entrypoint and drops cmd", func(s *Service) { s.Entrypoint = []string{"/mine"} }, nil, func(t *testing.T, s *Service) {
			eq(t, "argv", s.Command, []string{"/mine"})
		}},
		{"entrypoint and command", func(s *Service) { s.Entrypoint, s.Command = []string{"/mine"}, []string{"x"} }, nil, func(t *testing.T, s *Service) {
			eq(t, "argv", s.Command, []string{"/mine", "x"})
		}},
		{"cleared entrypoint and command", func(s *Service) { s.Entrypoint, s.Command = []string{}, []string{"sh"} }, nil, func(t *testing.T, s *Service) {
			eq(t, "argv", s.Command, []string{"sh"})
		}},
		{"no image entrypoint", nil, func(c *ImageConfig) { c.Entrypoint = nil }, func(t *testing.T, s *Service) {
			eq(t, "argv", s.Command, []string{"serve"})
		}},
		{"env without image env", func(s *Service) { s.Environment = map[string]string{"A": "file"} }, func(c *ImageConfig) { c.Env = nil }, func(t *testing.T, s *Service) {
			eq(t, "env", s.Environment, map[string]string{"A": "file"})
		}},
		{"env merged, service wins", func(s *Service) { s.Environment = map[string]string{"A": "file", "B": "file"} }, nil, func(t *testing.T, s *Service) {
			eq(t, "env", s.Environment, map[string]string{"PATH": "/usr/bin", "A": "file", "B": "file"})
		}},
		{"image defaults", nil, nil, func(t *testing.T, s *Service) {
			eq(t, "working_dir", s.WorkingDir, "/app")
			eq(t, "user", s.User, "999")
			eq(t, "stop_signal", s.StopSignal, Signal("SIGQUIT"))
			eq(t, "exposed", s.ExposedPorts, []string{"80/tcp"})
		}},
		{"service fields win", func(s *Service) {
			s.WorkingDir, s.User, s.StopSignal = "/srv", "1000", "SIGTERM"
		}, nil, func(t *testing.T, s *Service) {
			eq(t, "working_dir", s.WorkingDir, "/srv")
			eq(t, "user", s.User, "1000")
			eq(t, "stop_signal", s.StopSignal, Signal("SIGTERM"))
		}},
		{"numeric stop signal", nil, func(c *ImageConfig) { c.StopSignal = "3" }, func(t *testing.T, s *Service) {
			eq(t, "stop_signal", s.StopSignal, Signal("SIGQUIT"))
		}},
		{"healthcheck CMD, zero durations take defaults", nil, nil, func(t *testing.T, s *Service) {
			eq(t, "healthcheck", s.Healthcheck, &Healthcheck{Kind: HealthExec, Test: []string{"CMD", "check"},
				Interval: Duration(time.Second), Timeout: DefaultHealthTimeout, Retries: DefaultHealthRetries})
		}},
		{"healthcheck CMD-SHELL", nil, func(c *ImageConfig) {
			c.Healthcheck = &ImageHealthcheck{Test: []string{"CMD-SHELL", "curl -f localhost"}, Timeout: 2 * time.Second, Retries: 5, StartPeriod: time.Second}
		}, func(t *testing.T, s *Service) {
			eq(t, "healthcheck", s.Healthcheck, &Healthcheck{Kind: HealthExec, Test: []string{"CMD-SHELL", "curl -f localhost"},
				Interval: DefaultHealthInterval, Timeout: Duration(2 * time.Second), Retries: 5, StartPeriod: Duration(time.Second)})
		}},
		{"healthcheck NONE", nil, func(c *ImageConfig) { c.Healthcheck = &ImageHealthcheck{Test: []string{"NONE"}} }, func(t *testing.T, s *Service) {
			eq(t, "healthcheck", s.Healthcheck, (*Healthcheck)(nil))
		}},
		{"service healthcheck wins", func(s *Service) { s.Healthcheck = &Healthcheck{Kind: HealthTCP, TCPPort: 80} }, nil, func(t *testing.T, s *Service) {
			eq(t, "healthcheck", s.Healthcheck, &Healthcheck{Kind: HealthTCP, TCPPort: 80})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, c := base(), img
			if tc.edit != nil {
				tc.edit(s)
			}
			if tc.image != nil {
				tc.image(&c)
			}
			before := ServiceHash(s)
			got, err := s.WithImageConfig(c)
			if err != nil {
				t.Fatal(err)
			}
			if got.Environment != nil {
				got.Environment["EDITED"] = "1"
			}
			if ServiceHash(s) != before {
				t.Error("WithImageConfig changed the service it was called on, or shares its environment with the copy")
			}
			delete(got.Environment, "EDITED")
			tc.check(t, got)
			again, err := got.WithImageConfig(c)
			if err != nil || !reflect.DeepEqual(again.Command, got.Command) {
				t.Errorf("merging twice gives %q, %v; want %q", again.Command, err, got.Command)
			}
		})
	}
}

func TestWithImageConfigErrors(t *testing.T) {
	s := &Service{Name: "web", Image: "docker.io/library/x:1"}
	for _, tc := range []struct {
		name string
		edit func(*Service)
		c    ImageConfig
		want string
	}{
		{"no argv", nil, ImageConfig{}, "service web: image docker.io/library/x:1: the image has no entrypoint or cmd and the file gives no command; set command: (or entrypoint:)"},
		{"cleared entrypoint, no command", func(s *Service) { s.Entrypoint = []string{} }, ImageConfig{Entrypoint: []string{"/e"}, Cmd: []string{"c"}}, "entrypoint: [] clears the image's entrypoint and, as in Compose, its cmd too"},
		{"bad env", nil, ImageConfig{Cmd: []string{"x"}, Env: []string{"NOEQ"}}, `invalid Env entry "NOEQ"; expected KEY=VALUE`},
		{"relative workdir", nil, ImageConfig{Cmd: []string{"x"}, WorkingDir: "app"}, `WorkingDir "app" is not an absolute path`},
		{"bad user", nil, ImageConfig{Cmd: []string{"x"}, User: "a b"}, `User: invalid user "a b"`},
		{"bad signal", nil, ImageConfig{Cmd: []string{"x"}, StopSignal: "SIGNOPE"}, `StopSignal: unknown signal "SIGNOPE"`},
		{"bad healthcheck", nil, ImageConfig{Cmd: []string{"x"}, Healthcheck: &ImageHealthcheck{Test: []string{"CMD"}}}, `Healthcheck: test ["CMD"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			svc := *s
			if tc.edit != nil {
				tc.edit(&svc)
			}
			_, err := svc.WithImageConfig(tc.c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

// TestImageDiff: a new digest under the same reference, and a new
// reference, are restart changes that say what moved.
func TestImageDiff(t *testing.T) {
	const d1 = "sha256:ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12"
	const d2 = "sha256:cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34cd34"
	svc := func(img, dig string) *Service { return &Service{Image: img, ImageDigest: dig} }
	for _, tc := range []struct {
		name     string
		old, new *Service
		want     string
	}{
		{"digest", svc("docker.io/library/nginx:1.27", d1), svc("docker.io/library/nginx:1.27", d2),
			"image docker.io/library/nginx:1.27 sha256:ab12ab12ab12… -> sha256:cd34cd34cd34…"},
		{"reference", svc("docker.io/library/nginx:1.27", d1), svc("docker.io/library/nginx:1.28", d1),
			"image docker.io/library/nginx:1.27 -> docker.io/library/nginx:1.28"},
		{"resolved", svc("docker.io/library/nginx:1.27", ""), svc("docker.io/library/nginx:1.27", d1),
			"image docker.io/library/nginx:1.27 none -> sha256:ab12ab12ab12…"},
		{"from rootfs", &Service{Rootfs: "/r"}, svc("docker.io/library/nginx:1.27", d1),
			"image none -> docker.io/library/nginx:1.27"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range Diff(tc.old, tc.new) {
				if c.Path == "image" {
					if c.Class != ClassRestart {
						t.Errorf("class %s, want restart", c.Class)
					}
					got = append(got, c.String())
				}
			}
			if len(got) != 1 || got[0] != tc.want {
				t.Errorf("image changes = %q, want [%q]", got, tc.want)
			}
			if ServiceHash(tc.old) == ServiceHash(tc.new) {
				t.Error("hash did not change")
			}
		})
	}
	// Resolved services carry the image's tree as rootfs: a new digest
	// moves it too, and plan says so once, on the image line.
	o, n := svc("docker.io/library/nginx:1.27", d1), svc("docker.io/library/nginx:1.27", d2)
	o.Rootfs, n.Rootfs = "/data/images/trees/1", "/data/images/trees/2"
	if ch := Diff(o, n); len(ch) != 1 || ch[0].Path != "image" {
		t.Errorf("new digest and tree: changes %v, want only the image line", ch)
	}
	a, b := svc("docker.io/library/nginx:1.27", d1), svc("docker.io/library/nginx:1.27", d1)
	b.PullPolicy = PullNever
	if ServiceHash(a) != ServiceHash(b) || len(Diff(a, b)) != 0 {
		t.Errorf("pull_policy changes the hash or the diff (%v); it must not restart", Diff(a, b))
	}
}

// TestHashWithoutImageUnchanged: the hash of a file that uses none of the
// image keys is the one nucleus computed before images existed (the value
// below was computed on main before this change), so upgrading restarts
// nothing.
func TestHashWithoutImageUnchanged(t *testing.T) {
	p := mustLoad(t, map[string]string{"nucleus.yaml": `services:
  web:
    command: [serve, --port, "80"]
    environment: {A: "1"}
    stop_signal: SIGQUIT
    healthcheck: {test: [CMD, "true"]}
    ports: ["8080:80"]
`}, nil)
	const want = "v1:b6df89fdacd5a16df55b076a410ee0afd09986102c25f4a59735a0941d3f9e1f"
	if got := ServiceHash(p.Services["web"]); got != want {
		t.Errorf("hash = %s, want %s (unchanged from before images)", got, want)
	}
}

// TestClearedEntrypointSurvivesConfig: nucleus config prints a cleared
// entrypoint as [] (in YAML and JSON), and loading that output clears it
// again instead of falling back to the image's.
func TestClearedEntrypointSurvivesConfig(t *testing.T) {
	p := mustLoad(t, map[string]string{"nucleus.yaml": "services:\n  a: {image: x, entrypoint: [], command: [sh]}\n  b: {image: x}\n"}, nil)
	y, err := yaml.Marshal(p.Services)
	if err != nil {
		t.Fatal(err)
	}
	j, err := json.Marshal(p.Services)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(y), "entrypoint: []"); n != 1 {
		t.Errorf("YAML has %d \"entrypoint: []\", want 1 (a only):\n%s", n, y)
	}
	if n := strings.Count(string(j), `"entrypoint":[]`); n != 1 || strings.Contains(string(j), "null") {
		t.Errorf("JSON has %d \"entrypoint\":[], want 1 (a only) and no null:\n%s", n, j)
	}
	again := mustLoad(t, map[string]string{"nucleus.yaml": "services:\n" + indent(string(y), "  ")}, nil)
	if e := again.Services["a"].Entrypoint; e == nil || len(e) != 0 {
		t.Errorf("entrypoint after loading the config output = %#v, want cleared (empty, not nil)", e)
	}
}

func indent(s, by string) string {
	var b strings.Builder
	for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		b.WriteString(by + l + "\n")
	}
	return b.String()
}
