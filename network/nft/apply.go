package nft

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
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

// Base chains of the ip table, and the bridge table's one chain.
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
	// Before conntrack and NAT: see guard.go.
	{"guard", nftables.ChainTypeFilter, nftables.ChainHookPrerouting, nftables.ChainPriorityRaw},
	// After the output NAT hook, so published ports are already DNATed.
	{fromHostChain, nftables.ChainTypeFilter, nftables.ChainHookOutput, nftables.ChainPriorityFilter},
}

const spoofChain = "antispoof"

// A group is the base-chain rules that belong to one thing (the table
// itself, a network, a sandbox). Every rule of a group carries the comment
// "g KEY HASH"; a group whose hash is unchanged is left alone, so adding a
// sandbox only adds rules. (Deleting rules makes the kernel's commit wait
// for an RCU grace period, about 10-20 ms here, which would dominate the
// start of a sandbox.)
type group struct {
	key, hash string
	rules     []baseRule
	sandbox   *Sandbox // for sandbox groups: its chains are refilled when the hash changes
	network   *Network
}

type baseRule struct {
	bridge bool // in the bridge table's antispoof chain
	chain  string
	exprs  []expr.Any
	first  bool // insert at the top of the chain
}

func sandboxChain(id string) string { return "pf_" + id }

// ForwardChain names the chain holding a sandbox's DNAT rules.
func ForwardChain(id string) string { return sandboxChain(id) }

func hashOf(v any) string {
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:6])
}

// groups lists what the base chains should hold, in order.
func groups(t *Table) []*group {
	base := &group{key: "base"}
	for _, ch := range []string{"forward", "input"} {
		base.rules = append(base.rules, baseRule{chain: ch, exprs: cat(ctEstablished(), []expr.Any{accept()}), first: true})
	}
	base.rules = append(base.rules, guardRules()...)
	base.hash = "2"
	out := []*group{base, inboundGroup(t)}
	for i := range t.Networks {
		n := &t.Networks[i]
		g := &group{key: "net:" + n.Bridge, network: n,
			hash: hashOf([]any{n.Bridge, n.Subnet.String(), n.Gateway.String(), n.Internal, fromHostVersion, t.DenyGID, t.ResolverMark})}
		if !n.Internal {
			g.rules = append(g.rules, baseRule{chain: "postrouting", exprs: cat(addrIn(offSaddr, n.Subnet, false), oifname(n.Bridge, true), []expr.Any{&expr.Masq{}})})
		}
		// DNATed traffic from the host's loopback, or from the subnet itself
		// (hairpin), must come back through the host: masquerade it.
		g.rules = append(g.rules,
			baseRule{chain: "postrouting", exprs: cat(oifname(n.Bridge, false), ctDNAT(), addrIn(offSaddr, mustCIDR("127.0.0.0/8"), false), []expr.Any{&expr.Masq{}})},
			baseRule{chain: "postrouting", exprs: cat(oifname(n.Bridge, false), ctDNAT(), addrIn(offSaddr, n.Subnet, false), []expr.Any{&expr.Masq{}})})
		g.rules = append(g.rules, inboundRule(n))
		g.rules = append(g.rules, fromHostRules(n, t.DenyGID, t.ResolverMark)...)
		if n.Internal {
			// No way out: only the embedded DNS on the gateway answers.
			for _, p := range []string{"udp", "tcp"} {
				g.rules = append(g.rules, baseRule{chain: "input", exprs: cat(iifname(n.Bridge), addrIs(offDaddr, n.Gateway, false), l4proto(p), dport(53, 53), []expr.Any{accept()})})
			}
			g.rules = append(g.rules,
				baseRule{chain: "input", exprs: cat(iifname(n.Bridge), rejectTCP())},
				baseRule{chain: "input", exprs: cat(iifname(n.Bridge), []expr.Any{rejectAdmin()})},
				baseRule{chain: "forward", exprs: cat(iifname(n.Bridge), oifname(n.Bridge, true), rejectTCP())},
				baseRule{chain: "forward", exprs: cat(iifname(n.Bridge), oifname(n.Bridge, true), []expr.Any{rejectAdmin()})})
		}
		out = append(out, g)
		for j := range n.Sandboxes {
			s := &n.Sandboxes[j]
			sg := &group{key: "sb:" + s.ID, sandbox: s, network: n,
				hash: hashOf([]any{*s, n.Bridge, n.Subnet.String(), n.Gateway.String()})}
			if len(s.Forwards) > 0 {
				for _, ch := range []string{"prerouting", "output"} {
					sg.rules = append(sg.rules, baseRule{chain: ch, exprs: []expr.Any{jump(sandboxChain(s.ID))}})
				}
			}
			if s.Egress != nil {
				// Everything it sends, to other hosts or to the host itself.
				j := cat(iifname(n.Bridge), addrIs(offSaddr, s.IP, false), []expr.Any{jump(EgressChain(s.ID))})
				sg.rules = append(sg.rules, baseRule{chain: "forward", exprs: j}, baseRule{chain: "input", exprs: j})
			}
			sg.rules = append(sg.rules, spoofRules(s)...)
			out = append(out, sg)
		}
	}
	return out
}

