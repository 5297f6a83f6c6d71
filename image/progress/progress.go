// Package progress shows image pulls (image/pull events) of several images
// at once: on a terminal one line per image, redrawn in place (bytes done of
// the image's total, layers stored of its count, phase); otherwise plain log
// lines — one when an image starts, one per layer stored, one when it is
// done or failed — with no carriage return or escape sequence, so a pipe or
// log file gets readable text.
//
//	d := progress.New(os.Stderr, progress.IsTerminal(os.Stderr))
//	img, err := pullapi.Pull(ctx, st, r, pullapi.Options{Progress: d.Func(r.String())})
//	d.Finish(r.String(), img, err)
//	d.Done()
package progress

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"nucleus/image/pullapi"
	"nucleus/image/store"
)

// redrawEvery bounds how often a terminal is redrawn for byte counts alone;
// a phase change redraws at once.
const redrawEvery = 100 * time.Millisecond

// Display renders the pulls of several images. Its methods may be called
// from any goroutine.
type Display struct {
	mu     sync.Mutex
	w      io.Writer
	tty    bool
	width  int
	images []*image // in the order they were announced
	byRef  map[string]*image
	drawn  int // lines the last terminal redraw wrote
	last   time.Time
}

type image struct {
	ref      string
	started  time.Time
	resolved bool
	layers   int   // count, from the Resolved event (0: not known yet)
	total    int64 // bytes of all layers, -1 unknown
	stored   map[string]bool
	done     map[string]int64 // bytes present per layer
	unpack   bool
	finished bool
	result   string
}

// New returns a display writing to w; tty selects the in-place lines of a
// terminal (see IsTerminal).
func New(w io.Writer, tty bool) *Display {
	d := &Display{w: w, tty: tty, byRef: map[string]*image{}, width: 100}
	if f, ok := w.(*os.File); ok && tty {
		if wd, _, err := term.GetSize(int(f.Fd())); err == nil && wd > 20 {
			d.width = wd
		}
	}
	return d
}

// IsTerminal says whether w is a terminal (the tty argument of New).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func (d *Display) get(ref string) *image {
	im := d.byRef[ref]
	if im == nil {
		im = &image{ref: ref, started: time.Now(), total: -1, stored: map[string]bool{}, done: map[string]int64{}}
		d.byRef[ref] = im
		d.images = append(d.images, im)
	}
	return im
}

// Func announces the pull of ref and returns the pullapi.Options.Progress
// function for it.
func (d *Display) Func(ref string) func(pullapi.Event) {
	d.mu.Lock()
	d.get(ref)
	d.redraw(true)
	d.mu.Unlock()
	return func(e pullapi.Event) { d.event(ref, e) }
}

func (d *Display) event(ref string, e pullapi.Event) {
	d.mu.Lock()
	defer d.mu.Unlock()
	im := d.get(ref)
	force := false
	switch e.Phase {
	case pullapi.Resolved:
		im.resolved, im.layers, im.total, force = true, e.Layers, e.Total, true
		d.line("%s: pulling %d %s (%s)", ref, e.Layers, plural(e.Layers, "layer"), bytesOrUnknown(e.Total))
	case pullapi.Downloading:
		im.done[e.Layer] = e.Done
	case pullapi.Verified, pullapi.Cached:
		if im.stored[e.Layer] {
			return
		}
		im.stored[e.Layer], force = true, true
		if e.Total >= 0 {
			im.done[e.Layer] = e.Total
		}
		how := "downloaded and verified"
		if e.Phase == pullapi.Cached {
			how = "already in the store"
		}
		d.line("%s: layer %d/%s %s %s (%s)", ref, len(im.stored), countOrUnknown(im.layers), Short(e.Layer), how, bytesOrUnknown(e.Total))
	case pullapi.Unpacking:
		im.unpack, force = true, true
	}
	d.redraw(force)
}

// Finish reports the end of ref's pull: img on success, else that err
// ended it.
func (d *Display) Finish(ref string, img *store.Image, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	im := d.get(ref)
	im.finished = true
	took := time.Since(im.started).Round(10 * time.Millisecond)
	if err != nil {
		// The command's own error names the image, its services and
		// the cause right after: the line only says which one failed.
		im.result = "failed"
	} else {
		im.result = fmt.Sprintf("pulled %s (%s) in %s", img.Manifest, Bytes(img.Size), took)
	}
	d.line("%s: %s", ref, im.result)
	d.redraw(true)
}

// Skip reports an image that is not pulled, with the reason.
func (d *Display) Skip(ref, why string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	im := d.get(ref)
	im.finished, im.result = true, why
	d.line("%s: %s", ref, why)
	d.redraw(true)
}

// Done draws the final state; the display is not used after it.
func (d *Display) Done() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.redraw(true)
}

// line writes a plain log line (not on a terminal, where the image's line
// says the same in place).
func (d *Display) line(format string, a ...any) {
	if !d.tty {
		fmt.Fprintf(d.w, format+"\n", a...)
	}
}

// redraw rewrites every image's line on a terminal: the cursor goes back
// up over the lines drawn last time.
func (d *Display) redraw(force bool) {
	if !d.tty || (!force && time.Since(d.last) < redrawEvery) {
		return
	}
	d.last = time.Now()
	var b strings.Builder
	if d.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", d.drawn)
	}
	for _, im := range d.images {
		line := im.status()
		if r := []rune(line); len(r) > d.width-1 {
			line = string(r[:d.width-1])
		}
		b.WriteString("\r\x1b[2K" + line + "\n")
	}
	d.drawn = len(d.images)
	_, _ = io.WriteString(d.w, b.String())
}

// status is an image's terminal line.
func (im *image) status() string {
	if im.finished {
		return im.ref + "  " + im.result
	}
	if !im.resolved {
		return im.ref + "  resolving"
	}
	var done int64
	for _, n := range im.done {
		done += n
	}
	phase := "downloading"
	if im.layers > 0 && len(im.stored) == im.layers {
		phase = "verifying"
		if im.unpack {
			phase = "unpacking"
		}
	}
	return fmt.Sprintf("%s  %-11s %s / %s  %d/%s layers", im.ref, phase, Bytes(done), bytesOrUnknown(im.total), len(im.stored), countOrUnknown(im.layers))
}

// Short is a digest cut to 12 hex digits after its algorithm, as tables
// print it: sha256:0123456789ab.
func Short(digest string) string {
	alg, hex, ok := strings.Cut(digest, ":")
	if !ok || len(hex) <= 12 {
		return digest
	}
	return alg + ":" + hex[:12]
}

// Bytes formats a size the way every nucleus table does: 1.5M, 12K, 512B.
func Bytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1fG", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1fM", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0fK", float64(n)/(1<<10))
	}
	return strconv.FormatInt(n, 10) + "B"
}

func bytesOrUnknown(n int64) string {
	if n < 0 {
		return "size unknown"
	}
	return Bytes(n)
}

func countOrUnknown(n int) string {
	if n <= 0 {
		return "?"
	}
	return strconv.Itoa(n)
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
