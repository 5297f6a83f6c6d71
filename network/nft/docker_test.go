package nft

import (
	"net"
	"strings"
	"testing"

	"nucleus/internal/testutil"
)

// inOwnNetns runs the calling test again in a network namespace of its own
// (iptables and nftables state is per namespace), so it neither sees nor
// changes the host's firewall. It returns true in the parent, which is done.
func inOwnNetns(t *testing.T) bool {
	t.Helper()
	return testutil.RerunInOwnNetns(t)
}

func needBinary(t *testing.T, name string) {
	t.Helper()
	testutil.RequireBinary(t, name, "make deps installs docker.io, which brings it")
}

func ipt(t *testing.T, bin string, args ...string) string {
	t.Helper()
	return testutil.Run(t, bin, args...)
}

const wantDockerUser = `-N DOCKER-USER
-A DOCKER-USER -i ncb+ -o docker0 -m comment --comment "nucleus: kernel-NAT bridges" -j RETURN
-A DOCKER-USER -i ncb+ -o br-+ -m comment --comment "nucleus: kernel-NAT bridges" -j RETURN
-A DOCKER-USER -i ncb+ -m comment --comment "nucleus: kernel-NAT bridges" -j ACCEPT
-A DOCKER-USER -o ncb+ -m comment --comment "nucleus: kernel-NAT bridges" -j ACCEPT
`

// The rules nucleus writes into Docker's DOCKER-USER chain read back in
// iptables syntax, exactly as if iptables had written them (Docker's own
// iptables calls must keep parsing the chain), stay above Docker's RETURN,
// are not duplicated and go again without touching other rules — for
// iptables-nft (over netlink) and iptables-legacy.
func TestDockerUserRules(t *testing.T) {
	if inOwnNetns(t) {
		return
	}
	for _, backend := range []string{"iptables-nft", "iptables-legacy"} {
		t.Run(backend, func(t *testing.T) {
			needBinary(t, backend)
			if st, err := DockerUserState("ncb"); err != nil || st.NFT || st.Legacy || st.Present() {
				t.Fatalf("state without a chain: %+v, %v", st, err)
			}
			if ch, err := EnsureDockerUser("ncb"); err != nil || ch {
				t.Fatalf("EnsureDockerUser without a chain: %v, %v; want nothing done", ch, err)
			}
			// What dockerd does.
			ipt(t, backend, "-N", "DOCKER-USER")
			ipt(t, backend, "-A", "DOCKER-USER", "-j", "RETURN")
			ipt(t, backend, "-I", "FORWARD", "-j", "DOCKER-USER")
			ipt(t, backend, "-P", "FORWARD", "DROP")
			defer func() {
				ipt(t, backend, "-P", "FORWARD", "ACCEPT")
				ipt(t, backend, "-D", "FORWARD", "-j", "DOCKER-USER")
				ipt(t, backend, "-F", "DOCKER-USER")
				ipt(t, backend, "-X", "DOCKER-USER")
			}()
			st, err := DockerUserState("ncb")
			if err != nil || !st.Needed("ncb") || st.Present() {
				t.Fatalf("state with an empty chain: %+v, %v", st, err)
			}
			for i := 0; i < 2; i++ {
				ch, err := EnsureDockerUser("ncb")
				if err != nil || ch != (i == 0) {
					t.Fatalf("EnsureDockerUser #%d: changed %v, %v", i+1, ch, err)
				}
			}
			if got := ipt(t, backend, "-S", "DOCKER-USER"); got != wantDockerUser+"-A DOCKER-USER -j RETURN\n" {
				t.Fatalf("DOCKER-USER:\n%s\nwant:\n%s", got, wantDockerUser)
			}
			// iptables finds them by their specification (Docker's -C checks).
			ipt(t, backend, "-C", "DOCKER-USER", "-o", "ncb+", "-m", "comment", "--comment", DockerUserComment, "-j", "ACCEPT")
			if st, err := DockerUserState("ncb"); err != nil || st.Needed("ncb") || !st.Present() {
				t.Fatalf("state after ensure: %+v, %v", st, err)
			}

			// One rule lost (a firewall reload, an administrator): the set is
			// put back whole, other rules stay.
			ipt(t, backend, "-D", "DOCKER-USER", "3")
			ipt(t, backend, "-I", "DOCKER-USER", "-s", "192.0.2.1", "-j", "DROP")
			if ch, err := EnsureDockerUser("ncb"); err != nil || !ch {
				t.Fatalf("EnsureDockerUser after a lost rule: %v, %v", ch, err)
			}
			if got := ipt(t, backend, "-S", "DOCKER-USER"); !strings.Contains(got, strings.TrimPrefix(wantDockerUser, "-N DOCKER-USER\n")+"-A DOCKER-USER -s 192.0.2.1/32 -j DROP\n-A DOCKER-USER -j RETURN\n") {
				t.Fatalf("DOCKER-USER after repair:\n%s", got)
			}

			if err := RemoveDockerUser(); err != nil {
				t.Fatal(err)
			}
			if got := ipt(t, backend, "-S", "DOCKER-USER"); got != "-N DOCKER-USER\n-A DOCKER-USER -s 192.0.2.1/32 -j DROP\n-A DOCKER-USER -j RETURN\n" {
				t.Fatalf("DOCKER-USER after RemoveDockerUser:\n%s", got)
			}
			if st, err := DockerUserState("ncb"); err != nil || st.Present() {
				t.Fatalf("state after remove: %+v, %v", st, err)
			}
			if err := RemoveDockerUser(); err != nil {
				t.Fatalf("second RemoveDockerUser: %v", err)
			}
			ipt(t, backend, "-D", "DOCKER-USER", "1")
		})
	}
}

