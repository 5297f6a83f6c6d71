package network

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// A full subnet stays full on every retry: the error says so (Permanent),
// so up --wait fails at once instead of waiting (issue 11, defect 10).
func TestAllocAddrFullSubnetIsPermanent(t *testing.T) {
	_, c, _ := net.ParseCIDR("10.89.0.0/29") // .2 to .6: five host addresses
	taken := map[string]bool{}
	for i := 0; i < 5; i++ {
		ip, err := allocAddr(c, taken)
		if err != nil {
			t.Fatalf("address %d of 5: %v", i+1, err)
		}
		taken[ip.String()] = true
	}
	_, err := allocAddr(c, taken)
	var p interface{ Permanent() bool }
	if err == nil || !strings.Contains(err.Error(), "no free address left in 10.89.0.0/29") || !errors.As(err, &p) || !p.Permanent() {
		t.Fatalf("sixth address: %v, want a permanent 'no free address left' error", err)
	}
}
