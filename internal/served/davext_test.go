package served

import (
	"encoding/xml"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

// extMultistatus reads what the caldavext layer adds to a 207 body.
type extMultistatus struct {
	Responses []struct {
		Href      string `xml:"href"`
		Status    string `xml:"status"`
		Propstats []struct {
			Status string `xml:"status"`
			Prop   struct {
				Reports      []anyElements `xml:"supported-report-set>supported-report>report"`
				Privileges   []anyElements `xml:"current-user-privilege-set>privilege"`
				SyncToken    *string       `xml:"DAV: sync-token"`
				CTag         *string       `xml:"http://calendarserver.org/ns/ getctag"`
				ETag         string        `xml:"getetag"`
				CalendarData string        `xml:"calendar-data"`
			} `xml:"prop"`
		} `xml:"propstat"`
	} `xml:"response"`
	SyncToken string `xml:"sync-token"`
}

func decodeExt(t testing.TB, body string) extMultistatus {
	t.Helper()
	var ms extMultistatus
	if err := xml.Unmarshal([]byte(body), &ms); err != nil {
		t.Fatalf("not a multistatus: %v\n%s", err, body)
	}
	return ms
}

// camilleDAV sends a request as Camille with an XML body.
func (f *fixture) camilleDAV(t testing.TB, method, path, depth, body string) (*http.Response, string) {
	t.Helper()
	return f.do(t, method, path, basic(camille, camilleToken, "Depth", depth, "Content-Type", "application/xml; charset=utf-8"), body)
}

// anyElements reads the child elements of an element.
type anyElements struct {
	Items []struct{ XMLName xml.Name } `xml:",any"`
}

// names lists "namespace local" of the children of each element.
func names(elems []anyElements) []string {
	var out []string
	for _, e := range elems {
		for _, it := range e.Items {
			out = append(out, it.XMLName.Space+" "+it.XMLName.Local)
		}
	}
	return out
}

const extPropfind = `<?xml version="1.0" encoding="utf-8"?>
<d:propfind xmlns:d="DAV:" xmlns:cs="http://calendarserver.org/ns/">
  <d:prop><d:supported-report-set/><d:current-user-privilege-set/><d:sync-token/><cs:getctag/><d:getetag/></d:prop>
</d:propfind>`

// TestDAVReportsAndPrivileges: RFC 4791 §7 wants supported-report-set on
// calendars and events; RFC 3744 §5.4's current-user-privilege-set tells
// clients the calendar is read-only.
func TestDAVReportsAndPrivileges(t *testing.T) {
	f := newFixture(t, "")
	const caldavNS, davNS = "urn:ietf:params:xml:ns:caldav", "DAV:"
	want := map[string][]string{
		"/dav/":                      nil,
		principalPath(camille):       nil,
		homePath(camille):            nil,
		calendarPath(camille):        {caldavNS + " calendar-query", caldavNS + " calendar-multiget", caldavNS + " free-busy-query", davNS + " sync-collection"},
		objectPath(camille, rdvNext): {caldavNS + " calendar-query", caldavNS + " calendar-multiget"},
	}
	for path, reports := range want {
		resp, body := f.camilleDAV(t, "PROPFIND", path, "0", extPropfind)
		if resp.StatusCode != http.StatusMultiStatus {
			t.Fatalf("PROPFIND %s: %d\n%s", path, resp.StatusCode, body)
		}
		ms := decodeExt(t, body)
		if len(ms.Responses) != 1 {
			t.Fatalf("PROPFIND %s: %d responses\n%s", path, len(ms.Responses), body)
		}
		var found, privFound bool
		for _, ps := range ms.Responses[0].Propstats {
			if !strings.Contains(ps.Status, " 200 ") {
				continue
			}
			if got := names(ps.Prop.Reports); !slices.Equal(got, reports) {
				t.Errorf("%s: supported-report-set %v, want %v", path, got, reports)
			}
			found = true
			if got := names(ps.Prop.Privileges); slices.Equal(got, []string{davNS + " read", caldavNS + " read-free-busy"}) {
				privFound = true
			} else {
				t.Errorf("%s: current-user-privilege-set %v, want read and read-free-busy only", path, got)
			}
			hasToken := ps.Prop.SyncToken != nil && ps.Prop.CTag != nil
			if hasToken != (path == calendarPath(camille)) {
				t.Errorf("%s: sync-token and getctag served: %v\n%s", path, hasToken, body)
			}
		}
		if !found || !privFound {
			t.Errorf("PROPFIND %s: no 200 propstat with the properties\n%s", path, body)
		}
	}
	// DAV:propname lists them; DAV:allprop does not return them (RFC
	// 3253 §3.1.5, RFC 3744 §5.4, RFC 6578 §4).
	_, body := f.camilleDAV(t, "PROPFIND", calendarPath(camille), "0", `<d:propfind xmlns:d="DAV:"><d:propname/></d:propfind>`)
	for _, p := range []string{"supported-report-set", "current-user-privilege-set", "sync-token", "getctag"} {
		if !strings.Contains(body, p) {
			t.Errorf("propname does not list %s\n%s", p, body)
		}
	}
	_, body = f.camilleDAV(t, "PROPFIND", calendarPath(camille), "0", `<d:propfind xmlns:d="DAV:"><d:allprop/></d:propfind>`)
	if strings.Contains(body, "supported-report-set") || strings.Contains(body, "sync-token") {
		t.Errorf("allprop returns the layer's properties\n%s", body)
	}
}

// TestDAVLenientBodies: a PROPFIND or REPORT body is read as XML whatever
// its Content-Type (RFC 4918 §8.2 says SHOULD), and an empty PROPFIND is
// allprop (RFC 4918 §9.1), with or without an XML Content-Type.
func TestDAVLenientBodies(t *testing.T) {
	f := newFixture(t, "")
	for _, tc := range []struct {
		name, method, path, contentType, body string
	}{
		{"PROPFIND, no Content-Type", "PROPFIND", calendarPath(camille), "", propfindBody},
		{"PROPFIND, text/plain", "PROPFIND", calendarPath(camille), "text/plain", propfindBody},
		{"PROPFIND, empty body, XML type", "PROPFIND", calendarPath(camille), "application/xml", ""},
		{"PROPFIND /dav/, no Content-Type", "PROPFIND", "/dav/", "", propfindBody},
		{"multiget, no Content-Type", "REPORT", calendarPath(camille), "", multigetBody(objectPath(camille, rdvNext))},
		{"multiget, octet-stream", "REPORT", calendarPath(camille), "application/octet-stream", multigetBody(objectPath(camille, rdvNext))},
	} {
		h := basic(camille, camilleToken, "Depth", "0")
		if tc.contentType != "" {
			h.Set("Content-Type", tc.contentType)
		}
		resp, body := f.do(t, tc.method, tc.path, h, tc.body)
		if resp.StatusCode != http.StatusMultiStatus {
			t.Errorf("%s: %d, want 207\n%s", tc.name, resp.StatusCode, body)
		}
	}
	resp, body := f.camilleDAV(t, "REPORT", calendarPath(camille), "0", `<d:expand-property xmlns:d="DAV:"/>`)
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "supported-report") {
		t.Errorf("a report not served: %d, want 403 supported-report (RFC 3253 §3.6)\n%s", resp.StatusCode, body)
	}
	resp, _ = f.do(t, "PROPFIND", calendarPath(camille), basic(camille, camilleToken, "Content-Type", "text/plain"), "not xml")
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("a body that is not XML: %d, want 400", resp.StatusCode)
	}
}

