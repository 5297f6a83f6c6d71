package runtime

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// contentFD returns a sealed memfd holding data: the init copies secrets
// and configs from it into a tmpfs of its own (sbinit/mountfiles.go), so
// their content never lands on the host's disk and is not limited by the
// size of the config message. Sealed, so nothing can change it meanwhile.
func contentFD(data []byte) (int, error) {
	fd, err := unix.MemfdCreate("nucleus-file", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, fmt.Errorf("memfd: %w", err)
	}
	for rest := data; len(rest) > 0; {
		n, err := unix.Write(fd, rest)
		if err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("write memfd: %w", err)
		}
		rest = rest[n:]
	}
	const seals = unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		unix.Close(fd)
		return -1, fmt.Errorf("seal memfd: %w", err)
	}
	return fd, nil
}
