package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Secrets and configs are Compose's file objects: declared at the top
// level with where their content comes from, mounted into the services that
// name them as read-only files. The loader reads the content (so the hash
// covers the bytes, not the path, as for a seccomp profile); the runtime
// only writes it out. Secret content is never printed: Data has no JSON or
// YAML form.

// FileObject is a top-level secret or config. Exactly one source is set.
type FileObject struct {
	Name string `json:"-" yaml:"-"`
	// File is an absolute host path (relative ones are resolved against the
	// project directory).
	File string `json:"file,omitempty" yaml:"file,omitempty"`
	// Environment names the variable (process environment, then .env) whose
	// value is the content; only the name is kept in the printed model.
	Environment string `json:"environment,omitempty" yaml:"environment,omitempty"`
	// Content is inline content (configs only, as in Compose).
	Content string `json:"content,omitempty" yaml:"content,omitempty"`
	// Data is the content read at load time.
	Data []byte `json:"-" yaml:"-"`
}

// FileMount is a service's use of a secret or config.
type FileMount struct {
	Source string `json:"source" yaml:"source"`
	// Target is the absolute path inside the sandbox.
	Target string   `json:"target" yaml:"target"`
	UID    int      `json:"uid" yaml:"uid"`
	GID    int      `json:"gid" yaml:"gid"`
	Mode   FileMode `json:"mode" yaml:"mode"`
	// Data is the source's content (shared with the FileObject).
	Data []byte `json:"-" yaml:"-"`
}

// DefaultFileMode is the mode of a mounted secret or config (Compose's).
const DefaultFileMode = FileMode(0o444)

// MaxFileObject bounds what the loader reads into memory for one secret or
// config (Docker's limit for a secret is 500 KiB).
const MaxFileObject = 1 << 20

// SecretsDir is where secrets are mounted by default.
const SecretsDir = "/run/secrets"

// fileMountMode reads a secret's or config's mode: octal permission bits
// (FileMode's forms), without the setuid, setgid and sticky bits.
func fileMountMode(s string) (FileMode, error) {
	m, err := ParseFileMode(s)
	if err == nil && m > 0o777 {
		err = fmt.Errorf("invalid mode %q; expected permission bits from 0000 to 0777, like 0440", s)
	}
	return m, err
}

// fileKind describes the two sections.
type fileKind struct {
	section string // "secrets" or "configs"
	what    string // "secret" or "config"
	keys    []string
	// target is the default mount point of NAME and the base of a relative target.
	dir string
}

var (
	secretKind = fileKind{"secrets", "secret", []string{"file", "environment"}, SecretsDir}
	configKind = fileKind{"configs", "config", []string{"file", "environment", "content"}, "/"}
)

// fileObjects decodes a top-level secrets: or configs: section.
func (d *decoder) fileObjects(n *node, k fileKind) map[string]*FileObject {
	out := map[string]*FileObject{}
	if !d.sectionMap(n, k.section, k.what) {
		return out
	}
	d.named(n, 0, len(n.keys), k.section, k.what, func(name string, v *node, p string) {
		// Kept even when wrong, so that services naming it get no
		// follow-up error; the load fails on the first one anyway.
		out[name] = d.fileObject(name, v, p, k)
	})
	return out
}

func (d *decoder) fileObject(name string, n *node, p string, k fileKind) *FileObject {
	o := &FileObject{Name: name}
	var srcs []string
	ok := true
	d.fields(n, p, k.keys, func(key string, v *node, fp string) {
		s, good := d.str(v, fp)
		if !good {
			if v.kind == kindNull {
				d.errorf(v, fp, "expected a string, got null")
			}
			ok = false
			return
		}
		srcs = append(srcs, key)
		switch key {
		case "file":
			o.File = d.hostPath(s)
			data, err := d.readFileObject(o.File)
			if err != nil {
				d.errorf(v, fp, "%s %s: %v", k.what, s, err)
				ok = false
			}
			o.Data = data
		case "environment":
			val, set := d.lookup(s)
			if !set {
				d.errorf(v, fp, "%s %s: environment variable %s is not set (in the environment or .env)", k.what, name, s)
				ok = false
			}
			o.Environment, o.Data = s, []byte(val)
		case "content":
			o.Content, o.Data = s, []byte(s)
		}
	})
	if n.kind != kindMap && n.kind != kindNull {
		return o // fields reported it
	}
	others := false // an unknown key was reported: no second error
	for _, k := range n.keys {
		others = others || !strings.HasPrefix(k.value, "x-")
	}
	if len(srcs) > 1 || len(srcs) == 0 && ok && !others {
		d.errorf(n, p, "%s %s needs exactly one of %s (found %d)", k.what, name, orList(k.keys), len(srcs))
	}
	return o
}

// readFileObject reads a secret or config file without following any
// symlink on the way (RESOLVE_NO_SYMLINKS): a sandbox that can write into
// the project directory could otherwise swap a link to a host file (say
// /etc/shadow) into the path and have it mounted into itself at the next
// load. Only regular files are read, and at most MaxFileObject bytes.
func (d *decoder) readFileObject(abs string) ([]byte, error) {
	d.tried[abs] = true
	fd, err := unix.Openat2(unix.AT_FDCWD, abs, &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_CLOEXEC | unix.O_NOCTTY,
		Resolve: unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		if errors.Is(err, unix.ELOOP) {
			return nil, errors.New("the path is or passes through a symlink, which nucleus does not follow for secrets and configs; name the real file")
		}
		return nil, errors.New(errText(&os.PathError{Op: "open", Path: abs, Err: err}))
	}
	f := os.NewFile(uintptr(fd), abs)
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, errors.New(errText(err))
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("not a regular file (%s)", fi.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileObject+1))
	if err != nil {
		return nil, errors.New(errText(err))
	}
	if len(data) > MaxFileObject {
		return nil, fmt.Errorf("larger than %d bytes", MaxFileObject)
	}
	d.read[abs] = data
	return data, nil
}

