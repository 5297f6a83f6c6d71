package runtime

import (
	goruntime "runtime"
	"sync"
)

// The parent-death signal follows the THREAD that cloned the init, not the
// caller process: a Go thread exits when a goroutine locked to it ends
// (network code discards namespace-switched threads that way), and the
// sandbox would be killed with it although its caller still runs. So
// DieWithCaller inits are cloned from one thread that is locked forever and
// so dies only with the process.
var callerThread struct {
	once sync.Once
	work chan func()
}

// onCallerThread runs fn on the process-lifetime thread and waits for it.
func onCallerThread(fn func()) {
	callerThread.once.Do(func() {
		callerThread.work = make(chan func())
		go func() {
			goruntime.LockOSThread() // never unlocked: see above
			for f := range callerThread.work {
				f()
			}
		}()
	})
	done := make(chan struct{})
	callerThread.work <- func() {
		defer close(done)
		fn()
	}
	<-done
}
