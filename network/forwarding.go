package network

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"

	"nucleus/network/nft"
)

// forwardMarker says that nucleus switched net.ipv4.ip_forward on. It is
// host-wide (every state root shares the sysctl) and lives in /run, so a
// reboot, which resets the sysctl, forgets it too.
var forwardMarker = "/run/nucleus-ip_forward.enabled-by-nucleus" // a var for tests in their own netns

// enableForwarding prepares the host for a kernel-NAT network: it lets
// the nucleus bridges through Docker's FORWARD chain where Docker runs (see
// nft/docker.go), starts watching for a Docker that starts later, and
// turns on net.ipv4.ip_forward when it is off (published ports and
// masquerade need it), noting that nucleus did so. Called with the host
// lock held, on every ensure of a network (each up and reconcile).
func enableForwarding() error {
	if _, err := nft.EnsureDockerUser(bridgePrefix); err != nil {
		return fmt.Errorf("let nucleus bridges through Docker's FORWARD policy: %w", err)
	}
	startHostWatch()
	if readSysctl("net/ipv4/ip_forward") == "1" {
		return nil
	}
	note := fmt.Sprintf("net.ipv4.ip_forward was 0; nucleus set it to 1 at %s\n", time.Now().UTC().Format(time.RFC3339))
	if err := os.WriteFile(forwardMarker, []byte(note), 0o600); err != nil {
		return fmt.Errorf("note that nucleus enables ip_forward: %w", err)
	}
	return writeSysctl("net/ipv4/ip_forward", "1")
}

// restoreForwarding undoes enableForwarding once no nucleus bridge of any
// state root is left on the host: nucleus's rules leave Docker's chain, and
// net.ipv4.ip_forward goes back off when nucleus switched it on and nobody
// else forwards (otherForwarders); while someone does, it stays on and
// the note stays, so a later removal switches it off once they are gone.
// Called with the host lock held, after a network's bridge is gone.
func restoreForwarding() error {
	if left, err := nucleusBridgeLeft(); err != nil || left {
		return err // another network still needs it
	}
	var errs []error
	if err := nft.RemoveDockerUser(); err != nil {
		errs = append(errs, err)
	}
	if _, err := os.Stat(forwardMarker); errors.Is(err, fs.ErrNotExist) {
		return errors.Join(errs...)
	}
	others, err := otherForwarders()
	if err != nil {
		// Not knowing whether someone else forwards: leave it on.
		return errors.Join(append(errs, fmt.Errorf("leave net.ipv4.ip_forward on: %w", err))...)
	}
	if len(others) > 0 {
		return errors.Join(errs...)
	}
	if err := writeSysctl("net/ipv4/ip_forward", "0"); err != nil {
		return errors.Join(append(errs, err)...)
	}
	if err := os.Remove(forwardMarker); err != nil && !errors.Is(err, fs.ErrNotExist) {
		errs = append(errs, fmt.Errorf("remove %s: %w", forwardMarker, err))
	}
	return errors.Join(errs...)
}

func isNucleusBridge(l netlink.Link) bool {
	return l.Type() == "bridge" && strings.HasPrefix(l.Attrs().Name, bridgePrefix) && strings.HasPrefix(l.Attrs().Alias, aliasPrefix)
}

// nucleusBridgeLeft says whether a nucleus bridge of any state root exists.
func nucleusBridgeLeft() (bool, error) {
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		return false, fmt.Errorf("list links: %w", err)
	}
	for _, l := range links {
		if isNucleusBridge(l) {
			return true, nil
		}
	}
	return false, nil
}

// otherForwarders lists who else relies on net.ipv4.ip_forward: bridges
// that are not nucleus's (docker0, br-*, cni0, virbr0, ...) and other
// owners' forwarding or masquerading rules (Docker's and Kubernetes'
// chains, firewalld, a router's nat table; nft.ForwardUsers).
func otherForwarders() ([]string, error) {
	links, err := retryDump(netlink.LinkList)
	if err != nil {
		return nil, fmt.Errorf("list links: %w", err)
	}
	var out []string
	for _, l := range links {
		if l.Type() == "bridge" && !isNucleusBridge(l) {
			out = append(out, "bridge "+l.Attrs().Name)
		}
	}
	rules, err := nft.ForwardUsers(TablePrefix)
	if err != nil {
		return nil, err
	}
	return append(out, rules...), nil
}

// Docker starting after nucleus: while a nucleus bridge exists, the
// process that created one looks every hostWatchInterval for a
// DOCKER-USER chain without nucleus's rules (a Docker started, restarted
// or a firewall reloaded meanwhile) and puts them back. A look is two
// netlink dumps of the ip filter chains (and a getsockopt when a legacy
// filter table is loaded); changes take the host lock. The watch ends when
// no nucleus bridge is left and starts again with the next network.
var (
	hostWatchInterval = 2 * time.Second
	hostWatch         struct {
		sync.Mutex
		running bool
	}
)

func startHostWatch() {
	hostWatch.Lock()
	defer hostWatch.Unlock()
	if hostWatch.running {
		return
	}
	hostWatch.running = true
	go watchHost()
}

func watchHost() {
	t := time.NewTicker(hostWatchInterval)
	defer t.Stop()
	for n := 1; ; n++ {
		<-t.C
		st, err := nft.DockerUserState(bridgePrefix)
		needed := err == nil && st.Needed(bridgePrefix)
		if !needed && n%16 != 0 {
			continue
		}
		if !watchOnce(needed) {
			return
		}
	}
}

// watchOnce repairs Docker's chain when needed and says whether to go on
// watching (some nucleus bridge is left).
func watchOnce(needed bool) bool {
	unlock := lockHost() // first the host lock, then hostWatch (as enableForwarding)
	defer unlock()
	left, err := nucleusBridgeLeft()
	if err != nil {
		return true
	}
	if !left {
		hostWatch.Lock()
		hostWatch.running = false
		hostWatch.Unlock()
		return false
	}
	if needed {
		nft.EnsureDockerUser(bridgePrefix) // errors: tried again next time
	}
	return true
}
