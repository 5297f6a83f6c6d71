// Package k8s turns a loaded project into Kubernetes objects: `nucleus
// export k8s`. It is pure: the caller loads the project (loader, so
// compose files work too), resolves what it can of the images already in
// the local store, and writes what Export returns. Every choice that loses
// something of the one-host behaviour is a Warning; a service that has no
// Kubernetes form at all (no image) is an Error.
package k8s

import (
	"fmt"
	"maps"
	"path"
	"slices"
	"strconv"
	"strings"

	"nucleus/spec"
)

// Service types for published ports.
const (
	ServiceClusterIP    = "ClusterIP"
	ServiceNodePort     = "NodePort"
	ServiceLoadBalancer = "LoadBalancer"
)

// Where file contents go (bind-mounted files, environment).
const (
	SourceInline    = "inline"
	SourceConfigMap = "configmap"
	SourceSecret    = "secret"
)

// Options shape the export; the zero value is filled in by defaults.
type Options struct {
	// Namespace of every object; "" is the project's name.
	Namespace string
	// ServiceType of the Service that publishes a service's ports on
	// addresses other than loopback (NodePort when "").
	ServiceType string
	// VolumeSize is the storage request of a named volume's claim
	// ("1Gi" when ""); a volume's own size wins.
	VolumeSize string
	// StorageClass of the claims; "" leaves the cluster's default.
	StorageClass string
	// FileBinds is SourceConfigMap (default) or SourceSecret: where a
	// bind-mounted file's content goes.
	FileBinds string
	// Env is SourceInline (default), SourceConfigMap or SourceSecret:
	// where a service's environment goes.
	Env string
	// SecretData writes the content of the project's secrets into the
	// Secrets; without it the Secrets are left out and a warning says how
	// to create them (secrets do not belong in a git repository).
	SecretData bool
	// HostUsers keeps pods in the host's user namespace (hostUsers is not
	// set): for clusters whose runtime has no user-namespace support.
	HostUsers bool
	// Images name the image of a service (by service name) in the
	// cluster; they win over the file's image.
	Images map[string]string
	// BaseDir is what file names in warnings and messages are relative
	// to ("" is the project directory).
	BaseDir string
}

// Warning is something the export could not express, or expressed only
// approximately. Error ones mean a service was not exported.
type Warning struct {
	File      string // relative to the working directory when known
	Line, Col int
	Path      string // the field, as "services.web.resources.pids"
	Msg       string
	Error     bool
}

func (w Warning) String() string {
	var b strings.Builder
	if w.File != "" {
		b.WriteString(w.File)
		if w.Line > 0 {
			fmt.Fprintf(&b, ":%d:%d", w.Line, w.Col)
		}
		b.WriteString(": ")
	}
	if w.Path != "" {
		b.WriteString(w.Path + ": ")
	}
	b.WriteString(w.Msg)
	return b.String()
}

// Object is one Kubernetes object of the export.
type Object struct {
	Kind, Name string
	Body       any
}

// Result is what Export produced.
type Result struct {
	Project   string
	Namespace string
	Objects   []Object // sorted: kind order, then name
	Warnings  []Warning
}

// Failed reports whether a service could not be exported.
func (r *Result) Failed() bool {
	return slices.ContainsFunc(r.Warnings, func(w Warning) bool { return w.Error })
}

// Labels every object carries.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelPartOf    = "app.kubernetes.io/part-of"
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelNetwork + network name marks a pod as a member of a project
	// network; the network's NetworkPolicy selects by it.
	LabelNetwork = "network.nucleus/"
	managedBy    = "nucleus"
)

