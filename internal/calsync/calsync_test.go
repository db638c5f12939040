package calsync_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rdvsync/connectors"
	"rdvsync/connectors/connectorstest"
	"rdvsync/internal/booking"
	"rdvsync/internal/calsync"
	"rdvsync/internal/catalog"
	"rdvsync/internal/outbox"
	"rdvsync/internal/store"
	"rdvsync/internal/testenv"
)

var now = time.Date(2026, 12, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))

// withCalendar returns the example configuration where camille-martin has a
// CalDAV calendar (the connector itself is an in-memory one here).
func withCalendar(t *testing.T, details string, readBusy bool) *catalog.Catalog {
	t.Helper()
	cal := "    rdv_notifications_level: others\n    calendar:\n      caldav: { url: \"http://127.0.0.1:1/cal/camille/\" }\n      details: " + details + "\n"
	if readBusy {
		cal += "      read_busy: true\n"
	}
	return testenv.Example(t, "    rdv_notifications_level: others\n", cal)
}

type harness struct {
	cat     atomic.Pointer[catalog.Catalog]
	store   *store.Store
	booking *booking.Service
	sync    *calsync.Service
	mem     *connectorstest.Memory
	stop    func()
}

func newHarness(t *testing.T, cat *catalog.Catalog) *harness {
	t.Helper()
	mem := connectorstest.NewMemory()
	h := wire(t, cat, func(ctx context.Context, a *catalog.Agent) (connectors.Connector, error) { return mem, nil })
	h.mem = mem
	return h
}

// wire builds booking, calendar sync and the outbox on a temporary store,
// as the daemon does, with connectors from factory.
func wire(t *testing.T, cat *catalog.Catalog, factory calsync.Factory) *harness {
	t.Helper()
	h := &harness{}
	h.cat.Store(cat)
	st := testenv.Store(t)
	h.store = st
	clock := testenv.RunningClock(now)
	h.sync = calsync.New(st, h.cat.Load, factory, calsync.Options{Now: clock})
	h.booking = booking.New(h.cat.Load, st, booking.Options{Now: clock, Effects: []booking.Effect{h.sync}, ExternalBusy: h.sync})
	d := outbox.New(st, map[string]outbox.Sink{calsync.Kind: h.sync}, outbox.Options{
		Now: clock, Poll: 20 * time.Millisecond, Policy: outbox.Policy{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}})
	h.sync.SetKick(d.Kick)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.Run(ctx) }()
	h.stop = func() { cancel(); wg.Wait() }
	t.Cleanup(h.stop)
	return h
}

func (h *harness) book(t *testing.T, start string) *booking.Booked {
	t.Helper()
	b, err := h.booking.Book(context.Background(), booking.Caller{}, booking.BookRequest{
		MotifID: "rsa-orientation", LieuID: "mds-arras-centre", StartsAt: start, AgentID: "camille-martin",
		Usager:       &booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "0612345678"},
		Prescripteur: &booking.PrescripteurInput{FirstName: "Jean", LastName: "Petit", Email: "jean.petit@example.org"},
	}, nil)
	if err != nil {
		t.Fatalf("book %s: %v", start, err)
	}
	return b
}

func (h *harness) settled(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		h.store.View(context.Background(), func(tx *store.ReadTx) error {
			return tx.EachOutbox("", func(r *store.OutboxRecord) error { n++; return nil })
		})
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox still has %d records", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestBookMoveCancelReachTheCalendar(t *testing.T) {
	h := newHarness(t, withCalendar(t, "minimal", false))
	ctx := context.Background()
	b := h.book(t, "2026-12-03T09:00:00+01:00")
	h.settled(t)
	evs := h.mem.Events()
	if len(evs) != 1 || evs[0].UID != b.RDV.ID || !evs[0].Start.Equal(time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)) {
		t.Fatalf("after booking: %+v", evs)
	}
	if evs[0].Summary != "RDV Orientation RSA" || !strings.HasPrefix(evs[0].Location, "MDS Arras Centre") {
		t.Errorf("summary %q, location %q", evs[0].Summary, evs[0].Location)
	}
	if strings.Contains(evs[0].Summary+evs[0].Description, "Dubois") {
		t.Errorf("details: minimal must carry no usager data: %q", evs[0].Description)
	}
	seq := evs[0].Sequence

	if _, err := h.booking.Move(ctx, booking.Caller{Agent: h.cat.Load().Agent("camille-martin")}, b.RDV.ID,
		booking.MoveRequest{StartsAt: "2026-12-03T10:30:00+01:00"}); err != nil {
		t.Fatal(err)
	}
	h.settled(t)
	evs = h.mem.Events()
	if len(evs) != 1 || evs[0].UID != b.RDV.ID || !evs[0].Start.Equal(time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC)) || evs[0].Sequence <= seq {
		t.Fatalf("after move: %+v (sequence was %d)", evs, seq)
	}

	if _, err := h.booking.Cancel(ctx, booking.Caller{Agent: h.cat.Load().Agent("camille-martin")}, b.RDV.ID, ""); err != nil {
		t.Fatal(err)
	}
	h.settled(t)
	if evs = h.mem.Events(); len(evs) != 0 {
		t.Fatalf("after cancel: %+v", evs)
	}
	st, err := h.sync.Status(ctx, h.cat.Load().Agent("camille-martin"))
	if err != nil || st.Connector != "caldav" || st.Pending != 0 || st.Dead != 0 || st.LastSuccess == nil || st.Synced != 0 {
		t.Errorf("status: %+v, %v", st, err)
	}
}

