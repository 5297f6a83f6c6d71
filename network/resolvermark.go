package network

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"

	"nucleus/network/nft"
)

// Resolver marks. The embedded resolvers run as root in the supervisor (or
// daemon), so their forwarding sockets count as "the host" for every
// kernel-NAT table's fromhost chain: a network's dns: naming another
// project's sandbox (any state root) would make the resolver carry queries
// and answers between the two projects. So every forwarding socket carries
// SO_MARK = nft.ResolverMark(hash of the project), and each project's table
// refuses new connections into its subnets that carry a resolver mark other
// than its own (network/nft/guard.go).
//
// The hash is keyed with a random key that only root can read, the same for
// every nucleus process of the host (any state root): project names are
// chosen by whoever writes a nucleus.yaml, and an unkeyed 22-bit hash could
// be made to collide with another project's in a second. The key lives in
// /run, like the ip_forward marker; it is made once per boot and stays.
var resolverMarkKeyPath = "/run/nucleus-resolver-mark.key" // a var for tests

const resolverMarkKeySize = 32

// resolverMarkKey reads the host's key, creating it when missing; when
// several processes race, the first link wins and all read its key.
func resolverMarkKey() ([]byte, error) {
	key, err := os.ReadFile(resolverMarkKeyPath)
	if errors.Is(err, fs.ErrNotExist) {
		fresh := make([]byte, resolverMarkKeySize)
		if _, err := rand.Read(fresh); err != nil {
			return nil, err
		}
		tmp := resolverMarkKeyPath + ".tmp" + strconv.Itoa(os.Getpid()) + randSuffix()
		if err := os.WriteFile(tmp, fresh, 0o600); err != nil {
			return nil, fmt.Errorf("resolver mark key: %w", err)
		}
		err = os.Link(tmp, resolverMarkKeyPath)
		os.Remove(tmp)
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("resolver mark key: %w", err)
		}
		key, err = os.ReadFile(resolverMarkKeyPath)
	}
	if err != nil {
		return nil, fmt.Errorf("resolver mark key: %w", err)
	}
	if len(key) != resolverMarkKeySize {
		return nil, fmt.Errorf("resolver mark key %s: %d bytes, want %d (remove it to make a new one)", resolverMarkKeyPath, len(key), resolverMarkKeySize)
	}
	return key, nil
}

func randSuffix() string {
	b := make([]byte, 4)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// resolverMark is the SO_MARK of the project's resolver sockets and the
// mark its table lets through. 0 without root: an unprivileged resolver
// cannot set marks, and its sockets are refused by uid anyway.
func (m *Manager) resolverMark(project string) (uint32, error) {
	if os.Geteuid() != 0 {
		return 0, nil
	}
	key, err := resolverMarkKey()
	if err != nil {
		return 0, err
	}
	h := hmac.New(sha256.New, key)
	h.Write([]byte(tableName(m.root, project)))
	return nft.ResolverMark(binary.BigEndian.Uint32(h.Sum(nil))), nil
}
