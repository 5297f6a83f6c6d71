package reconcile

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"nucleus/internal/helperbin"
)

type permanentErr struct{ error }

func (permanentErr) Permanent() bool { return true }

// classifyStartFailure tells failures a retry cannot fix (up --wait fails
// at once) from ones that may pass (it keeps waiting): issue 11, defect 10.
func TestClassifyStartFailure(t *testing.T) {
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, bindErr := net.Listen("tcp4", l.Addr().String()) // a real EADDRINUSE
	if bindErr == nil {
		t.Fatal("second listen on the same port succeeded")
	}
	_, notFound := exec.LookPath("/no/such/command")
	// A helper of nucleus's own that is not installed (the test binary has
	// none beside it): not the user's command (defect: it was "command not
	// found", exit code 127).
	t.Setenv("NUCLEUS_NO_SUCH_HELPER", "")
	_, noHelper := helperbin.Find("nucleus-no-such-helper", "NUCLEUS_NO_SUCH_HELPER", "tests are helped")
	if noHelper == nil {
		t.Fatal("helperbin.Find found nucleus-no-such-helper")
	}
	exe, _ := os.Executable()
	helperPath := filepath.Join(filepath.Dir(exe), "nucleus-no-such-helper")
	for _, tc := range []struct {
		name      string
		err       error
		code      int
		permanent string
	}{
		{"port taken", fmt.Errorf("attach to network default: host port %s is already in use: %w", l.Addr(), bindErr), ExitCodeStartFailed, PermanentPortTaken},
		{"no free address", fmt.Errorf("attach to network default: %w", permanentErr{errors.New("no free address left in 10.89.0.0/30")}), ExitCodeStartFailed, PermanentNetwork},
		{"command not found", fmt.Errorf("start workload: %w", notFound), ExitCodeNotFound, PermanentNotFound},
		{"cannot execute", fmt.Errorf("start workload: %w", syscall.EACCES), ExitCodeCannotExecute, PermanentCannotExec},
		{"helper missing", fmt.Errorf("create sandbox: %w", noHelper), ExitCodeStartFailed,
			PermanentHelperMissing + " nucleus-no-such-helper is missing (expected at " + helperPath + ")"},
		{"resource busy", fmt.Errorf("create sandbox: %w", syscall.EBUSY), ExitCodeStartFailed, ""},
		{"timeout", errors.New("create sandbox: context deadline exceeded"), ExitCodeStartFailed, ""},
	} {
		code, permanent := classifyStartFailure(tc.err)
		if code != tc.code || permanent != tc.permanent {
			t.Errorf("%s (%v): code %d, permanent %q; want %d, %q", tc.name, tc.err, code, permanent, tc.code, tc.permanent)
		}
	}
}
