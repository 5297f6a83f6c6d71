package k8s

import (
	"fmt"
	"maps"
	"math"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"nucleus/spec"
)

// podSpec is the pod of service s (one container named like the service).
func (e *exporter) podSpec(s *spec.Service, name string) PodSpec {
	at := "services." + s.Name
	c := Container{Name: name, Image: e.image(s), ImagePullPolicy: pullPolicy(s, e.o.Images[s.Name] != "")}
	switch {
	case s.Image == "":
		// A host command given an image with --image: Command is the
		// whole argv (the loader put its entrypoint in front).
		c.Command = s.Command
	case s.Entrypoint != nil && len(s.Entrypoint) > 0:
		c.Command, c.Args = s.Entrypoint, s.Command
	case s.Entrypoint != nil && len(s.Command) > 0:
		// Resolved against the image (or entrypoint: []): the whole argv.
		c.Command = s.Command
	default:
		c.Args = s.Command
	}
	c.WorkingDir = s.WorkingDir
	e.env(s, name, &c)
	c.Ports = e.containerPorts(s)
	c.Resources = e.resources(s)
	c.StartupProbe, c.ReadinessProbe, c.LivenessProbe = e.probes(s)
	c.SecurityContext = &ContainerSecurity{
		AllowPrivilegeEscalation: ptr(false), // no_new_privs, as in the sandbox
		Privileged:               ptr(false),
		ReadOnlyRootFilesystem:   ptr(s.ReadOnly),
		Capabilities:             &Capabilities{Drop: []string{"ALL"}, Add: capNames(s.CapAdd)},
	}
	pod := PodSpec{
		AutomountServiceAccountToken: ptr(false), // a sandbox has no API credentials
		EnableServiceLinks:           ptr(false), // nor *_SERVICE_HOST variables
		SecurityContext:              e.podSecurity(s),
		Containers:                   []Container{c},
	}
	if s.Replicas > 1 {
		// Replicas on one host share its fate; in a cluster, spread them
		// over the nodes where the scheduler can (ScheduleAnyway keeps a
		// one-node cluster working).
		pod.TopologySpreadConstraints = []SpreadConstraint{{
			MaxSkew: 1, TopologyKey: "kubernetes.io/hostname", WhenUnsatisfiable: "ScheduleAnyway",
			LabelSelector: Selector{MatchLabels: e.selector(name)},
		}}
	}
	if g := s.StopGracePeriod.D(); g > 0 {
		pod.TerminationGracePeriodSeconds = ptr(int64(math.Ceil(g.Seconds())))
	}
	if s.Security.UserNS != spec.UserNSHost && !e.o.HostUsers {
		pod.HostUsers = ptr(false)
	}
	if s.StopSignal != "" && s.StopSignal != "SIGTERM" && s.StopSignal != "TERM" {
		e.warn(at+".stop_signal", "stop_signal %s: Kubernetes sends SIGTERM (the image's STOPSIGNAL with containerd); set STOPSIGNAL in the image", s.StopSignal)
	}
	e.hostAliases(s, &pod)
	e.volumes(s, name, &pod)
	if len(s.DNS) > 0 {
		e.warn(at+".dns", "dns servers are not exported: pods use the cluster's DNS, which answers the project's service names")
	}
	if len(s.Ulimits) > 0 {
		e.warn(at+".ulimits", "ulimits have no pod field: the container runtime's defaults apply")
	}
	if s.Security.Landlock.Mode == spec.LandlockCustom {
		e.warn(at+".security.landlock", "custom Landlock rules have no Kubernetes form; an AppArmor or SELinux profile on the nodes is the nearest")
	}
	return pod
}

// image is the image the cluster pulls for s.
func (e *exporter) image(s *spec.Service) string {
	if img := e.o.Images[s.Name]; img != "" {
		return img
	}
	img, local := clusterImage(s.Image, e.p.Name)
	if local {
		e.warn("services."+s.Name+".image", "image %s is a local file, not a registry reference: exported as %s with imagePullPolicy Never, so import it into every node under that name (%s) or push it to a registry and pass --image %s=REF", e.relImage(s.Image), img, e.importHint(s.Image, img), s.Name)
	}
	return img
}

// clusterImage is the registry reference for an image reference of the
// file; local ones (oci:, docker-archive:) get a stable localhost/ name.
func clusterImage(ref, project string) (string, bool) {
	transport, rest, _ := strings.Cut(ref, ":")
	if transport != "oci" && transport != "docker-archive" {
		return ref, false
	}
	p, inner, _ := strings.Cut(rest, ":")
	if transport == "docker-archive" && inner != "" {
		if strings.Contains(inner, ":") || strings.Contains(inner, "@") {
			return inner, true
		}
		return inner + ":latest", true
	}
	base := p[strings.LastIndex(p, "/")+1:]
	base = strings.TrimSuffix(strings.TrimSuffix(base, ".tar"), ".tar.gz")
	tag := inner
	if tag == "" {
		tag = "latest"
	}
	return "localhost/" + dnsLabel(project) + "/" + dnsLabel(base) + ":" + tag, true
}

