package spec

import (
	"flag"
	"fmt"
	"strconv"
	"testing"
)

var printGolden = flag.Bool("print-golden", false, "print the errors each validation case produces")

// Extra files some cases need beside nucleus.yaml.
var ruleFiles = map[string]string{
	"bad.json":     `{"defaultAction": "SCMP_ACT_ERRNO",`,
	"unknown.json": `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "not_a_syscall", "openat"], "action": "SCMP_ACT_ALLOW"}, {"name": "fly", "action": "SCMP_ACT_ALLOW"}]}`,
	"good.json":    `{"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read", "write", "exit_group"], "action": "SCMP_ACT_ALLOW"}]}`,
}

// TestValidationRules checks every rule's golden message, including the
// position of the value that broke it. Each case's errors all come out of
// one load, sorted by position.
func TestValidationRules(t *testing.T) {
	for _, tc := range ruleCases {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{"nucleus.yaml": tc.yaml}
			for k, v := range ruleFiles {
				files[k] = v
			}
			dir := writeFiles(t, files)
			_, err := Load(LoadOptions{WorkingDir: dir, Environ: map[string]string{}})
			got := errorLines(err)
			if *printGolden {
				fmt.Printf("\t\twant: []string{\n")
				for _, l := range got {
					fmt.Printf("\t\t\t%s,\n", strconv.Quote(l))
				}
				fmt.Printf("\t\t},\n")
			}
			if d := diffLines(got, tc.want); d != "" {
				t.Error(d)
			}
		})
	}
}

