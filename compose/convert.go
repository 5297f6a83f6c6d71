package compose

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"gopkg.in/yaml.v3"

	"nucleus/compose/composeapi"
)

// The types live in composeapi, which the nucleus command links without
// compose-go; these names keep this package's API whole.
type (
	Warning = composeapi.Warning
	Result  = composeapi.Result
)

// Serve is nucleus-compose's main: composeapi.Serve with Convert.
func Serve(r io.Reader, w io.Writer) int { return composeapi.Serve(r, w, Convert) }

// Convert reads the compose files as Compose does and maps them onto
// nucleus.yaml. A load error (bad YAML, a schema error) is returned as
// error; mapping problems are Warnings with Fatal set.
func Convert(ctx context.Context, o LoadOptions) (*Result, error) {
	// Every service is converted with its profiles: nucleus.yaml has
	// profiles too, and the load of the result picks the active ones.
	o.Profiles = []string{"*"}
	p, loadWarn, err := load(ctx, o)
	if err != nil {
		return nil, err
	}
	files := p.ComposeFiles
	srcs := map[string][]byte{}
	for _, f := range files {
		if f == "-" {
			srcs[f] = o.Stdin
		} else if data, err := os.ReadFile(f); err == nil {
			srcs[f] = data
		}
	}
	c := &converter{p: p, pos: composeapi.NewPositions(files, srcs), create: o.CreateHostPaths}
	for _, w := range loadWarn {
		c.loadWarning(w)
	}
	doc := c.project()
	// Notes in file order; those without a position first.
	sort.SliceStable(c.warns, func(i, j int) bool { return posLess(c.warns[i].Pos, c.warns[j].Pos) })
	var buf bytes.Buffer
	buf.WriteString("# Converted from " + strings.Join(c.relFiles(files), ", ") + " by `nucleus convert`.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("compose: write nucleus.yaml: %w", err)
	}
	enc.Close()
	res := &Result{YAML: buf.Bytes(), Warnings: c.warns, Sources: srcs, Name: p.Name, Dir: p.WorkingDir, Pos: c.pos}
	res.ComposeFiles = append(res.ComposeFiles, files...)
	res.Files = append(res.Files, files...)
	// What else the load read: .env and env_file files change the result.
	extra := map[string]bool{}
	if p.WorkingDir != "" {
		extra[filepath.Join(p.WorkingDir, ".env")] = true
	}
	for _, s := range p.Services {
		for _, ef := range s.EnvFiles {
			extra[ef.Path] = true
		}
	}
	for _, f := range slices.Sorted(maps.Keys(extra)) {
		res.Files = append(res.Files, f)
		if data, err := os.ReadFile(f); err == nil {
			res.Sources[f] = data
		}
	}
	return res, nil
}

type converter struct {
	p      *types.Project
	pos    *composeapi.Positions
	warns  []Warning
	create bool
	// bindVolumes are named volumes that are local binds of a host path
	// (driver_opts type none, o bind, device PATH): mounts of them become
	// bind mounts of that path.
	bindVolumes map[string]string
}

func (c *converter) relFiles(files []string) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = c.pos.Rel(f)
	}
	return out
}

// warn adds a note at path (a list of keys from the top of the file).
func (c *converter) warn(path []string, format string, args ...any) {
	c.warns = append(c.warns, Warning{Pos: c.pos.At(path...), Path: strings.Join(path, "."), Msg: fmt.Sprintf(format, args...)})
}

// refuse adds a problem that makes the conversion fail.
func (c *converter) refuse(path []string, format string, args ...any) {
	c.warns = append(c.warns, Warning{Pos: c.pos.At(path...), Path: strings.Join(path, "."), Msg: fmt.Sprintf(format, args...), Fatal: true})
}

func (c *converter) project() *yaml.Node {
	doc := newMap()
	if c.pos.Has("version") {
		c.warn([]string{"version"}, "ignored: Compose itself ignores it, and so does nucleus")
	}
	for _, k := range c.pos.Keys() {
		switch k {
		case "version", "name", "services", "networks", "volumes", "include":
		case "secrets", "configs":
		case "models":
			c.warn([]string{k}, "ignored: nucleus runs no models")
		default:
			if !strings.HasPrefix(k, "x-") {
				c.warn([]string{k}, "ignored: not a key nucleus knows")
			}
		}
	}
	add(doc, "name", str(c.p.Name), "")
	if n := c.networks(); len(n.Content) > 0 {
		add(doc, "networks", n, "")
	}
	if v := c.volumes(); len(v.Content) > 0 {
		add(doc, "volumes", v, "")
	}
	secrets := make(map[string]types.FileObjectConfig, len(c.p.Secrets))
	for k, v := range c.p.Secrets {
		secrets[k] = types.FileObjectConfig(v)
	}
	if v := c.fileObjects("secrets", secrets); len(v.Content) > 0 {
		add(doc, "secrets", v, "")
	}
	configs := make(map[string]types.FileObjectConfig, len(c.p.Configs))
	for k, v := range c.p.Configs {
		configs[k] = types.FileObjectConfig(v)
	}
	if v := c.fileObjects("configs", configs); len(v.Content) > 0 {
		add(doc, "configs", v, "")
	}
	svcs := newMap()
	for _, name := range slices.Sorted(maps.Keys(c.p.Services)) {
		start := len(c.warns)
		svc := c.service(name, c.p.Services[name])
		add(svcs, name, svc, c.notes(start, "services."+name+"."))
	}
	add(doc, "services", svcs, "")
	return doc
}

