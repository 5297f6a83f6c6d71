package nft

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"unsafe"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"golang.org/x/sys/unix"
)

// Docker on the same host.
//
// dockerd sets the policy of the iptables FORWARD chain to DROP (when it
// switches ip_forward on itself, and always in newer releases). Every base
// chain on a hook is evaluated on its own and a drop in any of them is
// final, so the accepts of nucleus's own forward chain do not count there:
// without help, forwarded traffic of kernel-NAT sandboxes (service to
// service, egress, published ports from other hosts) is dropped. No rule in
// a table of nucleus can override that; the only way through is a rule in
// Docker's own FORWARD path, and Docker's documented place for such rules
// is the chain DOCKER-USER, which FORWARD jumps to first and which Docker
// never changes after creating it.
//
// nucleus therefore keeps these rules at the top of DOCKER-USER while any
// nucleus bridge exists on the host (the network package decides when):
//
//	-i ncb+ -o docker0 -j RETURN   a sandbox's packets to Docker's bridges
//	-i ncb+ -o br-+    -j RETURN   go on through Docker's own rules, so a
//	                               sandbox reaches a container only where
//	                               any foreign host would (published ports)
//	-i ncb+ -j ACCEPT              out of the bridges: egress, peers
//	-o ncb+ -j ACCEPT              into the bridges: answers, published ports
//
// each tagged with the comment DockerUserComment. An accept there only ends
// Docker's chain: nucleus's own tables (egress rejects, the inbound chain,
// the internal-network rejects, the bridge anti-spoofing table) still see
// every packet and decide.
//
// With iptables-nft (the default of current distributions) Docker's chains
// are the nftables table "ip filter"; the rules are written there over
// netlink, encoded exactly as iptables-nft encodes them (interface matches,
// the xt comment match, a counter, the verdict), so `iptables -S
// DOCKER-USER` lists them and Docker's own iptables calls parse the chain.
// With iptables-legacy the chain lives in the kernel's xtables and the
// rules are written with the iptables-legacy binary.

// DockerUserComment tags nucleus's rules in DOCKER-USER.
const DockerUserComment = "nucleus: kernel-NAT bridges"

// DockerUserChain is Docker's chain for rules of other owners.
const DockerUserChain = "DOCKER-USER"

type dockerRule struct {
	in, out string // interface names; a trailing '+' is a prefix (iptables)
	verdict expr.VerdictKind
}

func dockerUserRules(prefix string) []dockerRule {
	return []dockerRule{
		{in: prefix + "+", out: "docker0", verdict: expr.VerdictReturn},
		{in: prefix + "+", out: "br-+", verdict: expr.VerdictReturn},
		{in: prefix + "+", verdict: expr.VerdictAccept},
		{out: prefix + "+", verdict: expr.VerdictAccept},
	}
}

// args is the rule in iptables syntax (for iptables-legacy).
func (r dockerRule) args() []string {
	var a []string
	if r.in != "" {
		a = append(a, "-i", r.in)
	}
	if r.out != "" {
		a = append(a, "-o", r.out)
	}
	a = append(a, "-m", "comment", "--comment", DockerUserComment, "-j")
	if r.verdict == expr.VerdictReturn {
		return append(a, "RETURN")
	}
	return append(a, "ACCEPT")
}

// iptIfname is an interface name as iptables-nft compares it: "name+"
// compares the prefix only, an exact name includes its terminating NUL.
func iptIfname(key expr.MetaKey, name string) []expr.Any {
	data := []byte(name + "\x00")
	if strings.HasSuffix(name, "+") {
		data = []byte(strings.TrimSuffix(name, "+"))
	}
	return []expr.Any{
		&expr.Meta{Key: key, Register: 1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data},
	}
}

func (r dockerRule) exprs() []expr.Any {
	var out []expr.Any
	if r.in != "" {
		out = append(out, iptIfname(expr.MetaKeyIIFNAME, r.in)...)
	}
	if r.out != "" {
		out = append(out, iptIfname(expr.MetaKeyOIFNAME, r.out)...)
	}
	c := xt.Comment(DockerUserComment)
	return append(out,
		&expr.Match{Name: "comment", Rev: 0, Info: &c},
		&expr.Counter{},
		&expr.Verdict{Kind: r.verdict})
}