// importHint is the command that gives a node's containerd the local image
// under the exported name: an OCI layout is a directory, which ctr imports
// as a tar and names by --base-name plus the layout's tag (without it the
// image is named import-DATE:TAG); a docker archive carries its own name.
func (e *exporter) importHint(ref, img string) string {
	if strings.HasPrefix(ref, "docker-archive:") {
		p, _, _ := strings.Cut(strings.TrimPrefix(ref, "docker-archive:"), ":")
		return "ctr -n k8s.io images import " + e.rel(p)
	}
	p, _, _ := strings.Cut(strings.TrimPrefix(ref, "oci:"), ":")
	name := img[:strings.LastIndex(img, ":")]
	return "tar -C " + e.rel(p) + " -cf image.tar . && ctr -n k8s.io images import --base-name " + name + " image.tar"
}

// relImage writes a local image reference with its path relative.
func (e *exporter) relImage(ref string) string {
	transport, rest, _ := strings.Cut(ref, ":")
	p, inner, tagged := strings.Cut(rest, ":")
	out := transport + ":" + e.rel(p)
	if tagged {
		out += ":" + inner
	}
	return out
}

func pullPolicy(s *spec.Service, renamed bool) string {
	if !renamed && (strings.HasPrefix(s.Image, "oci:") || strings.HasPrefix(s.Image, "docker-archive:")) {
		return "Never"
	}
	switch s.PullPolicy {
	case spec.PullAlways:
		return "Always"
	case spec.PullNever:
		return "Never"
	}
	return "IfNotPresent"
}

func capNames(caps []string) []string {
	var out []string
	for _, c := range caps {
		out = append(out, strings.TrimPrefix(c, "CAP_"))
	}
	return out
}

// podSecurity is the pod's securityContext: the sandbox's seccomp default
// and the user, when it is numeric.
func (e *exporter) podSecurity(s *spec.Service) *PodSecurity {
	at := "services." + s.Name
	ps := &PodSecurity{SeccompProfile: &SeccompProfile{Type: "RuntimeDefault"}}
	switch s.Security.Seccomp {
	case spec.SeccompUnconfined:
		ps.SeccompProfile.Type = "Unconfined"
	case spec.SeccompDefault, "":
	default:
		e.warn(at+".security.seccomp", "seccomp profile %s: copy it onto every node under the kubelet's seccomp directory and set seccompProfile type Localhost; exported with RuntimeDefault", s.Security.Seccomp)
	}
	// s.User is the image's when the caller resolved the image and the
	// file names none.
	if s.User == "" {
		return ps
	}
	u, g, _ := strings.Cut(s.User, ":")
	if uid, err := strconv.ParseInt(u, 10, 64); err == nil {
		ps.RunAsUser = ptr(uid)
		ps.RunAsNonRoot = ptr(uid != 0)
		gid, err := strconv.ParseInt(g, 10, 64)
		if err == nil {
			ps.RunAsGroup = ptr(gid)
		}
		if slices.ContainsFunc(s.Volumes, func(m spec.VolumeMount) bool { return m.Chown }) {
			// :U hands a volume to the service's user; the kubelet
			// does the like for the pod's fsGroup.
			if err != nil {
				gid = uid
			}
			ps.FSGroup = ptr(gid)
		}
	} else if s.User != "" {
		e.warn(at+".user", "user %s is a name: the runtime looks it up in the image's /etc/passwd, but runAsNonRoot cannot be checked; a numeric uid is safer", s.User)
	}
	return ps
}

// env writes the environment inline or as a ConfigMap or Secret.
func (e *exporter) env(s *spec.Service, name string, c *Container) {
	if len(s.Environment) == 0 {
		return
	}
	keys := slices.Sorted(maps.Keys(s.Environment))
	switch e.o.Env {
	case SourceConfigMap:
		e.add("ConfigMap", name+"-env", ConfigMap{Head: e.head("v1", "ConfigMap", name+"-env", e.labels(name)), Data: s.Environment})
		c.EnvFrom = []EnvFrom{{ConfigMapRef: &NameRef{Name: name + "-env"}}}
	case SourceSecret:
		e.add("Secret", name+"-env", Secret{Head: e.head("v1", "Secret", name+"-env", e.labels(name)), Type: "Opaque", StringData: s.Environment})
		c.EnvFrom = []EnvFrom{{SecretRef: &NameRef{Name: name + "-env"}}}
	default:
		for _, k := range keys {
			c.Env = append(c.Env, EnvVar{Name: k, Value: s.Environment[k]})
		}
	}
}

