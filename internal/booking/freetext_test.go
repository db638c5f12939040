package booking_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	netmail "net/mail"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/emersion/go-ical"

	"rdvsync/caldav"
	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
)

// Browsers send CRLF line breaks, macOS tools NFD accents: what booking
// stores has LF and NFC, so that every encoder downstream accepts it.
func TestFreeTextIsNormalisedAtTheEdge(t *testing.T) {
	svc, _ := newService(t)
	req := prescription("2026-12-07T09:00:00+01:00", "", booking.UsagerInput{FirstName: "Le\u0301a", LastName: `O"Brien`})
	req.Context = "  Première ligne\r\nSeconde\rTroisième\n"
	b, err := svc.Book(context.Background(), booking.Caller{}, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b.RDV.Context != "Première ligne\nSeconde\nTroisième" {
		t.Errorf("context stored as %q", b.RDV.Context)
	}
	if b.Usager.FirstName != "L\u00e9a" || b.Usager.LastName != `O"Brien` {
		t.Errorf("usager stored as %q %q", b.Usager.FirstName, b.Usager.LastName)
	}
	if _, err := svc.Cancel(context.Background(), booking.Caller{UsagerToken: b.RDV.UsagerToken}, b.RDV.ID, "Empêché\r\nDésolé"); err != nil {
		t.Fatal(err)
	}
	if got, _ := svc.Get(context.Background(), booking.Caller{UsagerToken: b.RDV.UsagerToken}, b.RDV.ID); got.RDV.CancelReason != "Empêché\nDésolé" {
		t.Errorf("cancel reason stored as %q", got.RDV.CancelReason)
	}
}

func TestNamesRefuseInvisibleCharacters(t *testing.T) {
	svc, _ := newService(t)
	for _, name := range []string{
		"Dubois\u202egnp.exe", "\u202aDubois", "Dubois\u2066x\u2069", "Du\u200bbois", "Du\u200cbois", "Du\u200dbois",
		"Du\u2060bois", "\ufeffDubois", "Du\u0085bois", "Du\u009bbois", "Du\x7fbois", "Du\x00bois", "Du\tbois", "Du\nbois",
	} {
		for _, field := range []string{"usager.last_name", "prescripteur.first_name"} {
			req := prescription("2026-12-07T09:00:00+01:00", "", booking.UsagerInput{FirstName: "Léa", LastName: "Dubois"})
			if field == "usager.last_name" {
				req.Usager.LastName = name
			} else {
				req.Prescripteur.FirstName = name
			}
			_, err := svc.Book(context.Background(), booking.Caller{}, req, nil)
			var inv *rdv.InvalidError
			if !errors.As(err, &inv) || !strings.Contains(inv.Fields[field], "caractère invisible") {
				t.Errorf("%s %q: got %v, want a field error about invisible characters", field, name, err)
			}
		}
	}
}

// FuzzBook decodes a booking body as POST /api/v1/rdvs does and books it.
// Whatever the body, Book answers (no panic) with a booking or a known
// error; and any text it accepts can be written to a calendar and an
// email header and read back unchanged.
func FuzzBook(f *testing.F) {
	svc, cat := newService(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		var req booking.BookRequest
		if json.Unmarshal(body, &req) != nil {
			return
		}
		b, err := svc.Book(context.Background(), booking.Caller{}, req, nil)
		var inv *rdv.InvalidError
		switch {
		case errors.As(err, &inv):
			for k, msg := range inv.Fields {
				if k == "" || msg == "" || !utf8.ValidString(msg) {
					t.Fatalf("field error %q: %q", k, msg)
				}
			}
			return
		case errors.Is(err, rdv.ErrSlotUnavailable), errors.Is(err, rdv.ErrForbidden):
			return
		case err != nil:
			t.Fatalf("Book: unexpected error %v", err)
		}
		// Free the slot for the next input.
		defer func() {
			if _, err := svc.Cancel(context.Background(), booking.Caller{Agent: cat.Agent(b.RDV.AgentIDs[0])}, b.RDV.ID, ""); err != nil {
				t.Fatalf("cancel: %v", err)
			}
		}()
		checkRoundTrips(t, cat, b)
	})
}

// checkRoundTrips checks that the stored text of b survives the iCalendar
// encoder (go-ical reads it back identical) and RFC 5322 address
// formatting (net/mail reads the display name back identical).
func checkRoundTrips(t *testing.T, cat *catalog.Catalog, b *booking.Booked) {
	t.Helper()
	ev := caldav.NewEvent(cat, b.RDV, b.Usager, caldav.DetailsFull)
	var buf bytes.Buffer
	if err := caldav.Encode(&buf, ev.Calendar("")); err != nil {
		t.Fatalf("encode: %v", err)
	}
	back, err := ical.NewDecoder(&buf).Decode()
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, buf.String())
	}
	events := back.Events()
	if len(events) != 1 {
		t.Fatalf("%d events", len(events))
	}
	summary, _ := events[0].Props.Text(ical.PropSummary)
	desc, _ := events[0].Props.Text(ical.PropDescription)
	if summary != ev.Summary || desc != ev.Description {
		t.Fatalf("iCalendar round trip:\nsummary %q\n   want %q\ndescription %q\n       want %q", summary, ev.Summary, desc, ev.Description)
	}
	if b.RDV.Context != "" && !strings.Contains(desc, "Contexte : "+b.RDV.Context) {
		t.Fatalf("context %q lost in %q", b.RDV.Context, desc)
	}
	people := []string{b.Usager.FirstName + " " + b.Usager.LastName}
	if cb := b.RDV.CreatedBy; cb.Type == rdv.CreatedByPrescripteur {
		people = append(people, cb.FirstName+" "+cb.LastName)
	}
	for _, name := range people {
		a := netmail.Address{Name: name, Address: "usager@example.org"}
		got, err := netmail.ParseAddress(a.String())
		if err != nil || got.Name != name || got.Address != a.Address {
			t.Fatalf("address %q of name %q parses back as %+v, %v", a.String(), name, got, err)
		}
	}
}
