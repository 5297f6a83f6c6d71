package network

import (
	"errors"

	"github.com/vishvananda/netlink"
)

// dumpRetries bounds how often a netlink dump is repeated when the kernel
// says it was interrupted.
const dumpRetries = 10

// retryDump runs a netlink dump (links, addresses, routes) again when the
// kernel reports that the table changed while it was being read
// (NLM_F_DUMP_INTR, netlink.ErrDumpInterrupted): the partial answer must not
// be taken for the whole, and another process creating or deleting links at
// the same moment is normal on a busy host.
func retryDump[T any](dump func() (T, error)) (T, error) {
	var v T
	var err error
	for range dumpRetries {
		v, err = dump()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, err
}
