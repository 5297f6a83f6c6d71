package network

import (
	"fmt"
	"strings"
	"testing"
)

// A user other than root is told which sysctl keeps it from publishing a
// low port, before slirp4netns fails with a bare "permission denied".
func TestUnprivilegedPortRefused(t *testing.T) {
	start, err := unprivilegedPortStart()
	if err != nil {
		t.Fatal(err)
	}
	if start == 0 {
		t.Skip("net.ipv4.ip_unprivileged_port_start is 0 here: every port is allowed")
	}
	low := []Port{{Target: 80, Published: start - 1, Protocol: "tcp"}}
	err = checkUnprivilegedPorts(1000, low)
	if err == nil {
		t.Fatalf("port %d as uid 1000: accepted, want an error naming the sysctl", start-1)
	}
	for _, want := range []string{fmt.Sprint(start-1) + "/tcp", "net.ipv4.ip_unprivileged_port_start=" + fmt.Sprint(start)} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if err := checkUnprivilegedPorts(0, low); err != nil {
		t.Errorf("root publishing port %d: %v", start-1, err)
	}
	ok := []Port{{Target: 80, Published: start, Protocol: "tcp"}, {Target: 81}}
	if err := checkUnprivilegedPorts(1000, ok); err != nil {
		t.Errorf("port %d and an unpublished one as uid 1000: %v", start, err)
	}
}