func (c *converter) networks() *yaml.Node {
	out := newMap()
	for _, name := range slices.Sorted(maps.Keys(c.p.Networks)) {
		n := c.p.Networks[name]
		path := []string{"networks", name}
		if name == "default" && !c.pos.Has(path...) {
			continue // Compose's implicit default network is nucleus's too
		}
		m := newMap()
		var notes []string
		switch n.Driver {
		case "", "bridge":
			if n.Driver == "bridge" {
				c.warn(append(path, "driver"), "accepted: every nucleus network is a bridge (nat: kernel as root, slirp4netns otherwise)")
			}
		default:
			c.warn(append(path, "driver"), "driver %q is not available: nucleus makes a bridge network instead", n.Driver)
			notes = append(notes, "driver "+n.Driver+" in Compose; a bridge here")
		}
		if len(n.DriverOpts) > 0 {
			c.warn(append(path, "driver_opts"), "ignored: nucleus bridges take no driver options")
		}
		if bool(n.External) {
			c.warn(append(path, "external"), "nucleus creates the project's networks itself and shares none with other projects: %s becomes a network of this project, reachable only by its services", name)
			notes = append(notes, "external in Compose: a network of this project here")
		}
		for i, pool := range n.Ipam.Config {
			if pool == nil || pool.Subnet == "" {
				continue
			}
			if strings.Contains(pool.Subnet, ":") {
				c.warn(append(path, "ipam"), "IPv6 subnet %s ignored: nucleus networks are IPv4", pool.Subnet)
				continue
			}
			if i > 0 && hasKey(m, "subnet") {
				c.warn(append(path, "ipam"), "subnet %s ignored: a nucleus network has one subnet", pool.Subnet)
				continue
			}
			add(m, "subnet", str(pool.Subnet), "")
			c.warn(append(path, "ipam"), "ipam.config[].subnet maps to subnet %s", pool.Subnet)
			if pool.Gateway != "" || pool.IPRange != "" || len(pool.AuxiliaryAddresses) > 0 {
				c.warn(append(path, "ipam"), "gateway, ip_range and aux_addresses ignored: the gateway is the subnet's first address")
			}
		}
		if n.Internal {
			add(m, "internal", boolean(true), "")
		}
		if n.EnableIPv6 != nil && *n.EnableIPv6 {
			c.warn(append(path, "enable_ipv6"), "ignored: nucleus networks are IPv4")
		}
		if len(n.Labels) > 0 {
			c.warn(append(path, "labels"), "ignored: nucleus networks have no labels")
		}
		add(out, c.objName(path, name), flow(m), strings.Join(notes, "; "))
	}
	return out
}

// notes are the notes added since start, as a comment above the key they
// concern (prefix is stripped from their paths).
func (c *converter) notes(start int, prefix string) string {
	var out []string
	for _, w := range c.warns[start:] {
		if w.Fatal {
			continue
		}
		k := strings.TrimPrefix(strings.TrimPrefix(w.Path+".", prefix), ".")
		if k = strings.TrimSuffix(k, "."); k != "" {
			k += ": "
		}
		out = append(out, k+w.Msg)
	}
	return strings.Join(out, "\n# ")
}

func hasKey(m *yaml.Node, key string) bool {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return true
		}
	}
	return false
}

func (c *converter) volumes() *yaml.Node {
	out := newMap()
	c.bindVolumes = map[string]string{}
	for _, name := range slices.Sorted(maps.Keys(c.p.Volumes)) {
		v := c.p.Volumes[name]
		path := []string{"volumes", name}
		m := newMap()
		comment := ""
		if v.Driver != "" && v.Driver != "local" {
			c.refuse(append(path, "driver"), "volume driver %q is not available: nucleus volumes are directories under its data root or tmpfs", v.Driver)
			continue
		}
		if len(v.DriverOpts) > 0 {
			switch typ := v.DriverOpts["type"]; {
			case (typ == "none" || typ == "") && strings.Contains(v.DriverOpts["o"], "bind") && v.DriverOpts["device"] != "":
				dev := v.DriverOpts["device"]
				if !filepath.IsAbs(dev) {
					dev = filepath.Join(c.p.WorkingDir, dev)
				}
				c.bindVolumes[name] = dev
				c.warn(append(path, "driver_opts"), "a local bind of %s: services mount that directory directly (a bind mount; it must exist, as in Compose)", dev)
				continue
			case typ == "tmpfs":
				add(m, "type", str("tmpfs"), "")
				for _, o := range strings.Split(v.DriverOpts["o"], ",") {
					if s, ok := strings.CutPrefix(o, "size="); ok {
						add(m, "size", str(s), "")
					}
				}
				c.warn(append(path, "driver_opts"), "a local tmpfs volume maps to type: tmpfs")
			default:
				c.refuse(append(path, "driver_opts"), "driver_opts %v cannot be mapped: nucleus takes local binds (type: none, o: bind, device: PATH) and tmpfs only", v.DriverOpts)
				continue
			}
		}
		if bool(v.External) {
			c.warn(append(path, "external"), "nucleus has no Docker volumes: %s becomes a nucleus volume of this project, created empty under nucleus's data root (kept by down, removed by down -v); copy the data in, or mount the directory with driver_opts (type: none, o: bind, device: PATH)", name)
			comment = "external in Compose: a new, empty nucleus volume here"
		}
		if len(v.Labels) > 0 {
			c.warn(append(path, "labels"), "ignored: nucleus volumes have no labels")
		}
		add(out, c.objName(path, name), flow(m), comment)
	}
	return out
}