// ours says whether a rule carries nucleus's comment.
func ours(r *nftables.Rule) bool {
	for _, e := range r.Exprs {
		if m, ok := e.(*expr.Match); ok && m.Name == "comment" {
			if c, ok := m.Info.(*xt.Comment); ok && string(*c) == DockerUserComment {
				return true
			}
			if u, ok := m.Info.(*xt.Unknown); ok && string(bytes.TrimRight(*u, "\x00")) == DockerUserComment {
				return true
			}
		}
	}
	return false
}

// sameRule compares a rule read back with a wanted one (the counter's
// values aside).
func sameRule(r *nftables.Rule, want dockerRule) bool {
	w := want.exprs()
	if len(r.Exprs) != len(w) {
		return false
	}
	for i, e := range r.Exprs {
		switch g := e.(type) {
		case *expr.Meta:
			x, ok := w[i].(*expr.Meta)
			if !ok || x.Key != g.Key {
				return false
			}
		case *expr.Cmp:
			x, ok := w[i].(*expr.Cmp)
			if !ok || x.Op != g.Op || !bytes.Equal(x.Data, g.Data) {
				return false
			}
		case *expr.Match:
			if _, ok := w[i].(*expr.Match); !ok || !ours(r) {
				return false
			}
		case *expr.Counter:
			if _, ok := w[i].(*expr.Counter); !ok {
				return false
			}
		case *expr.Verdict:
			x, ok := w[i].(*expr.Verdict)
			if !ok || x.Kind != g.Kind {
				return false
			}
		default:
			return false
		}
	}
	return true
}

var filterTable = &nftables.Table{Name: "filter", Family: nftables.TableFamilyIPv4}

// dockerUserNFT returns the DOCKER-USER chain of iptables-nft and its
// rules; a nil chain when there is none.
func dockerUserNFT(c *nftables.Conn) (*nftables.Chain, []*nftables.Rule, error) {
	// One GETCHAIN of that name, not a dump of every chain: a Kubernetes
	// node may have thousands, and the watch asks every few seconds.
	ch, err := c.ListChain(filterTable, DockerUserChain)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || strings.Contains(err.Error(), unix.ENOENT.Error()) {
			return nil, nil, nil // no such table or chain
		}
		return nil, nil, fmt.Errorf("look up ip filter %s: %w", DockerUserChain, err)
	}
	ch.Table = filterTable
	rules, err := c.GetRules(filterTable, ch)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, nil, nil // gone meanwhile
		}
		return nil, nil, fmt.Errorf("list rules of ip filter %s: %w", DockerUserChain, err)
	}
	return ch, rules, nil
}

// DockerUser says how nucleus's rules stand in Docker's chain.
type DockerUser struct {
	NFT, Legacy bool // the chain exists (iptables-nft / iptables-legacy)
	NFTRules    int  // nucleus rules in the nftables chain
	NFTComplete bool // exactly the wanted rules, in order
	LegacyRules int  // nucleus rules in the legacy chain
}

// DockerUserState reads both backends (no changes).
func DockerUserState(prefix string) (DockerUser, error) {
	var st DockerUser
	c, err := nftables.New()
	if err != nil {
		return st, fmt.Errorf("nftables: %w", err)
	}
	ch, rules, err := dockerUserNFT(c)
	if err != nil {
		return st, err
	}
	if ch != nil {
		st.NFT = true
		var mine []*nftables.Rule
		for _, r := range rules {
			if ours(r) {
				mine = append(mine, r)
			}
		}
		st.NFTRules = len(mine)
		st.NFTComplete = completeNFT(mine, prefix)
	}
	entries, err := legacyFilterEntries()
	if err != nil {
		return st, err
	}
	if chainIn(entries, DockerUserChain) {
		st.Legacy = true
		st.LegacyRules = bytes.Count(entries, append([]byte(DockerUserComment), 0))
	}
	return st, nil
}

func completeNFT(mine []*nftables.Rule, prefix string) bool {
	want := dockerUserRules(prefix)
	if len(mine) != len(want) {
		return false
	}
	for i := range want {
		if !sameRule(mine[i], want[i]) {
			return false
		}
	}
	return true
}

// Needed says whether EnsureDockerUser would change anything.
func (st DockerUser) Needed(prefix string) bool {
	return (st.NFT && !st.NFTComplete) || (st.Legacy && st.LegacyRules != len(dockerUserRules(prefix)))
}

