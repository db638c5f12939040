package booking_test

import (
	"context"
	"testing"
	"time"

	"rdvsync/internal/booking"
)

// Slot searches read booked RDVs from the store's in-memory read model:
// each booking, cancellation and move shows in the next search, the model
// having been loaded by the search before it.
func TestSearchSeesEachCommittedChange(t *testing.T) {
	svc, cat := newService(t)
	ctx := context.Background()
	camille := booking.Caller{Agent: cat.Agent("camille-martin")}
	offered := func(start string) bool {
		t.Helper()
		found, err := svc.Slots(ctx, camille, booking.SlotsRequest{MotifID: "rsa-orientation", LieuID: "mds-arras-centre", From: "2026-12-07", To: "2026-12-07"})
		if err != nil {
			t.Fatal(err)
		}
		want, _ := time.Parse(time.RFC3339, start)
		for _, s := range found {
			if s.Start.Equal(want) && s.Agent.ID == "camille-martin" {
				return true
			}
		}
		return false
	}
	book := func(start, name string) *booking.Booked {
		t.Helper()
		req := prescription(start, "camille-martin", booking.UsagerInput{FirstName: name, LastName: name})
		req.Prescripteur = nil // an agent books for its own service
		b, err := svc.Book(ctx, camille, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	const nine, tenThirty = "2026-12-07T09:00:00+01:00", "2026-12-07T10:30:00+01:00"
	if !offered(nine) || !offered(tenThirty) {
		t.Fatal("camille's 9:00 and 10:30 are not offered on an empty store")
	}

	b := book(nine, "A")
	if offered(nine) {
		t.Fatal("9:00 still offered after it was booked")
	}
	if _, err := svc.Cancel(ctx, camille, b.RDV.ID, ""); err != nil {
		t.Fatal(err)
	}
	if !offered(nine) {
		t.Fatal("9:00 not offered again after the cancellation")
	}

	b = book(nine, "B")
	if offered(nine) {
		t.Fatal("9:00 offered after it was booked again")
	}
	if _, err := svc.Move(ctx, camille, b.RDV.ID, booking.MoveRequest{StartsAt: tenThirty}); err != nil {
		t.Fatal(err)
	}
	if !offered(nine) || offered(tenThirty) {
		t.Fatalf("after the move to 10:30: 9:00 offered %v (want true), 10:30 offered %v (want false)", offered(nine), offered(tenThirty))
	}
}
