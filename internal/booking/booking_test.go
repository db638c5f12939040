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

// Tuesday 1 December 2026, 10:00 in Paris.
var now = time.Date(2026, 12, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))

func newService(t testing.TB) (*booking.Service, *catalog.Catalog) {
	t.Helper()
	cat := testenv.Example(t)
	return booking.New(func() *catalog.Catalog { return cat }, testenv.Store(t), booking.Options{Now: func() time.Time { return now }}), cat
}

func prescription(start, agent string, usager booking.UsagerInput) booking.BookRequest {
	return booking.BookRequest{MotifID: "rsa-orientation", LieuID: "mds-arras-centre", StartsAt: start, AgentID: agent,
		Usager:       &usager,
		Prescripteur: &booking.PrescripteurInput{FirstName: "Jean", LastName: "Petit", Email: "jean.petit@example.org"}}
}

func TestChoosesTheFreeAgentWithTheFewestRDVsThatDay(t *testing.T) {
	svc, _ := newService(t)
	ctx := context.Background()
	// Monday 7 December: camille (9:00–12:00) and thomas (9:00–10:30) both receive at 9:00.
	if _, err := svc.Book(ctx, booking.Caller{}, prescription("2026-12-07T11:15:00+01:00", "camille-martin", booking.UsagerInput{FirstName: "A", LastName: "A"}), nil); err != nil {
		t.Fatal(err)
	}
	b, err := svc.Book(ctx, booking.Caller{}, prescription("2026-12-07T09:00:00+01:00", "", booking.UsagerInput{FirstName: "B", LastName: "B"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.RDV.AgentIDs; len(got) != 1 || got[0] != "thomas-leroy" {
		t.Errorf("camille has one RDV that day, thomas none: got %v", got)
	}
	// Now both have one; 9:45 is free for both: ties go in configuration order.
	b, err = svc.Book(ctx, booking.Caller{}, prescription("2026-12-07T09:45:00+01:00", "", booking.UsagerInput{FirstName: "C", LastName: "C"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := b.RDV.AgentIDs; got[0] != "camille-martin" {
		t.Errorf("tie: got %v, want camille-martin (first in the configuration)", got)
	}
}

func TestUsagerReuseKeepsFamiliesApart(t *testing.T) {
	svc, cat := newService(t)
	ctx := context.Background()
	lea := booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", Email: "famille.dubois@example.org"}
	tom := booking.UsagerInput{FirstName: "Tom", LastName: "Dubois", Email: "famille.dubois@example.org"}
	leaAgain := booking.UsagerInput{FirstName: "LEA", LastName: "dubois", Email: "Famille.Dubois@example.org", PhoneNumber: "06 12 34 56 78"}
	// The family is booked by a prescripteur, then Léa again by an agent
	// of the MDS (only agents reuse usagers, among their organisation's).
	agent := booking.Caller{Agent: cat.Agent("thomas-leroy")}
	var ids []string
	for i, u := range []booking.UsagerInput{lea, tom, leaAgain} {
		start := []string{"2026-12-07T09:00:00+01:00", "2026-12-07T09:45:00+01:00", "2026-12-07T10:30:00+01:00"}[i]
		req, caller := prescription(start, "camille-martin", u), booking.Caller{}
		if i == 2 {
			req.Prescripteur, caller = nil, agent
		}
		b, err := svc.Book(ctx, caller, req, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, b.Usager.ID)
		if i == 2 && b.Usager.PhoneNumber != "+33612345678" {
			t.Errorf("a known usager is completed with its new phone: %+v", b.Usager)
		}
	}
	if ids[0] == ids[1] {
		t.Error("Tom became Léa because they share an email")
	}
	if ids[0] != ids[2] {
		t.Error("Léa booked again (same names, same email) was duplicated")
	}
}

func TestPrescripteurRulesAndDelays(t *testing.T) {
	svc, cat := newService(t)
	ctx := context.Background()
	tests := []struct {
		name   string
		caller booking.Caller
		req    booking.BookRequest
		want   error
		field  string
	}{
		{"anonymous on an agents-only motif", booking.Caller{},
			booking.BookRequest{MotifID: "suivi-social-arras", LieuID: "mds-arras-centre", StartsAt: "2026-12-07T09:00:00+01:00",
				Usager: &booking.UsagerInput{FirstName: "A", LastName: "B"}, Prescripteur: &booking.PrescripteurInput{FirstName: "J", LastName: "P", Email: "j@example.org"}},
			rdv.ErrForbidden, ""},
		{"no prescripteur on a prescripteur motif", booking.Caller{},
			booking.BookRequest{MotifID: "rsa-orientation", LieuID: "mds-arras-centre", StartsAt: "2026-12-07T09:00:00+01:00",
				Usager: &booking.UsagerInput{FirstName: "A", LastName: "B"}}, nil, "prescripteur"},
		{"inside the min booking delay (30 min)", booking.Caller{},
			prescription("2026-12-01T10:15:00+01:00", "", booking.UsagerInput{FirstName: "A", LastName: "B"}), nil, "starts_at"},
		{"an agent is not bound by the delays but by the plages", booking.Caller{Agent: cat.Agent("camille-martin")},
			booking.BookRequest{MotifID: "rsa-orientation", LieuID: "mds-arras-centre", StartsAt: "2026-12-01T10:15:00+01:00",
				Usager: &booking.UsagerInput{FirstName: "A", LastName: "B"}}, nil, "starts_at"},
		{"agent of another territory organisation on an agents-only motif", booking.Caller{Agent: cat.Agent("julie-lefebvre")},
			booking.BookRequest{MotifID: "suivi-social-arras", LieuID: "mds-arras-centre", StartsAt: "2026-12-07T09:00:00+01:00",
				Usager: &booking.UsagerInput{FirstName: "A", LastName: "B"}}, rdv.ErrForbidden, ""},
		{"usager outside the sector of an organisation-level motif", booking.Caller{},
			booking.BookRequest{MotifID: "accompagnement-social-lens", LieuID: "mds-lens-centre", StartsAt: "2026-12-02T13:30:00+01:00",
				Usager:       &booking.UsagerInput{FirstName: "A", LastName: "B", PostalCode: "62000", CityCode: "62041"},
				Prescripteur: &booking.PrescripteurInput{FirstName: "J", LastName: "P", Email: "j@example.org"}}, nil, "starts_at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := svc.Book(ctx, tt.caller, tt.req, nil)
			var inv *rdv.InvalidError
			switch {
			case tt.want != nil && !errors.Is(err, tt.want):
				t.Errorf("got %v, want %v", err, tt.want)
			case tt.field != "" && (!errors.As(err, &inv) || inv.Fields[tt.field] == ""):
				t.Errorf("got %v, want an invalid %s", err, tt.field)
			}
		})
	}
}

func TestAgentsFindOnlyTheUsagersOfTheirOrganisations(t *testing.T) {
	svc, cat := newService(t)
	ctx := context.Background()
	b, err := svc.Book(ctx, booking.Caller{}, prescription("2026-12-07T09:00:00+01:00", "camille-martin",
		booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "0612345678"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	mds, mediatheque := cat.Agent("thomas-leroy"), cat.Agent("julie-lefebvre")
	if found, err := svc.SearchUsagers(ctx, mds, "dubois"); err != nil || len(found) != 1 || found[0].ID != b.Usager.ID {
		t.Errorf("an agent of the MDS Arras must find its usager: %v, %v", found, err)
	}
	if found, err := svc.SearchUsagers(ctx, mediatheque, "dubois"); err != nil || len(found) != 0 {
		t.Errorf("an agent of the médiathèque found an usager it does not know: %v, %v", found, err)
	}
	// Nor can it book for her by id (prescription interne with usager_id).
	_, err = svc.Book(ctx, booking.Caller{Agent: mediatheque}, booking.BookRequest{MotifID: "rsa-orientation",
		LieuID: "mds-arras-centre", StartsAt: "2026-12-07T09:45:00+01:00", UsagerID: b.Usager.ID}, nil)
	var inv *rdv.InvalidError
	if !errors.As(err, &inv) || inv.Fields["usager_id"] == "" {
		t.Errorf("booking with an unknown usager_id: %v", err)
	}
}

// TestElargirLinksTheAgentsUsagerAndKeepsEachRDVsContact: an agent of the
// médiathèque books at the MDS (élargir) for an usager the médiathèque
// knows: the RDV is hers. The new email the agent typed completes the
// usager and reaches this RDV's notifications, not those of her earlier
// RDV, which keep the contact they were booked with.
func TestElargirLinksTheAgentsUsagerAndKeepsEachRDVsContact(t *testing.T) {
	svc, cat := newService(t)
	ctx := context.Background()
	first, err := svc.Book(ctx, booking.Caller{}, booking.BookRequest{MotifID: "atelier-numerique", LieuID: "mediatheque-arras-verlaine",
		StartsAt: "2026-12-02T10:00:00+01:00", Usager: &booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "0612345678"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	julie := booking.Caller{Agent: cat.Agent("julie-lefebvre")}
	req := prescription("2026-12-07T09:00:00+01:00", "", booking.UsagerInput{FirstName: "Lea", LastName: "DUBOIS", PhoneNumber: "06 12 34 56 78", Email: "lea@example.org"})
	req.Prescripteur = nil
	second, err := svc.Book(ctx, julie, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Usager.ID != first.Usager.ID || second.RDV.OrganisationID != "mds-arras" {
		t.Fatalf("élargir did not link the médiathèque's usager: %s vs %s", second.Usager.ID, first.Usager.ID)
	}
	if second.Usager.Email != "lea@example.org" || second.RDV.Contact.Email != "lea@example.org" {
		t.Errorf("the agent's email did not complete the usager and this RDV's contact: %+v %+v", second.Usager, second.RDV.Contact)
	}
	again, err := svc.Get(ctx, julie, first.RDV.ID)
	if err != nil {
		t.Fatal(err)
	}
	if again.RDV.Contact.Email != "" || again.RDV.Contact.PhoneNumber != "+33612345678" {
		t.Errorf("the earlier RDV's contact changed: %+v", again.RDV.Contact)
	}
	// The usager's own link shows the contact of its RDV, not what an
	// agent added since.
	mine, err := svc.Get(ctx, booking.Caller{UsagerToken: first.RDV.UsagerToken}, first.RDV.ID)
	if err != nil {
		t.Fatal(err)
	}
	if mine.Usager.Email != "" || mine.Usager.Address != "" {
		t.Errorf("the usager's link shows data it did not give: %+v", mine.Usager)
	}
}
