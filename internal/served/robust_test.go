package served

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-ical"
	dto "github.com/prometheus/client_model/go"
)

const calendarQueryBody = `<?xml version="1.0" encoding="utf-8"?>
<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>
  <c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"/></c:comp-filter></c:filter>
</c:calendar-query>`

// davHrefs returns the object hrefs of a REPORT or PROPFIND on Camille's
// calendar, after checking the answer is a 207.
func (f *fixture) davHrefs(t *testing.T, method, body string) []string {
	t.Helper()
	resp, out := f.do(t, method, calendarPath(camille), basic(camille, camilleToken, "Depth", "1", "Content-Type", "application/xml"), body)
	if resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("%s on the calendar: %d %s", method, resp.StatusCode, out)
	}
	var hrefs []string
	for _, r := range decodeMultistatus(t, out).Responses {
		if strings.HasSuffix(r.Href, ".ics") {
			hrefs = append(hrefs, r.Href)
		}
	}
	slices.Sort(hrefs)
	return hrefs
}

func objectPaths(agentID string, uids ...string) []string {
	var out []string
	for _, u := range uids {
		out = append(out, objectPath(agentID, u))
	}
	slices.Sort(out)
	return out
}

// A store written before booking normalised line breaks holds a context
// with CRLF (what browsers send): the feed, the collection and the object
// are still served, with the line break as iCalendar writes it.
func TestStoredCRDoesNotBreakTheCalendars(t *testing.T) {
	f := newFixture(t, "")
	r := f.rdv(t, rdvNext)
	r.Context = "Première ligne\r\nSeconde\rTroisième"
	f.put(t, r)

	resp, body := f.do(t, "GET", f.feedURL(t, camille), nil, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("feed: %d %s", resp.StatusCode, body)
	}
	cal, err := ical.NewDecoder(strings.NewReader(body)).Decode()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ev := range cal.Events() {
		if uid, _ := ev.Props.Text(ical.PropUID); uid == rdvNext {
			desc, _ := ev.Props.Text(ical.PropDescription)
			found = strings.Contains(desc, "Contexte : Première ligne\nSeconde\nTroisième\n")
			if !found {
				t.Errorf("DESCRIPTION %q", desc)
			}
		}
	}
	if !found {
		t.Error("the event with a CR in its context is not in the feed")
	}
	for _, method := range []string{"PROPFIND", "REPORT"} {
		reqBody := propfindBody
		if method == "REPORT" {
			reqBody = calendarQueryBody
		}
		if got := f.davHrefs(t, method, reqBody); !slices.Equal(got, objectPaths(camille, camilleUIDs...)) {
			t.Errorf("%s lists %v", method, got)
		}
	}
	if resp, body := f.do(t, "GET", objectPath(camille, rdvNext), basic(camille, camilleToken), ""); resp.StatusCode != http.StatusOK {
		t.Errorf("GET the object: %d %s", resp.StatusCode, body)
	}
}

// One event that cannot be written is left out, logged with its RDV id
// and counted; the agent's feed and collection still answer with the
// others.
func TestCalendarsSkipAnEventTheyCannotWrite(t *testing.T) {
	f := newFixture(t, "")
	var logs bytes.Buffer
	f.srv.log = slog.New(slog.NewTextHandler(&logs, nil))
	f.srv.encode = func(cal *ical.Calendar) ([]byte, error) {
		for _, ev := range cal.Events() {
			if uid, _ := ev.Props.Text(ical.PropUID); uid == rdvNext {
				return nil, errors.New("ical: failed to encode property value: contains a CR or LF")
			}
		}
		return encode(cal)
	}
	others := slices.DeleteFunc(slices.Clone(camilleUIDs), func(u string) bool { return u == rdvNext })

	resp, body := f.do(t, "GET", f.feedURL(t, camille), nil, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("feed: %d %s", resp.StatusCode, body)
	}
	if _, uids, _ := parseFeed(t, body); !slices.Equal(uids, others) {
		t.Errorf("feed UIDs %v, want %v", uids, others)
	}
	for _, method := range []string{"PROPFIND", "REPORT"} {
		reqBody := propfindBody
		if method == "REPORT" {
			reqBody = calendarQueryBody
		}
		if got := f.davHrefs(t, method, reqBody); !slices.Equal(got, objectPaths(camille, others...)) {
			t.Errorf("%s lists %v, want %v", method, got, others)
		}
	}
	var m dto.Metric
	if err := f.srv.skipped.Write(&m); err != nil {
		t.Fatal(err)
	}
	if n := m.GetCounter().GetValue(); n != 3 {
		t.Errorf("rdvsync_served_events_skipped_total = %v, want 3 (feed, PROPFIND, REPORT)", n)
	}
	if !strings.Contains(logs.String(), "rdv_id="+rdvNext) {
		t.Errorf("the skipped event is not logged with its RDV id:\n%s", logs.String())
	}
	for _, personal := range []string{"Dubois", "Léa", "+336", "Dossier RSA"} {
		if strings.Contains(logs.String(), personal) {
			t.Errorf("the log shows %q:\n%s", personal, logs.String())
		}
	}
}