func TestFullDetailsCarryTheUsager(t *testing.T) {
	h := newHarness(t, withCalendar(t, "full", false))
	h.book(t, "2026-12-03T09:00:00+01:00")
	h.settled(t)
	evs := h.mem.Events()
	if len(evs) != 1 || !strings.Contains(evs[0].Summary, "Léa Dubois") || !strings.Contains(evs[0].Description, "Léa Dubois, 06 12 34 56 78") {
		t.Fatalf("details: full: %+v", evs)
	}
}

func TestOutageConvergesToTheLiveRDVs(t *testing.T) {
	h := newHarness(t, withCalendar(t, "minimal", false))
	ctx := context.Background()
	var down atomic.Bool
	down.Store(true)
	h.mem.Fail = func(op, uid string) error {
		if down.Load() {
			return errors.New("dial tcp 127.0.0.1:5232: connection refused")
		}
		return nil
	}
	agent := booking.Caller{Agent: h.cat.Load().Agent("camille-martin")}
	a := h.book(t, "2026-12-03T09:00:00+01:00")
	b := h.book(t, "2026-12-03T09:45:00+01:00")
	c := h.book(t, "2026-12-07T09:00:00+01:00")
	if _, err := h.booking.Move(ctx, agent, a.RDV.ID, booking.MoveRequest{StartsAt: "2026-12-03T11:15:00+01:00"}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.booking.Cancel(ctx, agent, b.RDV.ID, ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // a few failed attempts
	st, _ := h.sync.Status(ctx, agent.Agent)
	if st.Failing == 0 || st.LastError == "" {
		t.Errorf("the outage is not visible: %+v", st)
	}
	down.Store(false)
	h.settled(t)
	evs := h.mem.Events()
	if len(evs) != 2 || evs[0].UID != a.RDV.ID || evs[1].UID != c.RDV.ID ||
		!evs[0].Start.Equal(time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC)) {
		t.Fatalf("calendar after the outage: %+v", evs)
	}
	st, _ = h.sync.Status(ctx, agent.Agent)
	if st.Dead != 0 || st.Pending != 0 {
		t.Errorf("status after the outage: %+v", st)
	}
}

func TestPermanentErrorIsDeadLetteredAndRetried(t *testing.T) {
	h := newHarness(t, withCalendar(t, "minimal", false))
	ctx := context.Background()
	var broken atomic.Bool
	broken.Store(true)
	h.mem.Fail = func(op, uid string) error {
		if broken.Load() {
			return connectors.Permanent(errors.New("401 Unauthorized"))
		}
		return nil
	}
	h.book(t, "2026-12-03T09:00:00+01:00")
	agent := h.cat.Load().Agent("camille-martin")
	deadline := time.Now().Add(5 * time.Second)
	var st calsync.AgentStatus
	for time.Now().Before(deadline) {
		st, _ = h.sync.Status(ctx, agent)
		if st.Dead == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st.Dead != 1 || len(st.Failures) != 1 || !strings.Contains(st.Failures[0].LastError, "401 Unauthorized") {
		t.Fatalf("status: %+v", st)
	}
	broken.Store(false)
	if n, err := h.sync.RetryDead(ctx, agent.ID); n != 1 || err != nil {
		t.Fatalf("RetryDead: %d, %v", n, err)
	}
	h.settled(t)
	if len(h.mem.Events()) != 1 {
		t.Fatalf("not pushed after retry")
	}
}

func TestBackfillPushesFutureRDVsOfANewCalendar(t *testing.T) {
	plain := withCalendar(t, "minimal", false)
	h := newHarness(t, plain)
	// Without a calendar at first.
	h.cat.Store(testenv.Example(t))
	h.book(t, "2026-12-03T09:00:00+01:00")
	h.book(t, "2026-12-07T09:00:00+01:00")
	h.settled(t)
	if len(h.mem.Events()) != 0 {
		t.Fatal("pushed without a calendar")
	}
	h.cat.Store(plain) // reload: camille gains a calendar
	if err := h.sync.Backfill(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.settled(t)
	if n := len(h.mem.Events()); n != 2 {
		t.Fatalf("backfill pushed %d events, want 2", n)
	}
	calls := h.mem.Calls()
	if err := h.sync.Backfill(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.settled(t)
	if h.mem.Calls() != calls {
		t.Errorf("a second backfill of the same calendar pushed again")
	}
}

func TestBusyTimesRemoveSlotsAndOwnEventsAreNotCountedTwice(t *testing.T) {
	h := newHarness(t, withCalendar(t, "minimal", true))
	ctx := context.Background()
	b := h.book(t, "2026-12-03T09:00:00+01:00")
	h.settled(t)
	// An external meeting 10:30–11:15 on Thursday 3 December.
	h.mem.AddBusy(connectors.Busy{Start: time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC), End: time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC), UID: "external@example.org"})
	h.sync.RefreshBusy(ctx)
	caller := booking.Caller{Agent: h.cat.Load().Agent("camille-martin")}
	found, err := h.booking.Slots(ctx, caller, booking.SlotsRequest{MotifID: "rsa-orientation", LieuID: "mds-arras-centre", From: "2026-12-03", To: "2026-12-03"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range found {
		if s.Agent.ID == "camille-martin" {
			got = append(got, s.Start.In(now.Location()).Format("15:04"))
		}
	}
	// 09:00 is the RDV; 09:45 is free; 10:30–11:15 is the meeting; 11:15 is free.
	if strings.Join(got, " ") != "09:45 11:15" {
		t.Errorf("camille's slots on 3 December: %v", got)
	}
	st, _ := h.sync.Status(ctx, caller.Agent)
	if !st.Busy.Enabled || st.Busy.Intervals != 1 || st.Busy.RefreshedAt == nil {
		t.Errorf("busy status: %+v (own event %s must not count)", st.Busy, b.RDV.ID)
	}
	// A calendar that cannot be read keeps its last busy times.
	h.mem.Fail = func(op, uid string) error { return errors.New("503") }
	h.sync.RefreshBusy(ctx)
	st, _ = h.sync.Status(ctx, caller.Agent)
	if st.Busy.Intervals != 1 || st.Busy.LastError != "503" {
		t.Errorf("busy status after a failed refresh: %+v", st.Busy)
	}
	if out := h.sync.AppendAgentBusy(nil, "camille-martin", time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 4, 0, 0, 0, 0, time.UTC)); len(out) != 1 {
		t.Errorf("cached busy times lost after a failed refresh: %v", out)
	}
}

// When a move gives the RDV to another agent, it leaves the first agent's
// calendar and appears in the second's.
func TestChangingAgentMovesTheEventBetweenCalendars(t *testing.T) {
	cat := testenv.Example(t,
		"    rdv_notifications_level: others\n", "    rdv_notifications_level: others\n    calendar: { caldav: { url: \"http://127.0.0.1:1/camille/\" } }\n",
		"    rdv_notifications_level: all\n", "    rdv_notifications_level: all\n    calendar: { caldav: { url: \"http://127.0.0.1:1/thomas/\" } }\n")
	calendars := map[string]*connectorstest.Memory{"camille-martin": connectorstest.NewMemory(), "thomas-leroy": connectorstest.NewMemory()}
	h := wire(t, cat, func(ctx context.Context, a *catalog.Agent) (connectors.Connector, error) { return calendars[a.ID], nil })
	b := h.book(t, "2026-12-07T11:15:00+01:00") // camille: thomas does not receive at 11:15 on Mondays
	h.settled(t)
	if n := len(calendars["camille-martin"].Events()); n != 1 {
		t.Fatalf("camille's calendar holds %d events", n)
	}
	// Tuesday 8 December 14:00: only thomas receives (every other Tuesday).
	moved, err := h.booking.Move(context.Background(), booking.Caller{Agent: cat.Agent("camille-martin")}, b.RDV.ID,
		booking.MoveRequest{StartsAt: "2026-12-08T14:00:00+01:00"})
	if err != nil {
		t.Fatal(err)
	}
	if moved.RDV.AgentIDs[0] != "thomas-leroy" {
		t.Fatalf("moved to %v", moved.RDV.AgentIDs)
	}
	h.settled(t)
	if evs := calendars["camille-martin"].Events(); len(evs) != 0 {
		t.Errorf("the event stayed in camille's calendar: %+v", evs)
	}
	if evs := calendars["thomas-leroy"].Events(); len(evs) != 1 || evs[0].UID != b.RDV.ID ||
		!evs[0].Start.Equal(time.Date(2026, 12, 8, 13, 0, 0, 0, time.UTC)) {
		t.Errorf("thomas's calendar: %+v", evs)
	}
}