// ForwardUsers: empty accepting chains (what any iptables command leaves)
// are no users; rules or a DROP policy on forward, or a masquerade, are;
// nucleus's own tables are not.
func TestForwardUsers(t *testing.T) {
	if inOwnNetns(t) {
		return
	}
	none := func(when string) {
		t.Helper()
		if u, err := ForwardUsers("nucleus_"); err != nil || len(u) != 0 {
			t.Fatalf("%s: ForwardUsers = %v, %v; want none", when, u, err)
		}
	}
	some := func(when string) {
		t.Helper()
		if u, err := ForwardUsers("nucleus_"); err != nil || len(u) == 0 {
			t.Fatalf("%s: ForwardUsers = %v, %v; want a user", when, u, err)
		}
	}
	none("new namespace")
	if err := Apply(&Table{Name: "nucleus_test", Networks: []Network{{Bridge: "ncbtest", Subnet: cidr("10.99.0.0/24"), Gateway: net.ParseIP("10.99.0.1")}}}); err != nil {
		t.Fatal(err)
	}
	none("nucleus's own table")
	for _, backend := range []string{"iptables-nft", "iptables-legacy"} {
		t.Run(backend, func(t *testing.T) {
			needBinary(t, backend)
			ipt(t, backend, "-S")
			ipt(t, backend, "-t", "nat", "-S")
			none("empty iptables tables")
			ipt(t, backend, "-P", "FORWARD", "DROP")
			some("FORWARD policy DROP")
			ipt(t, backend, "-P", "FORWARD", "ACCEPT")
			none("FORWARD policy back to ACCEPT")
			ipt(t, backend, "-A", "FORWARD", "-i", "docker0", "-j", "ACCEPT")
			some("a FORWARD rule")
			ipt(t, backend, "-D", "FORWARD", "-i", "docker0", "-j", "ACCEPT")
			none("the rule deleted")
			ipt(t, backend, "-t", "nat", "-A", "POSTROUTING", "-s", "172.17.0.0/16", "-j", "MASQUERADE")
			some("a masquerade")
			ipt(t, backend, "-t", "nat", "-D", "POSTROUTING", "-s", "172.17.0.0/16", "-j", "MASQUERADE")
			none("the masquerade deleted")
		})
	}
	if err := Delete("nucleus_test"); err != nil {
		t.Fatal(err)
	}
}
