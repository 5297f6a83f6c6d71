package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"

	"nucleus/internal/atomicfile"
)

// NetworkState is the record of one project network, kept as JSON under the
// state root (Run/network/PROJECT/NETWORK.json) so that a restarted
// supervisor, or `nucleus down` without one, can adopt or remove everything.
type NetworkState struct {
	Project  string `json:"project"`
	Name     string `json:"name"`
	Backend  string `json:"backend"` // spec.NATKernel or spec.NATUserspace
	Internal bool   `json:"internal"`
	Subnet   string `json:"subnet"`  // IPv4 CIDR
	Gateway  string `json:"gateway"` // first address of Subnet
	// DNSAddr is the address sandboxes send DNS queries to (resolv.conf).
	DNSAddr   string   `json:"dns_addr"`
	Upstreams []string `json:"upstreams,omitempty"` // the network's dns:, empty = host resolvers
	// UserspaceBackend is what the spec asks for (userspace_backend); the
	// userspace backend records what it picked in Extra.
	UserspaceBackend string `json:"userspace_backend,omitempty"`
	Bridge           string `json:"bridge,omitempty"` // kernel: host bridge name

	// Allocs maps "service/replica" to its address. Entries outlive
	// attachments so that a restarted service gets the same address.
	Allocs map[string]string `json:"allocs"`
	// Attachments are the sandboxes attached right now, by "service/replica".
	Attachments map[string]*AttachmentState `json:"attachments"`
	// Ephemeral are the host ports picked for ports without one, by
	// "service/replica/proto/target/host_ip" (ephemeral.go); like Allocs
	// they outlive attachments, so a restarted replica keeps its ports.
	Ephemeral map[string]int `json:"ephemeral,omitempty"`

	// Extra is private to the backend (JSON it chooses).
	Extra json.RawMessage `json:"extra,omitempty"`
}

// AttachmentState is the record of one sandbox on one network.
type AttachmentState struct {
	Service   string   `json:"service"`
	Replica   int      `json:"replica"`
	PID       int      `json:"pid"`
	IP        string   `json:"ip"`
	Static    bool     `json:"static,omitempty"` // IP came from ipv4_address
	Interface string   `json:"interface"`        // inside the sandbox, e.g. eth0
	HostIf    string   `json:"host_if,omitempty"`
	MAC       string   `json:"mac,omitempty"` // of the inside end: the only source MAC its veth may send
	Aliases   []string `json:"aliases,omitempty"`
	Ports     []Port   `json:"ports,omitempty"`
	Egress    *Egress  `json:"egress,omitempty"`
	DNS       []string `json:"dns,omitempty"`

	// Extra is private to the backend (JSON it chooses).
	Extra json.RawMessage `json:"extra,omitempty"`
}

// setLive takes the fields of the request that Update changes in place.
func (a *AttachmentState) setLive(at Attachment) {
	a.Aliases, a.Ports, a.Egress, a.DNS = slices.Clone(at.Aliases), slices.Clone(at.Ports), at.Egress, slices.Clone(at.DNS)
}

// info is the result of Attach and Update for a on n.
func (a *AttachmentState) info(n *NetworkState) *AttachInfo {
	return &AttachInfo{IP: a.IP, Gateway: n.Gateway, Interface: a.Interface, Ports: slices.Clone(a.Ports)}
}

// attachKey is the key of a service replica in Allocs and Attachments.
func attachKey(service string, replica int) string {
	return service + "/" + strconv.Itoa(normReplica(replica))
}

// normReplica treats replica 0 (unset) as the first replica.
func normReplica(r int) int {
	if r < 1 {
		return 1
	}
	return r
}

// stateDir is where the records of all projects of this root live.
func (m *Manager) stateDir() string { return filepath.Join(m.root.Run, "network") }

func (m *Manager) projectDir(project string) string {
	return filepath.Join(m.stateDir(), project)
}

func (m *Manager) netFile(project, network string) string {
	return filepath.Join(m.projectDir(project), network+".json")
}

// loadNetwork reads a network record; (nil, nil) when there is none.
func (m *Manager) loadNetwork(project, network string) (*NetworkState, error) {
	b, err := os.ReadFile(m.netFile(project, network))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read network record: %w", err)
	}
	n := &NetworkState{}
	if err := json.Unmarshal(b, n); err != nil {
		return nil, fmt.Errorf("parse network record %s: %w", m.netFile(project, network), err)
	}
	if n.Allocs == nil {
		n.Allocs = map[string]string{}
	}
	if n.Attachments == nil {
		n.Attachments = map[string]*AttachmentState{}
	}
	return n, nil
}

// saveNetwork writes a network record atomically (temp file + rename), so a
// crash never leaves a half-written record behind.
func (m *Manager) saveNetwork(n *NetworkState) error {
	dir := m.projectDir(n.Project)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create state dir: %w", err)
	}
	b, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(m.netFile(n.Project, n.Name), b, 0o600)
}

// deleteNetworkRecord removes a network record, and the project directory
// when it was the last one.
func (m *Manager) deleteNetworkRecord(project, network string) error {
	if err := os.Remove(m.netFile(project, network)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove network record: %w", err)
	}
	// A write interrupted by a kill leaves its temporary file (see
	// writeAtomic); no write runs now: the caller holds the lock.
	tmps, _ := filepath.Glob(filepath.Join(m.projectDir(project), ".tmp-"+network+".json-*"))
	for _, t := range tmps {
		os.Remove(t)
	}
	os.Remove(m.projectDir(project)) // only succeeds when empty
	os.Remove(m.stateDir())
	return nil
}

// listProjects returns the projects that have records, sorted.
func (m *Manager) listProjects() ([]string, error) {
	ents, err := os.ReadDir(m.stateDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// loadProject returns every network record of a project, sorted by name.
func (m *Manager) loadProject(project string) ([]*NetworkState, error) {
	ents, err := os.ReadDir(m.projectDir(project))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*NetworkState
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || filepath.Ext(name) != ".json" || name[0] == '.' {
			continue
		}
		n, err := m.loadNetwork(project, name[:len(name)-len(".json")])
		if err != nil {
			return nil, err
		}
		if n != nil {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
