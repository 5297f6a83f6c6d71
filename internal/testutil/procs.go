package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// SleepMark is a number no other process is likely to have as an argument:
// a workload's `sleep MARK` is then found from the host by ProcsWithArg.
func SleepMark() string { return strconv.Itoa(200000 + int(time.Now().UnixNano()%700000)) }

// ProcsWithArg lists the running processes (zombies left out) one of whose
// arguments is arg: how a test finds a workload's processes from the host
// when no cgroup holds them (give the workload a unique argument).
func ProcsWithArg(arg string) []int {
	var out []int
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		b, err := os.ReadFile(d + "/cmdline")
		if err != nil {
			continue
		}
		for _, a := range bytes.Split(b, []byte{0}) {
			if string(a) == arg && Alive(pid) {
				out = append(out, pid)
				break
			}
		}
	}
	return out
}
