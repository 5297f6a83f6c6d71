package slirp

import (
	"strings"
	"sync"
)

// tailBuffer keeps the last max bytes written: slirp4netns's own words on
// why it failed, for error messages, without unbounded memory.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append([]byte(nil), t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(string(t.b))
}

// suffix is ": <output>" when slirp4netns printed anything, else "".
func (t *tailBuffer) suffix() string {
	if t == nil {
		return ""
	}
	if s := t.String(); s != "" {
		return " (slirp4netns said: " + s + ")"
	}
	return ""
}
