package caldav

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-ical"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func paris(t testing.TB) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

func goldenEvents(t *testing.T) map[string]struct {
	ev     Event
	method string
} {
	loc := paris(t)
	minimal := Event{
		UID:      "0f8c5a4e-2d0b-4c1e-9a57-3b1f6f0e8a11",
		Sequence: 1,
		Stamp:    time.Date(2026, 11, 20, 14, 3, 7, 0, time.UTC),
		Start:    time.Date(2026, 12, 7, 9, 0, 0, 0, loc),
		End:      time.Date(2026, 12, 7, 9, 45, 0, 0, loc),
		Summary:  "RDV Orientation RSA",
		Location: "MDS Arras Centre, 1 place Foch, 62000 Arras",
		Description: "Motif : Orientation RSA (MDS Arras)\n" +
			"Détails et « Rendez-vous pris par » : https://rdv.example.org/agents/rdvs/0f8c5a4e-2d0b-4c1e-9a57-3b1f6f0e8a11",
		URL: "https://rdv.example.org/agents/rdvs/0f8c5a4e-2d0b-4c1e-9a57-3b1f6f0e8a11",
	}
	cancelled := minimal
	cancelled.Sequence = 3
	cancelled.Cancelled = true
	cancelled.Summary = "[Annulé] RDV Orientation RSA"
	request := minimal
	request.Summary = "RDV Accompagnement à l'insertion socio-professionnelle — Léa Dubois-Écrivain, avec une élocution très détaillée"
	request.Description = "Usager : Léa Dubois, +33612345678\nContexte : besoin d'aide; dossier « CAF », rappel, etc.\n" + minimal.Description
	return map[string]struct {
		ev     Event
		method string
	}{
		"minimal":   {minimal, ""},
		"cancelled": {cancelled, ""},
		"request":   {request, MethodRequest},
	}
}

func TestCalendarGolden(t *testing.T) {
	for name, tc := range goldenEvents(t) {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Encode(&buf, tc.ev.Calendar(tc.method)); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".ics")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Errorf("%s differs from the encoder output (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", golden, buf.Bytes(), want)
			}
			checkLines(t, buf.Bytes())
		})
	}
}

// checkLines enforces RFC 5545 §3.1 on encoded text: CRLF line ends,
// at most 75 octets per line, folds never inside a UTF-8 sequence.
func checkLines(t *testing.T, b []byte) {
	t.Helper()
	if !bytes.HasSuffix(b, []byte("\r\n")) {
		t.Error("output does not end with CRLF")
	}
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\r\n"), "\r\n") {
		if strings.ContainsAny(line, "\r\n") {
			t.Errorf("line %d has a bare CR or LF: %q", i+1, line)
		}
		if len(line) > 75 {
			t.Errorf("line %d is %d octets long: %q", i+1, len(line), line)
		}
		if !utf8.ValidString(line) {
			t.Errorf("line %d splits a UTF-8 sequence: %q", i+1, line)
		}
	}
}

func TestCalendarProperties(t *testing.T) {
	evs := goldenEvents(t)
	tests := []struct {
		name, method string
		ev           Event
		want         map[string]string // property → value as decoded; "" = absent
	}{
		{"stored object", "", evs["minimal"].ev, map[string]string{
			"METHOD": "", "STATUS": "CONFIRMED", "TRANSP": "OPAQUE", "DTSTART": "20261207T080000Z",
			"DTEND": "20261207T084500Z", "SEQUENCE": "1", "ATTENDEE": "", "ORGANIZER": "",
		}},
		{"cancelled", "", evs["cancelled"].ev, map[string]string{"STATUS": "CANCELLED", "SEQUENCE": "3", "METHOD": ""}},
		{"email", MethodRequest, evs["request"].ev, map[string]string{"METHOD": "REQUEST", "ATTENDEE": ""}},
		{"cancel email", MethodCancel, evs["cancelled"].ev, map[string]string{"METHOD": "CANCEL", "STATUS": "CANCELLED"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Encode(&buf, tc.ev.Calendar(tc.method)); err != nil {
				t.Fatal(err)
			}
			cal, err := ical.NewDecoder(&buf).Decode()
			if err != nil {
				t.Fatalf("go-ical cannot read its own output back: %v", err)
			}
			events := cal.Events()
			if len(events) != 1 {
				t.Fatalf("%d VEVENTs, want 1", len(events))
			}
			ev := events[0]
			for name, want := range tc.want {
				var got string
				if p := cal.Props.Get(name); p != nil {
					got = p.Value
				} else if p := ev.Props.Get(name); p != nil {
					got = p.Value
				}
				if got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			for name, want := range map[string]string{
				ical.PropUID: tc.ev.UID, ical.PropSummary: tc.ev.Summary,
				ical.PropLocation: tc.ev.Location, ical.PropDescription: tc.ev.Description,
			} {
				if got, err := ev.Props.Text(name); err != nil || got != want {
					t.Errorf("%s read back as %q (%v), want %q", name, got, err, want)
				}
			}
			start, err := ev.DateTimeStart(nil)
			if err != nil || !start.Equal(tc.ev.Start) {
				t.Errorf("DTSTART read back as %v (%v), want %v", start, err, tc.ev.Start)
			}
			if v, _ := cal.Props.Text(ical.PropProductID); v != ProdID {
				t.Errorf("PRODID = %q", v)
			}
		})
	}
}

func TestEncodeFoldsOnRuneBoundaries(t *testing.T) {
	// Every offset of a two-octet rune against the 75-octet boundary.
	for pad := 0; pad < 4; pad++ {
		ev := Event{UID: "u", Stamp: time.Unix(0, 0), Start: time.Unix(0, 0), End: time.Unix(3600, 0),
			Summary: strings.Repeat("x", pad) + strings.Repeat("é", 200)}
		var buf bytes.Buffer
		if err := Encode(&buf, ev.Calendar("")); err != nil {
			t.Fatal(err)
		}
		checkLines(t, buf.Bytes())
		cal, err := ical.NewDecoder(&buf).Decode()
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := cal.Events()[0].Props.Text(ical.PropSummary); got != ev.Summary {
			t.Errorf("pad %d: SUMMARY read back as %q", pad, got)
		}
	}
}
