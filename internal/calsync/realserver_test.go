package calsync_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"rdvsync/caldav"
	"rdvsync/caldav/caldavtest"
	"rdvsync/connectors"
	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
)

// realHarness wires booking, calendar sync and the outbox to a real CalDAV
// server, as the daemon does.
type realHarness struct {
	*harness
	server caldavtest.Server
	client *caldav.Client
}

func newRealHarness(t *testing.T, server caldavtest.Server, readBusy bool) *realHarness {
	t.Helper()
	cfg := connectors.CalDAVConfig{URL: server.CalendarURL, Username: server.Username, Password: server.Password, Timeout: 5 * time.Second}
	h := &realHarness{server: server, harness: wire(t, withCalendar(t, "minimal", readBusy), func(ctx context.Context, a *catalog.Agent) (connectors.Connector, error) {
		c := cfg
		c.Location = a.Organisations[0].Location
		return connectors.NewCalDAV(c)
	})}
	var err error
	if h.client, err = caldav.NewClient(server.CalendarURL, server.Username, server.Password, caldav.ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	return h
}

// events lists the calendar as the server holds it: every object parsed
// by the server's own rules and ours (one VEVENT each).
func (h *realHarness) events(t *testing.T) map[string]*ical.Component {
	t.Helper()
	objs, err := h.client.List(context.Background())
	if err != nil {
		t.Fatalf("listing the calendar: %v", err)
	}
	out := map[string]*ical.Component{}
	for _, o := range objs {
		evs := o.Calendar.Events()
		if len(evs) != 1 {
			t.Fatalf("object %s holds %d events", o.Name, len(evs))
		}
		uid, _ := evs[0].Props.Text(ical.PropUID)
		if o.Name != uid+".ics" {
			t.Errorf("object %s holds UID %s", o.Name, uid)
		}
		if _, dup := out[uid]; dup {
			t.Errorf("UID %s twice in the calendar", uid)
		}
		if evs[0].Props.Get("METHOD") != nil || o.Calendar.Props.Get(ical.PropMethod) != nil || evs[0].Props.Get(ical.PropAttendee) != nil {
			t.Errorf("stored object %s carries METHOD or ATTENDEE", o.Name)
		}
		out[uid] = evs[0].Component
	}
	return out
}

func start(t *testing.T, ev *ical.Component) time.Time {
	t.Helper()
	s, err := ev.Props.DateTime(ical.PropDateTimeStart, time.UTC)
	if err != nil {
		t.Fatal(err)
	}
	return s.UTC()
}

func sequence(ev *ical.Component) string {
	p := ev.Props.Get(ical.PropSequence)
	if p == nil {
		return ""
	}
	return p.Value
}

func seqNum(t *testing.T, ev *ical.Component) int {
	t.Helper()
	n, err := strconv.Atoi(sequence(ev))
	if err != nil {
		t.Fatalf("SEQUENCE %q: %v", sequence(ev), err)
	}
	return n
}

var servers = []struct {
	name  string
	start func(testing.TB) caldavtest.Server
}{
	{"radicale", caldavtest.StartRadicale},
	{"xandikos", caldavtest.StartXandikos},
}

func TestRealServersBookMoveCancel(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			h := newRealHarness(t, srv.start(t), false)
			ctx := context.Background()
			b := h.book(t, "2026-12-03T09:00:00+01:00")
			h.settled(t)
			evs := h.events(t)
			ev := evs[b.RDV.ID]
			if len(evs) != 1 || ev == nil || !start(t, ev).Equal(time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)) {
				t.Fatalf("after booking: %v", evs)
			}
			summary, _ := ev.Props.Text(ical.PropSummary)
			location, _ := ev.Props.Text(ical.PropLocation)
			desc, _ := ev.Props.Text(ical.PropDescription)
			if summary != "RDV Orientation RSA" || location != "MDS Arras Centre, 1 place Foch, 62000 Arras" {
				t.Errorf("summary %q, location %q", summary, location)
			}
			if strings.Contains(summary+desc, "Dubois") || strings.Contains(desc, "0612") {
				t.Errorf("details: minimal must keep usager data out: %q", desc)
			}
			seq := sequence(ev)

			agent := booking.Caller{Agent: h.cat.Load().Agent("camille-martin")}
			if _, err := h.booking.Move(ctx, agent, b.RDV.ID, booking.MoveRequest{StartsAt: "2026-12-07T10:30:00+01:00"}); err != nil {
				t.Fatal(err)
			}
			h.settled(t)
			evs = h.events(t)
			if ev = evs[b.RDV.ID]; len(evs) != 1 || ev == nil || !start(t, ev).Equal(time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)) || sequence(ev) <= seq {
				t.Fatalf("after moving: %d objects, sequence %s (was %s)", len(evs), sequence(ev), seq)
			}

			if _, err := h.booking.Cancel(ctx, agent, b.RDV.ID, ""); err != nil {
				t.Fatal(err)
			}
			h.settled(t)
			if evs = h.events(t); len(evs) != 0 {
				t.Fatalf("after cancelling: %d objects", len(evs))
			}

			// Reopened: the event is back, with a higher SEQUENCE than any sent.
			if _, err := h.booking.SetStatus(ctx, agent.Agent, b.RDV.ID, rdv.StatusUnknown); err != nil {
				t.Fatal(err)
			}
			h.settled(t)
			evs = h.events(t)
			if ev2 := evs[b.RDV.ID]; len(evs) != 1 || ev2 == nil || !start(t, ev2).Equal(time.Date(2026, 12, 7, 9, 30, 0, 0, time.UTC)) || seqNum(t, ev2) <= seqNum(t, ev) {
				t.Fatalf("after reopening: %d objects, %v", len(evs), ev2)
			}
		})
	}
}

