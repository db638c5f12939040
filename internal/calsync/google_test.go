package calsync_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/calendar/v3"

	"rdvsync/connectors"
	"rdvsync/connectors/googlefake"
	"rdvsync/internal/booking"
	"rdvsync/internal/calsync"
	"rdvsync/internal/catalog"
	"rdvsync/internal/store"
)

type fakeTokens struct{ fake *googlefake.Server }

func (f fakeTokens) Token() (*oauth2.Token, error) {
	return &oauth2.Token{AccessToken: f.fake.AccessToken(), TokenType: "Bearer"}, nil
}

// An RDV in an agent's Google calendar through the whole chain (booking,
// outbox, sync record, Google connector, a fake as strict as Google): the
// agent's own edits of the event survive moves of the RDV, and once the
// agent deleted the event and Google purged it, the next move recreates it
// under a new id that the sync record keeps and the busy-time reader
// recognises as rdvsync's own.
func TestGoogleEventSurvivesAgentEditsAndPurge(t *testing.T) {
	fake := googlefake.New(t)
	h := wire(t, withCalendar(t, "minimal", true), func(ctx context.Context, a *catalog.Agent) (connectors.Connector, error) {
		return connectors.NewGoogle(ctx, connectors.GoogleConfig{AgentID: a.ID, TokenSource: fakeTokens{fake},
			Endpoint: fake.Endpoint(), HTTPClient: &http.Client{}, Timeout: 5 * time.Second})
	})
	ctx := context.Background()
	agent := booking.Caller{Agent: h.cat.Load().Agent("camille-martin")}
	b := h.book(t, "2026-12-03T09:00:00+01:00")
	h.settled(t)
	id := strings.ReplaceAll(b.RDV.ID, "-", "")
	fake.Edit("primary", id, func(e *calendar.Event) {
		e.ColorId = "11"
		e.Reminders = &calendar.EventReminders{Overrides: []*calendar.EventReminder{{Method: "popup", Minutes: 15}}}
		e.Description += "\nNote : dossier incomplet."
	})
	move := func(start string) {
		t.Helper()
		if _, err := h.booking.Move(ctx, agent, b.RDV.ID, booking.MoveRequest{StartsAt: start}); err != nil {
			t.Fatal(err)
		}
		h.settled(t)
	}
	move("2026-12-03T10:30:00+01:00")
	e, _ := fake.Event("primary", id)
	if e.Start.DateTime != "2026-12-03T09:30:00Z" || e.ColorId != "11" || e.Reminders == nil ||
		len(e.Reminders.Overrides) != 1 || !strings.HasSuffix(e.Description, "\nNote : dossier incomplet.") {
		t.Errorf("after the move: start %s colour %q reminders %+v description %q", e.Start.DateTime, e.ColorId, e.Reminders, e.Description)
	}

	// The agent deletes the event; Google empties the bin 30 days later.
	fake.Edit("primary", id, func(e *calendar.Event) { e.Status = "cancelled" })
	fake.Purge("primary")
	move("2026-12-03T11:15:00+01:00")
	events := fake.Events("primary")
	if len(events) != 1 || events[0].Id != id+"g1" || events[0].Start.DateTime != "2026-12-03T10:15:00Z" {
		t.Fatalf("after the purge and a move: %+v", events)
	}
	var rec calsync.SyncRecord
	if err := h.store.View(ctx, func(tx *store.ReadTx) error { return tx.CalendarSync("camille-martin", b.RDV.ID, &rec) }); err != nil {
		t.Fatal(err)
	}
	if rec.EventID != id+"g1" || rec.Generation != 1 {
		t.Errorf("sync record = %+v, want event %sg1, generation 1", rec, id)
	}
	move("2026-12-03T09:00:00+01:00")
	if events = fake.Events("primary"); len(events) != 1 || events[0].Id != id+"g1" || events[0].Start.DateTime != "2026-12-03T08:00:00Z" {
		t.Errorf("a move after the new id: %+v", events)
	}

	h.sync.RefreshBusy(ctx)
	st, err := h.sync.Status(ctx, agent.Agent)
	if err != nil || st.Busy.RefreshedAt == nil || st.Busy.Intervals != 0 || st.Busy.LastError != "" {
		t.Errorf("busy status %+v, %v: the recreated event is rdvsync's own", st.Busy, err)
	}
}
