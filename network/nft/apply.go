package nft

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"
)

// Base chains of the ip table.
var baseChains = []struct {
	name string
	typ  nftables.ChainType
	hook *nftables.ChainHook
	prio *nftables.ChainPriority
}{
	{"prerouting", nftables.ChainTypeNAT, nftables.ChainHookPrerouting, nftables.ChainPriorityNATDest},
	{"output", nftables.ChainTypeNAT, nftables.ChainHookOutput, nftables.ChainPriorityNATDest},
	{"postrouting", nftables.ChainTypeNAT, nftables.ChainHookPostrouting, nftables.ChainPriorityNATSource},
	{"forward", nftables.ChainTypeFilter, nftables.ChainHookForward, nftables.ChainPriorityFilter},
	{"input", nftables.ChainTypeFilter, nftables.ChainHookInput, nftables.ChainPriorityFilter},
}

// Apply makes the kernel's tables NAME match t, in one atomic batch:
// base chains are flushed and refilled, per-sandbox chains are refilled,
// sets and counters are created when missing (so learnt addresses and
// counts survive updates) and those of departed sandboxes are deleted.
func Apply(t *Table) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	ip := &nftables.Table{Name: t.Name, Family: nftables.TableFamilyIPv4}
	br := &nftables.Table{Name: t.Name, Family: nftables.TableFamilyBridge}
	have, err := existing(c, ip)
	if err != nil {
		return err
	}

	c.AddTable(ip)
	c.AddTable(br)
	chains := map[string]*nftables.Chain{}
	for _, b := range baseChains {
		ch := c.AddChain(&nftables.Chain{Name: b.name, Table: ip, Type: b.typ, Hooknum: b.hook, Priority: b.prio})
		c.FlushChain(ch)
		chains[b.name] = ch
	}
	spoof := c.AddChain(&nftables.Chain{Name: "antispoof", Table: br, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRef(-300)})
	c.FlushChain(spoof)

	// Which per-sandbox objects should exist.
	want := map[string]bool{}
	for _, n := range t.Networks {
		for _, s := range n.Sandboxes {
			if s.Egress != nil {
				want[EgressChain(s.ID)] = true
				want[DenyCounter(s.ID)] = true
				if s.Egress.Domains {
					want[DomainSet(s.ID)] = true
				}
			}
		}
	}
	// Departed sandboxes: their chains go first (they reference sets and counters).
	for name := range have.chains {
		if strings.HasPrefix(name, "eg_") && !want[name] {
			ch := &nftables.Chain{Name: name, Table: ip}
			c.FlushChain(ch)
			c.DelChain(ch)
		}
	}
	for name := range have.sets {
		if !want[name] {
			c.DelSet(&nftables.Set{Name: name, Table: ip})
		}
	}
	for name := range have.counters {
		if !want[name] {
			c.DeleteObject(&nftables.CounterObj{Name: name, Table: ip})
		}
	}

	sets := map[string]*nftables.Set{}
	for _, n := range t.Networks {
		for _, s := range n.Sandboxes {
			if s.Egress == nil {
				continue
			}
			if !have.counters[DenyCounter(s.ID)] {
				c.AddObj(&nftables.CounterObj{Table: ip, Name: DenyCounter(s.ID)})
			}
			if s.Egress.Domains {
				set := &nftables.Set{Table: ip, Name: DomainSet(s.ID), KeyType: nftables.TypeIPAddr, HasTimeout: true}
				if have.sets[set.Name] {
					set = have.setObjs[set.Name]
				} else if err := c.AddSet(set, nil); err != nil {
					return fmt.Errorf("nftables set %s: %w", set.Name, err)
				}
				sets[s.ID] = set
			}
			ch := c.AddChain(&nftables.Chain{Name: EgressChain(s.ID), Table: ip})
			c.FlushChain(ch)
			for _, r := range egressRules(n, s, sets[s.ID]) {
				c.AddRule(&nftables.Rule{Table: ip, Chain: ch, Exprs: r})
			}
			// Anti-spoofing: only its own IPv4 address (and ARP) may leave its veth.
			c.AddRule(&nftables.Rule{Table: br, Chain: spoof, Exprs: cat(iifname(s.HostIf),
				[]expr.Any{&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(unix.ETH_P_IP)}},
				addrIs(offSaddr, s.IP, true), []expr.Any{drop()})})
			c.AddRule(&nftables.Rule{Table: br, Chain: spoof, Exprs: cat(iifname(s.HostIf),
				[]expr.Any{&expr.Meta{Key: expr.MetaKeyPROTOCOL, Register: 1},
					&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: binaryutil.BigEndian.PutUint16(unix.ETH_P_IPV6)}},
				[]expr.Any{drop()})})
		}
	}

	addBaseRules(c, ip, chains, t)
	if err := c.Flush(); err != nil {
		return fmt.Errorf("apply nftables table %s: %w", t.Name, err)
	}
	return nil
}

