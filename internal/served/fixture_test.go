package served

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// The agents of config.example.yaml the tests use, with their demo tokens.
// Camille's calendar block says details: full (added by the fixture);
// Thomas has none, so his calendars are minimal.
const (
	camille, camilleToken = "camille-martin", "demo-token-camille-martin"
	thomas, thomasToken   = "thomas-leroy", "demo-token-thomas-leroy"
)

// The RDVs of the fixture. The clock is testNow: the window starts on
// 2026-11-01T10:00Z.
const (
	rdvNext      = "a1000000-0000-4000-8000-000000000001" // Camille, 7 Dec, usager Léa Dubois
	rdvCancelled = "a1000000-0000-4000-8000-000000000002" // Camille, 10 Dec, revoked
	rdvRecent    = "a1000000-0000-4000-8000-000000000003" // Camille, 15 Nov (past, in the window)
	rdvOld       = "a1000000-0000-4000-8000-000000000004" // Camille, 20 Oct (before the window)
	rdvThomas    = "a1000000-0000-4000-8000-000000000005" // Thomas only, 8 Dec, usager Marc Petit
	rdvShared    = "a1000000-0000-4000-8000-000000000006" // Camille and Thomas, 14 Dec, usager Léa Dubois
	rdvFebruary  = "a1000000-0000-4000-8000-000000000007" // Camille, 1 Feb 2027
)

var testNow = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// camilleUIDs are the RDVs in Camille's served calendar, in start order.
var camilleUIDs = []string{rdvRecent, rdvNext, rdvCancelled, rdvShared, rdvFebruary}

type fixture struct {
	srv     *Server
	store   *store.Store
	catalog atomic.Pointer[catalog.Catalog]
	ts      *httptest.Server
	mux     *http.ServeMux
}

// newFixture serves the fixture on 127.0.0.1. publicURL is the base of
// the links in events and feed URLs; empty means the test server's URL.
func newFixture(t testing.TB, publicURL string) *fixture {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "rdvsync.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{store: st, mux: http.NewServeMux()}
	f.srv = New(st, f.catalog.Load, Options{Now: func() time.Time { return testNow }})
	f.srv.Register(f.mux, func(h http.Handler) http.Handler { return h })
	f.ts = httptest.NewServer(f.mux)
	t.Cleanup(f.ts.Close)
	if publicURL == "" {
		publicURL = f.ts.URL
	}
	f.catalog.Store(exampleCatalog(t, publicURL))
	f.put(t, fixtureRDVs()...)
	return f
}

