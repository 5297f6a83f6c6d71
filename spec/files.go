package spec

import (
	"errors"
	"io/fs"
	"net/netip"
	"os"
)

type seccompResult struct {
	data []byte
	err  error
}

// envFileOrder sorts errors inside env files after those in project files.
const envFileOrder = 1 << 20

// readEnvFile reads and parses an env_file once per load.
func (d *decoder) readEnvFile(abs string) *envFileResult {
	if r, ok := d.envCache[abs]; ok {
		return r
	}
	d.tried[abs] = true
	data, err := os.ReadFile(abs)
	var r *envFileResult
	if err != nil {
		r = &envFileResult{err: err}
	} else {
		d.read[abs] = data
		r = parseEnvFile(data, abs, envFileOrder, d.lookup)
	}
	d.envCache[abs] = r
	return r
}

// loadSeccomp reads and checks a seccomp profile once per load.
func (d *decoder) loadSeccomp(abs string) ([]byte, error) {
	if r, ok := d.seccomp[abs]; ok {
		return r.data, r.err
	}
	d.tried[abs] = true
	data, err := readSeccompProfile(abs)
	if _, statErr := os.Stat(abs); statErr == nil {
		d.read[abs] = data // nil when it does not check: the load fails then
	}
	d.seccomp[abs] = &seccompResult{data, err}
	return data, err
}

func isNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// parseIP returns the canonical form of an IPv4 or IPv6 address.
func parseIP(s string) (string, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return "", err
	}
	if a.Zone() != "" {
		return "", errors.New("zones are not allowed")
	}
	return a.Unmap().String(), nil
}
