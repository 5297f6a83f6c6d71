package runtime

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"nucleus/internal/rootdir"
	"nucleus/runtime/seccomp"
)

// seccompProgram returns the compiled filter for a sandbox. Compiled BPF is
// cached in Root.Run/seccomp/<key>-<helper>.bpf: key = hash of this
// executable's identity and the profile (default + cap_add, or the profile
// bytes), helper = hash of nucleus-seccomp's identity (path, size, mtime:
// one stat), so a new nucleus build, a new helper or a changed profile never
// reuses stale BPF. A one-shot `nucleus run` then skips the helper entirely
// on a warm cache, and runs without it at all (any helper's filter for the
// key is taken then: no other helper could compile a newer one).
func seccompProgram(root rootdir.Root, sec Security) (*seccomp.Program, error) {
	mode := sec.Seccomp
	switch mode {
	case SeccompUnconfined:
		return seccomp.Unconfined(), nil
	case "", SeccompDefault:
		key := cacheKey("default", []byte(strings.Join(sec.CapAdd, ",")))
		return cachedProgram(root, key, seccomp.ModeDefault, func() (*seccomp.Program, error) {
			return seccomp.DefaultFor(sec.CapAdd)
		})
	default:
		data := sec.SeccompProfile
		if data == nil {
			b, err := os.ReadFile(mode)
			if err != nil {
				return nil, fmt.Errorf("read seccomp profile: %w", err)
			}
			data = b
		}
		display := seccomp.ProfileMode(filepath.Base(mode))
		return cachedProgram(root, cacheKey("profile", data), display, func() (*seccomp.Program, error) {
			p, err := seccomp.FromOCIProfile(data)
			if err != nil {
				return nil, fmt.Errorf("seccomp profile %s: %w", mode, err)
			}
			return p, nil
		})
	}
}

var exeIdentity = func() string {
	exe, err := os.Executable()
	if err != nil {
		return "unknown"
	}
	return fileIdentity(exe)
}()

// fileIdentity names a file's version without reading it.
func fileIdentity(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return path
	}
	return fmt.Sprintf("%s:%d:%d", path, fi.Size(), fi.ModTime().UnixNano())
}

// helperKey is the identity of the nucleus-seccomp a cache miss would run
// (where helperbin.Find looks), hashed short; "" when there is none.
func helperKey() string {
	bin := os.Getenv(seccomp.HelperEnv)
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return ""
		}
		bin = filepath.Join(filepath.Dir(exe), seccomp.HelperName)
	}
	if _, err := os.Stat(bin); err != nil {
		return ""
	}
	h := sha256.Sum256([]byte(fileIdentity(bin)))
	return hex.EncodeToString(h[:8])
}

func cacheKey(kind string, data []byte) string {
	h := sha256.New()
	h.Write([]byte(exeIdentity))
	h.Write([]byte{0})
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(data)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func cachedProgram(root rootdir.Root, key, mode string, compile func() (*seccomp.Program, error)) (*seccomp.Program, error) {
	dir := filepath.Join(root.Run, "seccomp")
	helper := helperKey()
	path := filepath.Join(dir, key+"-"+helper+".bpf")
	cached := []string{path}
	if helper == "" {
		// No helper to compile with: a filter any helper compiled for
		// this build and profile will do.
		cached, _ = filepath.Glob(filepath.Join(dir, key+"-*.bpf"))
	}
	for _, c := range cached {
		if b, err := os.ReadFile(c); err == nil && len(b) > 0 {
			if p, err := seccomp.LoadBPF(b); err == nil {
				return p.WithMode(mode), nil
			}
		}
	}
	p, err := compile()
	if err != nil {
		return nil, err
	}
	// Best effort: a cache that cannot be written only costs time.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err == nil {
		tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
		if os.WriteFile(tmp, p.BPF(), 0o600) != nil || os.Rename(tmp, path) != nil {
			os.Remove(tmp) // a full disk keeps no partial file
		}
	}
	return p.WithMode(mode), nil
}
