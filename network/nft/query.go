package nft

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

func mustCIDR(s string) *net.IPNet {
	_, n, err := net.ParseCIDR(s)
	if err != nil {
		panic(err)
	}
	return n
}

// Delete removes the tables NAME (ip and bridge); missing tables are fine.
func Delete(name string) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	for _, fam := range []nftables.TableFamily{nftables.TableFamilyIPv4, nftables.TableFamilyBridge} {
		c.DelTable(&nftables.Table{Name: name, Family: fam})
		if err := c.Flush(); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("delete nftables table %s: %w", name, err)
		}
	}
	return nil
}

// ListTables returns "FAMILY NAME" of every table whose name starts with prefix.
func ListTables(prefix string) ([]string, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	ts, err := c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	var out []string
	for _, t := range ts {
		if strings.HasPrefix(t.Name, prefix) {
			fam := "ip"
			if t.Family == nftables.TableFamilyBridge {
				fam = "bridge"
			} else if t.Family != nftables.TableFamilyIPv4 {
				fam = strconv.Itoa(int(t.Family))
			}
			out = append(out, fam+" "+t.Name)
		}
	}
	return out, nil
}

// AddAllowed puts ips into a sandbox's domain set for lifetime. Only
// addresses that are not there or have less time left are sent; those
// are replaced (delete and add in one batch).
func AddAllowed(table, id string, ips []net.IP, lifetime time.Duration) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	return addAllowed(c, table, id, ips, lifetime)
}

func addAllowed(c *nftables.Conn, table, id string, ips []net.IP, lifetime time.Duration) error {
	set, err := c.GetSetByName(&nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}, DomainSet(id))
	if err != nil {
		return fmt.Errorf("nftables set %s of %s: %w", DomainSet(id), table, err)
	}
	cur, err := c.GetSetElements(set)
	if err != nil {
		return fmt.Errorf("list nftables set %s: %w", set.Name, err)
	}
	left := map[string]time.Duration{}
	for _, e := range cur {
		left[net.IP(e.Key).String()] = e.Expires
	}
	var add, renew []nftables.SetElement
	for _, ip := range ips {
		v4 := ip.To4()
		if v4 == nil {
			continue
		}
		l, ok := left[v4.String()]
		if ok && l >= lifetime {
			continue
		}
		if ok {
			renew = append(renew, nftables.SetElement{Key: v4})
		}
		add = append(add, nftables.SetElement{Key: v4, Timeout: lifetime})
	}
	if len(add) == 0 {
		return nil
	}
	// Some kernels keep an element's timeout when it is added again (6.1
	// of the v2 VM does; 6.18 here updates it): it is deleted and added in
	// one batch, which packets see as one change.
	if len(renew) > 0 {
		if err := c.SetDeleteElements(set, renew); err != nil {
			return err
		}
	}
	if err := c.SetAddElements(set, add); err != nil {
		return err
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("add to nftables set %s: %w", set.Name, err)
	}
	return nil
}

// Allowed lists the addresses in a sandbox's domain set with their time left.
func Allowed(table, id string) ([]DomainElement, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	set, err := c.GetSetByName(&nftables.Table{Name: table, Family: nftables.TableFamilyIPv4}, DomainSet(id))
	if err != nil {
		return nil, fmt.Errorf("nftables set %s of %s: %w", DomainSet(id), table, err)
	}
	els, err := c.GetSetElements(set)
	if err != nil {
		return nil, err
	}
	var out []DomainElement
	for _, e := range els {
		out = append(out, DomainElement{IP: net.IP(e.Key), Expires: e.Expires})
	}
	return out, nil
}

// Denied returns the packets counted by a sandbox's egress reject rules.
func Denied(table, id string) (uint64, error) {
	c, err := nftables.New()
	if err != nil {
		return 0, fmt.Errorf("nftables: %w", err)
	}
	objs, err := c.GetObjects(&nftables.Table{Name: table, Family: nftables.TableFamilyIPv4})
	if err != nil {
		return 0, fmt.Errorf("read nftables counters of %s: %w", table, err)
	}
	for _, o := range objs {
		if co, ok := o.(*nftables.CounterObj); ok && co.Name == DenyCounter(id) {
			return co.Packets, nil
		}
	}
	return 0, fmt.Errorf("nftables counter %s not found in %s", DenyCounter(id), table)
}

// InUse is a host port range forwarded by some nucleus table.
type InUse struct {
	Table      string
	Proto      string
	HostIP     net.IP
	Start, End int
}

// Forwards lists the port forwards (chains pf_*) of every ip table whose
// name starts with prefix (other projects, other state roots), except the
// table skip, read from the rule comments.
func Forwards(prefix, skip string) ([]InUse, error) {
	c, err := nftables.New()
	if err != nil {
		return nil, fmt.Errorf("nftables: %w", err)
	}
	ts, err := c.ListTablesOfFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return nil, fmt.Errorf("list nftables chains: %w", err)
	}
	var out []InUse
	for _, t := range ts {
		if !strings.HasPrefix(t.Name, prefix) || t.Name == skip {
			continue
		}
		var rules []*nftables.Rule
		for _, ch := range chains {
			if ch.Table.Name != t.Name || !strings.HasPrefix(ch.Name, "pf_") {
				continue
			}
			rs, err := c.GetRules(t, ch)
			if err != nil {
				continue // removed meanwhile
			}
			rules = append(rules, rs...)
		}
		for _, r := range rules {
			s, ok := userdata.GetString(r.UserData, userdata.TypeComment)
			if !ok {
				continue
			}
			f := strings.Fields(s)
			if len(f) != 5 || f[0] != "pf" {
				continue
			}
			start, _ := strconv.Atoi(f[3])
			end, _ := strconv.Atoi(f[4])
			out = append(out, InUse{Table: t.Name, Proto: f[1], HostIP: net.ParseIP(f[2]), Start: start, End: end})
		}
	}
	return out, nil
}
