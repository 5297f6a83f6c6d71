package nft

import (
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"golang.org/x/sys/unix"
)

// ForwardUsers lists the firewall configuration of other owners that
// shows the host forwards or translates traffic for someone else (so
// net.ipv4.ip_forward must stay on): every nftables base chain on the
// forward hook (ip, ip6, inet) or a nat postrouting chain that has rules or
// drops by policy, in a table whose name does not start with ownPrefix, and
// the same of the legacy xtables filter FORWARD and nat POSTROUTING
// chains. An empty chain that accepts (what any iptables command leaves
// behind) is no user.
func ForwardUsers(ownPrefix string) ([]string, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	chains, err := c.ListChains()
	if err != nil {
		return nil, fmt.Errorf("list nftables chains: %w", err)
	}
	var out []string
	for _, ch := range chains {
		if ch.Hooknum == nil || ch.Table == nil || strings.HasPrefix(ch.Table.Name, ownPrefix) {
			continue
		}
		switch ch.Table.Family {
		case nftables.TableFamilyIPv4, nftables.TableFamilyIPv6, nftables.TableFamilyINet:
		default:
			continue
		}
		fwd := *ch.Hooknum == *nftables.ChainHookForward && ch.Type == nftables.ChainTypeFilter
		nat := *ch.Hooknum == *nftables.ChainHookPostrouting && ch.Type == nftables.ChainTypeNAT
		if !fwd && !nat {
			continue
		}
		rules, err := c.GetRules(ch.Table, ch)
		if err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return nil, fmt.Errorf("list rules of %s: %w", ch.Name, err)
		}
		drops := ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop
		if len(rules) > 0 || drops {
			out = append(out, fmt.Sprintf("nftables %s %s chain %s (%d rules%s)", familyName(ch.Table.Family), ch.Table.Name, ch.Name, len(rules), map[bool]string{true: ", policy drop"}[drops]))
		}
	}
	for _, x := range []struct {
		table string
		hook  int
	}{{"filter", unix.NF_INET_FORWARD}, {"nat", unix.NF_INET_POST_ROUTING}} {
		used, err := legacyHookUsed(x.table, x.hook)
		if err != nil {
			return nil, err
		}
		if used {
			out = append(out, fmt.Sprintf("iptables-legacy %s table, hook %d", x.table, x.hook))
		}
	}
	return out, nil
}

func familyName(f nftables.TableFamily) string {
	switch f {
	case nftables.TableFamilyIPv4:
		return "ip"
	case nftables.TableFamilyIPv6:
		return "ip6"
	case nftables.TableFamilyINet:
		return "inet"
	}
	return fmt.Sprint(int(f))
}

// legacyHookUsed says whether the legacy xtables table (when loaded) has
// rules on hook, or a policy other than ACCEPT there: the chain's first
// entry is not its policy entry, or the policy entry drops.
func legacyHookUsed(table string, hook int) (bool, error) {
	if !legacyTableLoaded(table) {
		return false, nil
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return false, fmt.Errorf("xtables socket: %w", err)
	}
	defer unix.Close(fd)
	// struct ipt_getinfo: name[32], valid_hooks, hook_entry[5], underflow[5], num_entries, size.
	info := make([]byte, 32+4+5*4+5*4+4+4)
	copy(info, table)
	if err := getsockopt(fd, 64 /* IPT_SO_GET_INFO */, info); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, fmt.Errorf("xtables %s info: %w", table, err)
	}
	valid := nativeUint32(info[32:])
	if valid&(1<<hook) == 0 {
		return false, nil
	}
	entry := nativeUint32(info[36+4*hook:])
	underflow := nativeUint32(info[56+4*hook:])
	if entry != underflow {
		return true, nil
	}
	return legacyPolicyDrops(table, underflow)
}

// legacyPolicyDrops reads the standard target of the entry at offset off
// (a chain's policy): a verdict of -NF_DROP-1 is DROP.
func legacyPolicyDrops(table string, off uint32) (bool, error) {
	var entries []byte
	var err error
	if table == "filter" {
		entries, err = legacyFilterEntries()
	} else {
		return false, nil // nat chains have no DROP policy that matters here
	}
	if err != nil || entries == nil {
		return false, err
	}
	// struct ipt_entry: ip (84 bytes), nfcache, target_offset (u16 at 88), next_offset, comefrom, counters.
	if int(off)+90 > len(entries) {
		return false, nil
	}
	tOff := int(off) + int(binaryNative16(entries[int(off)+88:]))
	// struct xt_standard_target: header (32 bytes), int verdict.
	if tOff+36 > len(entries) {
		return false, nil
	}
	verdict := int32(nativeUint32(entries[tOff+32:]))
	return verdict == -1, nil // -NF_DROP-1, NF_DROP being 0
}

func legacyTableLoaded(table string) bool {
	names, _ := legacyTableNames()
	for _, n := range names {
		if n == table {
			return true
		}
	}
	return false
}