// containerPorts are the ports the container listens on: published ones
// (127.0.0.1 ones as hostPort with hostIP when one replica can hold them),
// the image's EXPOSE and the health check's.
func (e *exporter) containerPorts(s *spec.Service) []ContainerPort {
	at := "services." + s.Name
	var out []ContainerPort
	have := func(port int, proto string) int {
		return slices.IndexFunc(out, func(c ContainerPort) bool { return c.ContainerPort == port && c.Protocol == proto })
	}
	addPort := func(cp ContainerPort) {
		if i := have(cp.ContainerPort, cp.Protocol); i >= 0 {
			switch {
			case out[i].HostPort == 0:
				out[i] = cp
			case cp.HostPort != 0 && cp.HostPort != out[i].HostPort:
				out = append(out, cp) // one port published on two host ports
			}
			return
		}
		out = append(out, cp)
	}
	for i, p := range s.Ports {
		proto := strings.ToUpper(p.Protocol)
		for off := range rangeLen(p) {
			cp := ContainerPort{ContainerPort: p.Target + off, Protocol: proto}
			if p.Published != 0 && isLoopback(p.HostIP) {
				if s.Replicas <= 1 {
					cp.HostPort, cp.HostIP = p.Published+off, p.HostIP
				} else if off == 0 {
					e.warn(fmt.Sprintf("%s.ports[%d]", at, i), "port %s:%d: a hostPort would let only one of the %d replicas run per node, so it is not published; reach it with kubectl port-forward service/%s %d:%d", p.HostIP, p.Published, s.Replicas, dnsLabel(s.Name), p.Published, p.Target)
				}
			}
			addPort(cp)
		}
	}
	for _, x := range s.ExposedPorts {
		n, proto, _ := strings.Cut(x, "/")
		if port, err := strconv.Atoi(n); err == nil && port > 0 {
			if proto == "" {
				proto = "tcp"
			}
			addPort(ContainerPort{ContainerPort: port, Protocol: strings.ToUpper(proto)})
		}
	}
	if h := s.Healthcheck; h != nil {
		switch h.Kind {
		case spec.HealthTCP:
			addPort(ContainerPort{ContainerPort: h.TCPPort, Protocol: "TCP"})
		case spec.HealthHTTP:
			if _, port, _, err := httpTarget(h.HTTPURL); err == nil {
				addPort(ContainerPort{ContainerPort: port, Protocol: "TCP"})
			}
		}
	}
	slices.SortFunc(out, func(a, b ContainerPort) int {
		if a.ContainerPort != b.ContainerPort {
			return a.ContainerPort - b.ContainerPort
		}
		if c := strings.Compare(a.Protocol, b.Protocol); c != 0 {
			return c
		}
		return a.HostPort - b.HostPort
	})
	for i := range out {
		// Names are unique in a pod: the second host port of a port
		// goes unnamed (Services and probes use numbers).
		if i == 0 || out[i-1].ContainerPort != out[i].ContainerPort || out[i-1].Protocol != out[i].Protocol {
			out[i].Name = shortPortName(out[i].ContainerPort, out[i].Protocol)
		}
	}
	return out
}

// shortPortName fits a container port's name (at most 15 characters).
func shortPortName(port int, proto string) string {
	return strings.ToLower(proto)[:1] + strconv.Itoa(port)
}

// resources are requests and limits: nucleus's limits are both, so the
// scheduler reserves what the service may use.
func (e *exporter) resources(s *spec.Service) *Resources {
	r := s.Resources
	if r.Pids > 0 {
		e.warn("services."+s.Name+".resources.pids", "pids limit %d has no per-pod field: set podPidsLimit in the kubelet's configuration of every node", r.Pids)
	}
	if r.Memory == 0 && r.CPUs == 0 {
		return nil
	}
	l := map[string]string{}
	if r.Memory > 0 {
		l["memory"] = quantity(int64(r.Memory))
	}
	if r.CPUs > 0 {
		l["cpu"] = strconv.Itoa(int(math.Round(r.CPUs*1000))) + "m"
	}
	return &Resources{Requests: l, Limits: maps.Clone(l)}
}

// quantity writes a byte count in the largest binary unit that holds it
// exactly.
func quantity(b int64) string {
	for _, u := range []struct {
		suffix string
		size   int64
	}{{"Gi", 1 << 30}, {"Mi", 1 << 20}, {"Ki", 1 << 10}} {
		if b%u.size == 0 {
			return strconv.FormatInt(b/u.size, 10) + u.suffix
		}
	}
	return strconv.FormatInt(b, 10)
}

