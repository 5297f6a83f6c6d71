package spec

import (
	"fmt"
	"path/filepath"
	"strings"
)

// ParseVolumeMount parses the short syntax [SOURCE:]TARGET[:OPTIONS],
// OPTIONS a comma-separated list of ro or rw and U (chown the source to the
// service's user, as Podman's :U).
// SOURCE is a host path (absolute, or starting with "." and resolved against
// baseDir) or the name of a declared volume. A TARGET alone is an anonymous
// tmpfs. The loader turns names of tmpfs volumes into tmpfs mounts.
func ParseVolumeMount(s, baseDir string) (VolumeMount, error) {
	var m VolumeMount
	parts := strings.Split(s, ":")
	var source, target, mode string
	anonymous := false
	switch len(parts) {
	case 1:
		target, anonymous = parts[0], true
	case 2:
		if mountOptions(parts[1]) && strings.HasPrefix(parts[0], "/") {
			target, mode, anonymous = parts[0], parts[1], true
		} else {
			source, target = parts[0], parts[1]
		}
	case 3:
		source, target, mode = parts[0], parts[1], parts[2]
	default:
		return m, fmt.Errorf("invalid volume %q; expected [SOURCE:]TARGET[:ro|rw][,U]", s)
	}
	rw := false
	for _, o := range strings.Split(mode, ",") {
		switch o {
		case "":
			if mode != "" {
				return m, fmt.Errorf("invalid volume %q: empty option", s)
			}
		case "rw":
			rw = true
		case "ro":
			m.ReadOnly = true
		case "U":
			m.Chown = true
		default:
			return m, fmt.Errorf("invalid volume %q: unknown option %q; expected ro, rw or U", s, o)
		}
	}
	if rw && m.ReadOnly {
		return m, fmt.Errorf("invalid volume %q: ro and rw together", s)
	}
	if err := checkTarget(target); err != nil {
		return m, fmt.Errorf("invalid volume %q: %v", s, err)
	}
	m.Target = filepath.Clean(target)
	switch {
	case anonymous:
		m.Type = MountTmpfs
	case source == "":
		return m, fmt.Errorf("invalid volume %q: empty source", s)
	case strings.HasPrefix(source, "~"):
		return m, fmt.Errorf("invalid volume %q: ~ is not expanded; use an absolute path or one relative to the project directory", s)
	case strings.HasPrefix(source, "/") || strings.HasPrefix(source, "."):
		m.Type, m.Source = MountBind, resolvePath(source, baseDir)
	default:
		if !validName(source) {
			return m, fmt.Errorf("invalid volume %q: source %q is neither a path (start it with / or ./) nor a valid volume name", s, source)
		}
		m.Type, m.Source = MountVolume, source
	}
	if err := checkChown(m); err != nil {
		return m, fmt.Errorf("invalid volume %q: %v", s, err)
	}
	return m, nil
}

// mountOptions reports whether s is a short form's option list (ro, rw, U).
func mountOptions(s string) bool {
	for _, o := range strings.Split(s, ",") {
		if o != "ro" && o != "rw" && o != "U" {
			return false
		}
	}
	return true
}

// checkChown refuses U (chown) where it means nothing: it hands a writable
// bind source or named volume to the service's user; a tmpfs is the
// sandbox's own already.
func checkChown(m VolumeMount) error {
	switch {
	case !m.Chown:
		return nil
	case m.Type == MountTmpfs:
		return fmt.Errorf("U (chown) applies only to bind mounts and named volumes, not to a tmpfs")
	case m.ReadOnly:
		return fmt.Errorf("U (chown) hands the source to the service's user for writing; it makes no sense with ro")
	}
	return nil
}

func resolvePath(p, base string) string {
	if filepath.IsAbs(p) {
		return filepath.Clean(p)
	}
	return filepath.Join(base, p)
}

func checkTarget(t string) error {
	if t == "" {
		return fmt.Errorf("empty target")
	}
	if !strings.HasPrefix(t, "/") {
		return fmt.Errorf("target %q must be an absolute path inside the sandbox", t)
	}
	if filepath.Clean(t) == "/" {
		return fmt.Errorf("target must not be / (use rootfs: to replace the root)")
	}
	return nil
}

var mountKeys = []string{"type", "source", "target", "read_only", "size", "allow_config_write", "chown", "tmpfs", "mode", "exec"}