func addBaseRules(c *nftables.Conn, ip *nftables.Table, chains map[string]*nftables.Chain, t *Table) {
	add := func(chain string, e []expr.Any, comment string) {
		r := &nftables.Rule{Table: ip, Chain: chains[chain], Exprs: e}
		if comment != "" {
			r.UserData = userdata.AppendString(nil, userdata.TypeComment, comment)
		}
		c.AddRule(r)
	}
	add("forward", cat(ctEstablished(), []expr.Any{accept()}), "")
	add("input", cat(ctEstablished(), []expr.Any{accept()}), "")

	for _, n := range t.Networks {
		// Port forwards, in prerouting (other hosts and namespaces) and
		// output (the host itself, including 127.0.0.1).
		for _, s := range n.Sandboxes {
			for _, f := range s.Forwards {
				for _, e := range dnatRules(s, f) {
					add("prerouting", e, ForwardComment(f))
					add("output", e, "")
				}
			}
		}
		if !n.Internal {
			add("postrouting", cat(addrIn(offSaddr, n.Subnet, false), oifname(n.Bridge, true), []expr.Any{&expr.Masq{}}), "")
		}
		// DNATed traffic from the host's loopback, or from the subnet itself
		// (hairpin), must come back through the host: masquerade it.
		lo := mustCIDR("127.0.0.0/8")
		add("postrouting", cat(oifname(n.Bridge, false), ctDNAT(), addrIn(offSaddr, lo, false), []expr.Any{&expr.Masq{}}), "")
		add("postrouting", cat(oifname(n.Bridge, false), ctDNAT(), addrIn(offSaddr, n.Subnet, false), []expr.Any{&expr.Masq{}}), "")

		// Egress: everything a restricted sandbox sends, to other hosts or
		// to the host itself, goes through its chain.
		for _, s := range n.Sandboxes {
			if s.Egress == nil {
				continue
			}
			j := cat(iifname(n.Bridge), addrIs(offSaddr, s.IP, false), []expr.Any{jump(EgressChain(s.ID))})
			add("forward", j, "")
			add("input", j, "")
		}
		if n.Internal {
			// No way out: only the embedded DNS on the gateway answers.
			for _, p := range []string{"udp", "tcp"} {
				add("input", cat(iifname(n.Bridge), addrIs(offDaddr, n.Gateway, false), l4proto(p), dport(53, 53), []expr.Any{accept()}), "")
			}
			add("input", cat(iifname(n.Bridge), rejectTCP()), "")
			add("input", cat(iifname(n.Bridge), []expr.Any{rejectAdmin()}), "")
			add("forward", cat(iifname(n.Bridge), oifname(n.Bridge, true), rejectTCP()), "")
			add("forward", cat(iifname(n.Bridge), oifname(n.Bridge, true), []expr.Any{rejectAdmin()}), "")
		}
	}
}

// dnatRules returns the DNAT rule(s) for one forward. When the port
// numbers are the same on both sides a single rule keeps the port; else a
// range is expanded port by port (the kernel would pick any port of a
// target range instead of the matching one).
func dnatRules(s Sandbox, f Forward) [][]expr.Any {
	match := func(start, end int) []expr.Any {
		var host []expr.Any
		if f.HostIP == nil || f.HostIP.IsUnspecified() {
			host = daddrLocal()
		} else {
			host = addrIs(offDaddr, f.HostIP, false)
		}
		return cat(host, l4proto(f.Proto), dport(start, end))
	}
	end := f.HostPortEnd
	if end < f.HostPort {
		end = f.HostPort
	}
	if f.Target == f.HostPort {
		return [][]expr.Any{cat(match(f.HostPort, end), []expr.Any{
			&expr.Immediate{Register: 1, Data: s.IP.To4()},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1},
		})}
	}
	var out [][]expr.Any
	for p := f.HostPort; p <= end; p++ {
		out = append(out, cat(match(p, p), []expr.Any{
			&expr.Immediate{Register: 1, Data: s.IP.To4()},
			&expr.Immediate{Register: 2, Data: binaryutil.BigEndian.PutUint16(uint16(f.Target + p - f.HostPort))},
			&expr.NAT{Type: expr.NATTypeDestNAT, Family: unix.NFPROTO_IPV4, RegAddrMin: 1, RegProtoMin: 2},
		}))
	}
	return out
}

