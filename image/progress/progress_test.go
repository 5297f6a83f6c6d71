package progress_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"nucleus/image/progress"
	"nucleus/image/pull"
	"nucleus/image/store"
)

// feed plays a two-layer pull of ref into d.
func feed(d *progress.Display, ref string) {
	f := d.Func(ref)
	f(pull.Event{Ref: ref, Phase: pull.Resolving})
	f(pull.Event{Ref: ref, Phase: pull.Resolved, Layers: 2, Total: 3 << 20})
	f(pull.Event{Ref: ref, Phase: pull.Cached, Layer: "sha256:aaaaaaaaaaaaaaaaaaaa", Total: 1 << 20})
	f(pull.Event{Ref: ref, Phase: pull.Downloading, Layer: "sha256:bbbbbbbbbbbbbbbbbbbb", Done: 1 << 20, Total: 2 << 20})
	f(pull.Event{Ref: ref, Phase: pull.Verified, Layer: "sha256:bbbbbbbbbbbbbbbbbbbb", Total: 2 << 20})
	f(pull.Event{Ref: ref, Phase: pull.Unpacking, Layer: "sha256:bbbbbbbbbbbbbbbbbbbb"})
	f(pull.Event{Ref: ref, Phase: pull.Done, Total: 3 << 20})
}

func TestPlainLinesPerImageAndLayer(t *testing.T) {
	var b bytes.Buffer
	d := progress.New(&b, false)
	feed(d, "r.example/a:1")
	d.Finish("r.example/a:1", &store.Image{Manifest: "sha256:cccccccccccccccccccccccc", Size: 3<<20 + 100}, nil)
	d.Func("r.example/b:1")
	d.Finish("r.example/b:1", nil, errors.New("manifest unknown"))
	d.Done()
	want := []string{
		"r.example/a:1: pulling 2 layers (3.0M)",
		"r.example/a:1: layer 1/2 sha256:aaaaaaaaaaaa already in the store (1.0M)",
		"r.example/a:1: layer 2/2 sha256:bbbbbbbbbbbb downloaded and verified (2.0M)",
		"r.example/a:1: pulled sha256:cccccccccccccccccccccccc (3.0M) in ",
		"r.example/b:1: failed",
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%s", len(lines), len(want), b.String())
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want it to start with %q", i+1, lines[i], w)
		}
	}
	if strings.ContainsAny(b.String(), "\r\x1b") {
		t.Errorf("plain output holds a carriage return or escape sequence: %q", b.String())
	}
}

func TestTerminalRedrawsOneLinePerImage(t *testing.T) {
	var b bytes.Buffer
	d := progress.New(&b, true)
	d.Func("r.example/a:1")
	d.Func("r.example/b:1")
	feed(d, "r.example/a:1")
	d.Finish("r.example/a:1", &store.Image{Manifest: "sha256:cccccccccccccccccccccccc", Size: 3 << 20}, nil)
	out := b.String()
	if !strings.Contains(out, "\x1b[2A") {
		t.Errorf("no cursor-up over the two image lines: %q", out)
	}
	// The last frame: two lines, a done, b still resolving.
	frames := strings.Split(out, "\x1b[2A")
	last := frames[len(frames)-1]
	lines := strings.Split(strings.TrimSuffix(last, "\n"), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], "r.example/a:1  pulled sha256:ccc") || !strings.Contains(lines[1], "r.example/b:1  resolving") {
		t.Errorf("last frame %q, want a pulled and b resolving", last)
	}
	if !strings.Contains(out, "r.example/a:1  unpacking   3.0M / 3.0M  2/2 layers") {
		t.Errorf("no frame showed bytes and layers while unpacking: %q", out)
	}
}
