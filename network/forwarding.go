package network

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
)

// forwardMarker says that nucleus switched net.ipv4.ip_forward on. It is
// host-wide (every state root shares the sysctl) and lives in /run, so a
// reboot, which resets the sysctl, forgets it too.
var forwardMarker = "/run/nucleus-ip_forward.enabled-by-nucleus" // a var for tests in their own netns

// enableForwarding turns on net.ipv4.ip_forward when it is off (published
// ports and masquerade need it) and notes that nucleus did so. Called with
// the host lock held.
func enableForwarding() error {
	if readSysctl("net/ipv4/ip_forward") == "1" {
		return nil
	}
	note := fmt.Sprintf("net.ipv4.ip_forward was 0; nucleus set it to 1 at %s\n", time.Now().UTC().Format(time.RFC3339))
	if err := os.WriteFile(forwardMarker, []byte(note), 0o600); err != nil {
		return fmt.Errorf("note that nucleus enables ip_forward: %w", err)
	}
	return writeSysctl("net/ipv4/ip_forward", "1")
}

// restoreForwarding switches net.ipv4.ip_forward back off when nucleus
// switched it on and no nucleus bridge of any state root is left on the
// host. Called with the host lock held, after a network's bridge is gone.
func restoreForwarding() error {
	if _, err := os.Stat(forwardMarker); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		return fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		if l.Type() == "bridge" && strings.HasPrefix(l.Attrs().Name, bridgePrefix) && strings.HasPrefix(l.Attrs().Alias, aliasPrefix) {
			return nil // another network still needs it
		}
	}
	if err := writeSysctl("net/ipv4/ip_forward", "0"); err != nil {
		return err
	}
	if err := os.Remove(forwardMarker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", forwardMarker, err)
	}
	return nil
}