// TestDAVOneByteSequencePerETag: calendar-data in every report is the
// body GET serves under the same ETag (RFC 9110 §8.8.3: a strong ETag
// names one representation), folded to 75 octets (RFC 5545 §3.1).
func TestDAVOneByteSequencePerETag(t *testing.T) {
	f := newFixture(t, "")
	gets := map[string]string{}
	etags := map[string]string{}
	for _, uid := range camilleUIDs {
		resp, body := f.do(t, "GET", objectPath(camille, uid), basic(camille, camilleToken), "")
		gets[objectPath(camille, uid)], etags[objectPath(camille, uid)] = body, resp.Header.Get("ETag")
	}
	if !strings.Contains(gets[objectPath(camille, rdvNext)], "\r\n ") {
		t.Fatalf("the fixture has no line long enough to fold:\n%s", gets[objectPath(camille, rdvNext)])
	}
	var hrefs []string
	for _, uid := range camilleUIDs {
		hrefs = append(hrefs, objectPath(camille, uid))
	}
	const query = `<c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop>
<c:filter><c:comp-filter name="VCALENDAR"><c:comp-filter name="VEVENT"/></c:comp-filter></c:filter></c:calendar-query>`
	const syncAll = `<d:sync-collection xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:sync-token/><d:sync-level>1</d:sync-level>
<d:prop><d:getetag/><c:calendar-data/></d:prop></d:sync-collection>`
	for name, body := range map[string]string{"calendar-multiget": multigetBody(hrefs...), "calendar-query": query, "sync-collection": syncAll} {
		resp, out := f.camilleDAV(t, "REPORT", calendarPath(camille), "1", body)
		if resp.StatusCode != http.StatusMultiStatus {
			t.Fatalf("%s: %d\n%s", name, resp.StatusCode, out)
		}
		ms := decodeExt(t, out)
		if len(ms.Responses) != len(camilleUIDs) {
			t.Errorf("%s: %d responses, want %d", name, len(ms.Responses), len(camilleUIDs))
		}
		for _, r := range ms.Responses {
			prop := r.Propstats[0].Prop
			if prop.ETag != etags[r.Href] || prop.CalendarData != gets[r.Href] {
				t.Errorf("%s %s: ETag %s with\n%q\nGET: ETag %s with\n%q", name, r.Href, prop.ETag, prop.CalendarData, etags[r.Href], gets[r.Href])
			}
		}
	}
}