// Export maps p onto Kubernetes objects. p is a loaded project; services
// with an image may be resolved already (their image's command and health
// check filled in).
func Export(p *spec.Project, o Options) *Result {
	e := &exporter{p: p, o: o, loc: newLocator(p)}
	e.defaults()
	e.run()
	slices.SortStableFunc(e.objs, func(a, b Object) int {
		if c := kindOrder(a.Kind) - kindOrder(b.Kind); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	return &Result{Project: p.Name, Namespace: e.ns, Objects: e.objs, Warnings: e.warns}
}

var kinds = []string{"Namespace", "ConfigMap", "Secret", "PersistentVolumeClaim", "Service", "Deployment", "StatefulSet", "Job", "NetworkPolicy"}

func kindOrder(k string) int { return slices.Index(kinds, k) }

type exporter struct {
	p     *spec.Project
	o     Options
	ns    string
	loc   *locator
	objs  []Object
	warns []Warning
	names map[string]string // Service object name -> the service it selects
}

func (e *exporter) defaults() {
	e.ns = e.o.Namespace
	if e.ns == "" {
		e.ns = dnsLabel(e.p.Name)
	}
	if e.o.ServiceType == "" {
		e.o.ServiceType = ServiceNodePort
	}
	if e.o.VolumeSize == "" {
		e.o.VolumeSize = "1Gi"
	}
	if e.o.FileBinds == "" {
		e.o.FileBinds = SourceConfigMap
	}
	if e.o.Env == "" {
		e.o.Env = SourceInline
	}
	e.names = map[string]string{}
}

func (e *exporter) warn(path, format string, a ...any) {
	w := Warning{Path: path, Msg: fmt.Sprintf(format, a...)}
	if path != "" { // "" is about the flags, not a file
		w.File, w.Line, w.Col = e.loc.find(path)
	}
	if w.File != "" {
		w.File = e.rel(w.File)
	}
	e.warns = append(e.warns, w)
}

func (e *exporter) fail(path, format string, a ...any) {
	e.warn(path, format, a...)
	e.warns[len(e.warns)-1].Error = true
}

func (e *exporter) add(kind, name string, body any) {
	e.objs = append(e.objs, Object{Kind: kind, Name: name, Body: body})
}

func (e *exporter) head(apiVersion, kind, name string, labels map[string]string) Head {
	return Head{APIVersion: apiVersion, Kind: kind, Metadata: Meta{Name: name, Namespace: e.ns, Labels: labels}}
}

// labels of the objects of one service ("" for project-wide ones).
func (e *exporter) labels(svc string) map[string]string {
	l := map[string]string{LabelPartOf: dnsLabel(e.p.Name), LabelManagedBy: managedBy, LabelInstance: dnsLabel(e.p.Name)}
	if svc != "" {
		l[LabelName] = svc
	}
	return l
}

// selector picks the pods of one service.
func (e *exporter) selector(svc string) map[string]string {
	return map[string]string{LabelPartOf: dnsLabel(e.p.Name), LabelName: svc}
}

func (e *exporter) run() {
	ns := Namespace{Head: Head{APIVersion: "v1", Kind: "Namespace", Metadata: Meta{Name: e.ns, Labels: e.labels("")}}}
	e.add("Namespace", e.ns, ns)
	waited := map[string]bool{} // services others wait on to complete
	for _, s := range e.p.Services {
		for dep, d := range s.DependsOn {
			if d.Condition == spec.ConditionCompleted {
				waited[dep] = true
			}
		}
	}
	// A service's own name wins over another's alias of it, whatever the
	// order.
	for _, s := range e.p.Services {
		if e.exported(s) {
			e.names[dnsLabel(s.Name)] = dnsLabel(s.Name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(e.p.Services)) {
		e.service(e.p.Services[name], waited[name])
	}
	for _, name := range slices.Sorted(maps.Keys(e.o.Images)) {
		if e.p.Services[name] == nil {
			e.warn("", "--image %s=%s: the project has no service %s", name, e.o.Images[name], name)
		}
	}
	e.networkPolicies()
	e.secretsAndConfigs()
}

// service exports one service: its workload, Services and claims.
func (e *exporter) service(s *spec.Service, waited bool) {
	at := "services." + s.Name
	if s.Image == "" && e.o.Images[s.Name] == "" {
		what := "runs a host command"
		if s.Rootfs != "" {
			what = "runs from a root directory (rootfs:)"
		}
		e.fail(at, "service %s %s, not an image: host-command services have no Kubernetes form; give it an image: (or --image %s=REF) to export it", s.Name, what, s.Name)
		return
	}
	name := dnsLabel(s.Name)
	if name != s.Name {
		e.warn(at, "service %s is named %s in Kubernetes (object names are lower-case letters, digits and '-'); peers that call it %s must be changed", s.Name, name, s.Name)
	}
	pod := e.podSpec(s, name)
	replicas := s.Replicas
	labels := e.labels(name)
	tmpl := PodTemplate{Metadata: Meta{Labels: e.podLabels(s, name)}, Spec: pod}
	sel := Selector{MatchLabels: e.selector(name)}

	claims := e.claimedVolumes(s)
	hostPort := slices.ContainsFunc(pod.Containers[0].Ports, func(p ContainerPort) bool { return p.HostPort != 0 })
	switch {
	case waited && (s.Restart.Policy == spec.RestartNo || s.Restart.Policy == spec.RestartOnFailure):
		// Others wait for it to complete: it runs to completion once.
		backoff := 0
		tmpl.Spec.RestartPolicy = "Never"
		if s.Restart.Policy == spec.RestartOnFailure {
			tmpl.Spec.RestartPolicy, backoff = "OnFailure", s.Restart.MaxRetries
			if backoff == 0 {
				backoff = 6 // unlimited on one host; the Job API's default
			}
		}
		e.addClaims(s, claims)
		e.add("Job", name, Job{
			Head: e.head("batch/v1", "Job", name, labels),
			Spec: JobSpec{Parallelism: &replicas, Completions: &replicas, BackoffLimit: &backoff, Template: tmpl},
		})
	case len(claims) > 0 && replicas > 1:
		var tpls []ClaimTemplate
		for _, v := range claims {
			e.warn(at+".volumes", "volume %s: each of the %d replicas of the StatefulSet gets its own claim %s-%s-N; on one host the replicas share one directory", v, replicas, dnsLabel(v), name)
			tpls = append(tpls, ClaimTemplate{Metadata: Meta{Name: dnsLabel(v), Labels: e.labels(name)}, Spec: e.claimSpec(v)})
			// The template's claims are named like the pod's volume.
		}
		e.add("StatefulSet", name, StatefulSet{
			Head: e.head("apps/v1", "StatefulSet", name, labels),
			Spec: StatefulSetSpec{Replicas: &replicas, ServiceName: name, Selector: sel, Template: stsTemplate(tmpl), VolumeClaimTemplates: tpls},
		})
	default:
		if s.Restart.Policy == spec.RestartNo && e.loc.has(at+".restart") {
			// Only when written: "no" is also the default, and a
			// Deployment is what a service that names no policy wants.
			e.warn(at+".restart", `restart: "no" has no Deployment form: Kubernetes restarts the pods of a Deployment whenever they exit (a Job is used only for services that others wait on with service_completed_successfully)`)
		}
		e.addClaims(s, claims)
		d := DeploymentSpec{Replicas: &replicas, Selector: sel, Template: tmpl}
		if hostPort || len(claims) > 0 {
			// A hostPort or a ReadWriteOnce claim cannot be held by the
			// old and the new pod at once on one node.
			d.Strategy = &Strategy{Type: "Recreate"}
		}
		e.add("Deployment", name, Deployment{Head: e.head("apps/v1", "Deployment", name, labels), Spec: d})
	}
	e.services(s, name, pod.Containers[0].Ports)
}

// stsTemplate points the pod's claim volumes at the StatefulSet's claim
// templates: a volumeMount that names a template needs no pod volume.
func stsTemplate(t PodTemplate) PodTemplate {
	var keep []Volume
	for _, v := range t.Spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			keep = append(keep, v)
		}
	}
	t.Spec.Volumes = keep
	return t
}

// podLabels are the pod's labels: the service's, and one per network.
func (e *exporter) podLabels(s *spec.Service, name string) map[string]string {
	l := e.labels(name)
	for n := range s.Networks {
		l[LabelNetwork+dnsLabel(n)] = "true"
	}
	return l
}

// services writes the ClusterIP Service of the name and of each alias,
// and the Service that publishes its ports.
func (e *exporter) services(s *spec.Service, name string, cports []ContainerPort) {
	at := "services." + s.Name
	var ports []ServicePort
	seen := map[string]bool{}
	for _, cp := range cports {
		k := fmt.Sprintf("%d/%s", cp.ContainerPort, cp.Protocol)
		if seen[k] {
			continue
		}
		seen[k] = true
		ports = append(ports, ServicePort{Name: portName(cp.ContainerPort, cp.Protocol), Protocol: cp.Protocol, Port: cp.ContainerPort, TargetPort: cp.ContainerPort})
	}
	slices.SortFunc(ports, func(a, b ServicePort) int { return strings.Compare(a.Name, b.Name) })
	names := []string{name}
	for _, n := range slices.Sorted(maps.Keys(s.Networks)) {
		for _, a := range s.Networks[n].Aliases {
			if a = dnsLabel(a); !slices.Contains(names, a) {
				names = append(names, a)
			}
		}
	}
	for _, n := range names {
		if other, ok := e.names[n]; ok && other != name {
			what := "an alias of service " + other
			if other == n {
				what = "the name of service " + other
			}
			e.warn(at+".networks", "alias %s is also %s: Kubernetes has one Service per name in a namespace; exported for %s only", n, what, other)
			continue
		}
		e.names[n] = name
		spec := ServiceSpec{Selector: e.selector(name), Ports: ports}
		if len(ports) == 0 {
			// No port is known: a headless Service resolves the name to
			// the ready pods on every port, as the project's DNS does.
			spec.ClusterIP = "None"
		}
		e.add("Service", n, Service{Head: e.head("v1", "Service", n, e.labels(name)), Spec: spec})
	}
	// Ports published on addresses other than loopback.
	var pub []ServicePort
	for i, p := range s.Ports {
		if isLoopback(p.HostIP) || p.Published == 0 {
			continue
		}
		proto := strings.ToUpper(p.Protocol)
		for off := range rangeLen(p) {
			pub = append(pub, ServicePort{Name: portName(p.Published+off, proto), Protocol: proto, Port: p.Published + off, TargetPort: p.Target + off})
		}
		if e.o.ServiceType == ServiceClusterIP {
			e.warn(fmt.Sprintf("%s.ports[%d]", at, i), "port %d is published on %s on one host; --service-type ClusterIP leaves it inside the cluster (choose NodePort or LoadBalancer, or add an Ingress)", p.Published, hostIPOr(p.HostIP))
		} else if e.o.ServiceType == ServiceNodePort {
			e.warn(fmt.Sprintf("%s.ports[%d]", at, i), "port %d: a NodePort Service %s-published serves it on every node on a port the cluster picks (30000-32767), not on %d", p.Published, name, p.Published)
		}
	}
	if len(pub) > 0 {
		e.add("Service", name+"-published", Service{
			Head: e.head("v1", "Service", name+"-published", e.labels(name)),
			Spec: ServiceSpec{Type: e.o.ServiceType, Selector: e.selector(name), Ports: pub},
		})
	}
}

// rangeLen is the number of ports of a port or range.
func rangeLen(p spec.Port) int {
	return max(p.TargetEnd-p.Target, 0) + 1
}

func hostIPOr(ip string) string {
	if ip == "" {
		return "0.0.0.0"
	}
	return ip
}

func isLoopback(ip string) bool {
	return strings.HasPrefix(ip, "127.") || ip == "::1"
}

func portName(port int, proto string) string {
	return strings.ToLower(proto) + "-" + strconv.Itoa(port)
}

func ptr[T any](v T) *T { return &v }

// dnsLabel turns a nucleus name ([a-z0-9_-], or an alias) into an RFC 1123
// label: lower case, '_' and other characters become '-', at most 63.
func dnsLabel(s string) string {
	out := strings.Trim(replaceRuns(strings.ToLower(s), "-", func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-'
	}), "-")
	if len(out) > 63 {
		out = strings.TrimRight(out[:63], "-")
	}
	if out == "" {
		out = "x"
	}
	if out[0] >= '0' && out[0] <= '9' {
		out = "s-" + out // a Service name must start with a letter
	}
	return out
}

// replaceRuns replaces every run of runes that are not ok with with (a
// loop, not a regexp: nothing is compiled at the binary's start, issue 15).
func replaceRuns(s, with string, ok func(rune) bool) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		if ok(r) {
			b.WriteRune(r)
			in = false
		} else if !in {
			b.WriteString(with)
			in = true
		}
	}
	return b.String()
}

// baseName is a path's last element as a ConfigMap key.
func baseName(p string) string { return path.Base(p) }
