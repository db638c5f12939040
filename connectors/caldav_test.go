package connectors_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"rdvsync/caldav"
	"rdvsync/caldav/caldavtest"
	"rdvsync/connectors"
	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/rdv"
)

const davCatalogYAML = `
server: { public_url: "https://rdv.example.org" }
territories: [{ id: "62", name: Pas-de-Calais }]
organisations:
  - { id: mds-arras, name: "MDS Arras", territory: "62" }
services: [{ id: social, name: "Service social" }]
lieux:
  - { id: mds-arras-centre, organisation: mds-arras, name: "MDS Arras Centre", address: "1 place Foch, 62000 Arras" }
motifs:
  - { id: rsa-orientation, organisation: mds-arras, service: social, name: "Orientation RSA", duration: 45m }
agents:
  - { id: camille-martin, first_name: Camille, last_name: Martin, email: camille.martin@example.org, organisations: [mds-arras], services: [social], token_sha256: "7b09244c578ece40a4ef21c597478725fd77861def6e232dffaa647cd57f29d5" }
`

func davCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	f, err := config.Parse("rdvsync.yaml", []byte(davCatalogYAML))
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Build(f)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

var davParis = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		panic(err)
	}
	return loc
}()

var davLea = &rdv.Usager{ID: "u1", FirstName: "Léa", LastName: "Dubois", PhoneNumber: "+33612345678"}

// davRDV is an RDV on 7 December 2026 at 09:00 Paris time.
func davRDV(id string) *rdv.RDV {
	start := time.Date(2026, 12, 7, 9, 0, 0, 0, davParis).UTC()
	return &rdv.RDV{
		ID: id, Status: rdv.StatusUnknown, StartsAt: start, EndsAt: start.Add(45 * time.Minute),
		MotifID: "rsa-orientation", LieuID: "mds-arras-centre", OrganisationID: "mds-arras",
		AgentIDs: []string{"camille-martin"}, UsagerID: davLea.ID, Context: "Premier contact",
		CreatedAt: start.Add(-72 * time.Hour), UpdatedAt: start.Add(-72 * time.Hour), Version: 1,
	}
}

var davServers = []struct {
	name  string
	start func(testing.TB) caldavtest.Server
}{
	{"radicale", caldavtest.StartRadicale},
	{"xandikos", caldavtest.StartXandikos},
}

// davCalendar is one fresh calendar on a real server, with the connector
// under test and a plain client to look at what the server holds.
type davCalendar struct {
	conn   *connectors.CalDAV
	client *caldav.Client
}