func TestRealServerOutageConverges(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			server := srv.start(t)
			h := newRealHarness(t, server, false)
			ctx := context.Background()
			agent := booking.Caller{Agent: h.cat.Load().Agent("camille-martin")}
			a := h.book(t, "2026-12-03T09:00:00+01:00")
			h.settled(t)

			server.Stop(t)
			b := h.book(t, "2026-12-03T09:45:00+01:00")
			c := h.book(t, "2026-12-07T09:00:00+01:00")
			d := h.book(t, "2026-12-07T09:45:00+01:00")
			if _, err := h.booking.Move(ctx, agent, a.RDV.ID, booking.MoveRequest{StartsAt: "2026-12-10T11:15:00+01:00"}); err != nil {
				t.Fatal(err)
			}
			if _, err := h.booking.Cancel(ctx, agent, b.RDV.ID, ""); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(10 * time.Second)
			for {
				st, _ := h.sync.Status(ctx, agent.Agent)
				if st.Failing > 0 && st.LastError != "" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the outage never showed in the status: %+v", st)
				}
				time.Sleep(20 * time.Millisecond)
			}
			server.Restart(t)
			h.settled(t)
			evs := h.events(t)
			want := map[string]time.Time{
				a.RDV.ID: time.Date(2026, 12, 10, 10, 15, 0, 0, time.UTC),
				c.RDV.ID: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC),
				d.RDV.ID: time.Date(2026, 12, 7, 8, 45, 0, 0, time.UTC),
			}
			if len(evs) != len(want) {
				t.Errorf("%d objects after the outage, want %d", len(evs), len(want))
			}
			for id, at := range want {
				if ev := evs[id]; ev == nil || !start(t, ev).Equal(at) {
					t.Errorf("RDV %s: %v", id, ev)
				}
			}
			st, _ := h.sync.Status(ctx, agent.Agent)
			if st.Dead != 0 || st.Pending != 0 || st.Synced != 3 {
				t.Errorf("status after the outage: %+v", st)
			}
		})
	}
}

func TestRealServerBusyTimes(t *testing.T) {
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			h := newRealHarness(t, srv.start(t), true)
			ctx := context.Background()
			h.book(t, "2026-12-03T09:00:00+01:00")
			h.settled(t)
			// Two events the agent put in its calendar itself on 3 December:
			// an opaque meeting 10:30–11:15 and a "free" (transparent) one 11:15–12:00.
			meeting := caldavtest.ExternalEvent("reunion@example.org", "Réunion d'équipe",
				time.Date(2026, 12, 3, 9, 30, 0, 0, time.UTC), time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC))
			free := caldavtest.ExternalEvent("dispo@example.org", "Permanence (libre)",
				time.Date(2026, 12, 3, 10, 15, 0, 0, time.UTC), time.Date(2026, 12, 3, 11, 0, 0, 0, time.UTC))
			free.Props.SetText(ical.PropTransparency, "TRANSPARENT")
			for name, ev := range map[string]*ical.Component{"reunion.ics": meeting, "dispo.ics": free} {
				if _, err := h.client.Put(ctx, name, caldavtest.ExternalCalendar(ev), ""); err != nil {
					t.Fatal(err)
				}
			}
			h.sync.RefreshBusy(ctx)
			found, err := h.booking.Slots(ctx, booking.Caller{Agent: h.cat.Load().Agent("camille-martin")},
				booking.SlotsRequest{MotifID: "rsa-orientation", LieuID: "mds-arras-centre", From: "2026-12-03", To: "2026-12-03"})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, s := range found {
				if s.Agent.ID == "camille-martin" {
					got = append(got, s.Start.In(now.Location()).Format("15:04"))
				}
			}
			// 09:00 is the RDV (our own event, not counted twice), 10:30–11:15 the meeting.
			if fmt.Sprint(got) != "[09:45 11:15]" {
				t.Errorf("camille's slots: %v", got)
			}
			st, _ := h.sync.Status(ctx, h.cat.Load().Agent("camille-martin"))
			if st.Busy.Intervals != 1 || st.Busy.LastError != "" {
				t.Errorf("busy status: %+v", st.Busy)
			}
		})
	}
}
