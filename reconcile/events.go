package reconcile

import (
	"sync"
	"time"
)

// Event is one replica lifecycle change as the supervisor recorded it
// (nucleus events). Types: create, start, restart, die, stop, destroy,
// health_status.
type Event struct {
	Time     time.Time `json:"time"`
	Type     string    `json:"type"`
	Service  string    `json:"service"`
	Replica  int       `json:"replica"`
	Name     string    `json:"name"` // web-1
	ID       string    `json:"id"`   // the sandbox's ID
	State    RunState  `json:"state"`
	PID      int       `json:"pid,omitempty"`
	ExitCode *int      `json:"exit_code,omitempty"` // die
	Health   string    `json:"health,omitempty"`    // health_status: healthy or unhealthy
}

// EventHub turns the supervisor's record writes into events and hands them
// to subscribers. It compares each write with the last one of the same
// replica, so an event is a change of what the journal says: the same
// truth ps shows, in order per replica.
type EventHub struct {
	mu   sync.Mutex
	last map[Ident]*SandboxRecord
	// restarts is the last restart count per replica, kept when its record
	// goes (a restart removes the record before it writes the new one).
	restarts map[Ident]int
	subs     map[chan Event]struct{}
	now      func() time.Time
}

// NewEventHub starts from the records as they are (adopted replicas give no
// create or start event).
func NewEventHub(records []*SandboxRecord) *EventHub {
	h := &EventHub{last: map[Ident]*SandboxRecord{}, restarts: map[Ident]int{}, subs: map[chan Event]struct{}{}, now: time.Now}
	for _, r := range records {
		h.last[r.Ident()] = r
		h.restarts[r.Ident()] = r.Restart.Restarts
	}
	return h
}

// Subscribe returns a channel of the events from now on, and a function
// that ends the subscription. A subscriber that falls 256 events behind
// loses the oldest unread ones rather than holding up the supervisor.
func (h *EventHub) Subscribe() (<-chan Event, func()) {
	ch := make(chan Event, 256)
	h.mu.Lock()
	h.subs[ch] = struct{}{}
	h.mu.Unlock()
	return ch, func() {
		h.mu.Lock()
		delete(h.subs, ch)
		h.mu.Unlock()
	}
}

// observe is told each record write (rec nil: the record was removed).
func (h *EventHub) observe(id Ident, rec *SandboxRecord) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.last[id]
	restarted := false
	if rec == nil {
		delete(h.last, id)
	} else {
		h.last[id] = rec
		restarted = rec.Restart.Restarts > h.restarts[id]
		if rec.InitPID != 0 && !rec.Creating { // counted at the start, not at the intent record
			h.restarts[id] = rec.Restart.Restarts
		}
	}
	for _, ev := range recordEvents(old, rec, restarted) {
		ev.Time = h.now()
		for ch := range h.subs {
			select {
			case ch <- ev:
			default: // full: drop its oldest, keep the newest
				select {
				case <-ch:
				default:
				}
				select {
				case ch <- ev:
				default:
				}
			}
		}
	}
}

// recordEvents is what changed from old to rec (either may be nil);
// restarted: rec's restart count went up.
func recordEvents(old, rec *SandboxRecord, restarted bool) []Event {
	mk := func(typ string, r *SandboxRecord) Event {
		return Event{Type: typ, Service: r.Service, Replica: r.Replica, Name: r.Ident().Name(), ID: r.ID, State: r.State, PID: r.InitPID}
	}
	if rec == nil {
		if old == nil {
			return nil
		}
		return gone(old, mk)
	}
	if rec.Removed { // nucleus rm: its sandbox's end was told when it went
		return nil
	}
	var out []Event
	sameSandbox := old != nil && old.ID == rec.ID && !old.Creating
	if old != nil && old.ID != rec.ID && old.InitPID != 0 {
		out = append(out, gone(old, mk)...) // replaced by a new sandbox
	}
	if rec.Creating && (old == nil || old.ID != rec.ID || !old.Creating) {
		out = append(out, mk("create", rec))
	}
	wasAlive := sameSandbox && old.State.Alive() && old.InitPID != 0
	if rec.State.Alive() && rec.InitPID != 0 && !rec.Creating && !wasAlive {
		if !sameSandbox && !(old != nil && old.Creating && old.ID == rec.ID) {
			out = append(out, mk("create", rec)) // created without an intent record
		}
		typ := "start"
		if restarted {
			typ = "restart"
		}
		out = append(out, mk(typ, rec))
	}
	if wasAlive && !rec.State.Alive() {
		ev := mk("die", rec)
		code := rec.ExitCode
		ev.ExitCode = &code
		out = append(out, ev)
	}
	if rec.State == StateStopped && (old == nil || old.State != StateStopped) {
		out = append(out, mk("stop", rec))
	}
	if (rec.State == StateHealthy || rec.State == StateUnhealthy) && (old == nil || old.State != rec.State || old.ID != rec.ID) {
		ev := mk("health_status", rec)
		ev.Health = string(rec.State)
		out = append(out, ev)
	}
	return out
}

// gone: a sandbox removed while it ran dies first (its exit code is not
// recorded then).
func gone(old *SandboxRecord, mk func(string, *SandboxRecord) Event) []Event {
	if old.State.Alive() && old.InitPID != 0 {
		return []Event{mk("die", old), mk("destroy", old)}
	}
	return []Event{mk("destroy", old)}
}
