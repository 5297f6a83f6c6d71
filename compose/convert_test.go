package compose

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"nucleus/internal/testutil"
	"nucleus/spec"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// convertIn writes files into a fresh directory, makes it the working
// directory (warnings name files relative to it) and converts compose.yaml
// there (plus the other -f files given).
func convertIn(t *testing.T, files map[string]string, env []string, names ...string) *Result {
	t.Helper()
	dir := testutil.WriteFiles(t, t.TempDir(), files)
	t.Chdir(dir)
	if len(names) == 0 {
		names = []string{"compose.yaml"}
	}
	for i, n := range names {
		names[i] = filepath.Join(dir, n)
	}
	res, err := Convert(context.Background(), LoadOptions{Files: names, Env: env})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// lines renders warnings as convert prints them.
func lines(ws []Warning) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		if w.Fatal {
			out[i] = "error: " + w.String()
		} else {
			out[i] = "warning: " + w.String()
		}
	}
	return out
}

// validates loads the converted file as nucleus does.
func validates(t *testing.T, res *Result, env ...string) {
	t.Helper()
	environ := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		environ[k] = v
	}
	_, err := spec.Load(spec.LoadOptions{ProjectDir: res.Dir, Environ: environ,
		Converted: &spec.Converted{Path: "converted.yaml", Data: res.YAML, From: res.Files[:1], Read: res.Sources}})
	if err != nil {
		t.Fatalf("the converted file does not load: %v\n%s", err, res.YAML)
	}
}

