package caldavext

import (
	"context"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav"
	"github.com/emersion/go-webdav/caldav"
)

// memBackend is a read-write calendar in memory, serving both go-webdav's
// caldav.Backend and this package's Backend: the layer on an ordinary
// go-webdav server, independent of rdvsync.
type memBackend struct {
	mu      sync.Mutex
	seq     int
	objects map[string]caldav.CalendarObject
	changed map[string]int // path → seq of the last put or delete
	deleted map[string]bool
}

// go-webdav types a path by its depth: principal, home, calendar, event.
const (
	memPrincipal = "/u/"
	memHome      = "/u/cals/"
	memCalendar  = "/u/cals/cal/"
)

var (
	_ caldav.Backend = (*memBackend)(nil)
	_ Backend        = (*memBackend)(nil)
)

func newMemBackend() *memBackend {
	return &memBackend{objects: map[string]caldav.CalendarObject{}, changed: map[string]int{}, deleted: map[string]bool{}}
}

func (b *memBackend) CurrentUserPrincipal(context.Context) (string, error) { return memPrincipal, nil }
func (b *memBackend) CalendarHomeSetPath(context.Context) (string, error)  { return memHome, nil }
func (b *memBackend) CreateCalendar(context.Context, *caldav.Calendar) error {
	return webdav.NewHTTPError(http.StatusForbidden, nil)
}
func (b *memBackend) ListCalendars(ctx context.Context) ([]caldav.Calendar, error) {
	cal, err := b.GetCalendar(ctx, memCalendar)
	return []caldav.Calendar{*cal}, err
}
func (b *memBackend) GetCalendar(_ context.Context, p string) (*caldav.Calendar, error) {
	if p != memCalendar {
		return nil, webdav.NewHTTPError(http.StatusNotFound, nil)
	}
	return &caldav.Calendar{Path: memCalendar, Name: "cal"}, nil
}

func (b *memBackend) GetCalendarObject(_ context.Context, p string, _ *caldav.CalendarCompRequest) (*caldav.CalendarObject, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	co, ok := b.objects[p]
	if !ok {
		return nil, webdav.NewHTTPError(http.StatusNotFound, nil)
	}
	return &co, nil
}

func (b *memBackend) ListCalendarObjects(context.Context, string, *caldav.CalendarCompRequest) ([]caldav.CalendarObject, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []caldav.CalendarObject
	for _, co := range b.objects {
		out = append(out, co)
	}
	slices.SortFunc(out, func(a, b caldav.CalendarObject) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

func (b *memBackend) QueryCalendarObjects(ctx context.Context, p string, q *caldav.CalendarQuery) ([]caldav.CalendarObject, error) {
	all, err := b.ListCalendarObjects(ctx, p, nil)
	if err != nil {
		return nil, err
	}
	return caldav.Filter(q, all)
}

func (b *memBackend) PutCalendarObject(_ context.Context, p string, cal *ical.Calendar, _ *caldav.PutCalendarObjectOptions) (*caldav.CalendarObject, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	co := caldav.CalendarObject{Path: p, ETag: strconv.Itoa(b.seq), ModTime: time.Unix(int64(b.seq), 0), Data: cal}
	b.objects[p], b.changed[p] = co, b.seq
	delete(b.deleted, p)
	return &co, nil
}

func (b *memBackend) DeleteCalendarObject(_ context.Context, p string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.seq++
	delete(b.objects, p)
	b.changed[p], b.deleted[p] = b.seq, true
	return nil
}

func (b *memBackend) Resource(_ context.Context, p string) (*Resource, error) {
	kind := KindCollection
	switch {
	case p == memCalendar:
		kind = KindCalendar
	case strings.HasPrefix(p, memCalendar):
		kind = KindObject
	}
	return &Resource{Kind: kind, Privileges: []xml.Name{PrivilegeRead}}, nil
}

func (b *memBackend) SyncToken(context.Context, string) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return fmt.Sprintf("urn:test:%d", b.seq), nil
}

func (b *memBackend) SyncCollection(_ context.Context, _ string, token string) (*SyncChanges, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	since := 0
	if token != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(token, "urn:test:"))
		if err != nil || n > b.seq {
			return nil, ErrInvalidSyncToken
		}
		since = n
	}
	out := &SyncChanges{Token: fmt.Sprintf("urn:test:%d", b.seq)}
	for p, seq := range b.changed {
		switch {
		case seq <= since:
		case !b.deleted[p]:
			out.Changed = append(out.Changed, p)
		case token != "":
			out.Removed = append(out.Removed, p)
		}
	}
	slices.Sort(out.Changed)
	slices.Sort(out.Removed)
	return out, nil
}

