package spec

import (
	"strconv"
	"strings"
)

// composeKeys name the nucleus spelling of Compose keys nucleus.yaml does
// not take, by the mapping's path ("" = top level, "service", "network",
// "volume"): someone coming from Compose learns where the setting lives
// instead of reading a bare "unknown key" or a suggestion of a lookalike.
var composeKeys = map[string]map[string]string{
	"": {
		"version": "nucleus.yaml has no version; remove it",
	},
	"service": {
		"mem_limit":       "use resources.memory",
		"memswap_limit":   "nucleus sets no swap limit; use resources.memory",
		"mem_reservation": "nucleus has no memory reservation; use resources.memory for the limit",
		"cpus":            "use resources.cpus",
		"cpu_count":       "use resources.cpus",
		"pids_limit":      "use resources.pids",
		"deploy":          "use replicas and resources (memory, cpus, pids)",
		"scale":           "use replicas",
		"container_name":  "use hostname, or aliases under the service's networks",
		"privileged":      "nucleus never runs a privileged sandbox; list what the service needs in cap_add",
		"network_mode":    "use networks: [] for no network; nucleus never shares the host's network namespace",
		"userns_mode":     "use security.userns (private or host)",
		"security_opt":    "use security (seccomp, landlock); no-new-privileges is always on",
		"cap_drop":        "every capability is dropped already; list the ones to keep in cap_add",
		"build":           "nucleus runs existing images: build it with docker, podman or buildah, then name it in image",
		"expose":          "every port of a service is reachable from the project's networks; remove it",
		"init":            "nucleus's init is always PID 1 in the sandbox; remove it",
		"links":           "every service is reachable by its name; use aliases under networks for other names",
		"logging":         "nucleus keeps the logs itself (nucleus logs); remove it",
	},
	"network": {
		"external": "nucleus creates every network of a project itself; remove it, or use the network's name from the other project's file",
		"driver":   "every nucleus network is a bridge (nat: kernel) or slirp4netns (nat: userspace); use nat",
		"ipam":     "use subnet",
	},
	"volume": {
		"external":    "nucleus keeps named volumes under its data root; use a bind mount of the existing directory instead",
		"driver":      "a volume is a directory (type: dir) or a tmpfs (type: tmpfs); use type",
		"driver_opts": "for a bind of a host directory use a bind mount in the service's volumes",
	},
}

// opposites are keys "did you mean" must never offer for each other: the
// edit distance is small and the meaning reversed.
var opposites = map[string]string{"external": "internal", "internal": "external"}

// unknownKey is the message for key, unknown at path.
func unknownKey(path, key string, known []string) string {
	msg := "unknown key " + strconv.Quote(key)
	if hint, ok := composeKeys[keyScope(path)][key]; ok {
		return msg + " (a Compose key): " + hint
	}
	cands := known
	if o, ok := opposites[key]; ok {
		cands = make([]string, 0, len(known))
		for _, k := range known {
			if k != o {
				cands = append(cands, k)
			}
		}
	}
	return msg + suggest(key, cands)
}

// keyScope names the kind of mapping at path: "services.web" is a
// service, "networks.front" a network, "volumes.data" a volume.
func keyScope(path string) string {
	parts := strings.Split(path, ".")
	if len(parts) != 2 {
		return path
	}
	switch parts[0] {
	case "services":
		return "service"
	case "networks":
		return "network"
	case "volumes":
		return "volume"
	}
	return path
}
