package api

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"

	"nucleus/reconcile"
)

// The events stream (nucleus events): GET /v1/events answers with one JSON
// object per line, each a reconcile.Event, as the supervisor records the
// replicas' lifecycle, until the client goes or the supervisor stops.

// eventsOff ends every events stream when the server shuts down (Shutdown
// waits for open requests, which a stream would hold forever).
type eventsOff struct {
	once sync.Once
	ch   chan struct{}
}

func (in *Instance) serveEvents(mux *http.ServeMux) {
	off := &eventsOff{ch: make(chan struct{})}
	in.stopEvents = func() { off.once.Do(func() { close(off.ch) }) }
	mux.HandleFunc("GET /v1/events", func(w http.ResponseWriter, r *http.Request) {
		ch, cancel := in.sv.Events.Subscribe()
		defer cancel()
		w.Header().Set("Content-Type", "application/x-ndjson")
		w.WriteHeader(http.StatusOK)
		fl, _ := w.(http.Flusher)
		if fl != nil {
			fl.Flush() // the client knows it is subscribed
		}
		enc := json.NewEncoder(w)
		for {
			select {
			case <-r.Context().Done():
				return
			case <-off.ch:
				return
			case <-in.finished:
				return
			case ev := <-ch:
				if enc.Encode(ev) != nil {
					return
				}
				if fl != nil {
					fl.Flush()
				}
			}
		}
	})
}

// Events streams the supervisor's replica events to fn until ctx ends
// (nil) or the supervisor stops (ErrNoSupervisor wrapped). subscribed, when
// not nil, is called once the supervisor has taken the subscription.
func (c *Client) Events(ctx context.Context, subscribed func(), fn func(reconcile.Event)) error {
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://supervisor/v1/events", nil)
	if err != nil {
		return err
	}
	res, err := c.hc.Do(r)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("supervisor of %s: %w", c.Project, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("supervisor of %s: events: %s", c.Project, res.Status)
	}
	if subscribed != nil {
		subscribed()
	}
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		var ev reconcile.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("supervisor of %s: events: %w", c.Project, err)
		}
		fn(ev)
	}
	if ctx.Err() != nil {
		return nil
	}
	return fmt.Errorf("supervisor of %s stopped: %w", c.Project, ErrNoSupervisor)
}