func newDAVCalendar(t *testing.T, srv caldavtest.Server, name string) davCalendar {
	t.Helper()
	url := srv.MakeCalendar(t, name)
	conn, err := connectors.NewCalDAV(connectors.CalDAVConfig{URL: url, Username: srv.Username, Password: srv.Password, Timeout: 10 * time.Second, Location: davParis})
	if err != nil {
		t.Fatal(err)
	}
	client, err := caldav.NewClient(url, srv.Username, srv.Password, caldav.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return davCalendar{conn, client}
}

// only returns the one object of the calendar, failing unless there is
// exactly one: a duplicate is what an agent would notice first.
func (c davCalendar) only(t *testing.T) caldav.Object {
	t.Helper()
	objs, err := c.client.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != 1 {
		names := make([]string, len(objs))
		for i, o := range objs {
			names[i] = o.Name
		}
		t.Fatalf("calendar holds %d objects %v, want exactly one", len(objs), names)
	}
	return objs[0]
}

// checkDAVEvent checks the stored object shows ev.
func checkDAVEvent(t *testing.T, obj caldav.Object, ev caldav.Event) {
	t.Helper()
	events := obj.Calendar.Events()
	if len(events) != 1 {
		t.Fatalf("%s holds %d VEVENTs", obj.Name, len(events))
	}
	e := events[0]
	if obj.Name != ev.UID+".ics" {
		t.Errorf("object name %q, want %s.ics", obj.Name, ev.UID)
	}
	start, err := e.DateTimeStart(nil)
	if err != nil || !start.Equal(ev.Start) || start.Location() != time.UTC {
		t.Errorf("DTSTART %v (%v), want %v in UTC", start, err, ev.Start)
	}
	if seq, err := e.Props.Get(ical.PropSequence).Int(); err != nil || seq != ev.Sequence {
		t.Errorf("SEQUENCE %d (%v), want %d", seq, err, ev.Sequence)
	}
	for prop, want := range map[string]string{ical.PropUID: ev.UID, ical.PropSummary: ev.Summary, ical.PropLocation: ev.Location} {
		if got, _ := e.Props.Text(prop); got != want {
			t.Errorf("%s = %q, want %q", prop, got, want)
		}
	}
}

func TestCalDAVPushLifecycle(t *testing.T) {
	cat := davCatalog(t)
	for _, s := range davServers {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			srv := s.start(t)
			cal := newDAVCalendar(t, srv, "push")
			ctx := context.Background()
			r := davRDV("0f8c5a4e-2d0b-4c1e-9a57-3b1f6f0e8a11")
			ev := caldav.NewEvent(cat, r, davLea, caldav.DetailsMinimal)

			st, err := cal.conn.Put(ctx, ev, connectors.State{})
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			obj := cal.only(t)
			checkDAVEvent(t, obj, ev)
			if st.ETag == "" || st.ETag != obj.ETag || st.Href != obj.Href {
				t.Errorf("state %+v, server has href %s ETag %s", st, obj.Href, obj.ETag)
			}

			// The RDV moves: same object, new time, higher SEQUENCE.
			r.StartsAt, r.EndsAt, r.Version = r.StartsAt.Add(26*time.Hour), r.EndsAt.Add(26*time.Hour), 2
			moved := caldav.NewEvent(cat, r, davLea, caldav.DetailsMinimal)
			st2, err := cal.conn.Put(ctx, moved, st)
			if err != nil {
				t.Fatalf("update: %v", err)
			}
			checkDAVEvent(t, cal.only(t), moved)

			// The agent edits the event in its calendar application: the
			// ETag rdvsync kept is stale, the server refuses a write with
			// it, and the connector takes the new ETag and wins.
			edited := moved
			edited.Summary = "Déplacé à la main"
			if _, err := cal.client.Put(ctx, moved.UID+".ics", edited.Calendar(""), st2.ETag); err != nil {
				t.Fatalf("edit by the agent: %v", err)
			}
			if _, err := cal.client.Put(ctx, moved.UID+".ics", moved.Calendar(""), st2.ETag); !errors.Is(err, caldav.ErrPreconditionFailed) {
				t.Fatalf("write with a stale ETag: %v, want ErrPreconditionFailed", err)
			}
			r.Version = 4
			latest := caldav.NewEvent(cat, r, davLea, caldav.DetailsMinimal)
			st4, err := cal.conn.Put(ctx, latest, st2)
			if err != nil {
				t.Fatalf("update from a stale state: %v", err)
			}
			checkDAVEvent(t, cal.only(t), latest)

			// rdvsync crashed after a PUT, before saving its state: it
			// pushes again as a creation.
			r.Version = 5
			recovered := caldav.NewEvent(cat, r, davLea, caldav.DetailsMinimal)
			st5, err := cal.conn.Put(ctx, recovered, connectors.State{})
			if err != nil {
				t.Fatalf("create over an existing object: %v", err)
			}
			obj = cal.only(t)
			checkDAVEvent(t, obj, recovered)
			if st5.ETag != obj.ETag || st5.ETag == st4.ETag || st4.ETag == st2.ETag {
				t.Errorf("ETags: state %s, server %s (earlier %s, %s)", st5.ETag, obj.ETag, st4.ETag, st2.ETag)
			}

			// Cancelled: removed even with a stale state, and removing
			// it twice is fine.
			if err := cal.conn.Delete(ctx, r.ID, st); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if objs, err := cal.client.List(ctx); err != nil || len(objs) != 0 {
				t.Fatalf("after delete the calendar holds %d objects (%v)", len(objs), err)
			}
			if err := cal.conn.Delete(ctx, r.ID, st5); err != nil {
				t.Errorf("delete again: %v", err)
			}
			if err := cal.conn.Delete(ctx, r.ID, connectors.State{}); err != nil {
				t.Errorf("delete again without state: %v", err)
			}
		})
	}
}