// Apply makes the kernel's tables NAME match t, in one atomic batch.
// Only what changed is touched: groups of base-chain rules whose hash
// differs are replaced, a changed sandbox's own chains are refilled,
// sets and counters survive (learnt addresses and counts are kept), and
// what belongs to departed sandboxes and networks is deleted.
func Apply(t *Table) error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	ip := &nftables.Table{Name: t.Name, Family: nftables.TableFamilyIPv4}
	br := &nftables.Table{Name: t.Name, Family: nftables.TableFamilyBridge}
	have, err := readTable(c, ip, br)
	if err != nil {
		return err
	}
	b := &batch{c: c, ip: ip, br: br, chains: map[string]*nftables.Chain{}}
	if !have.ipTable {
		c.AddTable(ip)
	}
	// The bridge table filters what every sandbox sends through its veth
	// (spoof.go); without sandboxes its hook is not needed.
	needBr := have.brTable
	for _, n := range t.Networks {
		needBr = needBr || len(n.Sandboxes) > 0
	}
	if needBr && !have.brTable {
		c.AddTable(br)
	}
	for _, bc := range baseChains {
		ch := &nftables.Chain{Name: bc.name, Table: ip, Type: bc.typ, Hooknum: bc.hook, Priority: bc.prio}
		if !have.chains[bc.name] {
			c.AddChain(ch)
			b.dirty = true
		}
		b.chains[bc.name] = ch
	}
	inbound := &nftables.Chain{Name: inboundChain, Table: ip}
	if !have.chains[inboundChain] {
		c.AddChain(inbound)
		b.dirty = true
	}
	b.chains[inboundChain] = inbound
	spoof := &nftables.Chain{Name: spoofChain, Table: br, Type: nftables.ChainTypeFilter,
		Hooknum: nftables.ChainHookPrerouting, Priority: nftables.ChainPriorityRef(-300)}
	if needBr && !have.brChain {
		c.AddChain(spoof)
		b.dirty = true
	}
	b.chains["br:"+spoofChain] = spoof

	want := groups(t)
	wantKeys := map[string]*group{}
	for _, g := range want {
		wantKeys[g.key] = g
	}
	// 1. Rules of groups that are gone or changed.
	for key, rules := range have.groups {
		if g := wantKeys[key]; g == nil || g.hash != have.hashes[key] {
			for _, r := range rules {
				if err := c.DelRule(r); err != nil {
					return fmt.Errorf("nftables: delete rule of %s: %w", key, err)
				}
				b.dirty = true
			}
		}
	}
	// 2. Objects of departed sandboxes (nothing references them any more).
	wantObj := map[string]bool{}
	for _, g := range want {
		if s := g.sandbox; s != nil {
			wantObj[sandboxChain(s.ID)], wantObj[EgressChain(s.ID)] = true, true
			if s.Egress != nil {
				wantObj[DenyCounter(s.ID)] = true
				if s.Egress.Domains {
					wantObj[DomainSet(s.ID)] = true
				}
			}
		}
	}
	for name := range have.chains {
		if (strings.HasPrefix(name, "pf_") || strings.HasPrefix(name, "eg_")) && !wantObj[name] {
			ch := &nftables.Chain{Name: name, Table: ip}
			c.FlushChain(ch)
			c.DelChain(ch)
			b.dirty = true
		}
	}
	// 3. Changed and new groups.
	for _, g := range want {
		if _, ok := have.groups[g.key]; ok && g.hash == have.hashes[g.key] {
			continue
		}
		if g.sandbox != nil {
			if err := b.fillSandbox(g.network, g.sandbox, have); err != nil {
				return err
			}
		}
		comment := userdata.AppendString(nil, userdata.TypeComment, "g "+g.key+" "+g.hash)
		for _, r := range g.rules {
			ch := b.chains[r.chain]
			tbl := ip
			if r.bridge {
				ch, tbl = b.chains["br:"+r.chain], br
			}
			rule := &nftables.Rule{Table: tbl, Chain: ch, Exprs: r.exprs, UserData: comment}
			if r.first {
				c.InsertRule(rule)
			} else {
				c.AddRule(rule)
			}
		}
		b.dirty = true
	}
	// Sets and counters of departed sandboxes go last: the chains using them
	// were deleted or refilled above in this same transaction.
	for name := range have.sets {
		if !wantObj[name] {
			c.DelSet(&nftables.Set{Name: name, Table: ip})
			b.dirty = true
		}
	}
	for name := range have.counters {
		if !wantObj[name] {
			c.DeleteObject(&nftables.CounterObj{Name: name, Table: ip})
			b.dirty = true
		}
	}
	if !b.dirty {
		return nil
	}
	if err := c.Flush(); err != nil {
		return fmt.Errorf("apply nftables table %s: %w", t.Name, err)
	}
	return nil
}

