package network

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// tunDevice is the device slirp4netns and pasta open, as the user who runs
// them, to make the tap device of a userspace network.
const tunDevice = "/dev/net/tun"

// CheckTun is the check a userspace network of a process that is not root
// makes before it starts anything: without a /dev/net/tun the user may
// open, neither the shared hub nor a per-sandbox helper can start (both
// open it as the user, and a device node owned by the host's root gives a
// user namespace's root no access), and slirp4netns's own words were
// 'open("/dev/net/tun"): Permission denied'. up runs it ahead, validate
// warns with it.
func CheckTun() error { return checkTun(os.Geteuid(), tunDevice) }

func checkTun(euid int, dev string) error {
	if euid == 0 {
		return nil
	}
	err := unix.Access(dev, unix.R_OK|unix.W_OK)
	if err == nil {
		return nil
	}
	if errors.Is(err, unix.ENOENT) {
		return permanent(fmt.Errorf("%s does not exist: the userspace networks of a user other than root need it "+
			"(slirp4netns and pasta open it); ask an administrator to load the tun module (modprobe tun), "+
			"or take the services off networks (networks: [])", dev))
	}
	var st unix.Stat_t
	if err := unix.Stat(dev, &st); err != nil {
		return permanent(fmt.Errorf("%s: %w", dev, err))
	}
	return permanent(fmt.Errorf("%s (mode %04o, owner uid %d) cannot be opened by uid %d: the userspace networks of a user other than root need it "+
		"(slirp4netns and pasta open it as the user); ask an administrator to run `chmod 0666 %s` (the mode distributions give it), "+
		"or take the services off networks (networks: [])", dev, st.Mode&0o7777, st.Uid, euid, dev))
}