func TestCalDAVDetails(t *testing.T) {
	cat := davCatalog(t)
	for _, s := range davServers {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			srv := s.start(t)
			ctx := context.Background()
			for _, tc := range []struct {
				details  caldav.Details
				showsLea bool
			}{{caldav.DetailsMinimal, false}, {caldav.DetailsFull, true}} {
				cal := newDAVCalendar(t, srv, "details-"+string(tc.details))
				ev := caldav.NewEvent(cat, davRDV("5b1d2c3e-0000-4000-8000-00000000000"+map[bool]string{false: "1", true: "2"}[tc.showsLea]), davLea, tc.details)
				if _, err := cal.conn.Put(ctx, ev, connectors.State{}); err != nil {
					t.Fatal(err)
				}
				e := cal.only(t).Calendar.Events()[0]
				var all []string
				for _, p := range []string{ical.PropSummary, ical.PropDescription, ical.PropLocation} {
					v, _ := e.Props.Text(p)
					all = append(all, v)
				}
				text := strings.Join(all, "\n")
				for _, personal := range []string{"Dubois", "Léa", "06 12 34 56 78", "Premier contact"} {
					if strings.Contains(text, personal) != tc.showsLea {
						t.Errorf("details %s: %q shown = %v:\n%s", tc.details, personal, !tc.showsLea, text)
					}
				}
				for _, p := range []string{ical.PropAttendee, ical.PropOrganizer} {
					if e.Props.Get(p) != nil {
						t.Errorf("details %s: stored event has %s", tc.details, p)
					}
				}
				if !strings.Contains(text, "Orientation RSA") || !strings.Contains(text, "https://rdv.example.org/agents/rdvs/") {
					t.Errorf("details %s: motif or link missing:\n%s", tc.details, text)
				}
			}
		})
	}
}

func TestCalDAVBusy(t *testing.T) {
	cat := davCatalog(t)
	at := func(month time.Month, day, hour, min int) time.Time {
		return time.Date(2026, month, day, hour, min, 0, 0, davParis)
	}
	for _, s := range davServers {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			srv := s.start(t)
			cal := newDAVCalendar(t, srv, "busy")
			ctx := context.Background()
			put := func(name string, c *ical.Calendar) {
				t.Helper()
				if _, err := cal.client.Put(ctx, name, c, ""); err != nil {
					t.Fatalf("PUT %s: %v", name, err)
				}
			}
			put("comite.ics", caldavtest.ExternalCalendar(caldavtest.ExternalEvent("comite@example.org", "Comité de pilotage", at(12, 8, 14, 0), at(12, 8, 16, 0))))
			reminder := caldavtest.ExternalEvent("rappel@example.org", "Penser au rapport", at(12, 9, 9, 0), at(12, 9, 9, 30))
			reminder.Props.SetText(ical.PropTransparency, "TRANSPARENT")
			put("rappel.ics", caldavtest.ExternalCalendar(reminder))
			weekly := caldavtest.ExternalEvent("permanence@example.org", "Permanence", at(11, 2, 13, 30), at(11, 2, 17, 0))
			weekly.Props.Set(&ical.Prop{Name: ical.PropRecurrenceRule, Params: ical.Params{}, Value: "FREQ=WEEKLY;BYDAY=MO"})
			put("permanence.ics", caldavtest.ExternalCalendar(weekly))
			r := davRDV("7a7a7a7a-1111-4222-8333-444455556666")
			if _, err := cal.conn.Put(ctx, caldav.NewEvent(cat, r, nil, caldav.DetailsMinimal), connectors.State{}); err != nil {
				t.Fatal(err)
			}

			got, err := cal.conn.Busy(ctx, at(12, 7, 0, 0), at(12, 15, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			want := []connectors.Busy{
				{UID: r.ID, Start: r.StartsAt, End: r.EndsAt},
				{UID: "permanence@example.org", Start: at(12, 7, 13, 30), End: at(12, 7, 17, 0)},
				{UID: "comite@example.org", Start: at(12, 8, 14, 0), End: at(12, 8, 16, 0)},
				{UID: "permanence@example.org", Start: at(12, 14, 13, 30), End: at(12, 14, 17, 0)},
			}
			if !slices.EqualFunc(got, want, func(a, b connectors.Busy) bool {
				return a.UID == b.UID && a.Start.Equal(b.Start) && a.End.Equal(b.End)
			}) {
				t.Errorf("Busy:\n got %v\nwant %v", got, want)
			}
		})
	}
}