var fileMountKeys = []string{"source", "target", "uid", "gid", "mode"}

// fileMounts decodes a service's secrets: or configs: list (short form
// NAME, long form {source, target, uid, gid, mode}). used holds the targets
// taken so far by this service (shared between secrets and configs).
func (d *decoder) fileMounts(n *node, p string, k fileKind, decl map[string]*FileObject, used map[string]string) []FileMount {
	var out []FileMount
	d.each(n, p, func(i int, it *node, ip string) {
		m := FileMount{Mode: DefaultFileMode}
		var nameNode, targetNode *node
		switch it.kind {
		case kindScalar:
			m.Source, nameNode = it.value, it
		case kindMap:
			d.fields(it, ip, fileMountKeys, func(key string, v *node, fp string) {
				switch key {
				case "source":
					if s, ok := d.str(v, fp); ok {
						m.Source, nameNode = s, v
					}
				case "target":
					if s, ok := d.str(v, fp); ok {
						m.Target, targetNode = s, v
					}
				case "uid":
					set(&m.UID)(d.idNumber(v, fp))
				case "gid":
					set(&m.GID)(d.idNumber(v, fp))
				case "mode":
					set(&m.Mode)(parseScalar(d, v, fp, fileMountMode))
				}
			})
			if nameNode == nil {
				d.errorf(it, ip, "source is missing; name a %s declared under the top-level %s:", k.what, k.section)
				return
			}
		default:
			d.want(it, ip, "a "+k.what+" name or a mapping with source, target, uid, gid and mode")
			return
		}
		o, ok := decl[m.Source]
		if !ok {
			d.errorf(nameNode, ip, "unknown %s %q; declare it under the top-level %s:%s", k.what, m.Source, k.section, suggest(m.Source, sortedKeys(decl)))
			return
		}
		m.Data = o.Data
		at := nameNode
		if targetNode != nil {
			at = targetNode
		}
		t := m.Target
		if t == "" {
			t = m.Source
		}
		if !path.IsAbs(t) {
			t = path.Join(k.dir, t)
		}
		t = path.Clean(t)
		if t == "/" || slices.Contains(strings.Split(m.Target, "/"), "..") {
			d.errorf(at, ip, "invalid target %q; expected a file path inside the sandbox without ..", m.Target)
			return
		}
		m.Target = t
		if prev, dup := used[t]; dup {
			d.errorf(at, ip, "%s is already the target of %s", t, prev)
			return
		}
		used[t] = ip
		out = append(out, m)
	})
	return out
}

// idNumber reads a uid or gid inside the sandbox (Compose writes them as
// strings: "1000").
func (d *decoder) idNumber(n *node, p string) (int, bool) {
	v, ok := d.integer(n, p, 0, 65535)
	return int(v), ok
}

// fileMountTargets checks secrets and configs against the service's volume
// targets: two mounts at one path would hide one of them.
func (d *decoder) fileMountTargets(s *Service, path string) {
	for _, v := range s.Volumes {
		for i, m := range append(slices.Clone(s.Secrets), s.Configs...) {
			if m.Target == v.Target || strings.HasPrefix(m.Target, strings.TrimSuffix(v.Target, "/")+"/") && v.Target != "/" {
				where := fmt.Sprintf("secrets[%d]", i)
				if i >= len(s.Secrets) {
					where = fmt.Sprintf("configs[%d]", i-len(s.Secrets))
				}
				d.add(d.at(path+"."+where), path+"."+where, fmt.Sprintf("%s lies on the volume mounted at %s; choose another target", m.Target, v.Target))
			}
		}
	}
}

// fileMountChanges compares two services' secrets (or configs) by target.
// The content is compared but never shown: a change of it reads
// "secrets./run/secrets/db changed" with Old and New saying only that the
// content differs.
func fileMountChanges(add func(path string, class Class, a, b string), field string, old, new []FileMount) {
	byTarget := func(ms []FileMount) map[string]FileMount {
		m := make(map[string]FileMount, len(ms))
		for _, x := range ms {
			m[x.Target] = x
		}
		return m
	}
	o, n := byTarget(old), byTarget(new)
	for _, t := range unionKeys(o, n) {
		a, ain := o[t]
		b, bin := n[t]
		as, bs := "", ""
		if ain {
			as = a.String()
		}
		if bin {
			bs = b.String()
		}
		// A record read back from disk has no content (it is never
		// written): compare only contents both sides have.
		if as == bs && ain && bin && a.Data != nil && b.Data != nil && !bytes.Equal(a.Data, b.Data) {
			as, bs = as+" (content before)", bs+" (content now)"
		}
		add(field+"."+t, ClassRestart, as, bs)
	}
}

// String names the mount without its content: "db -> /run/secrets/db 0:0 0444".
func (m FileMount) String() string {
	return fmt.Sprintf("%s -> %s %d:%d %04o", m.Source, m.Target, m.UID, m.GID, uint32(m.Mode))
}
