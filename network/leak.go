package network

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/vishvananda/netlink"

	"nucleus/internal/rootdir"
	"nucleus/network/nft"
)

// LeakCheck lists every host object of this state root that the network
// package creates: links (bridges, veths) with the nucleus prefix whose
// alias names this root, nftables tables of this root, network records
// and whatever registered backends report (slirp4netns processes,
// namespaces, runtime directories). Empty means clean.
func LeakCheck(root rootdir.Root) ([]string, error) {
	var out []string
	var errs []error
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		errs = append(errs, err)
	}
	want := aliasPrefix + root.ID() + ":"
	for _, l := range links {
		a := l.Attrs()
		if strings.HasPrefix(a.Name, linkPrefix) && strings.HasPrefix(a.Alias, want) {
			out = append(out, "link "+a.Name+" ("+l.Type()+", "+a.Alias+")")
		}
	}
	if os.Geteuid() == 0 {
		tables, err := nft.ListTables(rootTablePrefix(root))
		if err != nil {
			errs = append(errs, err)
		}
		for _, t := range tables {
			out = append(out, "nftables table "+t)
		}
	}
	dir := filepath.Join(root.Run, "network")
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		out = append(out, "state "+p)
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	for _, check := range leakCheckers {
		more, err := check(root)
		out = append(out, more...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}