// volumeMount decodes one volumes entry and resolves named volumes against
// the declared ones.
func (d *decoder) volumeMount(n *node, path string) (VolumeMount, bool) {
	var m VolumeMount
	var chownNode *node // the long form's chown: field
	switch n.kind {
	case kindScalar:
		var err error
		if m, err = ParseVolumeMount(n.value, d.dir); err != nil {
			d.errorf(n, path, "%v", err)
			return m, false
		}
	case kindMap:
		ok := true
		var sizeNode, allowNode, tmpfsNode *node
		d.fields(n, path, mountKeys, func(k string, v *node, fp string) {
			switch k {
			case "type":
				m.Type, _ = d.oneOf(v, fp, MountBind, MountVolume, MountTmpfs)
				ok = ok && m.Type != ""
			case "source":
				m.Source, _ = d.str(v, fp)
			case "target":
				if t, present := d.str(v, fp); present {
					if err := checkTarget(t); err != nil {
						d.errorf(v, fp, "%v", err)
						ok = false
						return
					}
					m.Target = filepath.Clean(t)
				}
			case "read_only":
				m.ReadOnly, _ = d.boolean(v, fp)
			case "size":
				m.Size, _ = d.size(v, fp)
				sizeNode = v
			case "allow_config_write":
				m.AllowConfigWrite, _ = d.boolean(v, fp)
				allowNode = v
			case "chown":
				m.Chown, _ = d.boolean(v, fp)
				chownNode = v
			case "tmpfs":
				d.tmpfsOptions(v, fp, &m)
				tmpfsNode = v
			case "mode":
				set(&m.Mode)(parseScalar(d, v, fp, ParseFileMode))
				tmpfsNode = v
			case "exec":
				if b, ok := d.boolean(v, fp); ok {
					m.Exec = &b
				}
				tmpfsNode = v
			}
		})
		if !ok {
			return m, false
		}
		if m.Target == "" {
			d.errorf(n, path, "volume needs a target")
			return m, false
		}
		if m.Type == "" {
			d.errorf(n, path, "volume needs a type: bind, volume or tmpfs")
			return m, false
		}
		if tmpfsNode != nil && m.Type != MountTmpfs {
			d.errorf(tmpfsNode, path, "tmpfs, mode and exec apply only to tmpfs mounts")
			return m, false
		}
		if sizeNode != nil && m.Type != MountTmpfs {
			d.errorf(sizeNode, path+".size", "size applies only to tmpfs mounts")
			return m, false
		}
		if chownNode != nil {
			if err := checkChown(m); err != nil {
				d.errorf(chownNode, path+".chown", "%v", err)
				return m, false
			}
		}
		if allowNode != nil && m.Type != MountBind {
			d.errorf(allowNode, path+".allow_config_write", "allow_config_write applies only to bind mounts")
			return m, false
		}
		switch m.Type {
		case MountBind:
			if m.Source == "" {
				d.errorf(n, path, "a bind mount needs a source path")
				return m, false
			}
			m.Source = resolvePath(m.Source, d.dir)
		case MountVolume:
			if m.Source == "" {
				d.errorf(n, path, "a volume mount needs the source volume name")
				return m, false
			}
		}
	default:
		d.want(n, path, "a volume like \"./data:/data\" or a mapping with type and target")
		return m, false
	}
	if m.Type == MountVolume || (m.Type == MountTmpfs && m.Source != "") {
		vol, declared := d.proj.Volumes[m.Source]
		if !declared {
			names := make([]string, 0, len(d.proj.Volumes))
			for k := range d.proj.Volumes {
				names = append(names, k)
			}
			d.errorf(n, path, "unknown volume %q%s", m.Source, orDeclare(suggest(m.Source, names), "volumes"))
			return m, false
		}
		if vol.Type == VolumeTypeTmpfs {
			if m.Chown {
				at, field := n, path
				if chownNode != nil {
					at, field = chownNode, path+".chown"
				}
				d.errorf(at, field, "volume %q is a tmpfs volume: U (chown) applies only to bind mounts and dir volumes", m.Source)
				return m, false
			}
			m.Type = MountTmpfs
			if m.Size == 0 {
				m.Size = vol.Size
			}
		} else if m.Type == MountTmpfs {
			d.errorf(n, path, "volume %q is a dir volume, not tmpfs", m.Source)
			return m, false
		}
	}
	return m, true
}
