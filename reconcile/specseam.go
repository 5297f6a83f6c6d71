package reconcile

// TEMPORARY seam: spec.ServiceHash and spec.Diff are being written in
// parallel (see notes/contracts.md). Until they land, this file holds a
// stand-in with the same contract (hash excludes depends_on and replicas;
// live class = resources.*, ports, egress, dns, extra_hosts,
// networks.*.aliases). Replace the two variables with adapters over spec.

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"maps"
	"slices"
	"strings"

	"nucleus/spec"
)

var (
	serviceHash = fallbackHash
	serviceDiff = fallbackDiff
)

func fallbackHash(s *spec.Service) string {
	c := *s
	c.DependsOn = nil
	c.Replicas = 0
	b, _ := json.Marshal(struct {
		S       spec.Service
		Profile []byte
	}{c, s.Security.SeccompProfile})
	sum := sha256.Sum256(b)
	return "v1:" + hex.EncodeToString(sum[:])
}

func fallbackDiff(old, new *spec.Service) []fieldChange {
	a, b := flatten(old), flatten(new)
	keys := slices.Sorted(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []fieldChange
	for _, k := range keys {
		if a[k] == b[k] || k == "replicas" || strings.HasPrefix(k, "depends_on") {
			continue
		}
		out = append(out, fieldChange{Path: k, Live: isLivePath(k), Old: a[k], New: b[k]})
	}
	if string(old.Security.SeccompProfile) != string(new.Security.SeccompProfile) {
		out = append(out, fieldChange{Path: "security.seccomp (profile contents)"})
	}
	return out
}

func isLivePath(p string) bool {
	for _, pre := range []string{"resources.", "ports", "egress", "dns", "extra_hosts"} {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	return strings.HasPrefix(p, "networks.") && strings.HasSuffix(p, ".aliases")
}

// flatten turns the JSON form into path -> compact JSON value; objects are
// walked, lists and scalars are leaves.
func flatten(s *spec.Service) map[string]string {
	raw, _ := json.Marshal(s)
	var v any
	_ = json.Unmarshal(raw, &v)
	out := map[string]string{}
	var walk func(prefix string, v any)
	walk = func(prefix string, v any) {
		if m, ok := v.(map[string]any); ok && (prefix == "" || len(m) > 0) {
			for k, x := range m {
				p := k
				if prefix != "" {
					p = prefix + "." + k
				}
				walk(p, x)
			}
			return
		}
		if str, ok := v.(string); ok {
			out[prefix] = str
			return
		}
		b, _ := json.Marshal(v)
		out[prefix] = string(b)
	}
	walk("", v)
	return out
}