// mappedServiceKeys are the service keys the converter maps or notes itself;
// any other key written in a file gets a generic note.
var mappedServiceKeys = []string{
	"image", "build", "command", "entrypoint", "environment", "env_file", "ports", "expose", "volumes", "tmpfs",
	"networks", "network_mode", "depends_on", "healthcheck", "restart", "stop_signal", "stop_grace_period",
	"user", "working_dir", "hostname", "dns", "extra_hosts", "cap_add", "cap_drop", "read_only", "mem_limit",
	"cpus", "pids_limit", "deploy", "scale", "userns_mode", "pull_policy", "privileged", "container_name",
	"init", "security_opt", "platform", "profiles", "labels", "secrets", "configs", "ulimits", "shm_size",
	"extends", "stdin_open", "tty", "logging", "links", "restart_policy", "domainname", "mem_reservation",
	"memswap_limit", "pid", "ipc", "devices", "volumes_from", "gpus", "sysctls", "cgroup_parent",
}

// ignoredKeys have no effect worth more than a note.
var ignoredKeys = map[string]string{
	"stdin_open":      "nucleus services have no terminal input; use nucleus run for an interactive one-off",
	"tty":             "nucleus services have no terminal; output goes to nucleus logs",
	"logging":         "nucleus keeps the logs itself (nucleus logs)",
	"links":           "every service is reachable by its name on the project's networks",
	"domainname":      "not set: the sandbox's domain is the project's",
	"mem_reservation": "nucleus has no memory reservation",
	"memswap_limit":   "nucleus sets no swap limit",
	"sysctls":         "nucleus sets no sysctls",
	"cgroup_parent":   "nucleus places the sandbox's cgroup itself",
}