const freeBusyQuery = `<?xml version="1.0" encoding="utf-8"?>
<c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:time-range start="%s" end="%s"/></c:free-busy-query>`

// TestDAVFreeBusy: RFC 4791 §7.10, the busy time of the agent's live RDVs.
func TestDAVFreeBusy(t *testing.T) {
	f := newFixture(t, "")
	resp, body := f.camilleDAV(t, "REPORT", calendarPath(camille), "1",
		strings.ReplaceAll(strings.Replace(freeBusyQuery, "%s", "20261207T081500Z", 1), "%s", "20261215T000000Z"))
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/calendar") {
		t.Fatalf("free-busy-query: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	cal, err := ical.NewDecoder(strings.NewReader(body)).Decode()
	if err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	var fb *ical.Component
	for _, c := range cal.Children {
		if c.Name == ical.CompFreeBusy {
			fb = c
		}
	}
	if fb == nil {
		t.Fatalf("no VFREEBUSY:\n%s", body)
	}
	if start, _ := fb.Props.DateTime(ical.PropDateTimeStart, time.UTC); !start.Equal(time.Date(2026, 12, 7, 8, 15, 0, 0, time.UTC)) {
		t.Errorf("DTSTART %v", start)
	}
	var periods []string
	for _, p := range fb.Props.Values(ical.PropFreeBusy) {
		periods = append(periods, p.Params.Get(ical.ParamFreeBusyType)+" "+p.Value)
	}
	// rdvNext (8:00–8:45 on 7 Dec, cut at the range start) and rdvShared
	// (14 Dec); not rdvCancelled (10 Dec), nor Thomas's RDV of 8 Dec.
	want := []string{"BUSY 20261207T081500Z/20261207T084500Z", "BUSY 20261214T080000Z/20261214T083000Z"}
	if !slices.Equal(periods, want) {
		t.Errorf("FREEBUSY %v, want %v\n%s", periods, want, body)
	}
	for name, q := range map[string]string{
		"no time-range": `<c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav"/>`,
		"no end":        `<c:free-busy-query xmlns:c="urn:ietf:params:xml:ns:caldav"><c:time-range start="20261201T000000Z"/></c:free-busy-query>`,
	} {
		if resp, _ := f.camilleDAV(t, "REPORT", calendarPath(camille), "1", q); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, resp.StatusCode)
		}
	}
}
