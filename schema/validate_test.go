package schema_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"nucleus/schema"
)

// exampleFiles returns every examples/**/nucleus*.yaml of the repository.
func exampleFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir("../examples", func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if !d.IsDir() && strings.HasPrefix(name, "nucleus") && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk examples: %v", err)
	}
	// hello, web, gitops/blog, gitops/status: finding fewer means the walk
	// is broken and the test below would pass on nothing.
	if len(files) < 4 {
		t.Fatalf("found %d example files (%v); expected at least 4", len(files), files)
	}
	return files
}

func TestExamplesValidateAgainstSchema(t *testing.T) {
	for _, f := range exampleFiles(t) {
		t.Run(f, func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.ValidateYAML(data); err != nil {
				t.Errorf("%s does not validate against nucleus.schema.json:\n%v", f, err)
			}
		})
	}
}

// Every short and long form the file format documents is accepted, by the
// schema and by the loader alike (an editor must never mark a file that
// nucleus accepts).
func TestSchemaAcceptsDocumentedForms(t *testing.T) {
	cases := map[string]string{
		"minimal":              "services: {a: {command: /bin/true}}",
		"service null":         "services: {a: }",
		"project name reduced": "name: My Shop!\nservices: {a: {}}",
		"command list":         `services: {a: {command: ["/bin/sh", "-c", "echo hi"]}}`,
		"environment map":      "services: {a: {environment: {A: x, B: 1, C: true, D: null}}}",
		"environment list":     `services: {a: {environment: ["A=x", "B=", "C"]}}`,
		"env_file string":      "services: {a: {env_file: .env.a}}",
		"env_file list":        "services: {a: {env_file: [.env.a, .env.b]}}",
		"env_file long":        "services: {a: {env_file: [{path: .env.a}, {path: .env.missing, required: false}]}}",
		"networks list":        "networks: {n: {}}\nservices: {a: {networks: [n]}}",
		"networks map":         "networks: {n: {subnet: 10.89.1.0/24}}\nservices: {a: {networks: {n: {aliases: [x], ipv4_address: 10.89.1.10}}}}",
		"networks map null":    "networks: {n: }\nservices: {a: {networks: {n: }}}",
		"network full":         "networks: {n: {subnet: 10.89.1.0/24, nat: userspace, internal: true, dns: [192.0.2.53]}}\nservices: {a: {networks: [n]}}",
		"dns single":           "networks: {default: {dns: 192.0.2.53}}\nservices: {a: {dns: 192.0.2.54}}",
		"volume empty":         "volumes: {d: {}, e: }",
		"volume tmpfs":         "volumes: {s: {type: tmpfs, size: 64M}}",
		"ports short":          `services: {a: {ports: ["8080", "81:8080", "127.0.0.1:82:8080", "127.0.0.1::8080", "8000-8010:9000-9010/udp", 8081]}}`,
		"ports long":           `services: {a: {ports: [{target: 53, published: 5353, host_ip: 127.0.0.1, protocol: udp}, {target: 80, target_end: 81, published: 8080, published_end: 8081}, {target: "90-91", published: "9090-9091"}]}}`,
		"egress":               `services: {a: {egress: {allow: [192.0.2.0/24, 192.0.2.7, "198.51.100.7:5432/tcp", "198.51.100.7:1000-2000/udp", 192.0.2.8/udp, api.example.com, "api.example.com:443", "*.example.com", _srv.example.com.]}}}`,
		"egress long":          "services: {a: {egress: {allow: [{cidr: 192.0.2.0/24, port_start: 80, port_end: 90, protocol: tcp}, {domain: api.example.com}]}}}",
		"egress empty":         "services: {a: {egress: {}}}",
		"extra_hosts":          `services: {a: {extra_hosts: ["gateway.test:192.0.2.1", "other=192.0.2.2", {host: third, ip: 192.0.2.3}]}}`,
		"extra_hosts map":      "services: {a: {extra_hosts: {gateway.test: 192.0.2.1}}}",
		"resources":            "services: {a: {resources: {memory: 256M, cpus: 0.5, pids: 128}}}",
		"resources int size":   "services: {a: {resources: {memory: 268435456, cpus: 2, pids: -1}}}",
		"volumes":              "volumes: {data: {}}\nservices: {a: {volumes: [\"./site:/srv:ro\", \"data:/var/lib/x\", \"/abs:/abs:rw\", \"/anon\"]}}",
		"volumes long":         "volumes: {data: {}, t: {type: tmpfs}}\nservices: {a: {volumes: [{type: bind, source: ./site, target: /srv, read_only: true}, {type: volume, source: data, target: /d}, {type: tmpfs, target: /t, size: 16M}, {type: tmpfs, source: t, target: /t2}]}}",
		"depends_on list":      "services: {a: {depends_on: [b]}, b: {}}",
		"depends_on map":       "services: {a: {depends_on: {b: {condition: service_healthy, restart: true}, c: }}, b: {healthcheck: {tcp: 80}}, c: {}}",
		"health CMD":           `services: {a: {healthcheck: {test: ["CMD", "wget", "-q", "http://127.0.0.1/"], interval: 5s, timeout: 2s, retries: 3, start_period: 1s}}}`,
		"health CMD-SHELL":     `services: {a: {healthcheck: {test: ["CMD-SHELL", "test -f /ok"]}}}`,
		"health string":        `services: {a: {healthcheck: {test: "test -f /ok"}}}`,
		"health tcp":           "services: {a: {healthcheck: {tcp: 8080}}}",
		"health http":          "services: {a: {healthcheck: {http: http://127.0.0.1:8080/}}}",
		"health kind":          "services: {a: {healthcheck: {kind: tcp, tcp: 8080}}}",
		"health null":          "services: {a: {healthcheck: }}",
		"empty values":         "name:\nnetworks: {n: {subnet: , nat: , internal: , dns: }}\nvolumes: {v: {type: , size: }}\nservices: {a: {command: , rootfs: , working_dir: , user: , hostname: , environment: , env_file: , networks: , ports: , dns: , extra_hosts: , egress: , resources: {memory: , cpus: , pids: }, volumes: , depends_on: , healthcheck: {tcp: 80, interval: , timeout: , retries: , start_period: }, restart: , stop_signal: , stop_grace_period: , replicas: , read_only: , cap_add: , security: {userns: , seccomp: , landlock: }}}",
		"empty file":           "",
		"health disable":       "services: {a: {healthcheck: {disable: true}}, b: {healthcheck: {test: [NONE]}}}",
		"restart forms":        "services: {a: {restart: no}, b: {restart: always}, c: {restart: on-failure}, d: {restart: on-failure:5}, e: {restart: unless-stopped}}",
		"restart long":         "services: {a: {restart: {policy: on-failure, max_retries: 5}}, b: {restart: {policy: always}}}",
		"extra_hosts forms":    "services: {a: {extra_hosts: ['a:192.0.2.1', 'b=192.0.2.2', 'c:2001:db8::1', 'd=[::1]', 'gw:host-gateway', {host: e, ip: host-gateway}, {host: f, ip: '::1'}]}, b: {extra_hosts: {m: 192.0.2.3, g: host-gateway, v6: '::1'}}}",
		"service names":        "services: {api.v2: {}, Web_1: {}, a-b.c_d: {}, a2345678901234567890123456789012345678901234567890123456789012: {}}",
		"ulimits shm tmpfs":    "services: {a: {ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512, core: unlimited, memlock: -1}, shm_size: 256m, tmpfs: [/run/x, '/c:size=8m,mode=0700,exec'], volumes: [{type: tmpfs, target: /t, tmpfs: {size: 2m, mode: 1770}}, {type: tmpfs, target: /u, mode: '0755', exec: false}]}, b: {tmpfs: /one}}",
		"signals":              "services: {a: {stop_signal: SIGTERM}, b: {stop_signal: TERM}, c: {stop_signal: term}, d: {stop_signal: sigint}}",
		"durations":            "services: {a: {stop_grace_period: 1m30s}, b: {stop_grace_period: 500ms}, c: {stop_grace_period: 0s}, d: {stop_grace_period: '0'}}",
		"caps":                 "services: {a: {cap_add: [NET_BIND_SERVICE, CAP_NET_ADMIN, sys_time, cap_chown]}}",
		"security":             "services: {a: {security: {userns: host, seccomp: unconfined, landlock: off}}}",
		"seccomp file":         "services: {a: {security: {seccomp: ./profile.json}}}",
		"landlock rules":       "services: {a: {security: {landlock: [{path: /data, access: [read, write]}, {path: /usr, access: execute}]}}}",
		"landlock long":        "services: {a: {security: {landlock: {mode: custom, rules: [{path: /data, access: [read]}]}}}, b: {security: {landlock: {mode: off}}}}",
		"misc":                 "name: shop\nservices: {a: {rootfs: ./rootfs, working_dir: /srv, user: '1000:1000', hostname: web_1, replicas: 3, read_only: false}}",
		"user int":             "services: {a: {user: 1000}}",
		"interpolated":         "services: {a: {replicas: '${N:-1}', read_only: '${RO}', resources: {memory: '${MEM:-64M}', pids: '${PIDS}'}, ports: ['${PORT}:80'], stop_grace_period: '${GRACE}'}}",
		"yaml 1.2 no":          "services: {a: {restart: no, environment: {FLAG: no}}}",
		"extensions":           "x-common: &c {restart: always}\nservices: {x-tmpl: {}, a: {<<: *c, x-note: hi, healthcheck: {tcp: 1, x-why: y}}}\nnetworks: {x-n: 1}",
		"date value":           "services: {a: {environment: {RELEASE: 2024-01-01}}}",
		"image":                "services: {a: {image: nginx:1.27, pull_policy: always, entrypoint: [/docker-entrypoint.sh], command: nginx}, b: {image: 'oci:./img:v1', entrypoint: '', pull_policy: if_not_present}, c: {image: 'docker-archive:x.tar', entrypoint: []}}",
		"image empty values":   "services: {a: {image: , entrypoint: , pull_policy: }}",
		"entrypoint no image":  "services: {a: {entrypoint: /bin/sh -c, command: [\"echo hi\"]}}",
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			if err := schema.ValidateYAML([]byte(doc)); err != nil {
				t.Errorf("schema rejects valid input %q:\n%v", doc, err)
			}
			if _, err := loadIn(t, doc); err != nil {
				t.Errorf("spec.Load rejects %q (fix the case or the loader):\n%v", doc, err)
			}
		})
	}
}

