package debounce

import (
	"errors"
	"log/slog"
	"time"

	"github.com/fsnotify/fsnotify"
)

// Loop is the one fsnotify loop of nucleus (project watcher, daemon tree
// watcher). It runs until done closes or fs's channels close: events whose
// name relevant accepts feed a Debouncer; fire runs once a burst is over.
// A queue overflow lost events, so it counts as a relevant event; other
// watcher errors are logged under what.
func Loop(done <-chan struct{}, fs *fsnotify.Watcher, quiet, maxDelay time.Duration, what string,
	relevant func(name string) bool, fire func()) {
	db := New(quiet, maxDelay)
	defer db.Stop()
	for {
		select {
		case <-done:
			return
		case ev, ok := <-fs.Events:
			if !ok {
				return
			}
			if relevant(ev.Name) {
				db.Event()
			}
		case err, ok := <-fs.Errors:
			if !ok {
				return
			}
			slog.Warn(what, "err", err)
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				db.Event()
			}
		case <-db.C():
			db.Fired()
			fire()
		}
	}
}
