package spec

import (
	"fmt"
	"math"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"nucleus/image/ref"
)

var serviceKeys = []string{
	"command", "entrypoint", "image", "pull_policy", "image_digest", "exposed_ports", "rootfs", "working_dir", "user", "hostname", "environment", "env_file",
	"networks", "ports", "dns", "extra_hosts", "egress", "resources", "volumes",
	"depends_on", "healthcheck", "restart", "stop_signal", "stop_grace_period",
	"replicas", "read_only", "cap_add", "security", "ulimits", "shm_size", "tmpfs",
	"secrets", "configs", "labels", "profiles",
}

// Defaults applied to every service.
const (
	DefaultStopSignal      = Signal("SIGTERM")
	DefaultStopGracePeriod = Duration(10e9)
	// MinMemory is the smallest memory limit a sandbox can start with.
	MinMemory = ByteSize(6 << 20)
)

func itoa(i int) string { return strconv.Itoa(i) }

var userRe = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*(:[A-Za-z0-9_][A-Za-z0-9_.-]*)?$`)

// service decodes one service and fills in defaults.
func (d *decoder) service(name string, n *node, path string) *Service {
	s := &Service{
		Name:            name,
		Hostname:        name,
		Restart:         RestartPolicy{Policy: RestartNo},
		StopSignal:      DefaultStopSignal,
		StopGracePeriod: DefaultStopGracePeriod,
		Replicas:        1,
		ReadOnly:        true,
		Security:        Security{UserNS: UserNSPrivate, Seccomp: SeccompDefault, Landlock: Landlock{Mode: LandlockDefault}},
	}
	var env map[string]string
	var envFiles []map[string]string
	networksGiven := false
	var imageNode, rootfsNode, pullNode, stopNode, tmpfsNode *node
	var tmpfsMounts []VolumeMount
	fileTargets := map[string]string{}
	d.fields(n, path, serviceKeys, func(k string, v *node, p string) {
		switch k {
		case "command":
			s.Command = d.command(v, p)
		case "entrypoint":
			s.Entrypoint = d.entrypoint(v, p)
		case "image":
			if str, ok := d.str(v, p); ok {
				r, err := ref.Parse(str, d.dir)
				if err != nil {
					d.errorf(v, p, "%v; expected NAME[:TAG][@DIGEST], oci:PATH[:TAG] or docker-archive:PATH", err)
				} else {
					s.Image = r.String()
				}
				imageNode = v
			}
		case "pull_policy":
			if str, ok := d.str(v, p); ok {
				pol, err := ParsePullPolicy(str)
				if err != nil {
					d.errorf(v, p, "%v", err)
				} else {
					s.PullPolicy = pol
				}
				pullNode = v
			}
		case "image_digest", "exposed_ports":
			// Derived from the image store, never from the file: a file
			// cannot claim what an image resolved to.
			d.errorf(v, p, "%s is filled in from the image, not read from the file%s", k, map[string]string{
				"image_digest":  "; to pin a digest write image: REF@sha256:...",
				"exposed_ports": "",
			}[k])
		case "rootfs":
			if str, ok := d.str(v, p); ok && str != "" {
				s.Rootfs = d.hostPath(str)
				rootfsNode = v
			}
		case "working_dir":
			if str, ok := d.str(v, p); ok {
				if !strings.HasPrefix(str, "/") {
					d.errorf(v, p, "working_dir %q must be an absolute path inside the sandbox", str)
				} else {
					s.WorkingDir = filepath.Clean(str)
				}
			}
		case "user":
			if str, ok := d.str(v, p); ok {
				if !userRe.MatchString(str) {
					d.errorf(v, p, "invalid user %q; expected uid[:gid] or name[:group]", str)
				} else {
					s.User = str
				}
			}
		case "hostname":
			if str, ok := d.str(v, p); ok {
				if !validHostname(str) {
					d.errorf(v, p, "invalid hostname %q; use letters, digits, - and . (at most 63 characters)", str)
				} else {
					s.Hostname = str
				}
			}
		case "environment":
			env = d.environment(v, p)
		case "env_file":
			envFiles = d.envFiles(v, p, s)
		case "networks":
			networksGiven = v.kind != kindNull
			s.Networks = d.serviceNetworks(v, p, s)
		case "ports":
			d.each(v, p, func(i int, it *node, ip string) {
				if port, ok := d.port(it, ip); ok {
					s.Ports = append(s.Ports, port)
				}
			})
		case "dns":
			s.DNS = d.ipList(v, p)
		case "extra_hosts":
			s.ExtraHosts = d.extraHosts(v, p)
		case "egress":
			s.Egress = d.egress(v, p)
		case "resources":
			s.Resources = d.resources(v, p)
		case "volumes":
			targets := map[string]int{}
			d.each(v, p, func(i int, it *node, ip string) {
				m, ok := d.volumeMount(it, ip)
				if !ok {
					return
				}
				if j, dup := targets[m.Target]; dup {
					d.errorf(it, ip, "%s is already mounted by volumes[%d]", m.Target, j)
					return
				}
				targets[m.Target] = i
				s.Volumes = append(s.Volumes, m)
			})
		case "depends_on":
			s.DependsOn = d.dependsOn(v, p)
		case "healthcheck":
			s.Healthcheck = d.healthcheck(v, p)
		case "restart":
			set(&s.Restart)(d.restart(v, p))
		case "stop_signal":
			set(&s.StopSignal)(parseScalar(d, v, p, ParseSignal))
			if v.kind != kindNull {
				stopNode = v
			}
		case "stop_grace_period":
			set(&s.StopGracePeriod)(d.duration(v, p))
		case "replicas":
			set(&s.Replicas)(d.count(v, p, 0, 1000))
		case "read_only":
			set(&s.ReadOnly)(d.boolean(v, p))
		case "cap_add":
			s.CapAdd = d.capabilities(v, p)
		case "security":
			s.Security = d.security(v, p, s.Security)
		case "ulimits":
			s.Ulimits = d.ulimits(v, p)
		case "shm_size":
			set(&s.ShmSize)(d.size(v, p))
		case "tmpfs":
			tmpfsNode, tmpfsMounts = v, d.tmpfsShort(v, p)
		case "secrets":
			s.Secrets = d.fileMounts(v, p, secretKind, d.proj.Secrets, fileTargets)
		case "configs":
			s.Configs = d.fileMounts(v, p, configKind, d.proj.Configs, fileTargets)
		case "labels":
			s.Labels = d.labels(v, p)
		case "profiles":
			s.Profiles = d.profiles(v, p)
		}
	})
	for _, m := range tmpfsMounts {
		if i := slices.IndexFunc(s.Volumes, func(o VolumeMount) bool { return o.Target == m.Target }); i >= 0 {
			d.errorf(tmpfsNode, path+".tmpfs", "%s is already mounted by volumes[%d]", m.Target, i)
			continue
		}
		s.Volumes = append(s.Volumes, m)
	}
	d.fileMountTargets(s, path)
	d.imageRules(s, path, imageNode, rootfsNode, pullNode, stopNode)
	// env_file contents first, in order; environment: wins.
	if len(envFiles) > 0 || len(env) > 0 {
		s.Environment = map[string]string{}
		for _, m := range envFiles {
			for k, v := range m {
				s.Environment[k] = v
			}
		}
		for k, v := range env {
			s.Environment[k] = v
		}
	}
	if !networksGiven {
		s.Networks = map[string]*ServiceNetwork{DefaultNetwork: {}}
		d.implicitN = true
	}
	return s
}

// command accepts a list, or a string split like a POSIX shell would split
// it (quotes and backslashes), without running a shell.
func (d *decoder) command(v *node, p string) []string {
	if v.kind == kindScalar {
		args, err := SplitCommand(v.value)
		if err != nil {
			d.errorf(v, p, "%v", err)
			return nil
		}
		if len(args) == 0 {
			d.errorf(v, p, "empty command")
		}
		return args
	}
	args := d.strList(v, p, false)
	if v.kind == kindSeq && len(v.items) == 0 {
		d.errorf(v, p, "empty command")
	}
	return args
}

// entrypoint is parsed like command, except that an empty string or list
// is kept (as a non-nil empty list): it clears the image's entrypoint.
func (d *decoder) entrypoint(v *node, p string) []string {
	switch {
	case v.kind == kindNull:
		return nil
	case v.kind == kindScalar && strings.TrimSpace(v.value) == "",
		v.kind == kindSeq && len(v.items) == 0:
		return []string{}
	}
	args := d.command(v, p)
	if args == nil {
		return nil
	}
	return args
}

// imageRules are the checks between image, rootfs, pull_policy and
// entrypoint. Without an image, entrypoint is prepended to command (there is
// no image entrypoint to replace), so the rest of nucleus sees one argv.
func (d *decoder) imageRules(s *Service, path string, image, rootfs, pull, stop *node) {
	if image != nil && rootfs != nil && s.Image != "" {
		d.errorf(rootfs, path+".rootfs", "image and rootfs are exclusive: the image is the root file system; remove one of them")
	}
	if image == nil {
		if pull != nil {
			d.errorf(pull, path+".pull_policy", "pull_policy applies only to a service with image")
		}
		if s.Entrypoint != nil {
			s.Command = append(slices.Clone(s.Entrypoint), s.Command...)
			s.Entrypoint = nil
		}
		return
	}
	if s.PullPolicy == "" {
		s.PullPolicy = PullMissing
	}
	// Only with an image: without one there is nothing to default from,
	// and a file that writes the default stop_signal stays equal to one
	// that leaves it out.
	if stop == nil {
		s.StopSignal = ""
	}
}

// ParsePullPolicy parses pull_policy (and `nucleus run --pull`): missing,
// always or never; Compose's if_not_present means missing.
func ParsePullPolicy(s string) (string, error) {
	switch s {
	case PullMissing, PullAlways, PullNever:
		return s, nil
	case "if_not_present":
		return PullMissing, nil
	}
	return "", fmt.Errorf("invalid pull_policy %q; expected missing, always or never%s", s,
		suggest(s, []string{PullMissing, PullAlways, PullNever}))
}

// hostPath resolves a host path against the project directory.
func (d *decoder) hostPath(s string) string {
	if filepath.IsAbs(s) {
		return filepath.Clean(s)
	}
	return filepath.Join(d.dir, s)
}

func validHostname(s string) bool {
	if s == "" || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return s[0] != '-' && s[0] != '.'
}

// environment accepts a map or a KEY=VALUE list. A key without a value takes
// the variable from the environment (and is left out when that is unset).
func (d *decoder) environment(v *node, p string) map[string]string {
	env := map[string]string{}
	switch v.kind {
	case kindNull:
		return nil
	case kindMap:
		for i, k := range v.keys {
			kp := p + "." + k.value
			if !validEnvName(k.value) {
				d.add(k.where(), kp, fmt.Sprintf("invalid variable name %q", k.value))
				continue
			}
			val := v.vals[i]
			switch val.kind {
			case kindNull:
				if x, ok := d.lookup(k.value); ok {
					env[k.value] = x
				}
			case kindScalar:
				env[k.value] = val.value
			default:
				d.want(val, kp, "a string, number or boolean")
			}
		}
	case kindSeq:
		for i, it := range v.items {
			ip := p + "[" + itoa(i) + "]"
			s, ok := d.str(it, ip)
			if !ok {
				continue
			}
			key, val, hasEq := strings.Cut(s, "=")
			if !validEnvName(key) {
				d.errorf(it, ip, "invalid entry %q; expected KEY=VALUE", s)
				continue
			}
			if !hasEq {
				if x, ok := d.lookup(key); ok {
					env[key] = x
				}
				continue
			}
			env[key] = val
		}
	default:
		d.want(v, p, "a mapping or a list of KEY=VALUE")
	}
	return env
}

func validEnvName(k string) bool {
	return k != "" && !strings.ContainsAny(k, "= \t\n\x00")
}

var envFileKeys = []string{"path", "required"}

// envFiles reads every env_file (string, list, or list of {path, required})
// and returns their variables in order.
func (d *decoder) envFiles(v *node, p string, s *Service) []map[string]string {
	type ef struct {
		path     string
		required bool
		n        *node
		p        string
	}
	var files []ef
	switch v.kind {
	case kindNull:
		return nil
	case kindScalar:
		files = append(files, ef{v.value, true, v, p})
	case kindSeq:
		d.each(v, p, func(i int, it *node, ip string) {
			if it.kind == kindMap {
				e := ef{required: true, n: it, p: ip}
				d.fields(it, ip, envFileKeys, func(k string, fv *node, fp string) {
					switch k {
					case "path":
						e.path, _ = d.str(fv, fp)
					case "required":
						e.required, _ = d.boolean(fv, fp)
					}
				})
				if e.path == "" {
					d.errorf(it, ip, "env_file entry needs a path")
					return
				}
				files = append(files, e)
				return
			}
			if str, ok := d.str(it, ip); ok {
				files = append(files, ef{str, true, it, ip})
			}
		})
	default:
		d.want(v, p, "a path or a list of paths")
		return nil
	}
	var out []map[string]string
	for _, f := range files {
		abs := d.hostPath(f.path)
		r := d.readEnvFile(abs)
		if r.err != nil {
			if !f.required && isNotExist(r.err) {
				continue
			}
			d.errorf(f.n, f.p, "env_file %s: %s", f.path, errText(r.err))
			continue
		}
		for _, e := range r.errs {
			cp := *e
			if cp.Path == "" {
				cp.Path = f.p
			} else {
				cp.Path = f.p + ": " + cp.Path
			}
			d.list = append(d.list, &cp)
		}
		s.EnvFile = append(s.EnvFile, abs)
		out = append(out, r.vars)
	}
	return out
}

// serviceNetworks accepts a list of names or a map of name -> {aliases, ipv4_address}.
func (d *decoder) serviceNetworks(v *node, p string, s *Service) map[string]*ServiceNetwork {
	return namesOrMap(d, v, p, "network", func() *ServiceNetwork { return &ServiceNetwork{} },
		func(nv *node, kp string) *ServiceNetwork {
			sn := &ServiceNetwork{}
			d.fields(nv, kp, []string{"aliases", "ipv4_address"}, func(key string, fv *node, fp string) {
				switch key {
				case "aliases":
					d.strEach(fv, fp, false, func(a string, it *node, ap string) {
						if !validHostname(a) {
							d.errorf(it, ap, "invalid alias %q; use letters, digits, - and .", a)
							return
						}
						sn.Aliases = append(sn.Aliases, strings.ToLower(a))
					})
					sort.Strings(sn.Aliases)
					sn.Aliases = slices.Compact(sn.Aliases)
				case "ipv4_address":
					set(&sn.IPv4Address)(d.str(fv, fp))
				}
			})
			return sn
		})
}

// namesOrMap decodes compose's two spellings of a set of references: a list
// of names (each gets short()) or a mapping of name -> details (long).
func namesOrMap[T any](d *decoder, v *node, p, what string, short func() T, long func(v *node, path string) T) map[string]T {
	out := map[string]T{}
	switch v.kind {
	case kindNull:
		return nil
	case kindSeq:
		d.each(v, p, func(i int, it *node, ip string) {
			name, ok := d.str(it, ip)
			if !ok {
				return
			}
			if _, dup := out[name]; dup {
				d.errorf(it, ip, "%s %s is listed twice", what, name)
				return
			}
			out[name] = short()
		})
	case kindMap:
		for i, k := range v.keys {
			out[k.value] = long(v.vals[i], p+"."+k.value)
		}
	default:
		d.want(v, p, "a list of "+what+" names or a mapping")
	}
	return out
}

func (d *decoder) extraHosts(v *node, p string) []ExtraHost {
	var out []ExtraHost
	add := func(n *node, path, host, ip string) {
		if !validHostname(host) {
			d.errorf(n, path, "invalid host name %q", host)
			return
		}
		if ip == HostGateway {
			out = append(out, ExtraHost{Host: host, IP: ip})
			return
		}
		a, err := parseIP(ip)
		if err != nil {
			d.errorf(n, path, "invalid IP address %q for host %s", ip, host)
			return
		}
		out = append(out, ExtraHost{Host: host, IP: a})
	}
	switch v.kind {
	case kindNull:
		return nil
	case kindMap:
		for i, k := range v.keys {
			if ip, ok := d.str(v.vals[i], p+"."+k.value); ok {
				add(v.vals[i], p+"."+k.value, k.value, ip)
			}
		}
	case kindSeq:
		d.each(v, p, func(i int, it *node, ip string) {
			if it.kind == kindMap {
				var h, a string
				d.fields(it, ip, []string{"host", "ip"}, func(k string, fv *node, fp string) {
					if k == "host" {
						h, _ = d.str(fv, fp)
					} else {
						a, _ = d.str(fv, fp)
					}
				})
				add(it, ip, h, a)
				return
			}
			s, ok := d.str(it, ip)
			if !ok {
				return
			}
			i1 := strings.IndexAny(s, ":=")
			if i1 < 0 {
				d.errorf(it, ip, "invalid entry %q; expected HOST:IP", s)
				return
			}
			add(it, ip, s[:i1], strings.Trim(s[i1+1:], "[]"))
		})
	default:
		d.want(v, p, "a list of HOST:IP or a mapping")
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Host != out[j].Host {
			return out[i].Host < out[j].Host
		}
		return out[i].IP < out[j].IP
	})
	return slices.Compact(out)
}

var resourceKeys = []string{"memory", "cpus", "pids"}

func (d *decoder) resources(v *node, p string) Resources {
	var r Resources
	d.fields(v, p, resourceKeys, func(k string, fv *node, fp string) {
		switch k {
		case "memory":
			if sz, ok := d.size(fv, fp); ok {
				if sz != 0 && sz < MinMemory {
					d.errorf(fv, fp, "memory limit %s is below the minimum of %s", sz, MinMemory)
					return
				}
				r.Memory = sz
			}
		case "cpus":
			if f, ok := d.float(fv, fp); ok {
				if f <= 0 || f > 1024 {
					d.errorf(fv, fp, "cpus must be more than 0 and at most 1024, got %v", f)
					return
				}
				r.CPUs = f
			}
		case "pids":
			if n, ok := d.integer(fv, fp, -1, math.MaxInt32); ok {
				if n == 0 {
					d.errorf(fv, fp, "pids limit 0 would not even allow the first process; use -1 or leave it out for no limit")
					return
				}
				r.Pids = max(n, 0)
			}
		}
	})
	return r
}

var dependsKeys = []string{"condition", "restart", "required"}

func (d *decoder) dependsOn(v *node, p string) map[string]Dependency {
	return namesOrMap(d, v, p, "service", func() Dependency { return Dependency{Condition: ConditionStarted} },
		func(dv *node, kp string) Dependency {
			dep := Dependency{Condition: ConditionStarted}
			d.fields(dv, kp, dependsKeys, func(key string, fv *node, fp string) {
				switch key {
				case "condition":
					set(&dep.Condition)(d.oneOf(fv, fp, ConditionStarted, ConditionHealthy, ConditionCompleted))
				case "restart":
					dep.Restart, _ = d.boolean(fv, fp)
				case "required":
					if b, ok := d.boolean(fv, fp); ok && !b {
						dep.Required = &b
					}
				}
			})
			return dep
		})
}

var healthKeys = []string{"test", "tcp", "http", "interval", "timeout", "retries", "start_period", "start_interval", "disable", "kind"}

// Healthcheck defaults (those of compose).
const (
	DefaultHealthInterval = Duration(30e9)
	DefaultHealthTimeout  = Duration(30e9)
	DefaultHealthRetries  = 3
)

func (d *decoder) healthcheck(v *node, p string) *Healthcheck {
	if v.kind == kindNull {
		return nil
	}
	h := &Healthcheck{Interval: DefaultHealthInterval, Timeout: DefaultHealthTimeout, Retries: DefaultHealthRetries}
	var kinds []string
	disabled := false
	var kindWant string
	var kindNode *node
	before := len(d.list)
	d.fields(v, p, healthKeys, func(k string, fv *node, fp string) {
		switch k {
		case "test":
			if fv.kind == kindScalar {
				if fv.value == "" {
					d.errorf(fv, fp, "empty test")
					return
				}
				h.Test = []string{"CMD-SHELL", fv.value}
				kinds = append(kinds, HealthExec)
				return
			}
			t := d.strList(fv, fp, false)
			if len(t) == 0 {
				if fv.kind == kindSeq {
					d.errorf(fv, fp, "empty test")
				}
				return
			}
			switch {
			case t[0] == "NONE":
				disabled = true
			case t[0] == "CMD" && len(t) > 1, t[0] == "CMD-SHELL" && len(t) == 2:
				h.Test = t
				kinds = append(kinds, HealthExec)
			case t[0] == "CMD-SHELL":
				d.errorf(fv, fp, "CMD-SHELL takes exactly one shell command string")
			case t[0] == "CMD":
				d.errorf(fv, fp, "CMD needs a program to run")
			default:
				d.errorf(fv, fp, "test list must start with CMD, CMD-SHELL or NONE, got %q", t[0])
			}
		case "tcp":
			if port, ok := d.integer(fv, fp, 1, 65535); ok {
				h.TCPPort = int(port)
				kinds = append(kinds, HealthTCP)
			}
		case "http":
			if u, ok := d.str(fv, fp); ok {
				if err := checkHTTPURL(u); err != nil {
					d.errorf(fv, fp, "%v", err)
					return
				}
				h.HTTPURL = u
				kinds = append(kinds, HealthHTTP)
			}
		case "interval", "timeout", "start_interval":
			if dur, ok := d.duration(fv, fp); ok {
				if dur <= 0 {
					d.errorf(fv, fp, "%s must be more than 0", k)
					return
				}
				switch k {
				case "interval":
					h.Interval = dur
				case "timeout":
					h.Timeout = dur
				default:
					h.StartInterval = dur
				}
			}
		case "start_period":
			set(&h.StartPeriod)(d.duration(fv, fp))
		case "retries":
			set(&h.Retries)(d.count(fv, fp, 1, 1000))
		case "disable":
			disabled, _ = d.boolean(fv, fp)
		case "kind":
			kindWant, _ = d.oneOf(fv, fp, HealthExec, HealthTCP, HealthHTTP)
			kindNode = fv
		}
	})
	if disabled {
		return nil
	}
	if len(d.list) > before {
		return nil // the field errors already say what is wrong
	}
	switch len(kinds) {
	case 0:
		d.errorf(v, p, "healthcheck needs one of test, tcp or http")
		return nil
	case 1:
		h.Kind = kinds[0]
	default:
		d.errorf(v, p, "healthcheck has more than one of test, tcp and http; keep one")
		return nil
	}
	if kindWant != "" && kindWant != h.Kind {
		d.errorf(kindNode, p+".kind", "kind %s does not match the check given (%s)", kindWant, h.Kind)
	}
	return h
}

func checkHTTPURL(u string) error {
	rest, ok := strings.CutPrefix(u, "http://")
	if !ok {
		rest, ok = strings.CutPrefix(u, "https://")
	}
	if !ok || rest == "" || rest[0] == '/' || strings.ContainsAny(u, " \t\n") {
		return fmt.Errorf("invalid health URL %q; expected http://HOST[:PORT]/PATH", u)
	}
	return nil
}

// restart parses no | always | on-failure[:MAX] | unless-stopped, or the
// long form {policy, max_retries} that `nucleus config` prints.
func (d *decoder) restart(v *node, p string) (RestartPolicy, bool) {
	if v.kind == kindMap {
		var r RestartPolicy
		d.fields(v, p, []string{"policy", "max_retries"}, func(k string, fv *node, fp string) {
			if k == "policy" {
				r.Policy, _ = d.oneOf(fv, fp, RestartNo, RestartAlways, RestartOnFailure, RestartUnlessStopped)
			} else if n, ok := d.integer(fv, fp, 0, math.MaxInt32); ok {
				r.MaxRetries = int(n)
			}
		})
		if r.Policy == "" {
			d.errorf(v, p, "restart needs a policy")
			return r, false
		}
		if r.MaxRetries != 0 && r.Policy != RestartOnFailure {
			d.errorf(v, p, "max_retries applies only to on-failure")
			return r, false
		}
		return r, true
	}
	s, ok := d.str(v, p)
	if !ok {
		return RestartPolicy{}, false
	}
	r, err := ParseRestart(s)
	if err != nil {
		d.errorf(v, p, "%v", err)
		return r, false
	}
	return r, true
}

// ParseRestart parses a restart policy string.
func ParseRestart(s string) (RestartPolicy, error) {
	policy, max, hasMax := strings.Cut(s, ":")
	switch policy {
	case RestartNo, RestartAlways, RestartUnlessStopped:
		if !hasMax {
			return RestartPolicy{Policy: policy}, nil
		}
	case RestartOnFailure:
		if !hasMax {
			return RestartPolicy{Policy: policy}, nil
		}
		n, err := strconv.Atoi(max)
		if err != nil || n < 1 {
			return RestartPolicy{}, fmt.Errorf("invalid restart policy %q: the maximum after on-failure: must be a positive number", s)
		}
		return RestartPolicy{Policy: policy, MaxRetries: n}, nil
	}
	return RestartPolicy{}, fmt.Errorf("invalid restart policy %q; expected no, always, on-failure[:MAX] or unless-stopped%s", s,
		suggest(policy, []string{RestartNo, RestartAlways, RestartOnFailure, RestartUnlessStopped}))
}

func (d *decoder) capabilities(v *node, p string) []string {
	var out []string
	d.strEach(v, p, false, func(c string, it *node, ip string) {
		name, _, err := ParseCapability(c)
		if err != nil {
			msg := err.Error()
			if strings.EqualFold(c, "ALL") {
				msg = "cap_add: ALL is not supported; name each capability the service needs"
			}
			d.errorf(it, ip, "%s", msg)
			return
		}
		out = append(out, name)
	})
	sort.Strings(out)
	return slices.Compact(out)
}

var securityKeys = []string{"userns", "seccomp", "landlock"}

func (d *decoder) security(v *node, p string, sec Security) Security {
	d.fields(v, p, securityKeys, func(k string, fv *node, fp string) {
		switch k {
		case "userns":
			set(&sec.UserNS)(d.oneOf(fv, fp, UserNSPrivate, UserNSHost))
		case "seccomp":
			s, ok := d.str(fv, fp)
			if !ok {
				return
			}
			switch s {
			case SeccompDefault, SeccompUnconfined:
				sec.Seccomp = s
			case "":
				d.errorf(fv, fp, "expected default, unconfined or the path of a profile")
			default:
				abs := d.hostPath(s)
				prof, err := d.loadSeccomp(abs)
				if err != nil {
					d.errorf(fv, fp, "seccomp profile %s: %v", s, err)
					return
				}
				sec.Seccomp, sec.SeccompProfile = abs, prof
			}
		case "landlock":
			sec.Landlock = d.landlock(fv, fp)
		}
	})
	return sec
}

var landlockAccess = []string{"read", "write", "execute"}

func (d *decoder) landlock(v *node, p string) Landlock {
	switch v.kind {
	case kindScalar:
		if s, ok := d.oneOf(v, p, LandlockDefault, LandlockOff); ok {
			return Landlock{Mode: s}
		}
		return Landlock{Mode: LandlockDefault}
	case kindSeq:
		if len(v.items) == 0 {
			d.errorf(v, p, "an empty Landlock rule list would deny all file access; use landlock: default or list rules")
		}
		return Landlock{Mode: LandlockCustom, Rules: d.landlockRules(v, p)}
	case kindMap:
		l := Landlock{Mode: LandlockDefault}
		d.fields(v, p, []string{"mode", "rules"}, func(k string, fv *node, fp string) {
			if k == "mode" {
				l.Mode, _ = d.oneOf(fv, fp, LandlockDefault, LandlockOff, LandlockCustom)
			} else {
				l.Rules = d.landlockRules(fv, fp)
			}
		})
		if len(l.Rules) > 0 && l.Mode != LandlockCustom {
			d.errorf(v, p, "rules need mode: custom")
		}
		if l.Mode == LandlockCustom && len(l.Rules) == 0 && v.get("rules") == nil {
			d.errorf(v, p, "mode custom needs rules: a list of {path, access}")
		}
		return l
	}
	return Landlock{Mode: LandlockDefault}
}

func (d *decoder) landlockRules(v *node, p string) []LandlockRule {
	var out []LandlockRule
	d.each(v, p, func(i int, it *node, ip string) {
		var r LandlockRule
		var given []string
		before := len(d.list)
		d.fields(it, ip, []string{"path", "access"}, func(k string, fv *node, fp string) {
			if k == "path" {
				s, ok := d.str(fv, fp)
				if !ok {
					return
				}
				if !filepath.IsAbs(s) {
					d.errorf(fv, fp, "Landlock path %q must be absolute", s)
					return
				}
				r.Path = filepath.Clean(s)
				return
			}
			d.strEach(fv, fp, true, func(a string, an *node, _ string) {
				if !slices.Contains(landlockAccess, a) {
					d.errorf(an, fp, "unknown access %q; expected read, write or execute%s", a, suggest(a, landlockAccess))
					return
				}
				given = append(given, a)
			})
		})
		if it.kind != kindMap || len(d.list) > before {
			return // already reported
		}
		if r.Path == "" {
			d.errorf(it, ip, "Landlock rule needs a path")
			return
		}
		if len(given) == 0 {
			d.errorf(it, ip, "Landlock rule needs access (read, write and/or execute)")
			return
		}
		// Canonical order, no duplicates: short and long forms hash alike.
		for _, a := range landlockAccess {
			if slices.Contains(given, a) {
				r.Access = append(r.Access, a)
			}
		}
		if r.Path != "" && len(r.Access) > 0 {
			out = append(out, r)
		}
	})
	return out
}
