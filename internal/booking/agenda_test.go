package booking_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
	"rdvsync/internal/testenv"
)

// calendarBusy is an agent's external calendar: busy intervals by agent,
// and the windows asked for.
type calendarBusy struct {
	busy  map[string][]rdv.Interval
	asked []string
}

func (c *calendarBusy) AppendAgentBusy(dst []rdv.Interval, agentID string, from, to time.Time) []rdv.Interval {
	c.asked = append(c.asked, agentID+" "+from.Format(time.RFC3339)+" "+to.Format(time.RFC3339))
	for _, iv := range c.busy[agentID] {
		if iv.Start.Before(to) && iv.End.After(from) {
			dst = append(dst, iv)
		}
	}
	return dst
}

func TestAgenda(t *testing.T) {
	cat := testenv.Example(t)
	paris := cat.Organisation("mds-arras").Location
	dentist := rdv.Interval{Start: time.Date(2026, 12, 8, 15, 0, 0, 0, paris), End: time.Date(2026, 12, 8, 16, 0, 0, 0, paris)}
	cal := &calendarBusy{busy: map[string][]rdv.Interval{"camille-martin": {dentist}}}
	svc := booking.New(func() *catalog.Catalog { return cat }, testenv.Store(t),
		booking.Options{Now: func() time.Time { return now }, ExternalBusy: cal})
	ctx := context.Background()
	if _, err := svc.Book(ctx, booking.Caller{}, prescription("2026-12-07T09:00:00+01:00", "camille-martin", booking.UsagerInput{FirstName: "Léa", LastName: "Dubois"}), nil); err != nil {
		t.Fatal(err)
	}
	cal.asked = nil // booking checked the slot against the calendar
	monday, _ := rdv.ParseDate("2026-12-07")
	camille := cat.Agent("camille-martin")

	ag, err := svc.Agenda(ctx, camille, booking.AgendaRequest{From: monday, Days: 7})
	if err != nil {
		t.Fatal(err)
	}
	if len(ag.Agents) != 1 || ag.Agents[0].Agent != camille || ag.Organisation != nil {
		t.Fatalf("own agenda: %+v", ag)
	}
	a := ag.Agents[0]
	// Monday and Thursday 9:00–12:00.
	if len(a.Openings) != 2 || !a.Openings[0].Start.Equal(time.Date(2026, 12, 7, 9, 0, 0, 0, paris)) ||
		!a.Openings[1].End.Equal(time.Date(2026, 12, 10, 12, 0, 0, 0, paris)) {
		t.Errorf("openings %+v", a.Openings)
	}
	if len(a.RDVs) != 1 || a.RDVs[0].Usager.LastName != "Dubois" {
		t.Errorf("RDVs %+v", a.RDVs)
	}
	if len(a.Busy) != 1 || a.Busy[0] != dentist || len(cal.asked) != 1 ||
		cal.asked[0] != "camille-martin 2026-12-07T00:00:00+01:00 2026-12-14T00:00:00+01:00" {
		t.Errorf("busy %+v, asked %v", a.Busy, cal.asked)
	}

	org, err := svc.Agenda(ctx, camille, booking.AgendaRequest{OrganisationID: "mds-arras", From: monday, Days: 7})
	if err != nil || len(org.Agents) != 2 || org.Agents[1].Agent.ID != "thomas-leroy" {
		t.Errorf("organisation agenda: %+v, %v", org, err)
	}

	for _, req := range []booking.AgendaRequest{
		{OrganisationID: "mds-lens", From: monday, Days: 7},
		{AgentID: "sophie-dupont", From: monday, Days: 7},
		{OrganisationID: "mds-arras", AgentID: "sophie-dupont", From: monday, Days: 7},
	} {
		if _, err := svc.Agenda(ctx, camille, req); !errors.Is(err, rdv.ErrForbidden) {
			t.Errorf("%+v: %v, want forbidden", req, err)
		}
	}
	var inv *rdv.InvalidError
	if _, err := svc.Agenda(ctx, camille, booking.AgendaRequest{From: monday, Days: 40}); !errors.As(err, &inv) || inv.Fields["days"] == "" {
		t.Errorf("40 days: %v", err)
	}
}
