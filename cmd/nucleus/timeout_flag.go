package main

import (
	"fmt"
	"strconv"
	"time"
)

// graceFlag is a -t/--timeout value: whole seconds as Compose takes them
// (`stop -t 5`), or a Go duration (`5s`, `500ms`).
type graceFlag struct {
	d   time.Duration
	set bool
}

func (g *graceFlag) String() string {
	if !g.set {
		return ""
	}
	return g.d.String()
}

func (g *graceFlag) Set(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 {
			return fmt.Errorf("want seconds >= 0 or a duration like 5s, got %q", s)
		}
		g.d, g.set = time.Duration(n)*time.Second, true
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return fmt.Errorf("want seconds >= 0 or a duration like 5s, got %q", s)
	}
	g.d, g.set = d, true
	return nil
}

func (g *graceFlag) Type() string { return "seconds" }
