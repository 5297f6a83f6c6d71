// Package landlock confines a sandbox's file system access with Landlock,
// on top of its mount namespace: even a path that is mounted (or reachable
// through a bind mount or /proc) can only be used as the rules allow.
//
// Only file system rights are handled. Network access (TCP bind/connect) is
// NOT restricted by Landlock here: a sandbox's networking is governed by its
// network namespace and the egress rules of the network package. IPC scopes
// (ABI 6) are not used either; the pid and network namespaces already
// separate signals and abstract UNIX sockets.
package landlock

import (
	"errors"
	"fmt"
	"os"
	"sort"

	"github.com/landlock-lsm/go-landlock/landlock"
	ll "github.com/landlock-lsm/go-landlock/landlock/syscall"
)

// Access names a Rule may grant.
const (
	Read    = "read"
	Write   = "write"
	Execute = "execute"
	// List grants only listing directories (LANDLOCK_ACCESS_FS_READ_DIR):
	// names, not file contents. DefaultRules gives it on "/", hence on
	// every directory (rules are hierarchical). Not accepted in a
	// service's custom rules (spec allows read, write and execute).
	List = "list"
)

// Rule grants access beneath Path (a directory and everything below it, or
// a single file). Rules only ever grant: what no rule grants is denied.
type Rule struct {
	Path   string
	Access []string // Read, Write, Execute, List
	// Optional rules are skipped when Path does not exist (system
	// directories such as /lib64 that a root file system may lack).
	Optional bool
}

// Rights per access name.
const (
	readRights  = ll.AccessFSReadFile | ll.AccessFSReadDir
	writeRights = ll.AccessFSWriteFile | ll.AccessFSTruncate | ll.AccessFSRemoveDir |
		ll.AccessFSRemoveFile | ll.AccessFSMakeChar | ll.AccessFSMakeDir | ll.AccessFSMakeReg |
		ll.AccessFSMakeSock | ll.AccessFSMakeFifo | ll.AccessFSMakeBlock | ll.AccessFSMakeSym |
		ll.AccessFSRefer | ll.AccessFSIoctlDev | ll.AccessFSResolveUnix
	execRights = ll.AccessFSExecute
	listRights = ll.AccessFSReadDir
	// fileRights are the rights that make sense on a non-directory.
	fileRights = ll.AccessFSExecute | ll.AccessFSWriteFile | ll.AccessFSReadFile |
		ll.AccessFSTruncate | ll.AccessFSIoctlDev | ll.AccessFSResolveUnix
)

func accessRights(names []string) (landlock.AccessFSSet, error) {
	var a landlock.AccessFSSet
	for _, n := range names {
		switch n {
		case Read:
			a |= readRights
		case Write:
			a |= writeRights
		case Execute:
			a |= execRights
		case List:
			a |= listRights
		default:
			return 0, fmt.Errorf("unknown Landlock access %q (want read, write, execute or list)", n)
		}
	}
	if a == 0 {
		return 0, errors.New("no access given")
	}
	return a, nil
}

// configs are go-landlock's per-ABI configurations, index = ABI - 1.
var configs = []landlock.Config{landlock.V1, landlock.V2, landlock.V3, landlock.V4, landlock.V5,
	landlock.V6, landlock.V7, landlock.V8, landlock.V9, landlock.V10, landlock.V11}

// ABI is the Landlock ABI version the kernel offers (0: Landlock is not
// available), for display.
func ABI() int {
	v, err := ll.LandlockGetABIVersion()
	if err != nil {
		return 0
	}
	return v
}

// kernelABI is ABI, replaceable in tests.
var kernelABI = ABI

// effectiveABI is the ABI this package enforces: the kernel's, capped at
// the newest one go-landlock knows.
func effectiveABI() int {
	v := kernelABI()
	if v > len(configs) {
		v = len(configs)
	}
	return v
}

// config is the file-system-only configuration for abi: every file system
// right that ABI knows is handled (denied unless a rule grants it).
func config(abi int) landlock.Config {
	return landlock.Config{HandledAccessFS: configs[abi-1].HandledAccessFS}
}

// rights checks a rule (an absolute path, known access words) and returns
// the rights it grants.
func (r Rule) rights() (landlock.AccessFSSet, error) {
	if r.Path == "" || r.Path[0] != '/' {
		return 0, fmt.Errorf("landlock rule %q: path must be absolute", r.Path)
	}
	a, err := accessRights(r.Access)
	if err != nil {
		return 0, fmt.Errorf("landlock rule %s: %w", r.Path, err)
	}
	return a, nil
}

// compile turns rules into go-landlock rules for abi: rights the ABI does
// not know are dropped (their operations stay unrestricted there), and a
// non-directory gets only the rights that apply to files.
func compile(rules []Rule, abi int) ([]landlock.Rule, error) {
	handled := config(abi).HandledAccessFS
	// Merge rules per path so each path is added once with all its rights.
	rights := map[string]landlock.AccessFSSet{}
	for _, r := range rules {
		a, err := r.rights()
		if err != nil {
			return nil, err
		}
		fi, err := os.Stat(r.Path)
		if err != nil {
			if r.Optional && errors.Is(err, os.ErrNotExist) {
				continue
			}
			return nil, fmt.Errorf("landlock rule %s: %w", r.Path, err)
		}
		if !fi.IsDir() {
			a &= fileRights
		}
		if a &= handled; a != 0 {
			rights[r.Path] |= a
		}
	}
	paths := make([]string, 0, len(rights))
	for p := range rights {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	out := make([]landlock.Rule, 0, len(paths))
	for _, p := range paths {
		out = append(out, landlock.PathAccess(rights[p], p))
	}
	return out, nil
}
