package runtime

import (
	"os"
	"path/filepath"
	"sync"
)

// InitBinaryEnv names an explicit sandbox init binary (tests, packaging).
const InitBinaryEnv = "NUCLEUS_INIT"

var (
	initOnce sync.Once
	initPath string
)

// initBinary picks the sandbox init: $NUCLEUS_INIT, else nucleus-init next
// to this executable, else this executable itself (/proc/self/exe, which
// serves as the init through IsInit/InitMain). The small nucleus-init keeps
// a long-lived init at a few MB instead of the whole nucleus binary's pages.
func initBinary() string {
	initOnce.Do(func() {
		initPath = "/proc/self/exe"
		if p := os.Getenv(InitBinaryEnv); p != "" {
			initPath = p
			return
		}
		exe, err := os.Executable()
		if err != nil {
			return
		}
		p := filepath.Join(filepath.Dir(exe), "nucleus-init")
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			initPath = p
		}
	})
	return initPath
}
