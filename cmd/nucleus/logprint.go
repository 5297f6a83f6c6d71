package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/term"

	"nucleus/reconcile/host"
)

// logPrinter prints replica output as "web | line", the prefix coloured
// when the output is a terminal (one colour per replica, stable order).
type logPrinter struct {
	w          io.Writer
	colour     bool
	timestamps bool
	noPrefix   bool // --no-log-prefix: the line alone
	mu         sync.Mutex
	colours    map[string]string
	width      int
}

var palette = []string{"36", "33", "32", "35", "34", "96", "93", "92", "95", "94"}

func newLogPrinter(w *os.File, timestamps bool) *logPrinter {
	return &logPrinter{w: w, colour: term.IsTerminal(int(w.Fd())), timestamps: timestamps, colours: map[string]string{}}
}

// label is the prefix name: the service, or the replica for replicas > 1.
func label(l host.LogLine) string {
	if strings.HasSuffix(l.Replica, "-1") && l.Replica == l.Service+"-1" {
		return l.Service
	}
	return l.Replica
}

func (p *logPrinter) print(l host.LogLine) {
	p.mu.Lock()
	defer p.mu.Unlock()
	name := label(l)
	p.width = max(p.width, len(name))
	prefix := fmt.Sprintf("%-*s |", p.width, name)
	if p.colour {
		c, ok := p.colours[name]
		if !ok {
			c = palette[len(p.colours)%len(palette)]
			p.colours[name] = c
		}
		prefix = "\x1b[" + c + "m" + prefix + "\x1b[0m"
	}
	ts := ""
	if p.timestamps {
		ts = l.Time.Local().Format(time.RFC3339Nano) + " "
	}
	if p.noPrefix {
		fmt.Fprintf(p.w, "%s%s\n", ts, l.Line)
		return
	}
	fmt.Fprintf(p.w, "%s %s%s\n", prefix, ts, l.Line)
}