var ruleCases = []struct {
	name string
	yaml string
	want []string
}{
	{
		name: "service named like a replica of another",
		yaml: `services:
  web:
    command: ["true"]
    replicas: 2
  web-2:
    command: ["true"]
  web-3:
    command: ["true"]
  web-02:
    command: ["true"]
`,
		want: []string{
			"nucleus.yaml:5:3: services.web-2: service name \"web-2\" is also the name of replica 2 of service web (and its DNS name); rename one of them",
		},
	},
	{
		name: "service names that differ in case",
		yaml: `services:
  web:
    command: ["true"]
  Web:
    command: ["true"]
`,
		want: []string{
			"nucleus.yaml:4:3: services.Web: service names \"web\" and \"Web\" differ only in case; their DNS names do not, so rename one of them",
		},
	},
	{
		name: "service name too long",
		yaml: `services:
  a234567890123456789012345678901234567890123456789012345678901234:
    command: ["true"]
`,
		want: []string{
			"nucleus.yaml:2:3: services.a234567890123456789012345678901234567890123456789012345678901234: invalid service name \"a234567890123456789012345678901234567890123456789012345678901234\": use letters, digits, ., _ and - (starting with a letter or digit, no empty part between dots, not ending with . or -), at most 63 characters",
		},
	},
	{
		name: "network and volume names",
		yaml: `networks:
  -bad: {}
volumes:
  Data: {}
services:
  web: {command: ["true"], networks: [default]}
`,
		want: []string{
			"nucleus.yaml:2:3: networks.-bad: invalid network name \"-bad\": use lowercase letters, digits, _ and - (starting with a letter or digit), at most 40 characters",
			"nucleus.yaml:4:3: volumes.Data: invalid volume name \"Data\": use lowercase letters, digits, _ and - (starting with a letter or digit), at most 40 characters",
		},
	},
	{
		name: "unknown keys suggest",
		yaml: `servics:
  web: {}
services:
  web:
    comand: ["true"]
    healthcheck: {tset: ["CMD", "true"]}
`,
		want: []string{
			"nucleus.yaml:1:1: unknown key \"servics\"; did you mean \"services\"?",
			"nucleus.yaml:5:5: services.web: unknown key \"comand\"; did you mean \"command\"?",
			"nucleus.yaml:6:19: services.web.healthcheck: unknown key \"tset\"; did you mean \"test\"?",
		},
	},
	{
		name: "compose keys name the nucleus equivalent",
		yaml: `networks:
  ext: {external: true}
services:
  web:
    command: ["true"]
    mem_limit: 64m
    cpus: 0.5
    pids_limit: 10
    container_name: web1
    networks: [ext]
`,
		want: []string{
			"nucleus.yaml:2:9: networks.ext: unknown key \"external\" (a Compose key): nucleus creates every network of a project itself; remove it, or use the network's name from the other project's file",
			"nucleus.yaml:6:5: services.web: unknown key \"mem_limit\" (a Compose key): use resources.memory",
			"nucleus.yaml:7:5: services.web: unknown key \"cpus\" (a Compose key): use resources.cpus",
			"nucleus.yaml:8:5: services.web: unknown key \"pids_limit\" (a Compose key): use resources.pids",
			"nucleus.yaml:9:5: services.web: unknown key \"container_name\" (a Compose key): use hostname, or aliases under the service's networks",
		},
	},
	{
		name: "depends_on unknown and self",
		yaml: `services:
  web:
    command: ["true"]
    depends_on: [dbb, web]
  db: {command: ["true"]}
`,
		want: []string{
			"nucleus.yaml:4:18: services.web.depends_on: unknown service \"dbb\"; did you mean \"db\"?",
			"nucleus.yaml:4:23: services.web.depends_on: service web depends on itself",
		},
	},
	{
		name: "dependency cycle three",
		yaml: `services:
  a: {command: ["true"], depends_on: [b]}
  b: {command: ["true"], depends_on: [c]}
  c: {command: ["true"], depends_on: [a]}
`,
		want: []string{
			"nucleus.yaml:2:39: services.a.depends_on: dependency cycle: a -> b -> c -> a",
		},
	},
	{
		name: "dependency cycle two and map form",
		yaml: `services:
  web:
    command: ["true"]
    depends_on:
      api: {condition: service_started}
  api:
    command: ["true"]
    depends_on: [web]
`,
		want: []string{
			"nucleus.yaml:8:18: services.api.depends_on: dependency cycle: api -> web -> api",
		},
	},
	{
		name: "service_healthy without healthcheck",
		yaml: `services:
  web:
    command: ["true"]
    depends_on:
      db: {condition: service_healthy}
  db: {command: ["true"]}
`,
		want: []string{
			"nucleus.yaml:5:23: services.web.depends_on.db.condition: service db has no healthcheck, so service_healthy can never be met; add a healthcheck to db or use service_started",
		},
	},
	{
		name: "invalid subnets",
		yaml: `networks:
  a: {subnet: 10.0.0.0}
  b: {subnet: 10.1.0.1/24}
  c: {subnet: "fd00::/64"}
  d: {subnet: 10.2.0.0/31}
services:
  web: {command: ["true"]}
`,
		want: []string{
			"nucleus.yaml:2:15: networks.a.subnet: invalid subnet \"10.0.0.0\"; expected an IPv4 CIDR like 10.89.1.0/24",
			"nucleus.yaml:3:15: networks.b.subnet: subnet 10.1.0.1/24 has host bits set; did you mean 10.1.0.0/24?",
			"nucleus.yaml:4:15: networks.c.subnet: invalid subnet \"fd00::/64\"; expected an IPv4 CIDR like 10.89.1.0/24",
			"nucleus.yaml:5:15: networks.d.subnet: subnet 10.2.0.0/31 is too small; it needs room for a gateway and services (at most /30)",
		},
	},
	{
		name: "overlapping subnets",
		yaml: `networks:
  front: {subnet: 10.89.0.0/16}
  back: {subnet: 10.89.1.0/24}
  other: {subnet: 10.90.0.0/24}
services:
  web: {command: ["true"], networks: [front]}
`,
		want: []string{
			"nucleus.yaml:3:18: networks.back.subnet: subnet 10.89.1.0/24 overlaps subnet 10.89.0.0/16 of network front",
		},
	},
	{
		name: "userspace nat needs /25 or larger",
		yaml: `networks:
  small: {subnet: 10.0.0.0/26, nat: userspace}
  ok: {subnet: 10.0.1.0/25, nat: userspace}
  kernel: {subnet: 10.0.2.0/28, nat: kernel}
services:
  web: {command: ["true"], networks: [small]}
`,
		want: []string{
			"nucleus.yaml:2:19: networks.small.subnet: subnet 10.0.0.0/26 is too small for nat: userspace; use a /25 or larger",
		},
	},
	{
		name: "userspace_backend is one of auto, pasta, slirp4netns",
		yaml: `networks:
  a: {nat: userspace, userspace_backend: pasta}
  b: {userspace_backend: passt}
services:
  web: {command: ["true"], networks: [a, b]}
`,
		want: []string{
			`nucleus.yaml:3:26: networks.b.userspace_backend: unknown value "passt"; expected auto, pasta or slirp4netns; did you mean "pasta"?`,
		},
	},
	{
		name: "network too small for its replicas",
		yaml: `networks:
  back: {subnet: 10.89.1.0/24}
  small: {subnet: 10.89.2.0/28}
  fits: {subnet: 10.89.3.0/29}
services:
  web: {command: ["true"], replicas: 300, networks: [back]}
  db: {command: ["true"], replicas: 2, networks: {small: {}, fits: {}}}
  cache: {command: ["true"], replicas: 12, networks: [small]}
  one: {command: ["true"], networks: {fits: {ipv4_address: 10.89.3.6}}}
  two: {command: ["true"], replicas: 2, networks: [fits]}
`,
		want: []string{
			"nucleus.yaml:2:18: networks.back.subnet: network back needs 300 addresses for its replicas but subnet 10.89.1.0/24 has 253 (a /24 less network, gateway and broadcast); use a larger prefix, like /23 (509 addresses), or fewer replicas",
			"nucleus.yaml:3:19: networks.small.subnet: network small needs 14 addresses for its replicas but subnet 10.89.2.0/28 has 13 (a /28 less network, gateway and broadcast); use a larger prefix, like /27 (29 addresses), or fewer replicas",
		},
	},
	{
		name: "automatic subnet too small for its replicas",
		yaml: `networks:
  back: {}
services:
  web:
    command: ["true"]
    replicas: 200
  api:
    command: ["true"]
    replicas: 250
    networks: [default, back]
  worker:
    command: ["true"]
    replicas: 60
    networks: [back]
`,
		want: []string{
			"nucleus.yaml:9:15: services.api.replicas: network back needs 310 addresses for its replicas but its automatic subnet (a /24) has 253; declare networks.back.subnet with a larger prefix, like /23 (509 addresses), or use fewer replicas",
			"nucleus.yaml:9:15: services.api.replicas: network default needs 450 addresses for its replicas but its automatic subnet (a /24) has 253; declare networks.default.subnet with a larger prefix, like /23 (509 addresses), or use fewer replicas",
		},
	},
	{
		name: "static addresses",
		yaml: `networks:
  back: {subnet: 10.89.1.0/24}
  auto: {}
services:
  a: {command: ["true"], networks: {back: {ipv4_address: 10.89.2.5}}}
  b: {command: ["true"], networks: {back: {ipv4_address: 10.89.1.0}}}
  c: {command: ["true"], networks: {back: {ipv4_address: 10.89.1.1}}}
  d: {command: ["true"], networks: {back: {ipv4_address: 10.89.1.255}}}
  e: {command: ["true"], networks: {back: {ipv4_address: 10.89.1.7}}}
  f: {command: ["true"], networks: {back: {ipv4_address: 10.89.1.7}}}
  g: {command: ["true"], networks: {auto: {ipv4_address: 10.0.0.5}}}
  h: {command: ["true"], replicas: 2, networks: {back: {ipv4_address: 10.89.1.9}}}
  i: {command: ["true"], networks: {back: {ipv4_address: nonsense}}}
`,
		want: []string{
			"nucleus.yaml:5:58: services.a.networks.back.ipv4_address: address 10.89.2.5 is outside subnet 10.89.1.0/24 of network back",
			"nucleus.yaml:6:58: services.b.networks.back.ipv4_address: address 10.89.1.0 is the network address of 10.89.1.0/24",
			"nucleus.yaml:7:58: services.c.networks.back.ipv4_address: address 10.89.1.1 is the gateway of network back",
			"nucleus.yaml:8:58: services.d.networks.back.ipv4_address: address 10.89.1.255 is the broadcast address of 10.89.1.0/24",
			"nucleus.yaml:10:58: services.f.networks.back.ipv4_address: address 10.89.1.7 on network back is already used by service e",
			"nucleus.yaml:11:58: services.g.networks.auto.ipv4_address: a static address needs network auto to declare a subnet",
			"nucleus.yaml:12:71: services.h.networks.back.ipv4_address: a static address cannot be shared by 2 replicas; remove it or set replicas: 1",
			"nucleus.yaml:13:58: services.i.networks.back.ipv4_address: invalid IPv4 address \"nonsense\"",
		},
	},
	{
		name: "published port conflicts",
		yaml: `services:
  api:
    command: ["true"]
    ports: ["8080:80", "127.0.0.1:9000-9010:9000-9010", "53:53/udp"]
  web:
    command: ["true"]
    ports:
      - "127.0.0.1:8080:80"
      - 127.0.0.2:9005:80
      - 127.0.0.3:9011:80
      - "53:53/tcp"
      - {target: 80, published: 7000}
      - 7000:81
      - "127.0.0.1::80"
      - "127.0.0.1::81"
      - "9010:90"
`,
		want: []string{
			"nucleus.yaml:8:9: services.web.ports[0]: host port 8080/tcp is already published by service api (on 0.0.0.0, which overlaps 127.0.0.1)",
			"nucleus.yaml:13:9: services.web.ports[5]: host port 7000/tcp is already published by ports[4] of this service",
			"nucleus.yaml:16:9: services.web.ports[8]: host port 9010/tcp is already published by service api (on 127.0.0.1, which overlaps 0.0.0.0)",
		},
	},
	{
		name: "fixed host ports with replicas and duplicate mount targets",
		yaml: `services:
  web:
    command: ["true"]
    replicas: 2
    ports: ["8080:80", "127.0.0.1::81"]
    volumes: ["./a:/data", "./b:/data/"]
  lonely:
    command: ["true"]
    networks: []
    ports: ["9999:80"]
`,
		want: []string{
			"nucleus.yaml:5:13: services.web.ports[0]: service web has 2 replicas, but only one can bind host port 8080/tcp; leave out the host port (like 0.0.0.0::80) or use replicas: 1",
			"nucleus.yaml:6:28: services.web.volumes[1]: /data is already mounted by volumes[0]",
			"nucleus.yaml:10:13: services.lonely.ports[0]: service lonely is on no network (networks: []), so host port 9999/tcp cannot reach it",
		},
	},
	{
		name: "malformed ports",
		yaml: `services:
  web:
    command: ["true"]
    ports:
      - abc
      - "70000:80"
      - "8080-8081:80"
      - "1000-1002:2000-2001"
      - "80/sctp"
      - "1.2.3:80:80"
      - "[::1]:80:80"
      - "0:80"
      - {published: 80}
      - {target: 80, protocol: icmp}
      - ":80"
      - "a:b:c:d"
`,
		want: []string{
			"nucleus.yaml:5:9: services.web.ports[0]: invalid port \"abc\": container port \"abc\" is not a number",
			"nucleus.yaml:6:9: services.web.ports[1]: invalid port \"70000:80\": host port 70000 is out of range 1-65535",
			"nucleus.yaml:7:9: services.web.ports[2]: invalid port \"8080-8081:80\": host port range 8080-8081 has 2 ports but container port range 80 has 1; the lengths must be equal",
			"nucleus.yaml:8:9: services.web.ports[3]: invalid port \"1000-1002:2000-2001\": host port range 1000-1002 has 3 ports but container port range 2000-2001 has 2; the lengths must be equal",
			"nucleus.yaml:9:9: services.web.ports[4]: invalid port \"80/sctp\": unknown protocol \"sctp\"; expected tcp or udp",
			"nucleus.yaml:10:9: services.web.ports[5]: invalid port \"1.2.3:80:80\": host address \"1.2.3\" is not an IPv4 address",
			"nucleus.yaml:11:9: services.web.ports[6]: invalid port \"[::1]:80:80\": IPv6 host addresses are not supported; networks are IPv4",
			"nucleus.yaml:12:9: services.web.ports[7]: invalid port \"0:80\": host port 0 is out of range 1-65535",
			"nucleus.yaml:13:9: services.web.ports[8]: port needs a target (the container port)",
			"nucleus.yaml:14:9: services.web.ports[9]: unknown protocol \"icmp\"; expected tcp or udp",
			"nucleus.yaml:15:9: services.web.ports[10]: invalid port \":80\": empty host port; write CONTAINER_PORT alone or HOST_PORT:CONTAINER_PORT",
			"nucleus.yaml:16:9: services.web.ports[11]: invalid port \"a:b:c:d\"; expected [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|udp]",
		},
	},
	{
		name: "malformed egress",
		yaml: `services:
  web:
    command: ["true"]
    egress:
      allow:
        - 300.1.1.1
        - 10.0.0.1/24
        - "*.*.example.com"
        - a..b
        - "api.example.com:0"
        - "2001:db8::1"
        - "10.0.0.0/33"
        - "-bad.example.com"
        - {cidr: 10.0.0.0/8, domain: example.com}
        - api.example.com:443/tcp
        - "*.example.com"
`,
		want: []string{
			"nucleus.yaml:6:11: services.web.egress.allow[0]: invalid egress entry \"300.1.1.1\": \"300.1.1.1\" is not an IPv4 address",
			"nucleus.yaml:7:11: services.web.egress.allow[1]: invalid egress entry \"10.0.0.1/24\": 10.0.0.1/24 has host bits set; did you mean 10.0.0.0/24?",
			"nucleus.yaml:8:11: services.web.egress.allow[2]: invalid egress entry \"*.*.example.com\": \"*.*.example.com\" is not a domain, address or CIDR (a wildcard is allowed only as a leading *.)",
			"nucleus.yaml:9:11: services.web.egress.allow[3]: invalid egress entry \"a..b\": \"a..b\" is not a valid domain name",
			"nucleus.yaml:10:11: services.web.egress.allow[4]: invalid egress entry \"api.example.com:0\": port 0 is out of range 1-65535",
			"nucleus.yaml:11:11: services.web.egress.allow[5]: invalid egress entry \"2001:db8::1\": IPv6 is not supported; networks are IPv4",
			"nucleus.yaml:12:11: services.web.egress.allow[6]: invalid egress entry \"10.0.0.0/33\": \"10.0.0.0/33\" is not an IPv4 CIDR (protocols are /tcp or /udp)",
			"nucleus.yaml:13:11: services.web.egress.allow[7]: invalid egress entry \"-bad.example.com\": \"-bad.example.com\" is not a valid domain name",
			"nucleus.yaml:14:38: services.web.egress.allow[8].domain: give either cidr or domain, not both",
		},
	},
	{
		name: "unknown network and undeclared volume",
		yaml: `networks:
  backend: {}
volumes:
  data: {}
services:
  web:
    command: ["true"]
    networks: [backnd]
    volumes: ["dta:/data", "data:/ok", "./x:/x"]
`,
		want: []string{
			"nucleus.yaml:8:16: services.web.networks: unknown network \"backnd\"; did you mean \"backend\"?",
			"nucleus.yaml:9:15: services.web.volumes[0]: unknown volume \"dta\"; did you mean \"data\"?",
		},
	},
	{
		name: "unknown names without a close match and empty landlock",
		yaml: `services:
  web:
    command: ["true"]
    networks: [zzz]
    volumes: ["qqq:/x"]
    security: {landlock: []}
  api:
    command: ["true"]
    security: {landlock: {mode: custom}}
`,
		want: []string{
			"nucleus.yaml:4:16: services.web.networks: unknown network \"zzz\"; declare it under the top-level networks:",
			"nucleus.yaml:5:15: services.web.volumes[0]: unknown volume \"qqq\"; declare it under the top-level volumes:",
			"nucleus.yaml:6:26: services.web.security.landlock: an empty Landlock rule list would deny all file access; use landlock: default or list rules",
			"nucleus.yaml:9:26: services.api.security.landlock: mode custom needs rules: a list of {path, access}",
		},
	},
	{
		name: "list items keep their own positions",
		yaml: `services:
  web:
    command: ["true"]
    cap_add: [~, NET_ADMN]
    dns: [~, 1.2.3]
    networks:
      default: {aliases: [~, "bad alias"]}
    egress: {allow: [[nested]]}
`,
		want: []string{
			"nucleus.yaml:4:15: services.web.cap_add[0]: empty list entry",
			"nucleus.yaml:4:18: services.web.cap_add[1]: unknown capability \"NET_ADMN\"; expected a name like NET_BIND_SERVICE",
			"nucleus.yaml:5:11: services.web.dns[0]: empty list entry",
			"nucleus.yaml:5:14: services.web.dns[1]: invalid IP address \"1.2.3\"",
			"nucleus.yaml:7:27: services.web.networks.default.aliases[0]: empty list entry",
			"nucleus.yaml:7:30: services.web.networks.default.aliases[1]: invalid alias \"bad alias\"; use letters, digits, - and .",
			"nucleus.yaml:8:22: services.web.egress.allow[0]: expected an egress entry like 192.0.2.0/24 or api.example.com:443, got a list",
		},
	},
	{
		name: "bad values",
		yaml: `services:
  web:
    command: ["true"]
    resources: {memory: 12Q, cpus: 0, pids: 0}
    stop_grace_period: 10
    stop_signal: SIGFOO
    cap_add: [NET_ADMN, ALL]
    restart: sometimes
  api:
    command: ["true"]
    restart: on-failure:0
    resources: {memory: 1M, cpus: -1}
    replicas: -1
    healthcheck: {test: ["CMD", "true"], interval: 5, retries: 0}
`,
		want: []string{
			"nucleus.yaml:4:25: services.web.resources.memory: invalid size \"12Q\"; expected a number with an optional k, m or g suffix, like 256M",
			"nucleus.yaml:4:36: services.web.resources.cpus: cpus must be more than 0 and at most 1024, got 0",
			"nucleus.yaml:4:45: services.web.resources.pids: pids limit 0 would not even allow the first process; use -1 or leave it out for no limit",
			"nucleus.yaml:5:24: services.web.stop_grace_period: invalid duration \"10\"; expected a number with a unit, like 500ms, 10s or 1m30s",
			"nucleus.yaml:6:18: services.web.stop_signal: unknown signal \"SIGFOO\"; expected a name like SIGTERM or TERM",
			"nucleus.yaml:7:15: services.web.cap_add[0]: unknown capability \"NET_ADMN\"; expected a name like NET_BIND_SERVICE",
			"nucleus.yaml:7:25: services.web.cap_add[1]: cap_add: ALL is not supported; name each capability the service needs",
			"nucleus.yaml:8:14: services.web.restart: invalid restart policy \"sometimes\"; expected no, always, on-failure[:MAX] or unless-stopped",
			"nucleus.yaml:11:14: services.api.restart: invalid restart policy \"on-failure:0\": the maximum after on-failure: must be a positive number",
			"nucleus.yaml:12:25: services.api.resources.memory: memory limit 1M is below the minimum of 6M",
			"nucleus.yaml:12:35: services.api.resources.cpus: cpus must be more than 0 and at most 1024, got -1",
			"nucleus.yaml:13:15: services.api.replicas: -1 is out of range; expected 0 to 1000",
			"nucleus.yaml:14:52: services.api.healthcheck.interval: invalid duration \"5\"; expected a number with a unit, like 500ms, 10s or 1m30s",
			"nucleus.yaml:14:64: services.api.healthcheck.retries: 0 is out of range; expected 1 to 1000",
		},
	},
	{
		name: "booleans are true or false only",
		yaml: `services:
  web:
    command: ["true"]
    read_only: yes
    restart: no
    networks:
      default: {}
networks:
  default: {internal: on}
`,
		want: []string{
			"nucleus.yaml:4:16: services.web.read_only: expected true or false, got \"yes\"",
			"nucleus.yaml:9:23: networks.default.internal: expected true or false, got \"on\"",
		},
	},
	{
		name: "seccomp problems",
		yaml: `services:
  a: {command: ["true"], security: {seccomp: ./missing.json}}
  b: {command: ["true"], security: {seccomp: ./bad.json}}
  c: {command: ["true"], security: {seccomp: ./unknown.json}}
  d: {command: ["true"], security: {seccomp: ./good.json}}
`,
		want: []string{
			"nucleus.yaml:2:46: services.a.security.seccomp: seccomp profile ./missing.json: no such file or directory",
			"nucleus.yaml:3:46: services.b.security.seccomp: seccomp profile ./bad.json: not valid JSON: unexpected EOF",
			"nucleus.yaml:4:46: services.c.security.seccomp: seccomp profile ./unknown.json: unknown syscalls \"fly\", \"not_a_syscall\" (not known to libseccomp on this architecture)",
		},
	},
	{
		name: "landlock and env_file",
		yaml: `services:
  web:
    command: ["true"]
    env_file: [.env.missing]
    security:
      landlock:
        - {path: data, access: [read]}
        - {path: /ok, access: [read, fly]}
        - {path: /none}
`,
		want: []string{
			"nucleus.yaml:4:16: services.web.env_file[0]: env_file .env.missing: no such file or directory",
			"nucleus.yaml:7:18: services.web.security.landlock[0].path: Landlock path \"data\" must be absolute",
			"nucleus.yaml:8:38: services.web.security.landlock[1].access: unknown access \"fly\"; expected read, write or execute",
			"nucleus.yaml:9:11: services.web.security.landlock[2]: Landlock rule needs access (read, write and/or execute)",
		},
	},
	{
		name: "healthcheck shape",
		yaml: `services:
  a: {command: ["true"], healthcheck: {interval: 5s}}
  b: {command: ["true"], healthcheck: {test: ["CMD", "true"], tcp: 80}}
  c: {command: ["true"], healthcheck: {test: ["true"]}}
  d: {command: ["true"], healthcheck: {http: "ftp://x"}}
  e: {command: ["true"], healthcheck: {tcp: 0}}
`,
		want: []string{
			"nucleus.yaml:2:39: services.a.healthcheck: healthcheck needs one of test, tcp or http",
			"nucleus.yaml:3:39: services.b.healthcheck: healthcheck has more than one of test, tcp and http; keep one",
			"nucleus.yaml:4:46: services.c.healthcheck.test: test list must start with CMD, CMD-SHELL or NONE, got \"true\"",
			"nucleus.yaml:5:46: services.d.healthcheck.http: invalid health URL \"ftp://x\"; expected http://HOST[:PORT]/PATH",
			"nucleus.yaml:6:45: services.e.healthcheck.tcp: 0 is out of range; expected 1 to 65535",
		},
	},
	{
		name: "unset variable and duplicate key",
		yaml: `services:
  web:
    command: ["${CMD}"]
    environment:
      A: "${UNSET_VAR:?needs to be set}"
      A: x
`,
		want: []string{
			"nucleus.yaml:3:15: services.web.command[0]: variable CMD is not set; set it in the environment or in .env, give a default with ${CMD:-default}, or write ${CMD:-} for an empty value as Compose does",
			"nucleus.yaml:5:10: services.web.environment.A: required variable UNSET_VAR is missing a value: needs to be set",
			"nucleus.yaml:6:7: services.web.environment: duplicate key \"A\" (first defined on line 5)",
		},
	},
	{
		name: "shapes",
		yaml: `services:
  web:
    command: {a: b}
    environment: "X=1"
    ports: "80"
    working_dir: srv
    user: "a b"
    hostname: "bad host"
    extra_hosts: ["nohost", "h:not-an-ip"]
    dns: [8.8.8]
`,
		want: []string{
			"nucleus.yaml:3:14: services.web.command: expected a list of strings, got a mapping",
			"nucleus.yaml:4:18: services.web.environment: expected a mapping or a list of KEY=VALUE, got \"X=1\"",
			"nucleus.yaml:5:12: services.web.ports: expected a list, got \"80\"",
			"nucleus.yaml:6:18: services.web.working_dir: working_dir \"srv\" must be an absolute path inside the sandbox",
			"nucleus.yaml:7:11: services.web.user: invalid user \"a b\"; expected uid[:gid] or name[:group]",
			"nucleus.yaml:8:15: services.web.hostname: invalid hostname \"bad host\"; use letters, digits, - and . (at most 63 characters)",
			"nucleus.yaml:9:19: services.web.extra_hosts[0]: invalid entry \"nohost\"; expected HOST:IP",
			"nucleus.yaml:9:29: services.web.extra_hosts[1]: invalid IP address \"not-an-ip\" for host h",
			"nucleus.yaml:10:11: services.web.dns[0]: invalid IP address \"8.8.8\"",
		},
	},
}
