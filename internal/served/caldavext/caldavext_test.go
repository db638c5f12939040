package caldavext

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav/caldav"
)

func TestFold(t *testing.T) {
	long := "DESCRIPTION:" + strings.Repeat("é", 40) + "\r\n"
	tests := []struct{ name, in string }{
		{"short", "UID:x\r\nSUMMARY:y\r\n"},
		{"long, two-byte runes", long},
		{"no final CRLF", "UID:" + strings.Repeat("x", 200)},
	}
	for _, tc := range tests {
		out := string(fold([]byte(tc.in)))
		for _, line := range strings.Split(strings.TrimSuffix(out, "\r\n"), "\r\n") {
			if len(line) > maxLineOctets || !utf8.ValidString(line) {
				t.Errorf("%s: line of %d octets: %q", tc.name, len(line), line)
			}
		}
		if unfolded := strings.ReplaceAll(out, "\r\n ", ""); unfolded != tc.in {
			t.Errorf("%s: unfolding gives %q, want %q", tc.name, unfolded, tc.in)
		}
		if again := string(fold([]byte(out))); again != out {
			t.Errorf("%s: folding twice changes the text", tc.name)
		}
	}
}

func TestXMLRoundTrip(t *testing.T) {
	in := `<?xml version="1.0"?>
<multistatus xmlns="DAV:"><response><href>/a%20b.ics</href><propstat><prop>
<resourcetype><collection/><calendar xmlns="urn:ietf:params:xml:ns:caldav"/></resourcetype>
<C:calendar-data xmlns:C="urn:ietf:params:xml:ns:caldav">BEGIN:VCALENDAR&#xD;
END:VCALENDAR&#xD;
</C:calendar-data><x:color xmlns:x="http://apple.com/ns/ical/" a="1&amp;2"/></prop><status>HTTP/1.1 200 OK</status></propstat></response></multistatus>`
	root, err := parseXML(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	again, err := parseXML(strings.NewReader(string(root.marshal())))
	if err != nil {
		t.Fatalf("%v\n%s", err, root.marshal())
	}
	prop := again.child(nsDAV, "response").child(nsDAV, "propstat").child(nsDAV, "prop")
	if rt := prop.child(nsDAV, "resourcetype"); rt.child(nsCalDAV, "calendar") == nil || rt.child(nsDAV, "collection") == nil {
		t.Errorf("resourcetype lost its namespaces:\n%s", root.marshal())
	}
	if data := prop.child(nsCalDAV, "calendar-data").text; data != "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n" {
		t.Errorf("calendar-data %q", data)
	}
	if v, _ := prop.child("http://apple.com/ns/ical/", "color").attr("a"); v != "1&2" {
		t.Errorf("attribute %q", v)
	}
	if p, _ := hrefPath(again.child(nsDAV, "response").child(nsDAV, "href")); p != "/a b.ics" {
		t.Errorf("href path %q", p)
	}
}

func TestSetProp(t *testing.T) {
	resp, _ := parseXML(strings.NewReader(`<response xmlns="DAV:"><href>/c/</href>
<propstat><prop><getetag/><sync-token/></prop><status>HTTP/1.1 404 Not Found</status></propstat></response>`))
	setProp(resp, textElement(nsDAV, "sync-token", "t"))
	out := string(resp.marshal())
	want := `<d:response xmlns:d="DAV:"><d:href>/c/</d:href><d:propstat><d:prop><d:getetag/></d:prop><d:status>HTTP/1.1 404 Not Found</d:status></d:propstat>` +
		`<d:propstat><d:prop><d:sync-token>t</d:sync-token></d:prop><d:status>HTTP/1.1 200 OK</d:status></d:propstat></d:response>`
	if !strings.HasSuffix(out, want) {
		t.Errorf("got\n%s\nwant\n%s", out, want)
	}
	// The last property of a 404 propstat takes it away.
	setProp(resp, textElement(nsDAV, "getetag", `"e"`))
	if out := string(resp.marshal()); strings.Contains(out, "404") || !strings.Contains(out, `<d:getetag>"e"</d:getetag>`) {
		t.Errorf("after moving getetag:\n%s", out)
	}
}

func TestBusyPeriods(t *testing.T) {
	at := func(d, h, m int) time.Time { return time.Date(2026, 12, d, h, m, 0, 0, time.UTC) }
	event := func(start, end time.Time, kv ...string) caldav.CalendarObject {
		ev := ical.NewEvent()
		ev.Props.SetText(ical.PropUID, start.String())
		ev.Props.SetDateTime(ical.PropDateTimeStart, start)
		ev.Props.SetDateTime(ical.PropDateTimeEnd, end)
		for i := 0; i+1 < len(kv); i += 2 {
			ev.Props.SetText(kv[i], kv[i+1])
		}
		cal := ical.NewCalendar()
		cal.Children = append(cal.Children, ev.Component)
		return caldav.CalendarObject{Data: cal}
	}
	objs := []caldav.CalendarObject{
		event(at(7, 8, 0), at(7, 9, 0)),
		event(at(7, 8, 30), at(7, 10, 0)), // overlaps: merged
		event(at(7, 10, 0), at(7, 10, 30), ical.PropStatus, "TENTATIVE"),
		event(at(7, 11, 0), at(7, 12, 0), ical.PropStatus, "CANCELLED"),
		event(at(7, 13, 0), at(7, 14, 0), ical.PropTransparency, "TRANSPARENT"),
		event(at(7, 17, 0), at(7, 19, 0)), // cut at the range's end
	}
	var got []string
	for _, p := range busyPeriods(objs, at(7, 8, 15), at(7, 18, 0)) {
		got = append(got, p.fbType+" "+p.start.Format(utcFormat)+"/"+p.end.Format(utcFormat))
	}
	want := []string{
		"BUSY 20261207T081500Z/20261207T100000Z",
		"BUSY-TENTATIVE 20261207T100000Z/20261207T103000Z",
		"BUSY 20261207T170000Z/20261207T180000Z",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("busy periods\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
