package k8s

import (
	"encoding/base64"
	"fmt"
	"maps"
	"os"
	"path"
	"slices"
	"strings"

	"nucleus/spec"
)

// Names of the pod volumes for the sandbox's own tmpfs mounts.
const (
	volTmp = "nucleus-tmp"
	volRun = "nucleus-run"
)

// volumes adds the pod's volumes and the container's mounts: the sandbox's
// tmpfs /tmp and /run, named volumes (claims), tmpfs mounts, bind-mounted
// files (ConfigMap or Secret), secrets and configs.
func (e *exporter) volumes(s *spec.Service, name string, pod *PodSpec) {
	at := "services." + s.Name
	c := &pod.Containers[0]
	targets := map[string]bool{}
	addVol := func(v Volume, m VolumeMount) {
		if !slices.ContainsFunc(pod.Volumes, func(x Volume) bool { return x.Name == v.Name }) {
			pod.Volumes = append(pod.Volumes, v)
		}
		c.VolumeMounts = append(c.VolumeMounts, m)
		targets[m.MountPath] = true
	}
	for i, m := range s.Volumes {
		mat := fmt.Sprintf("%s.volumes[%d]", at, i)
		switch m.Type {
		case spec.MountVolume, spec.MountTmpfs:
			v := e.p.Volumes[m.Source]
			if m.Type == spec.MountTmpfs && v == nil {
				n := fmt.Sprintf("tmpfs-%d", i)
				addVol(Volume{Name: n, EmptyDir: &EmptyDir{Medium: "Memory", SizeLimit: sizeOrEmpty(m.Size)}},
					VolumeMount{Name: n, MountPath: m.Target, ReadOnly: m.ReadOnly})
				continue
			}
			if v != nil && v.Type == spec.VolumeTypeTmpfs {
				if e.volumeUsers(m.Source) > 1 {
					e.warn(mat, "tmpfs volume %s is shared by several services on one host; each pod gets its own emptyDir", m.Source)
				}
				addVol(Volume{Name: dnsLabel(m.Source), EmptyDir: &EmptyDir{Medium: "Memory", SizeLimit: sizeOrEmpty(v.Size)}},
					VolumeMount{Name: dnsLabel(m.Source), MountPath: m.Target, ReadOnly: m.ReadOnly})
				continue
			}
			addVol(Volume{Name: dnsLabel(m.Source), PersistentVolumeClaim: &ClaimRef{ClaimName: dnsLabel(m.Source)}},
				VolumeMount{Name: dnsLabel(m.Source), MountPath: m.Target, ReadOnly: m.ReadOnly})
		case spec.MountBind:
			fi, err := os.Stat(m.Source)
			switch {
			case err != nil:
				e.warn(mat, "bind mount of %s: %v; not exported", e.rel(m.Source), err)
				continue
			case fi.IsDir():
				e.warn(mat, "bind mount of the directory %s has no Kubernetes form: not exported; copy it into the image, or into a ConfigMap (kubectl create configmap --from-file=%s) or a volume", e.rel(m.Source), e.rel(m.Source))
				continue
			}
			obj := dnsLabel(name + "-" + strings.Trim(m.Target, "/"))
			data, bin, err := readFile(m.Source)
			if err != nil {
				e.warn(mat, "bind mount: %v; not exported", err)
				continue
			}
			key := configKey(path.Base(m.Target))
			data, bin = rekey(data, key), rekey(bin, key)
			if !m.ReadOnly {
				e.warn(mat, "bind mount of %s is writable on one host; a ConfigMap or Secret is mounted read-only", e.rel(m.Source))
			}
			v := Volume{Name: obj}
			if e.o.FileBinds == SourceSecret {
				e.add("Secret", obj, Secret{Head: e.head("v1", "Secret", obj, e.labels(name)), Type: "Opaque", StringData: data, Data: b64(bin)})
				v.Secret = &SecretVol{SecretName: obj}
			} else {
				e.add("ConfigMap", obj, ConfigMap{Head: e.head("v1", "ConfigMap", obj, e.labels(name)), Data: data, BinaryData: b64(bin)})
				v.ConfigMap = &ConfigMapVol{Name: obj}
			}
			addVol(v, VolumeMount{Name: obj, MountPath: m.Target, SubPath: key, ReadOnly: true})
		}
	}
	for kind, mounts := range map[string][]spec.FileMount{"secrets": s.Secrets, "configs": s.Configs} {
		for _, m := range mounts {
			obj := e.fileObjectName(kind, m.Source)
			key := configKey(m.Source)
			mode := int(m.Mode)
			v := Volume{Name: obj}
			items := []KeyPath{{Key: key, Path: key, Mode: &mode}}
			if kind == "secrets" {
				v.Secret = &SecretVol{SecretName: obj, Items: items}
			} else {
				v.ConfigMap = &ConfigMapVol{Name: obj, Items: items}
			}
			addVol(v, VolumeMount{Name: obj, MountPath: m.Target, SubPath: key, ReadOnly: true})
		}
	}
	// The sandbox's /tmp and /run are tmpfs: writable even on a read-only
	// root, and empty at every start.
	for _, d := range []struct{ name, target string }{{volTmp, "/tmp"}, {volRun, "/run"}} {
		if !targets[d.target] {
			addVol(Volume{Name: d.name, EmptyDir: &EmptyDir{Medium: "Memory"}}, VolumeMount{Name: d.name, MountPath: d.target})
		}
	}
	slices.SortFunc(pod.Volumes, func(a, b Volume) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(c.VolumeMounts, func(a, b VolumeMount) int { return strings.Compare(a.MountPath, b.MountPath) })
}

func b64(m map[string][]byte) map[string]string {
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = base64.StdEncoding.EncodeToString(v)
	}
	return out
}

