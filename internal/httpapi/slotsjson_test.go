package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/slots"
)

// The hand-written slots body is byte for byte what encoding/json writes
// for NewSlotsResponse: plain ids, ids needing escapes (quotes, HTML
// characters, accents, U+2028, invalid UTF-8, control characters), no lieu,
// no agent, several zones, and no slot at all.
func TestSlotsJSONIsEncodingJSONs(t *testing.T) {
	paris, _ := time.LoadLocation("Europe/Paris")
	reunion, _ := time.LoadLocation("Indian/Reunion")
	org := &catalog.Organisation{ID: "mds-arras", Location: paris}
	odd := &catalog.Organisation{ID: "org \"<é>&\u2028\x01\xff\\", Location: reunion}
	m := &catalog.Motif{ID: "rsa-orientation", Organisation: org, Duration: 45 * time.Minute}
	m2 := &catalog.Motif{ID: "m\t\n<script>", Organisation: odd, Duration: 30 * time.Minute}
	lieu := &catalog.Lieu{ID: "mds-arras-centre"}
	agent := &catalog.Agent{ID: "camille-martin"}
	start := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	cases := [][]slots.Slot{
		nil,
		{},
		{{Start: start, End: start.Add(45 * time.Minute), Motif: m, Lieu: lieu, Agent: agent}},
		{
			{Start: start, End: start.Add(45 * time.Minute), Motif: m, Lieu: lieu},
			{Start: start.Add(time.Hour), End: start.Add(90 * time.Minute), Motif: m2, Agent: &catalog.Agent{ID: "a\"b"}},
			{Start: start.Add(2 * time.Hour), End: start.Add(150 * time.Minute), Motif: m2, Lieu: &catalog.Lieu{ID: "é"}},
		},
	}
	// Every half hour over two years, across the clock changes, in five
	// zones (one at UTC, one west of it).
	utc := &catalog.Organisation{ID: "utc", Location: time.UTC}
	nyc, _ := time.LoadLocation("America/New_York")
	west := &catalog.Organisation{ID: "nyc", Location: nyc}
	var many []slots.Slot
	for i, t := 0, time.Date(2026, 1, 1, 0, 7, 13, 0, time.UTC); i < 2*365*48; i, t = i+1, t.Add(30*time.Minute) {
		o := []*catalog.Organisation{org, odd, utc, west}[i%4]
		many = append(many, slots.Slot{Start: t, End: t.Add(45 * time.Minute), Motif: &catalog.Motif{ID: "m", Organisation: o}})
	}
	cases = append(cases, many)
	for i, found := range cases {
		want := httptest.NewRecorder()
		writeJSON(want, http.StatusOK, NewSlotsResponse(found))
		got := httptest.NewRecorder()
		writeSlots(got, found)
		if got.Body.String() != want.Body.String() {
			t.Errorf("case %d:\n got %q\nwant %q", i, got.Body.String(), want.Body.String())
		}
		if g, w := got.Header().Get("Content-Type"), want.Header().Get("Content-Type"); g != w || got.Code != want.Code {
			t.Errorf("case %d: %d %q, want %d %q", i, got.Code, g, want.Code, w)
		}
	}
}