func (c *converter) service(name string, s types.ServiceConfig) *yaml.Node {
	path := func(k ...string) []string { return append([]string{"services", name}, k...) }
	m := newMap()
	for _, k := range c.pos.Keys("services", name) {
		if slices.Contains(mappedServiceKeys, k) || strings.HasPrefix(k, "x-") {
			if why, ok := ignoredKeys[k]; ok {
				c.warn(path(k), "ignored: %s", why)
			}
			continue
		}
		c.warn(path(k), "ignored: nucleus has no equivalent")
	}

	// Image and build.
	if s.Image == "" {
		if s.Build != nil {
			c.refuse(path("build"), "nucleus does not build images, it runs existing ones: build this one with docker, podman or buildah and push it to a registry (or `docker save` it to an archive), then name it in image: (a registry reference, or docker-archive:./app.tar)")
		} else {
			c.refuse(path(), "no image: a compose service needs one (nucleus's host view has no Compose equivalent)")
		}
	} else {
		add(m, "image", str(s.Image), "")
		if s.Build != nil {
			c.warn(path("build"), "ignored: nucleus runs the image %s and does not build it", s.Image)
		}
	}
	switch s.PullPolicy {
	case "":
	case types.PullPolicyAlways, types.PullPolicyNever, types.PullPolicyMissing:
		if c.pos.Has("services", name, "pull_policy") {
			add(m, "pull_policy", str(s.PullPolicy), "")
		}
	case types.PullPolicyIfNotPresent:
		add(m, "pull_policy", str("missing"), "")
	case types.PullPolicyBuild:
		c.warn(path("pull_policy"), "build is not available: nucleus pulls the image when it is missing")
	default:
		c.warn(path("pull_policy"), "%q is approximated as missing: nucleus pulls when the store lacks the image", s.PullPolicy)
		add(m, "pull_policy", str("missing"), "pull_policy "+s.PullPolicy+" in Compose")
	}
	if s.Platform != "" {
		host := runtime.GOOS + "/" + runtime.GOARCH
		want := strings.TrimSuffix(s.Platform, "/v8")
		if want == host || strings.HasPrefix(s.Platform, host+"/") {
			c.warn(path("platform"), "accepted: %s is this host's platform", s.Platform)
		} else {
			c.refuse(path("platform"), "platform %s cannot run here: nucleus runs images natively on this host's %s (no emulation)", s.Platform, host)
		}
	}

	// What runs.
	if s.Entrypoint != nil {
		add(m, "entrypoint", strList(s.Entrypoint), "")
	}
	if s.Command != nil {
		add(m, "command", strList(s.Command), "")
	}
	addStr(m, "working_dir", s.WorkingDir)
	addStr(m, "user", s.User)
	addStr(m, "hostname", s.Hostname)
	if len(s.Environment) > 0 {
		env := newMap()
		for _, k := range slices.Sorted(maps.Keys(s.Environment)) {
			v := s.Environment[k]
			if v == nil {
				c.warn(path("environment"), "%s is not set in the environment: left out, as Compose does", k)
				continue
			}
			add(env, k, str(*v), "")
		}
		if len(env.Content) > 0 {
			add(m, "environment", env, "")
		}
	}
	if len(s.EnvFiles) > 0 {
		c.warn(path("env_file"), "merged into environment at conversion (as Compose reads it); edits to the file apply on the next load")
	}

	// Process settings.
	c.restart(m, name, s, path)
	addStr(m, "stop_signal", s.StopSignal)
	if s.StopGracePeriod != nil {
		add(m, "stop_grace_period", str(time.Duration(*s.StopGracePeriod).String()), "")
	}
	c.healthcheck(m, s, path)
	c.dependsOn(m, name, s, path)

	// Networking.
	c.serviceNetworks(m, name, s, path)
	c.ports(m, s, path)
	if len(s.Expose) > 0 {
		c.warn(path("expose"), "accepted: every port of a service is reachable from the project's networks already")
	}
	if len(s.DNS) > 0 {
		var v4 []string
		for _, d := range s.DNS {
			if strings.Contains(d, ":") {
				c.warn(path("dns"), "IPv6 resolver %s left out: nucleus forwards to IPv4 resolvers", d)
				continue
			}
			v4 = append(v4, d)
		}
		if len(v4) > 0 {
			add(m, "dns", strList(v4), "")
		}
	}
	if len(s.DNSSearch) > 0 || len(s.DNSOpts) > 0 {
		c.warn(path("dns_search"), "dns_search and dns_opt are ignored")
	}
	c.extraHosts(m, s, path)

	// Sandbox.
	c.mounts(m, name, s, path)
	if s.ReadOnly {
		// nucleus's default; nothing to write
	} else if c.pos.Has("services", name, "read_only") {
		add(m, "read_only", boolean(false), "")
	} else {
		c.warn(path(), "read_only is not set: Compose gives a writable root filesystem, nucleus keeps it read-only (write to volumes, or set read_only: false for a writable layer, kept until the replica is replaced)")
	}
	if len(s.CapAdd) > 0 {
		caps := slices.Clone(s.CapAdd)
		if slices.ContainsFunc(caps, func(c string) bool { return strings.EqualFold(c, "ALL") }) {
			c.refuse(path("cap_add"), "cap_add ALL cannot be granted: nucleus adds the capabilities listed one by one")
		} else {
			sort.Strings(caps)
			add(m, "cap_add", strList(caps), "")
		}
	}
	if len(s.CapDrop) > 0 {
		c.warn(path("cap_drop"), "accepted: nucleus drops every capability not in cap_add already")
	}
	if s.Privileged {
		c.refuse(path("privileged"), "refused: a privileged container has every capability, every device and no seccomp filter, which nucleus never grants; list the capabilities the service needs in cap_add")
	}
	c.resources(m, name, s, path)
	c.security(m, s, path)
	if s.Init != nil {
		if *s.Init {
			c.warn(path("init"), "accepted: nucleus's init is PID 1 in every sandbox already")
		} else {
			c.warn(path("init"), "nucleus always runs its init as PID 1; init: false is ignored")
		}
	}
	if s.ContainerName != "" && len(s.Networks) == 0 && s.NetworkMode != "none" {
		c.warn(path("container_name"), "ignored: the service is on no network")
	}
	if s.Pid != "" {
		c.refuse(path("pid"), "pid %q refused: a sandbox always has its own PID namespace", s.Pid)
	}
	if s.Ipc != "" && s.Ipc != "private" && s.Ipc != "shareable" {
		c.refuse(path("ipc"), "ipc %q refused: a sandbox always has its own IPC namespace", s.Ipc)
	}
	if len(s.Devices) > 0 {
		c.refuse(path("devices"), "refused: nucleus passes no host devices into a sandbox")
	}
	if len(s.Gpus) > 0 {
		c.refuse(path("gpus"), "refused: nucleus passes no GPUs into a sandbox")
	}

	if len(s.Profiles) > 0 {
		add(m, "profiles", strList(s.Profiles), "")
	}
	if len(s.Labels) > 0 {
		l := newMap()
		for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
			add(l, k, str(s.Labels[k]), "")
		}
		add(m, "labels", l, "")
	}
	if refs := fileRefs(s.Secrets, "/run/secrets"); len(refs.Content) > 0 {
		add(m, "secrets", refs, "")
	}
	configRefs := make([]types.ServiceSecretConfig, len(s.Configs))
	for i, r := range s.Configs {
		configRefs[i] = types.ServiceSecretConfig(r)
	}
	if refs := fileRefs(configRefs, "/"); len(refs.Content) > 0 {
		add(m, "configs", refs, "")
	}
	if len(s.Ulimits) > 0 {
		ul := newMap()
		for _, k := range slices.Sorted(maps.Keys(s.Ulimits)) {
			u := s.Ulimits[k]
			if u.Single != 0 || (u.Soft == 0 && u.Hard == 0) {
				add(ul, k, num(u.Single), "")
				continue
			}
			add(ul, k, flow(mapOf("soft", num(u.Soft), "hard", num(u.Hard))), "")
		}
		add(m, "ulimits", ul, "")
	}
	if s.ShmSize != 0 {
		add(m, "shm_size", str(size(int64(s.ShmSize))), "")
	}
	return m
}