func sizeOrEmpty(b spec.ByteSize) string {
	if b <= 0 {
		return ""
	}
	return quantity(int64(b))
}

// configKey is a valid ConfigMap or Secret key for a file name.
func configKey(s string) string {
	k := replaceRuns(s, "_", func(r rune) bool {
		return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '.' || r == '_'
	})
	if k == "" || k == "." || k == ".." {
		k = "file"
	}
	return k
}

func rekey[V any](m map[string]V, key string) map[string]V {
	if m == nil {
		return nil
	}
	out := map[string]V{}
	for _, v := range m {
		out[key] = v
	}
	return out
}

// volumeUsers counts the services that mount a named volume.
func (e *exporter) volumeUsers(vol string) int {
	n := 0
	for _, s := range e.p.Services {
		if slices.ContainsFunc(s.Volumes, func(m spec.VolumeMount) bool { return m.Type != spec.MountBind && m.Source == vol }) {
			n++
		}
	}
	return n
}

// claimedVolumes are the persistent named volumes s mounts, sorted.
func (e *exporter) claimedVolumes(s *spec.Service) []string {
	var out []string
	for _, m := range s.Volumes {
		if m.Type != spec.MountVolume || slices.Contains(out, m.Source) {
			continue
		}
		if v := e.p.Volumes[m.Source]; v != nil && v.Type == spec.VolumeTypeTmpfs {
			continue
		}
		out = append(out, m.Source)
	}
	slices.Sort(out)
	return out
}

// addClaims writes the PersistentVolumeClaims of a Deployment's or Job's
// volumes (each once, however many services mount it).
func (e *exporter) addClaims(s *spec.Service, vols []string) {
	for _, v := range vols {
		n := dnsLabel(v)
		if slices.ContainsFunc(e.objs, func(o Object) bool { return o.Kind == "PersistentVolumeClaim" && o.Name == n }) {
			continue
		}
		if users := e.volumeUsers(v); users > 1 {
			e.warn("volumes."+v, "volume %s is mounted by %d services: a ReadWriteOnce claim keeps their pods on one node; give it a ReadWriteMany storage class (--storage-class) to spread them", v, users)
		}
		l := e.labels("")
		e.add("PersistentVolumeClaim", n, PVC{Head: e.head("v1", "PersistentVolumeClaim", n, l), Spec: e.claimSpec(v)})
	}
}

func (e *exporter) claimSpec(v string) PVCSpec {
	size := e.o.VolumeSize
	if vol := e.p.Volumes[v]; vol != nil && vol.Size > 0 {
		size = quantity(int64(vol.Size))
	}
	ps := PVCSpec{AccessModes: []string{"ReadWriteOnce"}, Resources: VolResources{Requests: map[string]string{"storage": size}}}
	if e.o.StorageClass != "" {
		ps.StorageClassName = ptr(e.o.StorageClass)
	}
	return ps
}

// fileObjectName names the Secret or ConfigMap of a project secret or
// config.
func (e *exporter) fileObjectName(kind, source string) string {
	if kind == "secrets" {
		return dnsLabel("secret-" + source)
	}
	return dnsLabel("config-" + source)
}

// secretsAndConfigs writes the project's secrets and configs that
// services use.
func (e *exporter) secretsAndConfigs() {
	used := map[string]map[string]bool{"secrets": {}, "configs": {}}
	for _, s := range e.p.Services {
		if !e.exported(s) {
			continue
		}
		for _, m := range s.Secrets {
			used["secrets"][m.Source] = true
		}
		for _, m := range s.Configs {
			used["configs"][m.Source] = true
		}
	}
	for _, src := range slices.Sorted(maps.Keys(used["secrets"])) {
		obj := e.fileObjectName("secrets", src)
		fo := e.p.Secrets[src]
		if !e.o.SecretData || fo == nil {
			from := "--from-literal=" + configKey(src) + "=..."
			if fo != nil && fo.File != "" {
				from = "--from-file=" + configKey(src) + "=" + e.rel(fo.File)
			}
			e.warn("secrets."+src, "secret %s is not written into the export (it would end up in git): create it with kubectl -n %s create secret generic %s %s, or pass --secret-data", src, e.ns, obj, from)
			continue
		}
		e.add("Secret", obj, Secret{Head: e.head("v1", "Secret", obj, e.labels("")), Type: "Opaque", Data: b64(map[string][]byte{configKey(src): fo.Data})})
	}
	for _, src := range slices.Sorted(maps.Keys(used["configs"])) {
		obj := e.fileObjectName("configs", src)
		fo := e.p.Configs[src]
		if fo == nil {
			continue
		}
		cm := ConfigMap{Head: e.head("v1", "ConfigMap", obj, e.labels(""))}
		if !isText(fo.Data) {
			cm.BinaryData = b64(map[string][]byte{configKey(src): fo.Data})
		} else {
			cm.Data = map[string]string{configKey(src): string(fo.Data)}
		}
		e.add("ConfigMap", obj, cm)
	}
}

// exported reports whether s has a Kubernetes form.
func (e *exporter) exported(s *spec.Service) bool {
	return s.Image != "" || e.o.Images[s.Name] != ""
}
