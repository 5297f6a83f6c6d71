package spec

import (
	"strings"
	"syscall"
	"testing"
)

// TestParseSignalForms: Compose's stop_signal forms all load, and each has
// one canonical name (so "15" and "TERM" hash alike).
func TestParseSignalForms(t *testing.T) {
	for in, want := range map[string]struct {
		name Signal
		num  syscall.Signal
	}{
		"SIGTERM": {"SIGTERM", 15}, "term": {"SIGTERM", 15}, "15": {"SIGTERM", 15},
		"9": {"SIGKILL", 9}, "SIGQUIT": {"SIGQUIT", 3}, "sigchld": {"SIGCHLD", 17},
		"IOT": {"SIGABRT", 6}, "SIGSYS": {"SIGSYS", 31},
		"SIGRTMIN": {"SIGRTMIN", 34}, "SIGRTMIN+3": {"SIGRTMIN+3", 37}, "rtmin+3": {"SIGRTMIN+3", 37},
		"37": {"SIGRTMIN+3", 37}, "SIGRTMAX": {"SIGRTMIN+30", 64}, "SIGRTMAX-1": {"SIGRTMIN+29", 63},
	} {
		got, err := ParseSignal(in)
		if err != nil || got != want.name || got.Number() != want.num {
			t.Errorf("ParseSignal(%q) = %q (%d), %v; want %q (%d)", in, got, got.Number(), err, want.name, want.num)
		}
	}
	for _, in := range []string{"SIGFOO", "0", "32", "65", "SIGRTMIN+31", "SIGRTMIN-1", "SIGRTMAX+1", "SIGRTMIN+x", "-3"} {
		if got, err := ParseSignal(in); err == nil || !strings.Contains(err.Error(), "unknown signal") {
			t.Errorf("ParseSignal(%q) = %q, %v; want an unknown signal error", in, got, err)
		}
	}
}

func TestStopSignalFormsInFile(t *testing.T) {
	for in, want := range map[string]Signal{"9": "SIGKILL", "SIGRTMIN+3": "SIGRTMIN+3", "usr1": "SIGUSR1"} {
		p := mustLoad(t, map[string]string{"nucleus.yaml": "services:\n  a:\n    command: [x]\n    stop_signal: \"" + in + "\"\n"}, nil)
		if got := p.Services["a"].StopSignal; got != want {
			t.Errorf("stop_signal: %s loaded as %q; want %q", in, got, want)
		}
	}
}