func (c *converter) restart(m *yaml.Node, name string, s types.ServiceConfig, path func(...string) []string) {
	r := s.Restart
	if s.Deploy != nil && s.Deploy.RestartPolicy != nil && !c.pos.Has("services", name, "restart") {
		rp := s.Deploy.RestartPolicy
		switch rp.Condition {
		case "none":
			r = "no"
		case "on-failure":
			r = "on-failure"
			if rp.MaxAttempts != nil {
				r += ":" + strconv.FormatUint(*rp.MaxAttempts, 10)
			}
		case "any", "":
			r = "always"
		}
		c.warn(path("deploy", "restart_policy"), "maps to restart: %s (delay and window ignored: nucleus backs off from 1s to 5min)", r)
	}
	if r != "" && r != "no" {
		add(m, "restart", str(r), "")
	}
}

func (c *converter) healthcheck(m *yaml.Node, s types.ServiceConfig, path func(...string) []string) {
	h := s.HealthCheck
	if h == nil {
		return
	}
	hc := newMap()
	if h.Disable || (len(h.Test) > 0 && h.Test[0] == "NONE") {
		add(hc, "disable", boolean(true), "")
		add(m, "healthcheck", flow(hc), "")
		return
	}
	if len(h.Test) == 0 {
		// Compose overrides the image's HEALTHCHECK field by field;
		// nucleus takes a check whole, from the file or from the image.
		c.warn(path("healthcheck"), "no test: nucleus cannot change only the timing of the image's HEALTHCHECK; the image's check applies with its own timing (write the test here to set both)")
		return
	}
	add(hc, "test", strList(h.Test), "")
	dur := func(k string, d *types.Duration) {
		if d != nil {
			add(hc, k, str(time.Duration(*d).String()), "")
		}
	}
	dur("interval", h.Interval)
	dur("timeout", h.Timeout)
	if h.Retries != nil {
		add(hc, "retries", num(*h.Retries), "")
	}
	dur("start_period", h.StartPeriod)
	dur("start_interval", h.StartInterval)
	if len(hc.Content) > 0 {
		add(m, "healthcheck", hc, "")
	}
}

func (c *converter) dependsOn(m *yaml.Node, name string, s types.ServiceConfig, path func(...string) []string) {
	if len(s.DependsOn) == 0 {
		return
	}
	deps := newMap()
	for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
		d := s.DependsOn[dep]
		if _, ok := c.p.Services[dep]; !ok && !d.Required {
			c.warn(path("depends_on", dep), "left out: the optional dependency %s is not part of the project", dep)
			continue
		}
		dm := newMap()
		if d.Condition != "" && d.Condition != types.ServiceConditionStarted {
			add(dm, "condition", str(d.Condition), "")
		}
		if d.Restart {
			add(dm, "restart", boolean(true), "")
		}
		if !d.Required {
			add(dm, "required", boolean(false), "")
		}
		add(deps, dep, flow(dm), "")
	}
	if len(deps.Content) > 0 {
		add(m, "depends_on", deps, "")
	}
}

func (c *converter) serviceNetworks(m *yaml.Node, name string, s types.ServiceConfig, path func(...string) []string) {
	switch mode := s.NetworkMode; {
	case mode == "none":
		add(m, "networks", flow(newSeq()), "network_mode: none in Compose")
		c.warn(path("network_mode"), "none maps to networks: [] (loopback only)")
		return
	case mode == "host":
		c.refuse(path("network_mode"), "host refused: nucleus never shares the host's network namespace (a sandbox there could reach every host service and bind any host port); publish the ports the service serves instead")
		return
	case mode == "bridge" || mode == "default":
		c.warn(path("network_mode"), "%s maps to the project's default network", mode)
	case mode != "":
		c.refuse(path("network_mode"), "%q refused: a sandbox cannot join another's network namespace; put both services on one network instead", mode)
		return
	}
	names := slices.Sorted(maps.Keys(s.Networks))
	alias := ""
	if s.ContainerName != "" {
		if c.containerNameUnique(name, s.ContainerName) {
			alias = s.ContainerName
			c.warn(path("container_name"), "becomes the network alias %s (nucleus names replicas itself)", alias)
		} else {
			c.warn(path("container_name"), "ignored: %s is also a service name or another service's container_name", s.ContainerName)
		}
	}
	if len(names) == 1 && names[0] == "default" && alias == "" && s.Networks["default"] == nil {
		return // nucleus's default too
	}
	nets := newMap()
	for _, n := range names {
		nc := s.Networks[n]
		nm := newMap()
		var aliases []string
		if alias != "" {
			aliases = append(aliases, alias)
		}
		if nc != nil {
			aliases = append(aliases, nc.Aliases...)
			if nc.Ipv4Address != "" {
				add(nm, "ipv4_address", str(nc.Ipv4Address), "")
			}
			if nc.Ipv6Address != "" {
				c.warn(path("networks", n), "ipv6_address ignored: nucleus networks are IPv4")
			}
		}
		if len(aliases) > 0 {
			add(nm, "aliases", strList(aliases), "")
		}
		add(nets, objName(n), flow(nm), "")
	}
	add(m, "networks", nets, "")
}