// Present says whether any nucleus rule is in Docker's chains.
func (st DockerUser) Present() bool { return st.NFTRules > 0 || st.LegacyRules > 0 }

// EnsureDockerUser puts nucleus's rules (interfaces prefix+) at the top of
// every DOCKER-USER chain on the host that lacks them, replacing an
// incomplete or outdated set; a complete set stays where it is (a rule the
// administrator put above it keeps its place). No DOCKER-USER chain:
// nothing to do. Returns whether it changed anything.
func EnsureDockerUser(prefix string) (bool, error) {
	changed := false
	c, err := nftables.New()
	if err != nil {
		return false, fmt.Errorf("nftables: %w", err)
	}
	var errs []error
	for try := 0; ; try++ {
		ch, rules, err := dockerUserNFT(c)
		if err != nil || ch == nil {
			if err != nil {
				errs = append(errs, err)
			}
			break
		}
		var mine []*nftables.Rule
		for _, r := range rules {
			if ours(r) {
				mine = append(mine, r)
			}
		}
		if completeNFT(mine, prefix) {
			break
		}
		for _, r := range mine {
			c.DelRule(r)
		}
		want := dockerUserRules(prefix)
		for i := len(want) - 1; i >= 0; i-- { // each insert goes to the top
			c.InsertRule(&nftables.Rule{Table: filterTable, Chain: ch, Exprs: want[i].exprs()})
		}
		if err := c.Flush(); err != nil {
			if try < 2 && (errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EBUSY)) {
				continue // the chain changed meanwhile: read it again
			}
			errs = append(errs, fmt.Errorf("add nucleus rules to ip filter %s: %w", DockerUserChain, err))
			break
		}
		changed = true
		break
	}
	lc, err := ensureLegacy(prefix)
	if err != nil {
		errs = append(errs, err)
	}
	return changed || lc, errors.Join(errs...)
}

// RemoveDockerUser deletes nucleus's rules from every DOCKER-USER chain.
func RemoveDockerUser() error {
	c, err := nftables.New()
	if err != nil {
		return fmt.Errorf("nftables: %w", err)
	}
	var errs []error
	for try := 0; ; try++ {
		ch, rules, err := dockerUserNFT(c)
		if err != nil {
			errs = append(errs, err)
			break
		}
		n := 0
		for _, r := range rules {
			if ours(r) {
				c.DelRule(r)
				n++
			}
		}
		if ch == nil || n == 0 {
			break
		}
		if err := c.Flush(); err != nil {
			if try < 2 && errors.Is(err, unix.ENOENT) {
				continue
			}
			errs = append(errs, fmt.Errorf("remove nucleus rules from ip filter %s: %w", DockerUserChain, err))
		}
		break
	}
	if err := removeLegacy(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// iptables-legacy: Docker's chains in the kernel's xtables. Reading is a
// getsockopt of the filter table's blob (only when the table is loaded:
// asking for it by name would load it); changes go through the
// iptables-legacy binary, which does the table replacement right.

func legacyTableNames() ([]string, error) {
	b, err := os.ReadFile("/proc/net/ip_tables_names")
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(b)), nil
}

func legacyFilterLoaded() bool { return legacyTableLoaded("filter") }

// legacyFilterEntries returns the raw entries of the legacy filter table
// (nil when it is not loaded).
func legacyFilterEntries() ([]byte, error) {
	if !legacyFilterLoaded() {
		return nil, nil
	}
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_RAW)
	if err != nil {
		return nil, fmt.Errorf("xtables socket: %w", err)
	}
	defer unix.Close(fd)
	const (
		soGetInfo    = 64 // IPT_SO_GET_INFO
		soGetEntries = 65 // IPT_SO_GET_ENTRIES
		nameLen      = 32
	)
	// struct ipt_getinfo: name[32], valid_hooks, hook_entry[5], underflow[5], num_entries, size.
	for try := 0; try < 3; try++ {
		info := make([]byte, nameLen+4+5*4+5*4+4+4)
		copy(info, "filter")
		if err := getsockopt(fd, soGetInfo, info); err != nil {
			if errors.Is(err, unix.ENOENT) {
				return nil, nil
			}
			return nil, fmt.Errorf("xtables filter info: %w", err)
		}
		size := int(nativeUint32(info[len(info)-4:]))
		// struct ipt_get_entries: name[32], size, then the entries (8-aligned).
		buf := make([]byte, 40+size)
		copy(buf, "filter")
		putNativeUint32(buf[nameLen:], uint32(size))
		if err := getsockopt(fd, soGetEntries, buf); err != nil {
			if errors.Is(err, unix.EAGAIN) {
				continue // the table changed between the two calls
			}
			return nil, fmt.Errorf("xtables filter entries: %w", err)
		}
		return buf[40:], nil
	}
	return nil, fmt.Errorf("xtables filter entries: the table keeps changing")
}

