package daemon

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/fsnotify/fsnotify"

	"nucleus/reconcile"
	"nucleus/reconcile/debounce"
)

// treeWatcher reports (debounced) that the set of project directories may
// have changed: a directory appeared or disappeared, or a project file was
// created, replaced or removed. It watches the tree's directories down to
// the project directories (inclusive), never their content below, and
// re-syncs its watch list after every change, since a git checkout can
// replace whole directories by rename.
type treeWatcher struct {
	root string
	fs   *fsnotify.Watcher
	opts reconcile.WatchOptions
	out  chan struct{}
	done chan struct{}
	wg   sync.WaitGroup

	mu      sync.Mutex
	watched map[string]bool
}

func newTreeWatcher(root string, opts reconcile.WatchOptions) (*treeWatcher, error) {
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		return nil, err
	}
	w := &treeWatcher{root: root, fs: fw, opts: opts, out: make(chan struct{}, 1), done: make(chan struct{}), watched: map[string]bool{}}
	w.sync(false)
	w.wg.Add(1)
	go w.loop()
	return w, nil
}

// C delivers one value per debounced burst of relevant events.
func (w *treeWatcher) C() <-chan struct{} { return w.out }

func (w *treeWatcher) Close() {
	close(w.done)
	w.fs.Close()
	w.wg.Wait()
}

// sync watches the root's parent (so the root itself being replaced is
// seen), the root, and every directory Scan would visit.
func (w *treeWatcher) sync(reset bool) {
	if reset {
		// The root was replaced: every watch follows an old inode.
		w.mu.Lock()
		for d := range w.watched {
			_ = w.fs.Remove(d)
		}
		w.watched = map[string]bool{}
		w.mu.Unlock()
	}
	want := map[string]bool{filepath.Dir(w.root): true}
	if fi, err := os.Stat(w.root); err == nil && fi.IsDir() {
		want[w.root] = true
		start := w.root + string(filepath.Separator) // follow a symlinked root, as Scan does
		_ = filepath.WalkDir(start, func(p string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() || p == start {
				return nil
			}
			if strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			want[p] = true
			if ProjectFiles(p) != nil || depth(w.root, p) >= MaxDepth {
				return filepath.SkipDir
			}
			return nil
		})
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for d := range want {
		if !w.watched[d] {
			if err := w.fs.Add(d); err != nil {
				slog.Debug("watch directory", "dir", d, "err", err)
				delete(want, d)
			}
		}
	}
	for d := range w.watched {
		if !want[d] {
			_ = w.fs.Remove(d)
		}
	}
	w.watched = want
}

// relevant: events in the root's parent only about the root; elsewhere
// directories and project file names, not editor temporaries.
func (w *treeWatcher) relevant(name string) bool {
	dir, base := filepath.Dir(name), filepath.Base(name)
	if dir == filepath.Dir(w.root) && dir != w.root {
		return name == w.root
	}
	if reconcile.IsEditorTemp(base) || strings.HasPrefix(base, ".") {
		return false
	}
	for _, n := range reconcile.ProjectFileNames {
		if base == n {
			return true
		}
	}
	// A directory (or something gone that may have been one).
	fi, err := os.Lstat(name)
	return err != nil || fi.IsDir()
}

func (w *treeWatcher) loop() {
	defer w.wg.Done()
	reset := false // the root itself was replaced
	debounce.Loop(w.done, w.fs, w.opts.Quiet, w.opts.MaxDelay, "project tree watcher",
		func(name string) bool {
			if !w.relevant(name) {
				return false
			}
			reset = reset || name == w.root
			return true
		},
		func() {
			w.sync(reset)
			reset = false
			select {
			case w.out <- struct{}{}:
			default:
			}
		})
}