func (c *converter) containerNameUnique(self, cn string) bool {
	for n, s := range c.p.Services {
		if n == cn || (n != self && s.ContainerName == cn) {
			return false
		}
	}
	return true
}

func (c *converter) ports(m *yaml.Node, s types.ServiceConfig, path func(...string) []string) {
	if len(s.Ports) == 0 {
		return
	}
	seq := newSeq()
	for _, p := range s.Ports {
		pm := newMap()
		add(pm, "target", num(p.Target), "")
		// Without published, nucleus picks an ephemeral host port as
		// Compose does (nucleus port SERVICE PORT shows it).
		addStr(pm, "published", p.Published)
		if p.HostIP != "" {
			if strings.Contains(p.HostIP, ":") {
				c.refuse(path("ports"), "host address %s refused: nucleus publishes on IPv4 addresses only (use 0.0.0.0 or 127.0.0.1)", p.HostIP)
				continue
			}
			add(pm, "host_ip", str(p.HostIP), "")
		}
		if p.Protocol != "" && p.Protocol != "tcp" {
			add(pm, "protocol", str(p.Protocol), "")
		}
		if p.Mode == "ingress" && p.Published != "" {
			// Compose's default mode; nothing to say
		}
		seq.Content = append(seq.Content, flow(pm))
	}
	add(m, "ports", seq, "")
}

func (c *converter) extraHosts(m *yaml.Node, s types.ServiceConfig, path func(...string) []string) {
	if len(s.ExtraHosts) == 0 {
		return
	}
	seq := newSeq()
	for _, h := range slices.Sorted(maps.Keys(s.ExtraHosts)) {
		for _, ip := range s.ExtraHosts[h] {
			seq.Content = append(seq.Content, str(h+"="+ip))
		}
	}
	if len(seq.Content) > 0 {
		add(m, "extra_hosts", seq, "")
	}
}

// volumesFrom are the volumes of the services s names in volumes_from,
// as Compose mounts them (read-only with :ro); a container: source cannot
// be mapped.
func (c *converter) volumesFrom(s types.ServiceConfig, path func(...string) []string) []types.ServiceVolumeConfig {
	var out []types.ServiceVolumeConfig
	for _, vf := range s.VolumesFrom {
		src, mode, _ := strings.Cut(vf, ":")
		from, ok := c.p.Services[src]
		if !ok || src == "container" {
			c.refuse(path("volumes_from"), "%s cannot be mapped: nucleus mounts volumes of the project's services only; name the volumes in this service's volumes", vf)
			continue
		}
		for _, v := range from.Volumes {
			if mode == "ro" {
				v.ReadOnly = true
			}
			out = append(out, v)
		}
		c.warn(path("volumes_from"), "%s: its %d volumes are mounted here too, as Compose does", vf, len(from.Volumes))
	}
	return out
}