// fakeDAV is an httptest CalDAV server that keeps objects in memory,
// honours If-Match and If-None-Match, and can be told to send no ETags
// or to answer every request with a fixed status.
type fakeDAV struct {
	mu      sync.Mutex
	objects map[string]string // path → ETag
	version int
	noETag  bool
	status  int    // when not 0, every request gets it
	header  string // Retry-After with status
	log     []string
}

func (f *fakeDAV) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cond := r.Header.Get("If-Match")
	if r.Header.Get("If-None-Match") == "*" {
		cond = "none"
	}
	f.log = append(f.log, r.Method+" "+cond)
	if f.status != 0 {
		if f.header != "" {
			w.Header().Set("Retry-After", f.header)
		}
		w.WriteHeader(f.status)
		return
	}
	etag, exists := f.objects[r.URL.Path]
	setETag := func(e string) {
		if !f.noETag {
			w.Header().Set("ETag", e)
		}
	}
	switch r.Method {
	case http.MethodGet:
		if !exists {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		setETag(etag)
		w.Header().Set("Content-Type", "text/calendar")
		caldav.Encode(w, caldav.Event{UID: "x", Stamp: time.Unix(0, 0), Start: time.Unix(0, 0), End: time.Unix(60, 0)}.Calendar(""))
	case http.MethodPut:
		im := r.Header.Get("If-Match")
		if r.Header.Get("If-None-Match") == "*" && exists || im != "" && (!exists || im != "*" && im != etag) {
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		f.version++
		etag = `"v` + strconv.Itoa(f.version) + `"`
		f.objects[r.URL.Path] = etag
		setETag(etag)
		w.WriteHeader(http.StatusCreated)
	case http.MethodDelete:
		im := r.Header.Get("If-Match")
		if !exists {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if im != "" && im != "*" && im != etag {
			w.WriteHeader(http.StatusPreconditionFailed)
			return
		}
		delete(f.objects, r.URL.Path)
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func newFakeDAV(t *testing.T, f *fakeDAV) *connectors.CalDAV {
	t.Helper()
	f.objects = map[string]string{}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	c, err := connectors.NewCalDAV(connectors.CalDAVConfig{URL: srv.URL + "/cal/", Username: "u", Password: "p", Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fakeDAVEvent() caldav.Event {
	return caldav.Event{UID: "rdv-1", Stamp: time.Unix(0, 0), Start: time.Unix(3600, 0), End: time.Unix(7200, 0), Summary: "RDV"}
}

func TestCalDAVServerWithoutETags(t *testing.T) {
	f := &fakeDAV{noETag: true}
	c := newFakeDAV(t, f)
	ctx := context.Background()
	st, err := c.Put(ctx, fakeDAVEvent(), connectors.State{})
	if err != nil || st.ETag != "" || st.Href != "/cal/rdv-1.ics" {
		t.Fatalf("create: %+v, %v; want no ETag and the href", st, err)
	}
	// Without an ETag the next push can only be a creation: refused,
	// then the object is replaced whatever its version.
	if _, err := c.Put(ctx, fakeDAVEvent(), st); err != nil {
		t.Fatalf("update: %v", err)
	}
	if err := c.Delete(ctx, "rdv-1", st); err != nil {
		t.Fatalf("delete: %v", err)
	}
	want := []string{"PUT none", "GET ", "PUT none", "GET ", "PUT *", "GET ", "DELETE "}
	if !slices.Equal(f.log, want) {
		t.Errorf("requests %q, want %q", f.log, want)
	}
}

func TestCalDAVRecoversFromPreconditionFailed(t *testing.T) {
	f := &fakeDAV{}
	c := newFakeDAV(t, f)
	ctx := context.Background()
	st, err := c.Put(ctx, fakeDAVEvent(), connectors.State{})
	if err != nil {
		t.Fatal(err)
	}
	f.objects["/cal/rdv-1.ics"] = `"changed-by-agent"`
	st2, err := c.Put(ctx, fakeDAVEvent(), st)
	if err != nil || st2.ETag != `"v2"` {
		t.Fatalf("update from a stale ETag: %+v, %v", st2, err)
	}
	f.objects["/cal/rdv-1.ics"] = `"changed-again"`
	if err := c.Delete(ctx, "rdv-1", st2); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"PUT none",
		`PUT "v1"`, "GET ", `PUT "changed-by-agent"`,
		`DELETE "v2"`, "GET ", `DELETE "changed-again"`,
	}
	if !slices.Equal(f.log, want) {
		t.Errorf("requests %q, want %q", f.log, want)
	}
}

func TestCalDAVErrorMapping(t *testing.T) {
	tests := []struct {
		name       string
		status     int
		retryAfter string
		permanent  bool
		after      time.Duration
		deleteDone bool // a 404 on DELETE means already deleted
	}{
		{"bad password", 401, "", true, 0, false},
		{"no access", 403, "", true, 0, false},
		{"no such calendar", 404, "", true, 0, true},
		{"refused object", 415, "", true, 0, false},
		{"rate limited", 429, "30", false, 30 * time.Second, false},
		{"rate limited without delay", 429, "", false, 0, false},
		{"unavailable", 503, "", false, 0, false},
		{"unavailable for a while", 503, "120", false, 2 * time.Minute, false},
		{"server error", 500, "", false, 0, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newFakeDAV(t, &fakeDAV{status: tc.status, header: tc.retryAfter})
			ctx := context.Background()
			for op, err := range map[string]error{
				"put":    func() error { _, err := c.Put(ctx, fakeDAVEvent(), connectors.State{}); return err }(),
				"delete": c.Delete(ctx, "rdv-1", connectors.State{ETag: `"v1"`}),
			} {
				if op == "delete" && tc.deleteDone {
					if err != nil {
						t.Errorf("delete: %v, want nil", err)
					}
					continue
				}
				if err == nil {
					t.Fatalf("%s: no error", op)
				}
				if errors.Is(err, connectors.ErrPermanent) != tc.permanent {
					t.Errorf("%s: %v: permanent = %v, want %v", op, err, !tc.permanent, tc.permanent)
				}
				var ra *connectors.RetryAfterError
				if got := errors.As(err, &ra); got != (tc.after > 0) || got && ra.After != tc.after {
					t.Errorf("%s: %v: want connectors.RetryAfterError %v", op, err, tc.after)
				}
				var he *caldav.HTTPError
				if !errors.As(err, &he) || he.Status != tc.status {
					t.Errorf("%s: %v does not carry the HTTP status", op, err)
				}
			}
		})
	}

	t.Run("network error", func(t *testing.T) {
		srv := httptest.NewServer(http.NotFoundHandler())
		srv.Close()
		c, err := connectors.NewCalDAV(connectors.CalDAVConfig{URL: srv.URL + "/cal/", Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Put(context.Background(), fakeDAVEvent(), connectors.State{})
		var ra *connectors.RetryAfterError
		if err == nil || errors.Is(err, connectors.ErrPermanent) || errors.As(err, &ra) {
			t.Errorf("connection refused: %v, want a plain retryable error", err)
		}
	})

	t.Run("bad URL", func(t *testing.T) {
		if _, err := connectors.NewCalDAV(connectors.CalDAVConfig{URL: "dav.example.org/cal"}); !errors.Is(err, connectors.ErrPermanent) {
			t.Errorf("connectors.NewCalDAV with a URL without scheme: %v, want ErrPermanent", err)
		}
	})
}