// chainIn says whether the table blob has a user chain named name (an
// ERROR target whose data is the chain name).
func chainIn(entries []byte, name string) bool {
	if entries == nil {
		return false
	}
	// struct xt_error_target: target header (u16 size, name[29], u8 revision) then errorname[30].
	pat := make([]byte, 29+1)
	copy(pat, "ERROR")
	i := 0
	for {
		j := bytes.Index(entries[i:], pat)
		if j < 0 {
			return false
		}
		k := i + j + len(pat)
		if k+len(name)+1 <= len(entries) && string(entries[k:k+len(name)]) == name && entries[k+len(name)] == 0 {
			return true
		}
		i += j + 1
	}
}

var iptablesLegacy = "iptables-legacy"

func runLegacy(args ...string) error {
	out, err := exec.Command(iptablesLegacy, append([]string{"-w", "5"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", iptablesLegacy, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func ensureLegacy(prefix string) (bool, error) {
	entries, err := legacyFilterEntries()
	if err != nil || !chainIn(entries, DockerUserChain) {
		return false, err
	}
	want := dockerUserRules(prefix)
	if bytes.Count(entries, append([]byte(DockerUserComment), 0)) == len(want) {
		return false, nil
	}
	if _, err := exec.LookPath(iptablesLegacy); err != nil {
		return false, fmt.Errorf("Docker's %s chain is in iptables-legacy, and %s is not installed: nucleus cannot let its bridges through Docker's FORWARD policy", DockerUserChain, iptablesLegacy)
	}
	if err := removeLegacy(); err != nil {
		return false, err
	}
	for i := len(want) - 1; i >= 0; i-- {
		if err := runLegacy(append([]string{"-I", DockerUserChain}, want[i].args()...)...); err != nil {
			return true, err
		}
	}
	return true, nil
}

// removeLegacy deletes every rule with nucleus's comment from the legacy
// DOCKER-USER chain (by number: whatever interfaces they name).
func removeLegacy() error {
	entries, err := legacyFilterEntries()
	if err != nil || !chainIn(entries, DockerUserChain) || !bytes.Contains(entries, append([]byte(DockerUserComment), 0)) {
		return err
	}
	if _, err := exec.LookPath(iptablesLegacy); err != nil {
		return fmt.Errorf("remove nucleus rules from the iptables-legacy %s chain: %s is not installed", DockerUserChain, iptablesLegacy)
	}
	for n := 0; n < 64; n++ {
		out, err := exec.Command(iptablesLegacy, "-w", "5", "-S", DockerUserChain).Output()
		if err != nil {
			return fmt.Errorf("%s -S %s: %w", iptablesLegacy, DockerUserChain, err)
		}
		num := 0
		found := 0
		for _, l := range strings.Split(string(out), "\n") {
			if !strings.HasPrefix(l, "-A ") {
				continue
			}
			num++
			if strings.Contains(l, `--comment "`+DockerUserComment+`"`) {
				found = num
				break
			}
		}
		if found == 0 {
			return nil
		}
		if err := runLegacy("-D", DockerUserChain, fmt.Sprint(found)); err != nil {
			return err
		}
	}
	return fmt.Errorf("remove nucleus rules from the iptables-legacy %s chain: too many", DockerUserChain)
}

func getsockopt(fd, opt int, buf []byte) error {
	l := uint32(len(buf))
	_, _, e := unix.Syscall6(unix.SYS_GETSOCKOPT, uintptr(fd), unix.SOL_IP, uintptr(opt),
		uintptr(unsafe.Pointer(&buf[0])), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return e
	}
	return nil
}

func nativeUint32(b []byte) uint32       { return binary.NativeEndian.Uint32(b) }
func binaryNative16(b []byte) uint16     { return binary.NativeEndian.Uint16(b) }
func putNativeUint32(b []byte, v uint32) { binary.NativeEndian.PutUint32(b, v) }