// exampleCatalog is config.example.yaml, with a details: full calendar
// block for Camille.
func exampleCatalog(t testing.TB, publicURL string) *catalog.Catalog {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Server.PublicURL = publicURL
	for i := range cfg.Agents {
		if cfg.Agents[i].ID == camille {
			cfg.Agents[i].Calendar = &config.Calendar{
				CalDAV: &config.CalDAV{URL: "https://dav.example.org/camille/rdv/"}, Details: "full"}
		}
	}
	cat, err := catalog.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

func usagers() []*rdv.Usager {
	created := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	return []*rdv.Usager{
		{ID: "u-lea", FirstName: "Léa", LastName: "Dubois", PhoneNumber: "+33612345678", PhoneMobile: true, CreatedAt: created, UpdatedAt: created},
		{ID: "u-marc", FirstName: "Marc", LastName: "Petit", Email: "marc.petit@example.org", CreatedAt: created, UpdatedAt: created},
	}
}

func fixtureRDVs() []*rdv.RDV {
	mk := func(id string, start time.Time, d time.Duration, motif, usager string, agents ...string) *rdv.RDV {
		updated := time.Date(2026, 11, 20, 14, 3, 7, 0, time.UTC)
		return &rdv.RDV{
			ID: id, Status: rdv.StatusUnknown, StartsAt: start, EndsAt: start.Add(d),
			MotifID: motif, LieuID: "mds-arras-centre", OrganisationID: "mds-arras", AgentIDs: agents,
			UsagerID: usager, CreatedBy: rdv.CreatedBy{Type: rdv.CreatedByAgent, AgentID: agents[0]},
			CreatedAt: updated, UpdatedAt: updated, UsagerToken: "usager-token-" + id[len(id)-1:], Version: 1,
		}
	}
	day := func(m time.Month, d, h int) time.Time { return time.Date(2026, m, d, h, 0, 0, 0, time.UTC) }
	next := mk(rdvNext, day(12, 7, 8), 45*time.Minute, "rsa-orientation", "u-lea", camille)
	next.Context = "Dossier RSA à compléter"
	cancelled := mk(rdvCancelled, day(12, 10, 9), 45*time.Minute, "rsa-orientation", "u-lea", camille)
	cancelledAt := day(11, 28, 16)
	cancelled.Status, cancelled.CancelledAt, cancelled.UpdatedAt, cancelled.Version = rdv.StatusRevoked, &cancelledAt, cancelledAt, 2
	recent := mk(rdvRecent, day(11, 15, 13), 30*time.Minute, "suivi-social-arras", "u-marc", camille)
	recent.Status = rdv.StatusSeen
	return []*rdv.RDV{
		next, cancelled, recent,
		mk(rdvOld, day(10, 20, 8), 45*time.Minute, "rsa-orientation", "u-lea", camille),
		mk(rdvThomas, day(12, 8, 13), 45*time.Minute, "rsa-orientation", "u-marc", thomas),
		mk(rdvShared, day(12, 14, 8), 30*time.Minute, "suivi-social-arras", "u-lea", camille, thomas),
		mk(rdvFebruary, time.Date(2027, 2, 1, 8, 0, 0, 0, time.UTC), 45*time.Minute, "rsa-orientation", "u-marc", camille),
	}
}

// put stores RDVs (and the usagers) as a booking would.
func (f *fixture) put(t testing.TB, rdvs ...*rdv.RDV) {
	t.Helper()
	err := f.store.Update(context.Background(), func(tx *store.Tx) error {
		for _, u := range usagers() {
			if err := tx.PutUsager(u); err != nil {
				return err
			}
		}
		for _, r := range rdvs {
			if err := tx.PutRDV(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// rdv reads an RDV back from the store.
func (f *fixture) rdv(t *testing.T, id string) *rdv.RDV {
	t.Helper()
	var r *rdv.RDV
	if err := f.store.View(context.Background(), func(tx *store.ReadTx) error {
		var err error
		r, err = tx.RDV(id)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return r
}

func (f *fixture) feedURL(t *testing.T, agentID string) string {
	t.Helper()
	u, err := f.srv.FeedURL(context.Background(), agentID)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// do sends a request to the fixture's server and returns the response
// with its body read.
func (f *fixture) do(t testing.TB, method, target string, header http.Header, body string) (*http.Response, string) {
	t.Helper()
	if strings.HasPrefix(target, "/") {
		target = f.ts.URL + target
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// basic returns the headers of a CalDAV request by agent id with token.
func basic(id, token string, kv ...string) http.Header {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(id, token)
	for i := 0; i+1 < len(kv); i += 2 {
		req.Header.Set(kv[i], kv[i+1])
	}
	return req.Header
}

// rdvNew is the RDV changeCamille books.
const rdvNew = "a1000000-0000-4000-8000-000000000008"

// changeCamille changes Camille's calendar as a day of work would: it
// moves rdvNext, books rdvNew, gives rdvFebruary to Thomas (so it leaves
// her calendar) and moves Thomas's own RDV (which she does not see).
func (f *fixture) changeCamille(t *testing.T) {
	t.Helper()
	updated := testNow.Add(-time.Minute)
	moved := f.rdv(t, rdvNext)
	moved.StartsAt, moved.EndsAt = moved.StartsAt.Add(time.Hour), moved.EndsAt.Add(time.Hour)
	moved.UpdatedAt, moved.Version = updated, moved.Version+1
	given := f.rdv(t, rdvFebruary)
	given.AgentIDs, given.UpdatedAt, given.Version = []string{thomas}, updated, given.Version+1
	other := f.rdv(t, rdvThomas)
	other.StartsAt, other.EndsAt = other.StartsAt.Add(time.Hour), other.EndsAt.Add(time.Hour)
	other.UpdatedAt, other.Version = updated, other.Version+1
	booked := *moved
	booked.ID, booked.StartsAt, booked.EndsAt = rdvNew, time.Date(2026, 12, 21, 8, 0, 0, 0, time.UTC), time.Date(2026, 12, 21, 8, 45, 0, 0, time.UTC)
	booked.CreatedAt, booked.Version = updated, 1
	f.put(t, moved, given, other, &booked)
}
