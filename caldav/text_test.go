package caldav

import (
	"bytes"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

// Text that never went through the edge's normalisation (stored by an
// older rdvsync, or typed in the configuration) still encodes: a CR
// becomes a line break, other control characters are dropped, and go-ical
// reads back what a reader would see.
func TestTextPropertiesTakeAnyStoredText(t *testing.T) {
	start := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	ev := Event{UID: "r1", Stamp: start, Start: start, End: start.Add(time.Hour),
		Summary:     "RDV \x1b[2JOrientation\r\nRSA",
		Location:    "MDS\x00 Arras\rCentre",
		Description: "Contexte : Première ligne\r\nSeconde\rTroisième\u0085\tfin; ok, \\"}
	var buf bytes.Buffer
	if err := Encode(&buf, ev.Calendar("")); err != nil {
		t.Fatalf("encode: %v", err)
	}
	cal, err := ical.NewDecoder(&buf).Decode()
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, buf.String())
	}
	got := cal.Events()[0].Props
	for prop, want := range map[string]string{
		ical.PropSummary:     "RDV [2JOrientation\nRSA",
		ical.PropLocation:    "MDS Arras\nCentre",
		ical.PropDescription: "Contexte : Première ligne\nSeconde\nTroisième\tfin; ok, \\",
	} {
		if v, err := got.Text(prop); err != nil || v != want {
			t.Errorf("%s = %q (%v), want %q", prop, v, err, want)
		}
	}
}