// TestOnGoWebDAV puts the layer in front of a plain go-webdav handler:
// writes pass through, sync-collection tells what they changed, the
// free-busy report reads the events, and go-webdav's own client reads the
// properties.
func TestOnGoWebDAV(t *testing.T) {
	b := newMemBackend()
	srv := httptest.NewServer(&Handler{Next: &caldav.Handler{Backend: b}, Backend: b})
	defer srv.Close()
	do := func(method, p, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+p, strings.NewReader(body))
		if method == http.MethodPut {
			req.Header.Set("Content-Type", "text/calendar")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	event := func(uid string, hour int, summary string) string {
		return "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\nUID:" + uid +
			"\r\nDTSTAMP:20261201T100000Z\r\nDTSTART:20261207T" + fmt.Sprintf("%02d", hour) + "0000Z\r\nDTEND:20261207T" +
			fmt.Sprintf("%02d", hour+1) + "0000Z\r\nSUMMARY:" + summary + "\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
	}
	for i, uid := range []string{"a", "b", "c"} {
		if status, body := do(http.MethodPut, memCalendar+uid+".ics", event(uid, 8+2*i, "x")); status != http.StatusCreated {
			t.Fatalf("PUT %s: %d %s", uid, status, body)
		}
	}
	sync := func(token string) (hrefs []string, next string) {
		t.Helper()
		status, body := do("REPORT", memCalendar, `<sync-collection xmlns="DAV:"><sync-token>`+token+`</sync-token><sync-level>1</sync-level><prop><getetag/></prop></sync-collection>`)
		if status != http.StatusMultiStatus {
			t.Fatalf("sync-collection from %q: %d %s", token, status, body)
		}
		root, err := parseXML(strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range root.all(nsDAV, "response") {
			h := r.child(nsDAV, "href").value()
			if r.child(nsDAV, "status") != nil {
				h += " gone"
			}
			hrefs = append(hrefs, h)
		}
		return hrefs, root.child(nsDAV, "sync-token").value()
	}
	all, token := sync("")
	if want := []string{memCalendar + "a.ics", memCalendar + "b.ics", memCalendar + "c.ics"}; !slices.Equal(all, want) || token != "urn:test:3" {
		t.Errorf("initial sync %v %q", all, token)
	}
	do(http.MethodPut, memCalendar+"b.ics", event("b", 10, strings.Repeat("long summary ", 10)))
	do(http.MethodDelete, memCalendar+"c.ics", "")
	if got, _ := sync(token); !slices.Equal(got, []string{memCalendar + "b.ics", memCalendar + "c.ics gone"}) {
		t.Errorf("sync from %s: %v", token, got)
	}
	if status, body := do("REPORT", memCalendar, `<sync-collection xmlns="DAV:"><sync-token>urn:test:99</sync-token><prop/></sync-collection>`); status != http.StatusForbidden || !strings.Contains(body, "valid-sync-token") {
		t.Errorf("unknown token: %d %s", status, body)
	}

	// calendar-data is folded like RFC 5545 wants, the long SUMMARY too.
	status, body := do("REPORT", memCalendar, `<C:calendar-multiget xmlns="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav"><prop><C:calendar-data/></prop><href>/u/cals/cal/b.ics</href></C:calendar-multiget>`)
	if status != http.StatusMultiStatus || !strings.Contains(body, "&#xD;\n ") {
		t.Errorf("multiget: %d, calendar-data not folded:\n%s", status, body)
	}

	status, body = do("REPORT", memCalendar, `<C:free-busy-query xmlns:C="urn:ietf:params:xml:ns:caldav"><C:time-range start="20261207T000000Z" end="20261208T000000Z"/></C:free-busy-query>`)
	if status != http.StatusOK || !strings.Contains(body, "FREEBUSY;FBTYPE=BUSY:20261207T080000Z/20261207T090000Z\r\n") ||
		!strings.Contains(body, "FREEBUSY;FBTYPE=BUSY:20261207T100000Z/20261207T110000Z\r\n") || strings.Count(body, "FREEBUSY;") != 2 {
		t.Errorf("free-busy: %d\n%s", status, body)
	}

	client, err := caldav.NewClient(nil, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	cals, err := client.FindCalendars(context.Background(), memHome)
	if err != nil || len(cals) != 1 {
		t.Fatalf("go-webdav's client through the layer: %v %v", cals, err)
	}
	status, body = do("PROPFIND", memCalendar, `<propfind xmlns="DAV:" xmlns:CS="http://calendarserver.org/ns/"><prop><CS:getctag/><current-user-privilege-set/></prop></propfind>`)
	if status != http.StatusMultiStatus || !strings.Contains(body, "<cs:getctag>urn:test:5</cs:getctag>") || !strings.Contains(body, "<d:privilege><d:read/></d:privilege>") {
		t.Errorf("PROPFIND: %d\n%s", status, body)
	}
}
