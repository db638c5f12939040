package booking_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"rdvsync/internal/booking"
	"rdvsync/internal/rdv"
)

// Issue 10 §1: an agent of the MDS Arras books at the MDS Lens
// ("élargir") an usager the MDS Arras recorded, typing only her names
// and phone. Every use case that shows the MDS Lens an usager shows it
// that contact; the MDS Arras sees its record.
func TestElargirShowsTheOtherOrganisationTheContactOnly(t *testing.T) {
	svc, cat := newService(t)
	ctx := context.Background()
	camille := booking.Caller{Agent: cat.Agent("camille-martin")}
	sophie := booking.Caller{Agent: cat.Agent("sophie-dupont")}
	recorded, err := svc.Book(ctx, camille, booking.BookRequest{MotifID: "rsa-orientation", LieuID: "mds-arras-centre",
		StartsAt: "2026-12-07T09:00:00+01:00", Usager: &booking.UsagerInput{FirstName: "Léa-Marie", LastName: "Dubois",
			PhoneNumber: "0612345678", Email: "lea@example.org", Address: "3 rue Ronville, 62000 Arras", PostalCode: "62000",
			CityCode: "62041", BirthDate: "1990-04-02"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	elargi, err := svc.Book(ctx, camille, booking.BookRequest{MotifID: "consultation-pmi", LieuID: "mds-lens-centre",
		StartsAt: "2026-12-02T13:30:00+01:00", Usager: &booking.UsagerInput{FirstName: "Lea Marie", LastName: "DUBOIS", PhoneNumber: "06 12 34 56 78"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if elargi.Usager.ID != recorded.Usager.ID || !elargi.RDV.ContactOnly {
		t.Fatalf("élargir: usager %s, contact only %v", elargi.Usager.ID, elargi.RDV.ContactOnly)
	}
	// What only the MDS Arras recorded.
	arrasOnly := []string{"Ronville", "62000", "62041", "1990-04-02", "lea@example.org", "Léa-Marie"}
	check := func(what string, v any) {
		t.Helper()
		data, _ := json.Marshal(v)
		for _, s := range arrasOnly {
			if strings.Contains(string(data), s) {
				t.Errorf("%s shows the MDS Lens %q: %s", what, s, data)
			}
		}
	}
	contact := func(what string, u *rdv.Usager) {
		t.Helper()
		if u.ID != recorded.Usager.ID || u.FirstName != "Lea Marie" || u.LastName != "DUBOIS" || u.PhoneNumber != "+33612345678" {
			t.Errorf("%s: the usager is not the contact given: %+v", what, u)
		}
		check(what, u)
	}

	got, err := svc.Get(ctx, sophie, elargi.RDV.ID)
	if err != nil {
		t.Fatal(err)
	}
	contact("Get", got.Usager)
	list, err := svc.List(ctx, sophie.Agent, booking.ListRequest{From: "2026-12-01", To: "2026-12-31"})
	if err != nil || len(list) != 1 {
		t.Fatalf("List: %v, %d RDVs", err, len(list))
	}
	contact("List", list[0].Usager)
	day, _ := rdv.ParseDate("2026-12-02")
	ag, err := svc.Agenda(ctx, sophie.Agent, booking.AgendaRequest{OrganisationID: "mds-lens", From: day, Days: 1})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range ag.Agents {
		for _, b := range a.RDVs {
			contact("Agenda", b.Usager)
			n++
		}
	}
	if n != 1 {
		t.Errorf("the agenda shows %d RDVs, want the élargir one", n)
	}
	moved, err := svc.Move(ctx, sophie, elargi.RDV.ID, booking.MoveRequest{StartsAt: "2026-12-02T14:00:00+01:00"})
	if err != nil {
		t.Fatal(err)
	}
	contact("Move", moved.Usager)
	found, err := svc.SearchUsagers(ctx, sophie.Agent, "dubois")
	if err != nil || len(found) != 0 {
		t.Errorf("the MDS Lens finds %d usagers (%v), want none", len(found), err)
	}
	if _, err := svc.ExportUsager(ctx, sophie.Agent, recorded.Usager.ID); !errors.Is(err, rdv.ErrNotFound) {
		t.Errorf("the MDS Lens exports the MDS Arras's usager: %v", err)
	}
	if _, err := svc.EraseUsager(ctx, sophie.Agent, recorded.Usager.ID); !errors.Is(err, rdv.ErrNotFound) {
		t.Errorf("the MDS Lens erases the MDS Arras's usager: %v", err)
	}
	// By id, the MDS Lens cannot pick her either; by names and phone it
	// records a new usager of its own.
	_, err = svc.Book(ctx, sophie, booking.BookRequest{MotifID: "consultation-pmi", LieuID: "mds-lens-centre",
		StartsAt: "2026-12-02T15:00:00+01:00", UsagerID: recorded.Usager.ID}, nil)
	var inv *rdv.InvalidError
	if !errors.As(err, &inv) || inv.Fields["usager_id"] == "" {
		t.Errorf("the MDS Lens books the MDS Arras's usager by id: %v", err)
	}
	own, err := svc.Book(ctx, sophie, booking.BookRequest{MotifID: "consultation-pmi", LieuID: "mds-lens-centre",
		StartsAt: "2026-12-02T15:00:00+01:00", Usager: &booking.UsagerInput{FirstName: "Léa Marie", LastName: "Dubois", PhoneNumber: "0612345678"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if own.Usager.ID == recorded.Usager.ID || own.RDV.ContactOnly {
		t.Errorf("the MDS Lens's own booking: usager %s, contact only %v", own.Usager.ID, own.RDV.ContactOnly)
	}
	check("the MDS Lens's own booking", own)

	// The MDS Arras sees its record, on its search and on the RDV it prescribed.
	for what, f := range map[string]func() (*rdv.Usager, error){
		"A's Get": func() (*rdv.Usager, error) {
			b, err := svc.Get(ctx, camille, elargi.RDV.ID)
			if err != nil {
				return nil, err
			}
			return b.Usager, nil
		},
		"A's search": func() (*rdv.Usager, error) {
			found, err := svc.SearchUsagers(ctx, camille.Agent, "dubois")
			if err != nil || len(found) != 1 {
				return nil, errors.New("not found once")
			}
			return found[0], nil
		},
	} {
		u, err := f()
		if err != nil || u.ID != recorded.Usager.ID || u.Address == "" || u.BirthDate == "" || u.Email == "" {
			t.Errorf("%s: %+v %v, want the MDS Arras's record", what, u, err)
		}
	}
}

// An agent's idempotent retry shows the usager as the agent's
// organisations see it now: an usager it created at the MDS Lens, which
// the MDS Lens then completed, is not the MDS Arras's to read.
func TestElargirReplayShowsWhatTheAgentMaySee(t *testing.T) {
	svc, cat := newService(t)
	ctx := context.Background()
	camille := booking.Caller{Agent: cat.Agent("camille-martin")}
	req := booking.BookRequest{MotifID: "consultation-pmi", LieuID: "mds-lens-centre", StartsAt: "2026-12-02T13:30:00+01:00",
		Usager: &booking.UsagerInput{FirstName: "Tom", LastName: "Martin", PhoneNumber: "0612345678"}}
	idem := &booking.Idempotency{Key: "k1", BodySHA256: "h1"}
	first, err := svc.Book(ctx, camille, req, idem)
	if err != nil {
		t.Fatal(err)
	}
	if first.RDV.ContactOnly {
		t.Error("a new usager booked élargir is the MDS Lens's: the RDV is not contact only")
	}
	// The MDS Lens knows Tom and completes him with his birth date.
	if _, err := svc.Book(ctx, booking.Caller{Agent: cat.Agent("sophie-dupont")}, booking.BookRequest{MotifID: "consultation-pmi",
		LieuID: "mds-lens-centre", StartsAt: "2026-12-02T14:00:00+01:00",
		Usager: &booking.UsagerInput{FirstName: "Tom", LastName: "Martin", PhoneNumber: "0612345678", BirthDate: "2019-05-06"}}, nil); err != nil {
		t.Fatal(err)
	}
	again, err := svc.Book(ctx, camille, req, idem)
	if err != nil || !again.Replayed || again.RDV.ID != first.RDV.ID {
		t.Fatalf("replay: %+v %v", again, err)
	}
	if again.Usager.BirthDate != "" || again.Usager.FirstName != "Tom" {
		t.Errorf("the replay shows the MDS Arras what the MDS Lens recorded: %+v", again.Usager)
	}
}
