package network

import (
	"fmt"
	"sync"
	"time"

	"nucleus/internal/rootdir"
)

// Manager creates, updates and removes the networks of the projects of one
// state root. It is safe for concurrent use.
type Manager struct {
	root rootdir.Root
	mu   sync.Mutex // serialises every operation that changes state

	kernel    *kernelBackend
	userspace backend // created on first use

	// DomainTTLFloor and DomainGrace set the lifetime of an address learnt
	// through a domain egress rule: max(answer TTL, floor) + grace. The
	// grace keeps open connections alive after the record expires.
	DomainTTLFloor time.Duration
	DomainGrace    time.Duration
}

// Defaults for domain egress lifetimes (see Manager.DomainGrace).
const (
	DefaultDomainTTLFloor = 30 * time.Second
	DefaultDomainGrace    = 5 * time.Minute
)

// NewManager returns a Manager for root. It creates nothing on the host
// until a network is ensured.
func NewManager(root rootdir.Root) (*Manager, error) {
	if root.Run == "" {
		return nil, fmt.Errorf("network manager: empty state root")
	}
	m := &Manager{root: root, DomainTTLFloor: DefaultDomainTTLFloor, DomainGrace: DefaultDomainGrace}
	m.kernel = &kernelBackend{m: m}
	return m, nil
}
