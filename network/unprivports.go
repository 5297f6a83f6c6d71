package network

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// unprivPortSysctl is where the kernel says from which port on an
// unprivileged process may bind; below it, a rootless backend's listener
// (slirp4netns's hostfwd) would fail with a bare "permission denied".
const unprivPortSysctl = "/proc/sys/net/ipv4/ip_unprivileged_port_start"

// checkUnprivilegedPorts refuses, for a process that is not root
// (euid != 0), every published host port below the sysctl's value, naming
// the sysctl, so the user learns the fix instead of slirp4netns's error.
func checkUnprivilegedPorts(euid int, ports []Port) error {
	if euid == 0 {
		return nil
	}
	start, err := unprivilegedPortStart()
	if err != nil {
		return err
	}
	for _, p := range ports {
		lo, _ := portRange(p)
		if lo != 0 && lo < start {
			return permanent(fmt.Errorf("published port %d/%s is below net.ipv4.ip_unprivileged_port_start=%d: "+
				"a user other than root can bind only ports >= %d; publish a higher port, or lower the sysctl as root "+
				"(sysctl -w net.ipv4.ip_unprivileged_port_start=%d)", lo, protoOf(p), start, start, lo))
		}
	}
	return nil
}

// CheckUnprivilegedPorts is the check attach makes, for the calling
// process: validate runs it ahead, so a rootless user learns of a low port
// before up starts anything.
func CheckUnprivilegedPorts(ports []Port) error {
	return checkUnprivilegedPorts(os.Geteuid(), ports)
}

func unprivilegedPortStart() (int, error) {
	b, err := os.ReadFile(unprivPortSysctl)
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", unprivPortSysctl, err)
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: expected a port number, got %q", unprivPortSysctl, strings.TrimSpace(string(b)))
	}
	return v, nil
}