// egressRules is the body of a sandbox's egress chain.
func egressRules(n Network, s Sandbox, set *nftables.Set) [][]expr.Any {
	var out [][]expr.Any
	gw := addrIs(offDaddr, n.Gateway, false)
	for _, p := range []string{"udp", "tcp"} {
		out = append(out, cat(gw, l4proto(p), dport(53, 53), []expr.Any{accept()}))
	}
	deny := func(match []expr.Any) {
		out = append(out, cat(match, []expr.Any{counterRef(DenyCounter(s.ID))}, rejectTCP()))
		out = append(out, cat(match, []expr.Any{counterRef(DenyCounter(s.ID)), rejectAdmin()}))
	}
	deny(gw) // the host behind the gateway is not a peer
	out = append(out, cat(addrIn(offDaddr, n.Subnet, false), []expr.Any{accept()}))
	if set != nil {
		out = append(out, []expr.Any{loadAddr(offDaddr),
			&expr.Lookup{SourceRegister: 1, SetName: set.Name, SetID: set.ID}, accept()})
	}
	for _, a := range s.Egress.Allow {
		m := addrIn(offDaddr, a.Net, false)
		protos := []string{a.Proto}
		if a.Proto == "" && a.PortStart != 0 {
			protos = []string{"tcp", "udp"}
		}
		for _, p := range protos {
			r := m
			if p != "" {
				r = cat(r, l4proto(p))
			}
			if a.PortStart != 0 {
				r = cat(r, dport(a.PortStart, a.PortEnd))
			}
			out = append(out, cat(r, []expr.Any{accept()}))
		}
	}
	deny(nil)
	return out
}

// ForwardComment tags a prerouting DNAT rule so that other projects (any
// state root) can see which host ports are taken: "pf PROTO HOSTIP START END".
func ForwardComment(f Forward) string {
	host := "0.0.0.0"
	if f.HostIP != nil {
		host = f.HostIP.String()
	}
	end := f.HostPortEnd
	if end < f.HostPort {
		end = f.HostPort
	}
	return "pf " + f.Proto + " " + host + " " + strconv.Itoa(f.HostPort) + " " + strconv.Itoa(end)
}

type existingObjs struct {
	chains, sets, counters map[string]bool
	setObjs                map[string]*nftables.Set
}

// existing lists the chains, sets and counters of table t (empty when the
// table does not exist yet).
func existing(c *nftables.Conn, t *nftables.Table) (existingObjs, error) {
	e := existingObjs{chains: map[string]bool{}, sets: map[string]bool{}, counters: map[string]bool{}, setObjs: map[string]*nftables.Set{}}
	chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
	if err != nil {
		return e, fmt.Errorf("list nftables chains: %w", err)
	}
	found := false
	for _, ch := range chains {
		if ch.Table.Name == t.Name {
			e.chains[ch.Name] = true
			found = true
		}
	}
	if !found {
		if _, err := c.ListTableOfFamily(t.Name, t.Family); err != nil {
			return e, nil // no table yet
		}
	}
	sets, err := c.GetSets(t)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return e, fmt.Errorf("list nftables sets of %s: %w", t.Name, err)
	}
	for _, s := range sets {
		e.sets[s.Name] = true
		e.setObjs[s.Name] = s
	}
	objs, err := c.GetObjects(t)
	if err != nil && !errors.Is(err, unix.ENOENT) {
		return e, fmt.Errorf("list nftables objects of %s: %w", t.Name, err)
	}
	for _, o := range objs {
		if co, ok := o.(*nftables.CounterObj); ok {
			e.counters[co.Name] = true
		}
	}
	return e, nil
}
