package served

import (
	"context"
	"encoding/xml"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav"
	dav "github.com/emersion/go-webdav/caldav"
)

// multistatus is what the tests read of a 207 body.
type multistatus struct {
	Responses []struct {
		Href      string `xml:"href"`
		Status    string `xml:"status"`
		Propstats []struct {
			Status string `xml:"status"`
			Prop   struct {
				ETag                 string `xml:"getetag"`
				CalendarData         string `xml:"calendar-data"`
				CurrentUserPrincipal string `xml:"current-user-principal>href"`
				CalendarHomeSet      string `xml:"calendar-home-set>href"`
				DisplayName          string `xml:"displayname"`
			} `xml:"prop"`
		} `xml:"propstat"`
	} `xml:"response"`
}

func decodeMultistatus(t *testing.T, body string) multistatus {
	t.Helper()
	var ms multistatus
	if err := xml.Unmarshal([]byte(body), &ms); err != nil {
		t.Fatalf("not a multistatus: %v\n%s", err, body)
	}
	return ms
}

const propfindBody = `<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:current-user-principal/><d:resourcetype/><d:getetag/><d:displayname/><c:calendar-home-set/></d:prop>
</d:propfind>`

func multigetBody(hrefs ...string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>
<c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">
  <d:prop><d:getetag/><c:calendar-data/></d:prop>`)
	for _, h := range hrefs {
		b.WriteString("<d:href>" + h + "</d:href>")
	}
	b.WriteString("</c:calendar-multiget>")
	return b.String()
}

func objectPath(agentID, uid string) string { return calendarPath(agentID) + uid + ".ics" }

func TestDAVAuthentication(t *testing.T) {
	f := newFixture(t, "")
	for name, h := range map[string]http.Header{
		"no credentials":    nil,
		"bad token":         basic(camille, thomasToken),
		"unknown agent":     basic("nobody", camilleToken),
		"bearer, not basic": {"Authorization": {"Bearer " + camilleToken}},
	} {
		t.Run(name, func(t *testing.T) {
			resp, _ := f.do(t, "PROPFIND", "/dav/", h, "")
			if resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("status %d, want 401", resp.StatusCode)
			}
			if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, `Basic realm="rdvsync"`) {
				t.Errorf("WWW-Authenticate = %q", got)
			}
		})
	}
	resp, _ := f.do(t, "GET", "/.well-known/caldav", nil, "")
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != "/dav/" {
		t.Errorf("well-known: %d Location %q, want 301 /dav/", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestDAVDiscovery walks the paths a client follows from the root, with a
// real CalDAV client (go-webdav's) and with raw PROPFINDs for the hrefs.
func TestDAVDiscovery(t *testing.T) {
	f := newFixture(t, "")
	resp, body := f.do(t, "PROPFIND", "/dav/", basic(camille, camilleToken, "Depth", "0", "Content-Type", "application/xml"), propfindBody)
	if resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("PROPFIND /dav/: %d %s", resp.StatusCode, body)
	}
	ms := decodeMultistatus(t, body)
	if len(ms.Responses) != 1 || ms.Responses[0].Href != "/dav/" {
		t.Fatalf("PROPFIND /dav/ answers for %+v, want one response for /dav/", ms.Responses)
	}
	var principal string
	var notFound int
	for _, ps := range ms.Responses[0].Propstats {
		if strings.Contains(ps.Status, "200") {
			principal = ps.Prop.CurrentUserPrincipal
		}
		if strings.Contains(ps.Status, "404") {
			notFound++
		}
	}
	if principal != "/dav/principals/camille-martin/" || notFound != 1 {
		t.Errorf("root: principal %q and %d 404 propstat, want /dav/principals/camille-martin/ and one for the unknown properties\n%s", principal, notFound, body)
	}

	client, err := dav.NewClient(webdav.HTTPClientWithBasicAuth(nil, camille, camilleToken), f.ts.URL+"/dav/")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	p, err := client.FindCurrentUserPrincipal(ctx)
	if err != nil || p != "/dav/principals/camille-martin/" {
		t.Fatalf("FindCurrentUserPrincipal = %q, %v", p, err)
	}
	home, err := client.FindCalendarHomeSet(ctx, p)
	if err != nil || home != "/dav/calendars/camille-martin/" {
		t.Fatalf("FindCalendarHomeSet = %q, %v", home, err)
	}
	cals, err := client.FindCalendars(ctx, home)
	if err != nil || len(cals) != 1 || cals[0].Path != "/dav/calendars/camille-martin/rdv/" || cals[0].Name != "RDV" {
		t.Fatalf("FindCalendars = %+v, %v", cals, err)
	}
	objs, err := client.QueryCalendar(ctx, cals[0].Path, &dav.CalendarQuery{
		CompRequest: dav.CalendarCompRequest{Name: "VCALENDAR", AllProps: true, AllComps: true},
		CompFilter: dav.CompFilter{Name: "VCALENDAR", Comps: []dav.CompFilter{{Name: "VEVENT",
			// Starts exactly when rdvNext starts: RFC 4791 §9.9 includes it.
			Start: time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 12, 0, 0, 0, 0, time.UTC)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	var uids []string
	for _, o := range objs {
		uid, _ := o.Data.Events()[0].Props.Text(ical.PropUID)
		uids = append(uids, uid)
		if o.ETag == "" {
			t.Errorf("%s has no ETag", o.Path)
		}
	}
	if want := []string{rdvNext, rdvCancelled}; !slices.Equal(uids, want) {
		t.Errorf("calendar-query 7–12 Dec = %v, want %v", uids, want)
	}
	got, err := client.MultiGetCalendar(ctx, cals[0].Path, &dav.CalendarMultiGet{
		Paths: []string{objectPath(camille, rdvShared)}, CompRequest: dav.CalendarCompRequest{Name: "VCALENDAR", AllProps: true, AllComps: true}})
	if err != nil || len(got) != 1 {
		t.Fatalf("multiget = %+v, %v", got, err)
	}
	if summary, _ := got[0].Data.Events()[0].Props.Text(ical.PropSummary); summary != "RDV Suivi social — Léa Dubois" {
		t.Errorf("multiget summary = %q", summary)
	}
}

func TestDAVOtherAgent(t *testing.T) {
	f := newFixture(t, "")
	thomasAuth := func(kv ...string) http.Header { return basic(thomas, thomasToken, kv...) }
	for _, tc := range []struct{ method, path string }{
		{"PROPFIND", "/dav/principals/camille-martin/"},
		{"PROPFIND", "/dav/principals/camille-martin"},
		{"PROPFIND", "/dav/calendars/camille-martin/"},
		{"PROPFIND", "/dav/calendars/camille-martin/rdv/"},
		{"REPORT", "/dav/calendars/camille-martin/rdv/"},
		{"GET", "/dav/calendars/camille-martin/rdv/"},
		{"GET", objectPath(camille, rdvNext)},
		{"PROPFIND", objectPath(camille, rdvNext)},
		// Even a write gets 404: a 403 would say the calendar exists.
		{"PUT", objectPath(camille, rdvNext)},
		{"DELETE", "/dav/calendars/camille-martin/rdv/"},
		{"PROPFIND", "/dav/principals/"},
		{"PROPFIND", "/dav/calendars/"},
	} {
		resp, body := f.do(t, tc.method, tc.path, thomasAuth("Depth", "1", "Content-Type", "application/xml"), propfindBody)
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("Thomas: %s %s = %d, want 404\n%s", tc.method, tc.path, resp.StatusCode, body)
		}
	}
	// A multiget on Thomas's own calendar naming Camille's event, and
	// Camille's event that Thomas shares with her: only the shared one.
	resp, body := f.do(t, "REPORT", calendarPath(thomas), thomasAuth("Depth", "1", "Content-Type", "application/xml"),
		multigetBody(objectPath(camille, rdvNext), objectPath(thomas, rdvNext), objectPath(thomas, rdvShared)))
	if resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("multiget: %d %s", resp.StatusCode, body)
	}
	for _, r := range decodeMultistatus(t, body).Responses {
		wantData := r.Href == objectPath(thomas, rdvShared)
		hasData := len(r.Propstats) > 0 && r.Propstats[0].Prop.CalendarData != ""
		if wantData != hasData || (!wantData && !strings.Contains(r.Status, "404")) {
			t.Errorf("multiget %s: status %q, calendar-data %v", r.Href, r.Status, hasData)
		}
		if hasData && strings.Contains(r.Propstats[0].Prop.CalendarData, "Dubois") {
			t.Errorf("Thomas (details: minimal) sees the usager of %s", r.Href)
		}
	}
}

func TestDAVReadOnly(t *testing.T) {
	f := newFixture(t, "")
	event := "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTAMP:20261201T100000Z\r\nDTSTART:20261202T100000Z\r\nDTEND:20261202T110000Z\r\nSUMMARY:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	for _, tc := range []struct{ method, path, body string }{
		{"PUT", objectPath(camille, "new"), event},
		{"PUT", objectPath(camille, rdvNext), event},
		{"DELETE", objectPath(camille, rdvNext), ""},
		{"DELETE", calendarPath(camille), ""},
		{"MKCALENDAR", homePath(camille) + "other/", ""},
		{"MKCOL", homePath(camille) + "other/", ""},
		{"PROPPATCH", calendarPath(camille), `<d:propertyupdate xmlns:d="DAV:"><d:set><d:prop><d:displayname>x</d:displayname></d:prop></d:set></d:propertyupdate>`},
		{"MOVE", objectPath(camille, rdvNext), ""},
		{"POST", calendarPath(camille), event},
	} {
		resp, body := f.do(t, tc.method, tc.path, basic(camille, camilleToken, "Content-Type", "text/calendar", "Destination", f.ts.URL+objectPath(camille, "moved")), tc.body)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("%s %s = %d, want 403\n%s", tc.method, tc.path, resp.StatusCode, body)
		}
	}
	resp, body := f.do(t, "GET", objectPath(camille, rdvNext), basic(camille, camilleToken), "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, "SUMMARY:RDV Orientation RSA — Léa Dubois") {
		t.Errorf("the refused writes changed the event: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = f.do(t, "OPTIONS", calendarPath(camille), nil, "")
	if allow := resp.Header.Get("Allow"); strings.Contains(allow, "PUT") || !strings.Contains(resp.Header.Get("DAV"), "calendar-access") {
		t.Errorf("OPTIONS: Allow %q, DAV %q", allow, resp.Header.Get("DAV"))
	}
}

// etags lists the events of Camille's calendar with their ETags.
func (f *fixture) etags(t *testing.T) map[string]string {
	t.Helper()
	resp, body := f.do(t, "PROPFIND", calendarPath(camille), basic(camille, camilleToken, "Depth", "1", "Content-Type", "application/xml"),
		`<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`)
	if resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("PROPFIND Depth 1: %d %s", resp.StatusCode, body)
	}
	out := map[string]string{}
	for _, r := range decodeMultistatus(t, body).Responses {
		if uid, ok := strings.CutSuffix(strings.TrimPrefix(r.Href, calendarPath(camille)), ".ics"); ok {
			out[uid] = r.Propstats[0].Prop.ETag
		}
	}
	return out
}

func TestDAVETags(t *testing.T) {
	f := newFixture(t, "")
	before := f.etags(t)
	var uids []string
	for uid := range before {
		uids = append(uids, uid)
	}
	slices.Sort(uids)
	want := slices.Sorted(slices.Values(camilleUIDs))
	if !slices.Equal(uids, want) {
		t.Fatalf("PROPFIND lists %v, want %v (window, cancelled included)", uids, want)
	}

	resp, _ := f.do(t, "GET", objectPath(camille, rdvNext), basic(camille, camilleToken), "")
	if got := resp.Header.Get("ETag"); got != before[rdvNext] {
		t.Errorf("GET ETag %s, PROPFIND getetag %s", got, before[rdvNext])
	}
	resp, _ = f.do(t, "GET", objectPath(camille, rdvNext), basic(camille, camilleToken, "If-None-Match", before[rdvNext]), "")
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("GET If-None-Match: %d, want 304", resp.StatusCode)
	}

	moved := f.rdv(t, rdvNext)
	moved.StartsAt, moved.EndsAt = moved.StartsAt.Add(time.Hour), moved.EndsAt.Add(time.Hour)
	moved.UpdatedAt, moved.Version = testNow.Add(-time.Minute), moved.Version+1
	f.put(t, moved)
	after := f.etags(t)
	for _, uid := range camilleUIDs {
		if changed := after[uid] != before[uid]; changed != (uid == rdvNext) {
			t.Errorf("ETag of %s: %s → %s after moving %s", uid, before[uid], after[uid], rdvNext)
		}
	}
}

func TestClassify(t *testing.T) {
	tests := []struct {
		path      string
		want      resource
		canonical string
	}{
		{"/dav/", resRoot, "/dav/"},
		{"/dav", resRoot, "/dav/"},
		{"/dav/principals/camille-martin/", resPrincipal, "/dav/principals/camille-martin/"},
		{"/dav/principals/camille-martin", resPrincipal, "/dav/principals/camille-martin/"},
		{"/dav/calendars/camille-martin", resHome, "/dav/calendars/camille-martin/"},
		{"/dav/calendars/camille-martin/rdv", resCalendar, "/dav/calendars/camille-martin/rdv/"},
		{"/dav/calendars/camille-martin/rdv/x.ics", resObject, "/dav/calendars/camille-martin/rdv/x.ics"},
		{"/dav/calendars/camille-martin/rdv/x.ics/", resNone, ""},
		{"/dav/calendars/camille-martin/rdv/.ics", resNone, ""},
		{"/dav/calendars/camille-martin/rdv/x", resNone, ""},
		{"/dav/calendars/camille-martin/other/", resNone, ""},
		{"/dav/calendars/camille-martin/rdv/a/b.ics", resNone, ""},
		{"/dav/calendars/thomas-leroy/rdv/", resNone, ""},
		{"/dav/principals/thomas-leroy/", resNone, ""},
		{"/dav/principals/", resNone, ""},
		{"/dav/principals/camille-martin/rdv/", resNone, ""},
		{"/dav/other/camille-martin/", resNone, ""},
		{"/davx/", resNone, ""},
	}
	for _, tc := range tests {
		got, canonical := classify(tc.path, camille)
		if got != tc.want || canonical != tc.canonical {
			t.Errorf("classify(%q) = %d %q, want %d %q", tc.path, got, canonical, tc.want, tc.canonical)
		}
	}
}

func TestMatchTimeRange(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 12, 7, h, m, 0, 0, time.UTC) }
	event := func(end bool) *ical.Component {
		ev := ical.NewEvent()
		ev.Props.SetText(ical.PropUID, "e")
		ev.Props.SetDateTime(ical.PropDateTimeStart, at(9, 0))
		if end {
			ev.Props.SetDateTime(ical.PropDateTimeEnd, at(9, 45))
		}
		cal := ical.NewCalendar()
		cal.Children = append(cal.Children, ev.Component)
		return cal.Component
	}
	query := func(start, end time.Time, more ...dav.CompFilter) dav.CompFilter {
		return dav.CompFilter{Name: "VCALENDAR", Comps: []dav.CompFilter{{Name: "VEVENT", Start: start, End: end, Comps: more}}}
	}
	var zero time.Time
	tests := []struct {
		name   string
		filter dav.CompFilter
		noEnd  bool
		want   bool
	}{
		{"starts at the range start", query(at(9, 0), at(9, 30)), false, true},
		{"same interval", query(at(9, 0), at(9, 45)), false, true},
		{"inside", query(at(9, 10), at(9, 20)), false, true},
		{"covers", query(at(8, 0), at(10, 0)), false, true},
		{"ends at the range start", query(at(9, 45), at(10, 0)), false, false},
		{"starts at the range end", query(at(8, 0), at(9, 0)), false, false},
		{"open end", query(at(9, 44), zero), false, true},
		{"open start", query(zero, at(9, 1)), false, true},
		{"open start, before", query(zero, at(9, 0)), false, false},
		{"instant at the range start", query(at(9, 0), at(9, 30)), true, true},
		{"instant at the range end", query(at(8, 0), at(9, 0)), true, false},
		{"no time range", query(zero, zero), false, true},
		{"no VALARM (is-not-defined)", query(zero, zero, dav.CompFilter{Name: "VALARM", IsNotDefined: true}), false, true},
		{"a VALARM required", query(zero, zero, dav.CompFilter{Name: "VALARM"}), false, false},
		{"VTODO", dav.CompFilter{Name: "VCALENDAR", Comps: []dav.CompFilter{{Name: "VTODO"}}}, false, false},
		{"UID text-match", dav.CompFilter{Name: "VCALENDAR", Comps: []dav.CompFilter{{Name: "VEVENT",
			Props: []dav.PropFilter{{Name: "UID", TextMatch: &dav.TextMatch{Text: "e"}}}}}}, false, true},
		{"UID text-match, other", dav.CompFilter{Name: "VCALENDAR", Comps: []dav.CompFilter{{Name: "VEVENT",
			Props: []dav.PropFilter{{Name: "UID", TextMatch: &dav.TextMatch{Text: "x"}}}}}}, false, false},
	}
	for _, tc := range tests {
		got, err := matchComp(tc.filter, event(!tc.noEnd))
		if err != nil || got != tc.want {
			t.Errorf("%s: match = %v, %v, want %v", tc.name, got, err, tc.want)
		}
	}
}

// TestDAVGuessingThrottled: wrong Basic passwords on /dav/ were never
// throttled (600 tries in 0.6 s). Now the 11th failure from one client
// gets a plain 429 with Retry-After, even with the right password, while
// requests without credentials still get the challenge.
func TestDAVGuessingThrottled(t *testing.T) {
	f := newFixture(t, "")
	for i := range 10 {
		if resp, _ := f.do(t, "PROPFIND", "/dav/", basic(camille, "guess"+strings.Repeat("x", i)), ""); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	resp, _ := f.do(t, "PROPFIND", "/dav/", basic(camille, camilleToken), "")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("right password after 10 wrong ones: %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if resp, _ := f.do(t, "PROPFIND", "/dav/", nil, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("no credentials: %d, want the 401 challenge", resp.StatusCode)
	}
}
