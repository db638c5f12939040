package caldav

import (
	"bytes"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"rdvsync/internal/freetext"
)

// FuzzEventCalendar encodes an RDV's event with any text: the encoder
// never fails, every content line fits RFC 5545's 75 octets, and go-ical
// reads back the text a reader would see (controls dropped, line breaks
// as LF).
func FuzzEventCalendar(f *testing.F) {
	start := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, summary, location, description, link string, seq int) {
		ev := Event{UID: "a1000000-0000-4000-8000-000000000001", Sequence: seq, Stamp: start, Start: start, End: start.Add(45 * time.Minute),
			Summary: summary, Location: location, Description: description, URL: link, Cancelled: seq%2 == 1}
		for _, method := range []string{"", MethodRequest} {
			var buf bytes.Buffer
			if err := Encode(&buf, ev.Calendar(method)); err != nil {
				t.Fatalf("encode: %v", err)
			}
			for _, line := range bytes.Split(buf.Bytes(), []byte("\r\n")) {
				if len(line) > maxLineOctets {
					t.Fatalf("content line of %d octets: %q", len(line), line)
				}
			}
			cal, err := ical.NewDecoder(&buf).Decode()
			if err != nil {
				t.Fatalf("decode: %v\n%s", err, buf.String())
			}
			events := cal.Events()
			if len(events) != 1 {
				t.Fatalf("%d events", len(events))
			}
			props := events[0].Props
			for name, sent := range map[string]string{ical.PropSummary: summary, ical.PropLocation: location, ical.PropDescription: description} {
				want := freetext.Printable(sent, true)
				if got, _ := props.Text(name); got != want && (sent != "" || name == ical.PropSummary) {
					t.Fatalf("%s = %q, want %q", name, got, want)
				}
			}
		}
	})
}