type batch struct {
	c      *nftables.Conn
	ip, br *nftables.Table
	chains map[string]*nftables.Chain
	dirty  bool
}

// fillSandbox (re)creates a sandbox's own chains: pf_ID with its DNAT
// rules and eg_ID with its egress policy, plus its set and counter.
func (b *batch) fillSandbox(n *Network, s *Sandbox, have *tableState) error {
	c := b.c
	pf := &nftables.Chain{Name: sandboxChain(s.ID), Table: b.ip}
	eg := &nftables.Chain{Name: EgressChain(s.ID), Table: b.ip}
	for _, ch := range []*nftables.Chain{pf, eg} {
		if have.chains[ch.Name] {
			c.FlushChain(ch)
		} else {
			c.AddChain(ch)
		}
	}
	for _, f := range s.Forwards {
		comment := userdata.AppendString(nil, userdata.TypeComment, ForwardComment(f))
		for _, e := range dnatRules(*s, f) {
			c.AddRule(&nftables.Rule{Table: b.ip, Chain: pf, Exprs: e, UserData: comment})
		}
	}
	if s.Egress == nil {
		return nil
	}
	if !have.counters[DenyCounter(s.ID)] {
		c.AddObj(&nftables.CounterObj{Table: b.ip, Name: DenyCounter(s.ID)})
	}
	var set *nftables.Set
	if s.Egress.Domains {
		set = &nftables.Set{Table: b.ip, Name: DomainSet(s.ID), KeyType: nftables.TypeIPAddr, HasTimeout: true}
		if !have.sets[set.Name] {
			if err := c.AddSet(set, nil); err != nil {
				return fmt.Errorf("nftables set %s: %w", set.Name, err)
			}
		}
	}
	for _, r := range egressRules(*n, *s, set) {
		c.AddRule(&nftables.Rule{Table: b.ip, Chain: eg, Exprs: r})
	}
	return nil
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

// ForwardComment tags a DNAT rule so that other projects (any state root)
// can see which host ports are taken: "pf PROTO HOSTIP START END".
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

// tableState is what the kernel holds of a project's tables.
type tableState struct {
	ipTable, brTable, brChain bool
	chains, sets, counters    map[string]bool
	groups                    map[string][]*nftables.Rule // base-chain rules by group key
	hashes                    map[string]string
}

func readTable(c *nftables.Conn, ip, br *nftables.Table) (*tableState, error) {
	s := &tableState{chains: map[string]bool{}, sets: map[string]bool{}, counters: map[string]bool{},
		groups: map[string][]*nftables.Rule{}, hashes: map[string]string{}}
	tables, err := c.ListTables()
	if err != nil {
		return nil, fmt.Errorf("list nftables tables: %w", err)
	}
	for _, t := range tables {
		if t.Name == ip.Name && t.Family == ip.Family {
			s.ipTable = true
		}
		if t.Name == br.Name && t.Family == br.Family {
			s.brTable = true
		}
	}
	collect := func(t *nftables.Table, chain string) error {
		rules, err := c.GetRules(t, &nftables.Chain{Name: chain, Table: t})
		if err != nil {
			return fmt.Errorf("list rules of %s: %w", chain, err)
		}
		for _, r := range rules {
			cm, _ := userdata.GetString(r.UserData, userdata.TypeComment)
			f := strings.Fields(cm)
			if len(f) == 3 && f[0] == "g" {
				s.groups[f[1]] = append(s.groups[f[1]], r)
				s.hashes[f[1]] = f[2]
			}
		}
		return nil
	}
	if s.ipTable {
		chains, err := c.ListChainsOfTableFamily(nftables.TableFamilyIPv4)
		if err != nil {
			return nil, fmt.Errorf("list nftables chains: %w", err)
		}
		for _, ch := range chains {
			if ch.Table.Name == ip.Name {
				s.chains[ch.Name] = true
				if ch.Hooknum != nil || ch.Name == inboundChain {
					if err := collect(ip, ch.Name); err != nil {
						return nil, err
					}
				}
			}
		}
		sets, err := c.GetSets(ip)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("list nftables sets of %s: %w", ip.Name, err)
		}
		for _, st := range sets {
			s.sets[st.Name] = true
		}
		objs, err := c.GetObjects(ip)
		if err != nil && !errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("list nftables objects of %s: %w", ip.Name, err)
		}
		for _, o := range objs {
			if co, ok := o.(*nftables.CounterObj); ok {
				s.counters[co.Name] = true
			}
		}
	}
	if s.brTable {
		if err := collect(br, spoofChain); err == nil {
			s.brChain = true
		}
	}
	return s, nil
}
