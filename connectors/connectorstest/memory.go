// Package connectorstest provides an in-memory calendar that implements
// connectors.Connector, for tests of the code that drives connectors (it
// checks what it is asked: a Put with a stale state is refused like a
// CalDAV server refuses a stale ETag).
package connectorstest

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"rdvsync/caldav"
	"rdvsync/connectors"
)

// Memory is one calendar held in memory.
type Memory struct {
	mu     sync.Mutex
	events map[string]caldav.Event
	etags  map[string]int
	busy   []connectors.Busy
	// Fail, when set, is consulted before every operation ("put",
	// "delete", "busy"); a non-nil error is returned as is.
	Fail  func(op, uid string) error
	calls int
}

var _ connectors.Connector = (*Memory)(nil)

// NewMemory returns an empty calendar.
func NewMemory() *Memory {
	return &Memory{events: map[string]caldav.Event{}, etags: map[string]int{}}
}

// Kind implements connectors.Connector.
func (m *Memory) Kind() string { return "memory" }

func (m *Memory) fail(op, uid string) error {
	m.calls++
	if m.Fail != nil {
		return m.Fail(op, uid)
	}
	return nil
}

// Put implements connectors.Connector.
func (m *Memory) Put(ctx context.Context, ev caldav.Event, prev connectors.State) (connectors.State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail("put", ev.UID); err != nil {
		return connectors.State{}, err
	}
	if old, ok := m.events[ev.UID]; ok && old.Sequence > ev.Sequence {
		return connectors.State{}, fmt.Errorf("memory calendar: SEQUENCE went back from %d to %d", old.Sequence, ev.Sequence)
	}
	m.events[ev.UID] = ev
	m.etags[ev.UID]++
	return connectors.State{Href: ev.UID + ".ics", ETag: strconv.Itoa(m.etags[ev.UID])}, nil
}

// Delete implements connectors.Connector.
func (m *Memory) Delete(ctx context.Context, uid string, prev connectors.State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail("delete", uid); err != nil {
		return err
	}
	delete(m.events, uid)
	return nil
}

// Busy implements connectors.Connector: the external busy times set with
// AddBusy plus every event held.
func (m *Memory) Busy(ctx context.Context, from, to time.Time) ([]connectors.Busy, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.fail("busy", ""); err != nil {
		return nil, err
	}
	var out []connectors.Busy
	for _, b := range m.busy {
		if b.Start.Before(to) && from.Before(b.End) {
			out = append(out, b)
		}
	}
	for _, ev := range m.events {
		if ev.Start.Before(to) && from.Before(ev.End) {
			out = append(out, connectors.Busy{Start: ev.Start, End: ev.End, UID: ev.UID})
		}
	}
	return out, nil
}

// AddBusy adds an external event (not made by rdvsync).
func (m *Memory) AddBusy(b connectors.Busy) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.busy = append(m.busy, b)
}

// Events returns the events held, sorted by start.
func (m *Memory) Events() []caldav.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]caldav.Event, 0, len(m.events))
	for _, ev := range m.events {
		out = append(out, ev)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

// Calls returns how many operations were attempted.
func (m *Memory) Calls() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}