// Each case: what Compose documents for a key, what nucleus gets (lines
// of the output), and the notes with their FILE:LINE:COL.
var mappingCases = []struct {
	name  string
	yaml  string
	env   []string
	out   []string // each must appear in the nucleus.yaml
	not   []string // none may appear
	warns []string // exactly these, in order
}{
	{
		name: "image command entrypoint user working_dir hostname",
		yaml: `services:
  web:
    image: nginx:1.27
    entrypoint: /docker-entrypoint.sh
    command: nginx -g "daemon off;"
    user: "101:101"
    working_dir: /srv
    hostname: front
    read_only: true
`,
		out: []string{"image: nginx:1.27", "entrypoint: [/docker-entrypoint.sh]", "command: [nginx, -g, daemon off;]",
			"user: 101:101", "working_dir: /srv", "hostname: front"},
		not: []string{"read_only"},
	},
	{
		name: "read_only unset is noted, false is kept",
		yaml: `services:
  a: {image: busybox}
  b: {image: busybox, read_only: false}
`,
		out: []string{"read_only: false"},
		warns: []string{
			"warning: compose.yaml:2:3: services.a: read_only is not set: Compose gives a writable root filesystem, nucleus keeps it read-only (write to volumes, or set read_only: false for a writable layer, kept until the replica is replaced)",
		},
	},
	{
		name: "environment and env_file, $ escaped, unset variable empty",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    env_file: app.env
    environment:
      PRICE: "$$5"
      EMPTY: ${NOPE}
`,
		out: []string{"FROM_FILE: x", "PRICE: $$5", `EMPTY: ""`},
		warns: []string{
			"warning: compose.yaml:5:5: services.web.env_file: merged into environment at conversion (as Compose reads it); edits to the file apply on the next load",
			"warning: compose.yaml:8:14: services.web.environment.EMPTY: variable NOPE is not set: it becomes an empty string, as in Compose",
		},
	},
	{
		name: "ports short and long",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    ports:
      - "127.0.0.1:8080:80"
      - "5353:53/udp"
      - target: 443
        published: "8443"
`,
		out: []string{`- {target: 80, published: "8080", host_ip: 127.0.0.1}`, `- {target: 53, published: "5353", protocol: udp}`,
			`- {target: 443, published: "8443"}`},
	},
	{
		name: "port without host port",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    ports: ["8080"]
`,
		out: []string{"- {target: 8080}"},
	},
	{
		name: "IPv6 host address refused",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    ports: ["[::1]:8080:80"]
`,
		warns: []string{
			"error: compose.yaml:5:5: services.web.ports: host address ::1 refused: nucleus publishes on IPv4 addresses only (use 0.0.0.0 or 127.0.0.1)",
		},
	},
	{
		name: "volumes short and long, z, tmpfs, named",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    volumes:
      - ./site:/srv:ro,z
      - data:/var/lib/data
      - type: tmpfs
        target: /cache
        tmpfs: {size: 33554432}
      - type: bind
        source: ./site
        target: /site2
        read_only: true
    tmpfs: ["/run:size=16m"]
volumes:
  data: {}
`,
		out: []string{"- {type: bind, source: ./site, target: /srv, read_only: true}", "- {type: volume, source: data, target: /var/lib/data}",
			"- {type: tmpfs, size: 32M, target: /cache}", "tmpfs: ['/run:size=16m']", "data: {}"},
		warns: []string{
			"warning: compose.yaml:5:5: services.web.volumes: /srv: the :z SELinux relabel is accepted and not needed: nucleus does not run under SELinux labels",
		},
	},
	{
		name: "missing short-form bind source is announced",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    volumes: ["./nothere:/data"]
`,
		warns: []string{"warning: compose.yaml:5:5: services.web.volumes: /data: bind source DIR/nothere does not exist: up creates it as a directory, as Compose does"},
	},
	{
		name: "volumes_from mounts the other service's volumes",
		yaml: `services:
  app:
    image: busybox
    read_only: true
    volumes: ["data:/data", "./site:/site"]
  worker:
    image: busybox
    read_only: true
    volumes_from: ["app:ro"]
volumes:
  data: {}
`,
		out: []string{"- {type: volume, source: data, target: /data, read_only: true}", "target: /site, read_only: true}"},
		warns: []string{
			"warning: compose.yaml:9:5: services.worker.volumes_from: app:ro: its 2 volumes are mounted here too, as Compose does",
		},
	},
	{
		name: "missing long-form bind source without create_host_path",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    volumes:
      - type: bind
        source: ./nothere
        target: /data
        bind: {create_host_path: false}
`,
		warns: []string{"warning: compose.yaml:5:5: services.web.volumes: /data: bind source DIR/nothere does not exist and create_host_path is false: starting the service fails until it exists, as in Compose"},
	},
	{
		name: "local bind volume through driver_opts",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    volumes: ["host:/data"]
volumes:
  host:
    driver: local
    driver_opts: {type: none, o: bind, device: ./site}
`,
		out: []string{"- {type: bind, source: ./site, target: /data}"},
		not: []string{"host: {}"},
		warns: []string{
			"warning: compose.yaml:9:5: volumes.host.driver_opts: a local bind of DIR/site: services mount that directory directly (a bind mount; it must exist, as in Compose)",
		},
	},
	{
		name: "external volume and network",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    volumes: ["shared:/data"]
    networks: [proxy]
volumes:
  shared: {external: true}
networks:
  proxy: {external: true}
`,
		out: []string{"  # external in Compose: a new, empty nucleus volume here\n  shared: {}\n",
			"  # external in Compose: a network of this project here\n  proxy: {}\n"},
		warns: []string{
			"warning: compose.yaml:8:12: volumes.shared.external: nucleus has no Docker volumes: shared becomes a nucleus volume of this project, created empty under nucleus's data root (kept by down, removed by down -v); copy the data in, or mount the directory with driver_opts (type: none, o: bind, device: PATH)",
			"warning: compose.yaml:10:11: networks.proxy.external: nucleus creates the project's networks itself and shares none with other projects: proxy becomes a network of this project, reachable only by its services",
		},
	},
	{
		name: "networks: ipam subnet, bridge driver, internal, aliases, ipv4_address",
		yaml: `services:
  db:
    image: busybox
    read_only: true
    networks:
      back:
        aliases: [database]
        ipv4_address: 10.91.0.10
networks:
  back:
    driver: bridge
    internal: true
    ipam:
      config:
        - subnet: 10.91.0.0/24
`,
		out: []string{"back: {subnet: 10.91.0.0/24, internal: true}", "back: {ipv4_address: 10.91.0.10, aliases: [database]}"},
		warns: []string{
			"warning: compose.yaml:11:5: networks.back.driver: accepted: every nucleus network is a bridge (nat: kernel as root, slirp4netns otherwise)",
			"warning: compose.yaml:13:5: networks.back.ipam: ipam.config[].subnet maps to subnet 10.91.0.0/24",
		},
	},
	{
		name: "network and volume names nucleus does not take are renamed",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    networks: [Front.Net]
    volumes: ["App.Data:/data"]
networks:
  Front.Net: {}
volumes:
  App.Data: {}
`,
		out: []string{"front-net: {}", "app-data: {}", "front-net: {}", "source: app-data"},
		warns: []string{
			"warning: compose.yaml:8:3: networks.Front.Net: renamed front-net: nucleus names are lowercase letters, digits, _ and - (at most 40)",
			"warning: compose.yaml:10:3: volumes.App.Data: renamed app-data: nucleus names are lowercase letters, digits, _ and - (at most 40)",
		},
	},
	{
		name: "network_mode none and host",
		yaml: `services:
  a: {image: busybox, read_only: true, network_mode: none}
  b: {image: busybox, read_only: true, network_mode: host}
`,
		out: []string{"networks: []"},
		warns: []string{
			"warning: compose.yaml:2:40: services.a.network_mode: none maps to networks: [] (loopback only)",
			"error: compose.yaml:3:40: services.b.network_mode: host refused: nucleus never shares the host's network namespace (a sandbox there could reach every host service and bind any host port); publish the ports the service serves instead",
		},
	},
	{
		name: "depends_on conditions and restart, healthcheck",
		yaml: `services:
  db:
    image: busybox
    read_only: true
    healthcheck:
      test: ["CMD", "true"]
      interval: 2s
      timeout: 1s
      retries: 4
      start_period: 3s
  web:
    image: busybox
    read_only: true
    depends_on:
      db: {condition: service_healthy, restart: true}
`,
		out: []string{"test: [CMD, \"true\"]", "interval: 2s", "timeout: 1s", "retries: 4", "start_period: 3s",
			"db: {condition: service_healthy, restart: true}"},
	},
	{
		name: "healthcheck disabled and start_interval",
		yaml: `services:
  a:
    image: busybox
    read_only: true
    healthcheck: {disable: true}
  b:
    image: busybox
    read_only: true
    healthcheck: {test: "true", start_interval: 1s}
`,
		out: []string{"healthcheck: {disable: true}", "test: [CMD-SHELL, \"true\"]", "start_interval: 1s"},
	},
	{
		name: "healthcheck with timing only keeps the image's check",
		yaml: `services:
  a:
    image: busybox
    read_only: true
    healthcheck: {interval: 2s}
`,
		not: []string{"    healthcheck:"},
		warns: []string{
			"warning: compose.yaml:5:5: services.a.healthcheck: no test: nucleus cannot change only the timing of the image's HEALTHCHECK; the image's check applies with its own timing (write the test here to set both)",
		},
	},
	{
		name: "depends_on required: false",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    depends_on: {db: {condition: service_started, required: false}}
  db:
    image: busybox
    read_only: true
`,
		out: []string{"  db: {required: false}"},
	},
	{
		name: "restart, stop_signal, stop_grace_period, dns, extra_hosts, cap_add",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    restart: on-failure:3
    stop_signal: SIGQUIT
    stop_grace_period: 1m30s
    dns: [192.0.2.53]
    extra_hosts: ["db.local:192.0.2.7", "gw:host-gateway"]
    cap_add: [NET_ADMIN, CHOWN]
    cap_drop: [ALL]
`,
		out: []string{"restart: on-failure:3", "stop_signal: SIGQUIT", "stop_grace_period: 1m30s", "dns: [192.0.2.53]",
			"- db.local=192.0.2.7", "- gw=host-gateway", "cap_add: [CHOWN, NET_ADMIN]"},
		warns: []string{
			"warning: compose.yaml:11:5: services.web.cap_drop: accepted: nucleus drops every capability not in cap_add already",
		},
	},
	{
		name: "limits: mem_limit cpus pids_limit scale",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    mem_limit: 256m
    cpus: 0.5
    pids_limit: 64
    scale: 3
`,
		out: []string{`resources: {memory: 256M, cpus: "0.5", pids: 64}`, "replicas: 3"},
	},
	{
		name: "limits: deploy.resources.limits and deploy.replicas",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    deploy:
      replicas: 2
      resources:
        limits: {cpus: "1.5", memory: 1G, pids: 100}
        reservations: {memory: 100M}
`,
		out: []string{`resources: {memory: 1G, cpus: "1.5", pids: 100}`, "replicas: 2"},
		warns: []string{
			"warning: compose.yaml:9:9: services.web.deploy.resources.reservations: ignored: nucleus reserves nothing, it limits",
		},
	},
	{
		name: "userns_mode, pull_policy, security_opt, init, expose, container_name, version",
		yaml: `version: "3.9"
services:
  web:
    image: busybox
    read_only: true
    userns_mode: host
    pull_policy: if_not_present
    security_opt: ["no-new-privileges:true"]
    init: true
    expose: ["80"]
    container_name: frontend
`,
		out: []string{"security: {userns: host}", "pull_policy: missing", "default: {aliases: [frontend]}"},
		warns: []string{
			"warning: compose.yaml:1:1: version: ignored: Compose itself ignores it, and so does nucleus",
			"warning: compose.yaml:8:5: services.web.security_opt: no-new-privileges:true accepted: nucleus always sets no-new-privileges",
			"warning: compose.yaml:9:5: services.web.init: accepted: nucleus's init is PID 1 in every sandbox already",
			"warning: compose.yaml:10:5: services.web.expose: accepted: every port of a service is reachable from the project's networks already",
			"warning: compose.yaml:11:5: services.web.container_name: becomes the network alias frontend (nucleus names replicas itself)",
		},
	},
	{
		name: "privileged and build without image refused",
		yaml: `services:
  app:
    build: .
    read_only: true
    privileged: true
`,
		warns: []string{
			"error: compose.yaml:3:5: services.app.build: nucleus does not build images, it runs existing ones: build this one with docker, podman or buildah and push it to a registry (or `docker save` it to an archive), then name it in image: (a registry reference, or docker-archive:./app.tar)",
			"error: compose.yaml:5:5: services.app.privileged: refused: a privileged container has every capability, every device and no seccomp filter, which nucleus never grants; list the capabilities the service needs in cap_add",
		},
	},
	{
		name: "platform checked against the host",
		yaml: `services:
  a: {image: busybox, read_only: true, platform: linux/` + runtime.GOARCH + `}
  b: {image: busybox, read_only: true, platform: linux/s390x}
`,
		warns: []string{
			"warning: compose.yaml:2:40: services.a.platform: accepted: linux/" + runtime.GOARCH + " is this host's platform",
			"error: compose.yaml:3:40: services.b.platform: platform linux/s390x cannot run here: nucleus runs images natively on this host's linux/" + runtime.GOARCH + " (no emulation)",
		},
	},
	{
		name: "ulimits, shm_size, tmpfs options",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    ulimits:
      nofile: {soft: 1024, hard: 2048}
      core: 0
      nproc: 512
    shm_size: 128m
    tmpfs: ["/run:size=8m,mode=1770,uid=1000,exec"]
    volumes:
      - type: tmpfs
        target: /jit
        tmpfs: {size: 8388608, mode: 0o1770}
`,
		out: []string{"nofile: {soft: 1024, hard: 2048}", "core: 0", "nproc: 512", "shm_size: 128M",
			"tmpfs: ['/run:size=8m,mode=1770,exec']", "- {type: tmpfs, size: 8M, mode: \"1770\", target: /jit}"},
		warns: []string{
			"warning: compose.yaml:10:5: services.web.tmpfs: /run: option uid=1000 left out: nucleus's tmpfs takes size, mode, exec, noexec, ro and rw",
		},
	},
	{
		name: "secrets, configs, labels, profiles",
		yaml: `services:
  web:
    image: busybox
    read_only: true
    profiles: [debug]
    labels: {com.example.team: web, tier: "$$front"}
    secrets:
      - db_password
      - source: token
        target: api_token
        uid: "1000"
        gid: "1000"
        mode: 0400
    configs: [motd]
secrets:
  db_password: {file: ./site/index.html}
  token: {environment: TOKEN}
configs:
  motd: {content: "hello $$USER"}
`,
		out: []string{"profiles: [debug]", "com.example.team: web", "tier: $$front", "- db_password",
			`- {source: token, target: api_token, uid: "1000", gid: "1000", mode: "0400"}`, "configs:\n      - motd",
			"db_password: {file: ./site/index.html}", "token: {environment: TOKEN}", "motd: {content: hello $$USER}"},
		env: []string{"TOKEN=t0ken"},
	},
	{
		name: "external secret refused",
		yaml: `services:
  web: {image: busybox, read_only: true, secrets: [s]}
secrets:
  s: {external: true}
`,
		warns: []string{
			"error: compose.yaml:4:7: secrets.s.external: an external secret lives in a Docker swarm, which nucleus does not use: give it a file: or environment: source",
		},
	},
}

func TestConvertMapping(t *testing.T) {
	for _, tc := range mappingCases {
		t.Run(tc.name, func(t *testing.T) {
			res := convertIn(t, map[string]string{"compose.yaml": tc.yaml, "app.env": "FROM_FILE=x\n", "site/index.html": "hi"}, tc.env)
			dir, _ := os.Getwd()
			got := lines(res.Warnings)
			want := make([]string, len(tc.warns))
			for i, w := range tc.warns {
				want[i] = strings.ReplaceAll(w, "DIR", dir)
			}
			if strings.Join(got, "\n") != strings.Join(want, "\n") {
				t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
			}
			out := string(res.YAML)
			for _, s := range tc.out {
				if !strings.Contains(out, s) {
					t.Errorf("output lacks %q:\n%s", s, out)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(out, s) {
					t.Errorf("output has %q:\n%s", s, out)
				}
			}
			if !res.Failed() {
				validates(t, res, tc.env...)
			}
		})
	}
}

// TestConvertGolden converts whole files and compares with testdata/*.nucleus.yaml
// (go test -run TestConvertGolden ./compose -update rewrites them).
func TestConvertGolden(t *testing.T) {
	srcs, _ := filepath.Glob("testdata/*.compose.yaml")
	if len(srcs) == 0 {
		t.Fatal("no testdata/*.compose.yaml")
	}
	for _, src := range srcs {
		name := strings.TrimSuffix(filepath.Base(src), ".compose.yaml")
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(src)
			if err != nil {
				t.Fatal(err)
			}
			golden, _ := filepath.Abs(filepath.Join("testdata", name+".nucleus.yaml"))
			res := convertIn(t, map[string]string{"compose.yaml": string(data)}, nil)
			got := string(res.YAML) + "# --- notes\n# " + strings.Join(lines(res.Warnings), "\n# ") + "\n"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant (%s):\n%s", got, golden, want)
			}
			validates(t, res)
			// Deterministic: a second conversion prints the same bytes.
			again, err := Convert(context.Background(), LoadOptions{Files: []string{"compose.yaml"}})
			if err != nil || string(again.YAML) != string(res.YAML) {
				t.Errorf("second conversion differs (err %v)", err)
			}
		})
	}
}

func TestConvertMergesOverrideWithPositions(t *testing.T) {
	res := convertIn(t, map[string]string{
		"compose.yaml":          "services:\n  web:\n    image: busybox\n    read_only: true\n",
		"compose.override.yaml": "services:\n  web:\n    mem_limit: 64m\n    expose: [\"80\"]\n",
	}, nil, "compose.yaml", "compose.override.yaml")
	if !strings.Contains(string(res.YAML), "resources: {memory: 64M}") {
		t.Errorf("override not merged:\n%s", res.YAML)
	}
	want := "warning: compose.override.yaml:4:5: services.web.expose: accepted: every port of a service is reachable from the project's networks already"
	if got := strings.Join(lines(res.Warnings), "\n"); got != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
	}
}

func TestConvertPositionsInIncludedFiles(t *testing.T) {
	res := convertIn(t, map[string]string{
		"compose.yaml":    "include: [db/compose.yaml]\nservices:\n  web: {image: busybox, read_only: true}\n",
		"db/compose.yaml": "services:\n  db:\n    image: busybox\n    read_only: true\n    expose: [\"5432\"]\n",
	}, nil)
	want := "warning: db/compose.yaml:5:5: services.db.expose: accepted: every port of a service is reachable from the project's networks already"
	if got := strings.Join(lines(res.Warnings), "\n"); got != want {
		t.Errorf("warnings:\n%s\nwant:\n%s", got, want)
	}
}

func TestConvertPositionsThroughExtends(t *testing.T) {
	res := convertIn(t, map[string]string{
		"compose.yaml": "services:\n  web:\n    extends: {file: common.yaml, service: base}\n  worker:\n    extends: web\n",
		"common.yaml":  "services:\n  base:\n    image: busybox\n    read_only: true\n    expose: [\"80\"]\n",
	}, nil)
	want := []string{
		"warning: common.yaml:5:5: services.web.expose: accepted: every port of a service is reachable from the project's networks already",
		"warning: common.yaml:5:5: services.worker.expose: accepted: every port of a service is reachable from the project's networks already",
	}
	if got := lines(res.Warnings); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