// Typos and bad values are flagged, at the place where they are.
func TestSchemaRejectsTyposAndBadValues(t *testing.T) {
	cases := []struct {
		name, doc, where string
	}{
		{"unknown top-level key", "servics: {a: {}}", "servics"},
		{"unknown service key", "services: {a: {comand: /bin/true}}", "comand"},
		{"unknown network key", "networks: {n: {subnett: 10.0.0.0/24}}", "subnett"},
		{"unknown healthcheck key", "services: {a: {healthcheck: {tcp: 80, intervall: 5s}}}", "intervall"},
		{"unknown security key", "services: {a: {security: {apparmor: x}}}", "apparmor"},
		{"unknown port key", "services: {a: {ports: [{target: 80, host: 127.0.0.1}]}}", "/services/a/ports/0"},
		{"bad service name", "services: {-web: {}}", "-web"},
		{"name too long", "services: {" + strings.Repeat("a", 64) + ": {}}", strings.Repeat("a", 64)},
		{"project name without letters or digits", "name: '--'", "/name"},
		{"bad nat", "networks: {n: {nat: slirp}}", "/networks/n/nat"},
		{"bad subnet", "networks: {n: {subnet: 10.0.0.0/33}}", "/networks/n/subnet"},
		{"bad restart", "services: {a: {restart: sometimes}}", "/services/a/restart"},
		{"bad on-failure", "services: {a: {restart: on-failure:x}}", "/services/a/restart"},
		{"bad duration", "services: {a: {stop_grace_period: 10}}", "/services/a/stop_grace_period"},
		{"bad duration unit", "services: {a: {stop_grace_period: 1d}}", "/services/a/stop_grace_period"},
		{"bad size", "services: {a: {resources: {memory: 1T}}}", "/services/a/resources/memory"},
		{"bad signal", "services: {a: {stop_signal: SIGFOO}}", "/services/a/stop_signal"},
		{"service name dots", "services: {a..b: {}}", "/services"},
		{"service name end", "services: {a.: {}}", "/services"},
		{"service name start", "services: {.a: {}}", "/services"},
		{"service name long", "services: {a234567890123456789012345678901234567890123456789012345678901234: {}}", "/services"},
		{"bad ulimit name", "services: {a: {ulimits: {nofiles: 5}}}", "/services/a/ulimits"},
		{"ulimit soft only", "services: {a: {ulimits: {nofile: {soft: 5}}}}", "/services/a/ulimits/nofile"},
		{"bad tmpfs option", "services: {a: {tmpfs: ['/x:uid=1']}}", "/services/a/tmpfs"},
		{"bad tmpfs mode", "services: {a: {volumes: [{type: tmpfs, target: /x, mode: '999'}]}}", "/services/a/volumes/0"},
		{"bad capability", "services: {a: {cap_add: [NET_FOO]}}", "/services/a/cap_add/0"},
		{"bad port", "services: {a: {ports: [\"80:80:80:80\"]}}", "/services/a/ports/0"},
		{"bad port protocol", "services: {a: {ports: [\"80/sctp\"]}}", "/services/a/ports/0"},
		{"bad egress", "services: {a: {egress: {allow: [\"http://example.com\"]}}}", "/services/a/egress/allow/0"},
		{"bad egress key", "services: {a: {egress: {deny: [192.0.2.1]}}}", "deny"},
		{"bad volume", "services: {a: {volumes: [\"data:relative\"]}}", "/services/a/volumes/0"},
		{"bad condition", "services: {a: {depends_on: {b: {condition: healthy}}}}", "/services/a/depends_on"},
		{"two health kinds", "services: {a: {healthcheck: {tcp: 80, http: http://127.0.0.1/}}}", "/services/a/healthcheck"},
		{"health without kind", "services: {a: {healthcheck: {interval: 5s}}}", "/services/a/healthcheck"},
		{"health bad test", "services: {a: {healthcheck: {test: [\"RUN\", \"x\"]}}}", "/services/a/healthcheck/test"},
		{"landlock relative", "services: {a: {security: {landlock: [{path: data, access: [read]}]}}}", "/services/a/security/landlock"},
		{"landlock bad access", "services: {a: {security: {landlock: [{path: /data, access: [delete]}]}}}", "/services/a/security/landlock"},
		{"landlock bad mode", "services: {a: {security: {landlock: strict}}}", "/services/a/security/landlock"},
		{"bad userns", "services: {a: {security: {userns: shared}}}", "/services/a/security/userns"},
		{"bad ipv4", "services: {a: {dns: [192.0.2.300]}}", "/services/a/dns/0"},
		{"bad extra_host", "services: {a: {extra_hosts: [\"gateway.test 192.0.2.1\"]}}", "/services/a/extra_hosts/0"},
		{"bool as string", "services: {a: {read_only: maybe}}", "/services/a/read_only"},
		{"services not a map", "services: [a, b]", "/services"},
		{"image and rootfs", "services: {a: {image: nginx, rootfs: ./root}}", "/services/a"},
		{"bad pull_policy", "services: {a: {image: nginx, pull_policy: daily}}", "/services/a/pull_policy"},
		{"empty image", "services: {a: {image: ''}}", "/services/a/image"},
		{"image_digest", "services: {a: {image: nginx, image_digest: 'sha256:00'}}", "image_digest"},
		{"pull_policy without image", "services: {a: {command: [x], pull_policy: never}}", "/services/a"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := schema.ValidateYAML([]byte(c.doc))
			if err == nil {
				t.Errorf("schema accepts invalid input %q", c.doc)
			} else if !strings.Contains(err.Error(), c.where) {
				t.Errorf("error for %q does not point at %q:\n%v", c.doc, c.where, err)
			}
			if _, err := loadIn(t, c.doc); err == nil {
				t.Errorf("spec.Load accepts %q, which the schema rejects", c.doc)
			}
		})
	}
}

// A file on disk with a typo fails too (the path editors and CI take).
func TestSchemaRejectsFileWithUnknownKey(t *testing.T) {
	data, err := os.ReadFile("testdata/typo.yaml")
	if err != nil {
		t.Fatal(err)
	}
	err = schema.ValidateYAML(data)
	if err == nil {
		t.Fatal("testdata/typo.yaml validates; expected an error for the key 'healthchek'")
	}
	if !strings.Contains(err.Error(), "healthchek") {
		t.Errorf("error does not name the unknown key 'healthchek':\n%v", err)
	}
}
