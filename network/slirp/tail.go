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

// said is the output without the line slirp4netns prints for every
// experimental flag it is given ("WARNING: Support for seccomp is
// experimental", in the parent and the child): that line is there whether
// or not it fails, and names seccomp whatever the failure was.
func (t *tailBuffer) said() string {
	var keep []string
	for _, l := range strings.Split(t.String(), "\n") {
		if !strings.HasPrefix(l, "WARNING: Support for ") {
			keep = append(keep, l)
		}
	}
	return strings.TrimSpace(strings.Join(keep, "\n"))
}

// suffix is ": <output>" when slirp4netns said anything, else "".
func (t *tailBuffer) suffix() string {
	if t == nil {
		return ""
	}
	if s := t.said(); s != "" {
		return " (slirp4netns said: " + s + ")"
	}
	return ""
}