func (c *converter) mounts(m *yaml.Node, name string, s types.ServiceConfig, path func(...string) []string) {
	seq := newSeq()
	vols := append(slices.Clone(s.Volumes), c.volumesFrom(s, path)...)
	for i, v := range vols {
		vp := path("volumes")
		vm := newMap()
		switch v.Type {
		case types.VolumeTypeBind:
			src := v.Source
			add(vm, "type", str("bind"), "")
			add(vm, "source", str(c.relPath(src)), "")
			if v.Bind != nil && v.Bind.SELinux != "" {
				c.warn(vp, "%s: the :%s SELinux relabel is accepted and not needed: nucleus does not run under SELinux labels", v.Target, v.Bind.SELinux)
			}
			if v.Bind != nil && v.Bind.Propagation != "" && v.Bind.Propagation != "rprivate" {
				c.warn(vp, "%s: propagation %s ignored: nucleus bind mounts are private", v.Target, v.Bind.Propagation)
			}
			if _, err := os.Stat(src); err != nil && os.IsNotExist(err) {
				if v.Bind != nil && bool(v.Bind.CreateHostPath) {
					if c.create {
						if err := os.MkdirAll(src, 0o755); err != nil {
							c.refuse(vp, "%s: cannot create the missing bind source %s: %v", v.Target, src, err)
						} else {
							c.warn(vp, "%s: created the missing bind source directory %s, as Compose does", v.Target, src)
						}
					} else {
						c.warn(vp, "%s: bind source %s does not exist: up creates it as a directory, as Compose does", v.Target, src)
					}
				} else {
					c.warn(vp, "%s: bind source %s does not exist and create_host_path is false: starting the service fails until it exists, as in Compose", v.Target, src)
				}
			}
		case types.VolumeTypeVolume:
			if v.Source == "" {
				// An anonymous volume: fresh per container in Compose.
				add(vm, "type", str("tmpfs"), "")
				c.warn(vp, "%s: the anonymous volume becomes a tmpfs (64M, lost on restart)", v.Target)
				break
			}
			if dev, ok := c.bindVolumes[v.Source]; ok {
				add(vm, "type", str("bind"), "")
				add(vm, "source", str(c.relPath(dev)), "")
				break
			}
			add(vm, "type", str("volume"), "")
			add(vm, "source", str(objName(v.Source)), "")
			if v.Volume != nil && v.Volume.NoCopy {
				c.warn(vp, "%s: nocopy accepted: nucleus never copies image content into a volume", v.Target)
			}
			if v.Volume != nil && v.Volume.Subpath != "" {
				c.refuse(vp, "%s: subpath %s cannot be mapped: mount the whole volume", v.Target, v.Volume.Subpath)
			}
		case types.VolumeTypeTmpfs:
			add(vm, "type", str("tmpfs"), "")
			if v.Tmpfs != nil && v.Tmpfs.Size > 0 {
				add(vm, "size", str(size(int64(v.Tmpfs.Size))), "")
			}
			if v.Tmpfs != nil && v.Tmpfs.Mode != 0 {
				add(vm, "mode", str(fmt.Sprintf("%o", v.Tmpfs.Mode)), "")
			}
		default:
			c.refuse(vp, "%s: volume type %s cannot be mapped: nucleus mounts bind, volume and tmpfs", v.Target, v.Type)
			continue
		}
		add(vm, "target", str(v.Target), "")
		if v.ReadOnly {
			add(vm, "read_only", boolean(true), "")
		}
		_ = i
		seq.Content = append(seq.Content, flow(vm))
	}
	// tmpfs: is Docker's --tmpfs form in both files; options nucleus does
	// not take (uid=, gid=, ...) are left out with a note.
	var tmpfs []string
	for _, t := range s.Tmpfs {
		target, opts, _ := strings.Cut(t, ":")
		var keep []string
		for _, o := range strings.Split(opts, ",") {
			switch k, _, _ := strings.Cut(o, "="); k {
			case "":
			case "size", "mode", "exec", "noexec", "ro", "rw", "nosuid", "nodev":
				keep = append(keep, o)
			default:
				c.warn(path("tmpfs"), "%s: option %s left out: nucleus's tmpfs takes size, mode, exec, noexec, ro and rw", target, o)
			}
		}
		if len(keep) > 0 {
			target += ":" + strings.Join(keep, ",")
		}
		tmpfs = append(tmpfs, target)
	}
	if len(tmpfs) > 0 {
		add(m, "tmpfs", strList(tmpfs), "")
	}
	if len(seq.Content) > 0 {
		add(m, "volumes", seq, "")
	}
}

func (c *converter) resources(m *yaml.Node, name string, s types.ServiceConfig, path func(...string) []string) {
	mem, cpus, pids := int64(s.MemLimit), float64(s.CPUS), s.PidsLimit
	if s.Deploy != nil {
		if l := s.Deploy.Resources.Limits; l != nil {
			if l.MemoryBytes != 0 {
				mem = int64(l.MemoryBytes)
			}
			if l.NanoCPUs != 0 {
				cpus = float64(l.NanoCPUs)
			}
			if l.Pids != 0 {
				pids = l.Pids
			}
		}
		if s.Deploy.Resources.Reservations != nil {
			c.warn(path("deploy", "resources", "reservations"), "ignored: nucleus reserves nothing, it limits")
		}
	}
	r := newMap()
	if mem > 0 {
		add(r, "memory", str(size(mem)), "")
	}
	if cpus > 0 {
		add(r, "cpus", str(strconv.FormatFloat(cpus, 'f', -1, 32)), "")
	}
	if pids != 0 {
		add(r, "pids", num(pids), "")
	}
	if len(r.Content) > 0 {
		add(m, "resources", flow(r), "")
	}
	replicas := -1
	if s.Deploy != nil && s.Deploy.Replicas != nil {
		replicas = *s.Deploy.Replicas
	}
	if s.Scale != nil {
		replicas = *s.Scale
	}
	if replicas >= 0 && replicas != 1 {
		add(m, "replicas", num(replicas), "")
	}
	if s.Deploy != nil && s.Deploy.Mode != "" && s.Deploy.Mode != "replicated" {
		c.warn(path("deploy", "mode"), "mode %s is treated as replicated", s.Deploy.Mode)
	}
}

func (c *converter) security(m *yaml.Node, s types.ServiceConfig, path func(...string) []string) {
	sec := newMap()
	switch s.UserNSMode {
	case "":
	case "host":
		add(sec, "userns", str("host"), "")
	default:
		c.warn(path("userns_mode"), "%q is approximated by nucleus's private user namespace (root inside maps to an unprivileged host range)", s.UserNSMode)
	}
	for _, o := range s.SecurityOpt {
		k, v, _ := strings.Cut(strings.Replace(o, "=", ":", 1), ":")
		switch {
		case k == "no-new-privileges" && v != "false":
			c.warn(path("security_opt"), "%s accepted: nucleus always sets no-new-privileges", o)
		case k == "seccomp" && v == "unconfined":
			add(sec, "seccomp", str("unconfined"), "")
		case k == "seccomp":
			add(sec, "seccomp", str(v), "")
		default:
			c.warn(path("security_opt"), "%s ignored: nucleus applies its own seccomp and Landlock rules", o)
		}
	}
	if len(sec.Content) > 0 {
		add(m, "security", flow(sec), "")
	}
}

