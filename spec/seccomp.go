package spec

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"nucleus/internal/syscalltab"
)

// seccompActions are the OCI seccomp actions.
var seccompActions = []string{
	"SCMP_ACT_KILL", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_TRAP",
	"SCMP_ACT_ERRNO", "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
}

// seccompProfile is the part of an OCI seccomp profile nucleus checks.
type seccompProfile struct {
	DefaultAction string `json:"defaultAction"`
	Syscalls      []struct {
		Names  []string `json:"names"`
		Name   string   `json:"name"` // older Docker profiles
		Action string   `json:"action"`
	} `json:"syscalls"`
}

// LoadSeccompProfile reads an OCI-format seccomp profile and checks that it
// is valid JSON with a known defaultAction and actions, and that every
// syscall name is known to libseccomp (its table, internal/syscalltab: no
// cgo in the nucleus binary). It returns the file's bytes.
func LoadSeccompProfile(path string) ([]byte, error) {
	data, err := readSeccompProfile(path)
	if err != nil {
		return nil, fmt.Errorf("seccomp profile %s: %w", path, err)
	}
	return data, nil
}

// readSeccompProfile is LoadSeccompProfile without naming the file in the
// error, so the loader can name it the way the user wrote it.
func readSeccompProfile(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, errors.New(errText(err))
	}
	if err := checkSeccompProfile(data); err != nil {
		return nil, err
	}
	return data, nil
}

func checkSeccompProfile(data []byte) error {
	var prof seccompProfile
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&prof); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line, col := offsetPos(data, max(se.Offset-1, 0)) // Offset is just past the bad byte
			return fmt.Errorf("not valid JSON at line %d, column %d: %v", line, col, err)
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return fmt.Errorf("not an OCI seccomp profile: %s has the wrong type (%s)", te.Field, te.Value)
		}
		return fmt.Errorf("not valid JSON: %v", err)
	}
	if prof.DefaultAction == "" {
		return fmt.Errorf("not an OCI seccomp profile: defaultAction is missing")
	}
	if !knownAction(prof.DefaultAction) {
		return fmt.Errorf("unknown defaultAction %q; expected one of %s", prof.DefaultAction, strings.Join(seccompActions, ", "))
	}
	var unknown []string
	for i, sc := range prof.Syscalls {
		if !knownAction(sc.Action) {
			return fmt.Errorf("syscalls[%d]: unknown action %q; expected one of %s", i, sc.Action, strings.Join(seccompActions, ", "))
		}
		names := sc.Names
		if sc.Name != "" {
			names = append(names, sc.Name)
		}
		for _, n := range names {
			if !syscalltab.Known(n) {
				unknown = append(unknown, fmt.Sprintf("%q", n))
			}
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		word := "syscall"
		if len(unknown) > 1 {
			word = "syscalls"
		}
		return fmt.Errorf("unknown %s %s (not known to libseccomp on this architecture)", word, strings.Join(unknown, ", "))
	}
	return nil
}

func knownAction(a string) bool {
	for _, k := range seccompActions {
		if a == k {
			return true
		}
	}
	return false
}

// offsetPos converts a byte offset into a 1-based line and column.
func offsetPos(data []byte, off int64) (int, int) {
	if off > int64(len(data)) {
		off = int64(len(data))
	}
	before := data[:off]
	line := bytes.Count(before, []byte("\n")) + 1
	col := int(off) - bytes.LastIndexByte(before, '\n')
	return line, col
}
