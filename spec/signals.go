package spec

import (
	"fmt"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Signal is a signal name in canonical form: "SIGTERM", or "SIGRTMIN+N"
// for a real-time signal.
type Signal string

// sigRTMin and sigRTMax are the real-time range as programs see it: glibc
// (and Docker's signal table) keep the kernel's first two for threads, so
// SIGRTMIN is 34, the number systemd's SIGRTMIN+3 is computed from.
const (
	sigRTMin = 34
	sigRTMax = 64
)

// signals are the standard Linux signals by canonical name. SIGIOT and
// SIGPOLL are aliases and read as SIGABRT and SIGIO.
var signals = func() map[string]syscall.Signal {
	m := map[string]syscall.Signal{}
	for n := syscall.Signal(1); n < 32; n++ {
		if name := unix.SignalName(n); name != "" {
			m[name] = n
		}
	}
	return m
}()

var signalAliases = map[string]string{"SIGIOT": "SIGABRT", "SIGPOLL": "SIGIO", "SIGCLD": "SIGCHLD"}

// ParseSignal accepts Compose's forms: a name with or without SIG in any
// case ("SIGTERM", "term"), a number ("15"), and the real-time forms
// "SIGRTMIN+N" and "SIGRTMAX-N". It returns the canonical name, so "15"
// and "TERM" hash like "SIGTERM".
func ParseSignal(s string) (Signal, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	if n, err := strconv.Atoi(t); err == nil {
		return signalFromNumber(n, s)
	}
	if !strings.HasPrefix(t, "SIG") {
		t = "SIG" + t
	}
	if a, ok := signalAliases[t]; ok {
		t = a
	}
	if _, ok := signals[t]; ok {
		return Signal(t), nil
	}
	for _, rt := range []struct {
		prefix string
		base   int
		sign   int
	}{{"SIGRTMIN", sigRTMin, 1}, {"SIGRTMAX", sigRTMax, -1}} {
		rest, ok := strings.CutPrefix(t, rt.prefix)
		if !ok {
			continue
		}
		off := 0
		if rest != "" {
			op := "+"
			if rt.sign < 0 {
				op = "-"
			}
			num, ok := strings.CutPrefix(rest, op)
			var err error
			if off, err = strconv.Atoi(num); !ok || err != nil || off < 0 {
				return "", fmt.Errorf("unknown signal %q; expected %s%sN", s, rt.prefix, op)
			}
		}
		return signalFromNumber(rt.base+rt.sign*off, s)
	}
	return "", fmt.Errorf("unknown signal %q; expected a name like SIGTERM or TERM", s)
}

func signalFromNumber(n int, orig string) (Signal, error) {
	switch {
	case n >= sigRTMin && n <= sigRTMax:
		if n == sigRTMin {
			return "SIGRTMIN", nil
		}
		return Signal("SIGRTMIN+" + strconv.Itoa(n-sigRTMin)), nil
	case n > 0 && n < 32:
		if name := unix.SignalName(syscall.Signal(n)); name != "" {
			return Signal(name), nil
		}
	}
	return "", fmt.Errorf("unknown signal %q; expected 1-31 or %d-%d (SIGRTMIN..SIGRTMAX)", orig, sigRTMin, sigRTMax)
}

// Number returns the signal number (SIGTERM when unset).
func (s Signal) Number() syscall.Signal {
	if n, ok := signals[string(s)]; ok {
		return n
	}
	if rest, ok := strings.CutPrefix(string(s), "SIGRTMIN"); ok {
		off, _ := strconv.Atoi(strings.TrimPrefix(rest, "+"))
		return syscall.Signal(sigRTMin + off)
	}
	return syscall.SIGTERM
}
