package sbinit

import (
	"encoding/binary"
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// LandlockPlan is a Landlock ruleset compiled by the caller for this
// kernel's ABI (runtime/landlock.Compile); the init only applies it, so it
// needs neither go-landlock nor the policy code.
type LandlockPlan struct {
	ABI     int             `json:"abi"`
	Handled uint64          `json:"handled"`
	Entries []LandlockEntry `json:"entries"`
}

// LandlockEntry grants Dir (directory) or File (other) rights beneath Path,
// a path inside the sandbox.
type LandlockEntry struct {
	Path     string `json:"path"`
	Dir      uint64 `json:"dir"`
	File     uint64 `json:"file"`
	Optional bool   `json:"optional,omitempty"`
}

const landlockRulePathBeneath = 1

// apply confines the calling thread (locked by the caller; threads the
// init creates later come from Go's template thread, unconfined) and
// returns the ABI in force. no_new_privs must be set on the thread.
func (p *LandlockPlan) apply() (int, error) {
	// struct landlock_ruleset_attr: handled_access_fs first; a shorter
	// size tells the kernel the other fields are zero.
	var attr [8]byte
	binary.NativeEndian.PutUint64(attr[:], p.Handled)
	r, _, e := unix.Syscall(unix.SYS_LANDLOCK_CREATE_RULESET, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)), 0)
	if e != 0 {
		return 0, fmt.Errorf("landlock (ABI %d): create ruleset: %w", p.ABI, e)
	}
	ruleset := int(r)
	defer unix.Close(ruleset)
	for _, en := range p.Entries {
		// Most rules name directories: opening with O_DIRECTORY tells
		// which without an fstat; ENOTDIR means a file, opened again.
		rights := en.Dir
		fd, err := unix.Open(en.Path, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOTDIR) {
			rights = en.File
			fd, err = unix.Open(en.Path, unix.O_PATH|unix.O_CLOEXEC, 0)
		}
		if err != nil {
			if en.Optional && errors.Is(err, unix.ENOENT) {
				continue
			}
			return 0, fmt.Errorf("landlock rule %s: %w", en.Path, err)
		}
		if rights != 0 {
			// struct landlock_path_beneath_attr is packed: u64 allowed_access, s32 parent_fd.
			var pb [12]byte
			binary.NativeEndian.PutUint64(pb[:8], rights)
			binary.NativeEndian.PutUint32(pb[8:], uint32(fd))
			if _, _, e := unix.Syscall6(unix.SYS_LANDLOCK_ADD_RULE, uintptr(ruleset), landlockRulePathBeneath,
				uintptr(unsafe.Pointer(&pb[0])), 0, 0, 0); e != 0 {
				err = e
			}
		}
		unix.Close(fd)
		if err != nil {
			return 0, fmt.Errorf("landlock rule %s: %w", en.Path, err)
		}
	}
	if _, _, e := unix.Syscall(unix.SYS_LANDLOCK_RESTRICT_SELF, uintptr(ruleset), 0, 0); e != 0 {
		return 0, fmt.Errorf("landlock (ABI %d): restrict self: %w", p.ABI, e)
	}
	return p.ABI, nil
}