// probes map the health check: readiness and liveness with its interval,
// timeout and retries, and a startup probe that allows start_period before
// liveness counts (Kubernetes has no grace period of its own).
func (e *exporter) probes(s *spec.Service) (startup, ready, live *Probe) {
	h := s.Healthcheck
	if h == nil {
		return nil, nil, nil
	}
	at := "services." + s.Name + ".healthcheck"
	p := Probe{
		PeriodSeconds:    seconds(h.Interval.D()),
		TimeoutSeconds:   seconds(h.Timeout.D()),
		FailureThreshold: max(h.Retries, 1),
		SuccessThreshold: 1,
	}
	switch h.Kind {
	case spec.HealthExec:
		if len(h.Test) < 2 {
			return nil, nil, nil
		}
		switch h.Test[0] {
		case "CMD-SHELL":
			p.Exec = &ExecAction{Command: []string{"/bin/sh", "-c", strings.Join(h.Test[1:], " ")}}
		default:
			p.Exec = &ExecAction{Command: slices.Clone(h.Test[1:])}
		}
	case spec.HealthTCP:
		p.TCPSocket = &TCPAction{Port: h.TCPPort}
	case spec.HealthHTTP:
		host, _, a, err := httpTarget(h.HTTPURL)
		if err != nil {
			e.warn(at+".http", "%v: no probe exported", err)
			return nil, nil, nil
		}
		if host != "" {
			e.warn(at+".http", "health check of host %s: a probe reaches the pod's own address; exported without the host (a Host header keeps virtual hosting)", host)
		}
		p.HTTPGet = a
	default:
		return nil, nil, nil
	}
	r, l := p, p
	if sp := h.StartPeriod.D(); sp > 0 {
		st := p
		period := h.Interval.D()
		if h.StartInterval > 0 {
			period = h.StartInterval.D()
		}
		st.PeriodSeconds = seconds(period)
		st.FailureThreshold = int(math.Ceil(float64(sp)/float64(time.Duration(st.PeriodSeconds)*time.Second))) + max(h.Retries, 1)
		startup = &st
	}
	return startup, &r, &l
}

// seconds rounds a duration up to whole seconds, at least 1 (the API's
// unit and minimum).
func seconds(d time.Duration) int {
	return max(int(math.Ceil(d.Seconds())), 1)
}

// httpTarget splits a health check URL into what httpGet takes. host is
// the URL's host when it is not the sandbox's own loopback.
func httpTarget(raw string) (host string, port int, a *HTTPAction, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", 0, nil, fmt.Errorf("health check URL %q: %w", raw, err)
	}
	scheme := strings.ToUpper(u.Scheme)
	port = 80
	if scheme == "HTTPS" {
		port = 443
	}
	if ps := u.Port(); ps != "" {
		if port, err = strconv.Atoi(ps); err != nil {
			return "", 0, nil, fmt.Errorf("health check URL %q: port: %w", raw, err)
		}
	}
	a = &HTTPAction{Path: u.RequestURI(), Port: port, Scheme: scheme}
	h := u.Hostname()
	if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
		host = h
		a.HTTPHeaders = []HTTPHeader{{Name: "Host", Value: u.Host}}
	}
	return host, port, a, nil
}

// hostAliases are extra_hosts with an address.
func (e *exporter) hostAliases(s *spec.Service, pod *PodSpec) {
	byIP := map[string][]string{}
	for i, h := range s.ExtraHosts {
		if net.ParseIP(h.IP) == nil {
			e.warn(fmt.Sprintf("services.%s.extra_hosts[%d]", s.Name, i), "%s:%s: a pod has no address for the host; not exported", h.Host, h.IP)
			continue
		}
		byIP[h.IP] = append(byIP[h.IP], h.Host)
	}
	for _, ip := range slices.Sorted(maps.Keys(byIP)) {
		pod.HostAliases = append(pod.HostAliases, HostAlias{IP: ip, Hostnames: byIP[ip]})
	}
}

// readFile reads a bind-mounted file for a ConfigMap or Secret.
func readFile(p string) (map[string]string, map[string][]byte, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, nil, err
	}
	if len(b) > 1<<20-4096 {
		return nil, nil, fmt.Errorf("%s is %d bytes: a ConfigMap or Secret holds at most 1 MiB", p, len(b))
	}
	k := baseName(p)
	if isText(b) {
		return map[string]string{k: string(b)}, nil, nil
	}
	return nil, map[string][]byte{k: b}, nil
}