var unsetVar = regexp.MustCompile(`^The "([A-Za-z_][A-Za-z0-9_]*)" variable is not set\. Defaulting to a blank string\.$`)

// loadWarning turns one of compose-go's warnings into a note: an unset
// variable is found where the files use it; the obsolete version is noted
// by project() already.
func (c *converter) loadWarning(msg string) {
	if strings.Contains(msg, "the attribute `version` is obsolete") {
		return
	}
	m := unsetVar.FindStringSubmatch(msg)
	if m == nil {
		c.warns = append(c.warns, Warning{Msg: msg})
		return
	}
	uses := c.pos.VariableUses(m[1])
	if len(uses) == 0 {
		c.warns = append(c.warns, Warning{Msg: "variable " + m[1] + " is not set: it becomes an empty string, as in Compose"})
	}
	for _, u := range uses {
		c.warns = append(c.warns, Warning{Pos: u.Pos, Path: u.Path, Msg: "variable " + m[1] + " is not set: it becomes an empty string, as in Compose"})
	}
}

// posLess orders "FILE:LINE:COL" positions by file, then line and column.
func posLess(a, b string) bool {
	fa, la, ca := splitPos(a)
	fb, lb, cb := splitPos(b)
	if fa != fb {
		return fa < fb
	}
	if la != lb {
		return la < lb
	}
	return ca < cb
}

func splitPos(p string) (string, int, int) {
	i := strings.LastIndexByte(p, ':')
	if i < 0 {
		return p, 0, 0
	}
	j := strings.LastIndexByte(p[:i], ':')
	if j < 0 {
		return p, 0, 0
	}
	l, _ := strconv.Atoi(p[j+1 : i])
	col, _ := strconv.Atoi(p[i+1:])
	return p[:j], l, col
}

// fileObjects maps the top-level secrets or configs: a file, an
// environment variable or (configs) inline content, as nucleus reads them.
func (c *converter) fileObjects(section string, objs map[string]types.FileObjectConfig) *yaml.Node {
	out := newMap()
	for _, name := range slices.Sorted(maps.Keys(objs)) {
		o := objs[name]
		path := []string{section, name}
		m := newMap()
		switch {
		case bool(o.External):
			c.refuse(append(path, "external"), "an external %s lives in a Docker swarm, which nucleus does not use: give it a file: or environment: source", section[:len(section)-1])
			continue
		case o.File != "":
			add(m, "file", str(c.relPath(o.File)), "")
		case o.Environment != "":
			add(m, "environment", str(o.Environment), "")
		case o.Content != "" && section == "configs":
			add(m, "content", str(o.Content), "")
		default:
			c.refuse(path, "no source nucleus can read: give it a file:%s", map[bool]string{true: ", environment: or content:", false: " or environment:"}[section == "configs"])
			continue
		}
		if o.Driver != "" || o.TemplateDriver != "" {
			c.warn(path, "driver and template_driver ignored: nucleus reads the source as it is")
		}
		add(out, name, flow(m), "")
	}
	return out
}

// fileRefs maps a service's secrets or configs: the short form when only
// the source is given, else the long form.
func fileRefs(refs []types.ServiceSecretConfig, dir string) *yaml.Node {
	seq := newSeq()
	for _, r := range refs {
		if r.Target == filepath.Join(dir, r.Source) {
			r.Target = "" // compose-go's normal form of the short syntax
		}
		if r.Target == "" && r.UID == "" && r.GID == "" && r.Mode == nil {
			seq.Content = append(seq.Content, str(r.Source))
			continue
		}
		m := newMap()
		add(m, "source", str(r.Source), "")
		addStr(m, "target", r.Target)
		addStr(m, "uid", r.UID)
		addStr(m, "gid", r.GID)
		if r.Mode != nil {
			add(m, "mode", str(fmt.Sprintf("%04o", int64(*r.Mode))), "")
		}
		seq.Content = append(seq.Content, flow(m))
	}
	return seq
}

// relPath writes a path inside the project directory relative to it
// (./site), as Compose users write it: the converted file then works
// from another checkout too. nucleus resolves it against the same
// directory.
func (c *converter) relPath(p string) string {
	if c.p.WorkingDir == "" || !filepath.IsAbs(p) {
		return p
	}
	r, err := filepath.Rel(c.p.WorkingDir, p)
	if err != nil || r == ".." || strings.HasPrefix(r, "../") {
		return p
	}
	if r == "." {
		return "."
	}
	return "./" + r
}

// objName is a network or volume name as nucleus takes it: lowercase
// letters, digits, _ and -, starting with a letter or digit, at most 40
// characters. Compose is laxer (capitals, dots).
func objName(name string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(name) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('-')
		}
	}
	out := strings.TrimLeft(b.String(), "_-")
	if len(out) > 40 {
		out = out[:40]
	}
	return out
}

// objName notes a top-level network or volume renamed for nucleus; its
// uses are renamed the same way.
func (c *converter) objName(path []string, name string) string {
	n := objName(name)
	if n != name {
		c.warn(path, "renamed %s: nucleus names are lowercase letters, digits, _ and - (at most 40)", n)
	}
	return n
}
