package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"rdvsync/caldav"
	"rdvsync/connectors"
	"rdvsync/connectors/connectorstest"
	"rdvsync/internal/booking"
	"rdvsync/internal/calsync"
	"rdvsync/internal/catalog"
	"rdvsync/internal/httpapi"
	"rdvsync/internal/notify"
	"rdvsync/internal/outbox"
	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
	"rdvsync/internal/testenv"
	"rdvsync/internal/webhook"
)

// fakeClock is the settable clock of every service in retentionWorld.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// syncBuffer is a log destination tests read while the services write.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// retentionWorld is the daemon's services wired as serve wires them —
// booking with calendar sync, notifications (spooled) and outgoing
// webhooks as effects, the outbox dispatcher, the HTTP API — on a fake
// clock, with camille-martin's calendar in memory and a webhook receiver.
type retentionWorld struct {
	cat      *catalog.Catalog
	clock    *fakeClock
	store    *store.Store
	svc      *booking.Service
	notifier *notify.Service
	calendar *connectorstest.Memory
	api      *httptest.Server
	log      *syncBuffer
	logger   *slog.Logger
	spool    string

	mu     sync.Mutex
	events []string // "<event> <rdv id>" received by the webhook endpoint
}

func newRetentionWorld(t *testing.T, start time.Time) *retentionWorld {
	t.Helper()
	w := &retentionWorld{clock: &fakeClock{t: start}, calendar: connectorstest.NewMemory(), log: &syncBuffer{}}
	receiver := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		// RDV Solidarités' payload (the default format): the RDV's uuid.
		var body struct {
			Data struct {
				UUID string `json:"uuid"`
			} `json:"data"`
			Meta struct {
				Event string `json:"event"`
			} `json:"meta"`
		}
		data, _ := io.ReadAll(r.Body)
		if json.Unmarshal(data, &body) == nil {
			w.mu.Lock()
			w.events = append(w.events, body.Meta.Event+" "+body.Data.UUID)
			w.mu.Unlock()
		}
	}))
	t.Cleanup(receiver.Close)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "partner.secret"), []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := testenv.ExampleYAML(t,
		"    rdv_notifications_level: others\n",
		"    rdv_notifications_level: others\n    calendar:\n      caldav: { url: \"http://127.0.0.1:1/cal/camille/\" }\n",
		"  outgoing: []\n",
		"  outgoing:\n    - { id: partenaire, url: \""+receiver.URL+"/hooks\", secret_file: partner.secret, allow_private: true }\n")
	w.cat = testenv.Build(t, filepath.Join(dir, "config.yaml"), yaml)
	cat := func() *catalog.Catalog { return w.cat }
	st, err := store.Open(w.cat.Config.StorePath(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	w.store, w.spool = st, filepath.Dir(w.cat.Config.MailSpoolDir())
	w.logger = slog.New(slog.NewTextHandler(w.log, &slog.HandlerOptions{Level: slog.LevelDebug}))
	now := w.clock.Now
	cals := calsync.New(st, cat, func(context.Context, *catalog.Agent) (connectors.Connector, error) { return w.calendar, nil },
		calsync.Options{Now: now, Logger: w.logger})
	w.notifier, err = notify.New(st, cat, notify.Options{Now: now, Logger: w.logger})
	if err != nil {
		t.Fatal(err)
	}
	hooks := webhook.New(st, cat, webhook.Options{Render: httpapi.WebhookRDVView, RenderUsager: httpapi.WebhookUsagerView, Now: now, Logger: w.logger})
	sinks := map[string]outbox.Sink{calsync.Kind: cals, webhook.Kind: hooks}
	for k, s := range w.notifier.Sinks() {
		sinks[k] = s
	}
	d := outbox.New(st, sinks, outbox.Options{Now: now, Poll: 20 * time.Millisecond, Logger: w.logger,
		Policy: outbox.Policy{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}})
	cals.SetKick(d.Kick)
	w.notifier.SetKick(d.Kick)
	hooks.SetKick(d.Kick)
	w.svc = booking.New(cat, st, booking.Options{Now: now, Logger: w.logger, Effects: []booking.Effect{cals, w.notifier, hooks}})
	api := httpapi.New(httpapi.Options{Booking: w.svc, Receipts: w.notifier, Logger: w.logger, RatePerMinute: 1000, RateBurst: 1000})
	mux := http.NewServeMux()
	api.Register(mux)
	w.api = httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.Run(ctx) }()
	t.Cleanup(func() {
		w.api.Close()
		cancel()
		wg.Wait()
		st.Close()
	})
	return w
}

func (w *retentionWorld) book(t *testing.T, agent *catalog.Agent, req booking.BookRequest) *booking.Booked {
	t.Helper()
	b, err := w.svc.Book(context.Background(), booking.Caller{Agent: agent}, req, nil)
	if err != nil {
		t.Fatalf("booking %s at %s: %v", req.MotifID, req.StartsAt, err)
	}
	return b
}

// settle waits until the outbox holds nothing but dead records.
func (w *retentionWorld) settle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		pending := 0
		w.view(t, func(tx *store.ReadTx) {
			tx.EachOutbox("", func(r *store.OutboxRecord) error {
				if !r.Dead {
					pending++
				}
				return nil
			})
		})
		if pending == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d outbox records still pending", pending)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (w *retentionWorld) view(t *testing.T, fn func(tx *store.ReadTx)) {
	t.Helper()
	if err := w.store.View(context.Background(), func(tx *store.ReadTx) error { fn(tx); return nil }); err != nil {
		t.Fatal(err)
	}
}

// call makes an HTTP request to the API as agent ("" anonymous).
func (w *retentionWorld) call(t *testing.T, method, path, agent string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, w.api.URL+path, nil)
	if agent != "" {
		req.Header.Set("Authorization", "Bearer demo-token-"+agent)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
	return resp.StatusCode
}

// spooled returns the spool files (relative paths) whose names start with
// one of the RDV ids, or every spool file when no id is given.
func (w *retentionWorld) spooled(t *testing.T, ids ...string) []string {
	t.Helper()
	var out []string
	for _, dir := range []string{"mail", "sms"} {
		entries, _ := os.ReadDir(filepath.Join(w.spool, dir))
		for _, e := range entries {
			if len(ids) == 0 || slices.ContainsFunc(ids, func(id string) bool { return strings.HasPrefix(e.Name(), id) }) {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	return out
}

// age sets the modification time of spool files.
func (w *retentionWorld) age(t *testing.T, at time.Time, files []string) {
	t.Helper()
	for _, f := range files {
		if err := os.Chtimes(filepath.Join(w.spool, f), at, at); err != nil {
			t.Fatal(err)
		}
	}
}

func (w *retentionWorld) received(event, id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Contains(w.events, event+" "+id)
}

func paris(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// TestRetentionJob: with the clock two years on, the daily job deletes
// RDVs that ended more than retention.rdvs ago everywhere (store,
// calendar, webhook "destroyed"), the usagers left without RDV, anonymises
// receipts older than retention.receipts and removes spool files older
// than retention.spool — and touches nothing younger.
func TestRetentionJob(t *testing.T) {
	t0 := paris("2026-12-01T10:00:00+01:00")
	w := newRetentionWorld(t, t0)
	camille, thomas := w.cat.Agent("camille-martin"), w.cat.Agent("thomas-leroy")
	rsa := func(start, agent string, u *booking.UsagerInput, usagerID string) booking.BookRequest {
		return booking.BookRequest{MotifID: "rsa-orientation", LieuID: "mds-arras-centre", StartsAt: start, AgentID: agent, Usager: u, UsagerID: usagerID}
	}
	// Ended long before the limit: Zélie's only RDV, and one of Paul's.
	old := w.book(t, camille, rsa("2026-12-03T09:00:00+01:00", "camille-martin",
		&booking.UsagerInput{FirstName: "Zélie", LastName: "Quenouille", Email: "zelie@example.org", PhoneNumber: "0611111111"}, ""))
	paulOld := w.book(t, camille, rsa("2026-12-03T09:45:00+01:00", "camille-martin",
		&booking.UsagerInput{FirstName: "Paul", LastName: "Henry", Email: "paul@example.org"}, ""))
	// Ended just within the limit.
	lea := w.book(t, camille, rsa("2026-12-07T09:00:00+01:00", "camille-martin",
		&booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", Email: "lea@example.org", PhoneNumber: "0612345678"}, ""))
	w.settle(t)
	for _, id := range []string{old.RDV.ID, paulOld.RDV.ID, lea.RDV.ID} {
		if len(w.spooled(t, id)) == 0 {
			t.Fatalf("no notification spooled for %s", id)
		}
	}
	w.age(t, t0, w.spooled(t))
	if err := os.WriteFile(filepath.Join(w.spool, "mail", "notes.md"), []byte("not a message"), 0o600); err != nil {
		t.Fatal(err)
	}
	w.age(t, t0, []string{filepath.Join("mail", "notes.md")})

	// Two years on (2y before 4 December 2028 10:00 is 4 December 2026 10:00).
	t1 := paris("2028-12-04T10:00:00+01:00")
	w.clock.Set(t1)
	paulNew := w.book(t, thomas, rsa("2028-12-11T09:00:00+01:00", "thomas-leroy", nil, paulOld.Usager.ID))
	paulCCAS := w.book(t, thomas, booking.BookRequest{MotifID: "aide-numerique-ccas", LieuID: "ccas-lens-mairie",
		StartsAt: "2028-12-05T14:00:00+01:00", UsagerID: paulOld.Usager.ID})
	w.settle(t)
	young := w.spooled(t, paulNew.RDV.ID, paulCCAS.RDV.ID)
	if len(young) == 0 {
		t.Fatal("no notification spooled for the new RDVs")
	}
	w.age(t, t1.Add(-time.Hour), young)

	// An usager no RDV points to (left by an older rdvsync).
	orphan := &rdv.Usager{ID: "usager-orphelin", FirstName: "Orphée", LastName: "Seul", CreatedAt: t0, UpdatedAt: t0}
	if err := w.store.Update(context.Background(), func(tx *store.Tx) error { return tx.PutUsager(orphan) }); err != nil {
		t.Fatal(err)
	}

	retain(context.Background(), w.logger, w.cat.Config.Retention, w.svc, w.notifier)
	w.settle(t)

	w.view(t, func(tx *store.ReadTx) {
		for _, id := range []string{old.RDV.ID, paulOld.RDV.ID} {
			if _, err := tx.RDV(id); !store.IsNotFound(err) {
				t.Errorf("old RDV %s survives: %v", id, err)
			}
			if r, _ := tx.Receipts(id); len(r) > 0 {
				t.Errorf("old RDV %s keeps %d receipts", id, len(r))
			}
			if err := tx.CalendarSync("camille-martin", id, &struct{}{}); !store.IsNotFound(err) {
				t.Errorf("old RDV %s keeps its calendar sync record: %v", id, err)
			}
			tx.EachOutbox("", func(r *store.OutboxRecord) error {
				if r.RDVID == id {
					t.Errorf("old RDV %s keeps outbox record %s", id, r.Key)
				}
				return nil
			})
		}
		for _, id := range []string{old.Usager.ID, orphan.ID} {
			if _, err := tx.Usager(id); !store.IsNotFound(err) {
				t.Errorf("usager %s, without RDV, survives: %v", id, err)
			}
		}
		if found, _ := tx.SearchUsagers("quenouille", 10); len(found) > 0 {
			t.Errorf("the deleted usager is still found: %v", found)
		}
		if ids := tx.UsagerRDVIDs(paulOld.Usager.ID); len(ids) != 2 {
			t.Errorf("Paul has %d RDVs, want his 2 young ones", len(ids))
		}
		for _, id := range []string{lea.RDV.ID, paulNew.RDV.ID, paulCCAS.RDV.ID} {
			if _, err := tx.RDV(id); err != nil {
				t.Errorf("young RDV %s was deleted: %v", id, err)
			}
		}
		for _, id := range []string{lea.Usager.ID, paulOld.Usager.ID} {
			if _, err := tx.Usager(id); err != nil {
				t.Errorf("usager %s with a young RDV was deleted: %v", id, err)
			}
		}
		receipts, _ := tx.Receipts(lea.RDV.ID)
		for _, r := range receipts {
			if !r.Anonymised || r.Error != "" || r.AgentID != "" {
				t.Errorf("a receipt of %s is not anonymised: %+v", r.At, r)
			}
		}
		if len(receipts) == 0 {
			t.Error("Léa's RDV lost its receipts (they are anonymised, not deleted)")
		}
		fresh, _ := tx.Receipts(paulNew.RDV.ID)
		for _, r := range fresh {
			if r.Anonymised {
				t.Errorf("a receipt of %s was anonymised", r.At)
			}
		}
	})
	for _, ev := range w.calendar.Events() {
		if ev.UID == old.RDV.ID || ev.UID == paulOld.RDV.ID {
			t.Errorf("the old RDV %s is still in camille's calendar", ev.UID)
		}
	}
	if !slices.ContainsFunc(w.calendar.Events(), func(ev caldav.Event) bool { return ev.UID == lea.RDV.ID }) {
		t.Error("Léa's RDV left camille's calendar")
	}
	for _, id := range []string{old.RDV.ID, paulOld.RDV.ID} {
		if !w.received("destroyed", id) {
			t.Errorf("the webhook endpoint was not told %s was destroyed", id)
		}
	}
	if left := w.spooled(t, old.RDV.ID, paulOld.RDV.ID, lea.RDV.ID); len(left) > 0 {
		t.Errorf("spool files older than 30 days survive: %v", left)
	}
	if left := w.spooled(t, paulNew.RDV.ID, paulCCAS.RDV.ID); len(left) != len(young) {
		t.Errorf("young spool files removed: %d left of %d", len(left), len(young))
	}
	if _, err := os.Stat(filepath.Join(w.spool, "mail", "notes.md")); err != nil {
		t.Errorf("a file that is not a message was removed: %v", err)
	}

	t.Run("export", func(t *testing.T) {
		var exp struct {
			Usager struct {
				ID    string `json:"id"`
				Email string `json:"email"`
			} `json:"usager"`
			RDVs []struct {
				ID      string      `json:"id"`
				Contact rdv.Contact `json:"contact"`
			} `json:"rdvs"`
		}
		path := "/api/v1/usagers/" + paulOld.Usager.ID + "/export"
		if status := w.call(t, "GET", path, "thomas-leroy", &exp); status != http.StatusOK {
			t.Fatalf("export by the MDS Arras: %d", status)
		}
		if exp.Usager.Email != "paul@example.org" || len(exp.RDVs) != 1 || exp.RDVs[0].ID != paulNew.RDV.ID || exp.RDVs[0].Contact.Email != "paul@example.org" {
			t.Errorf("the MDS Arras exports %+v, want Paul and his MDS RDV only", exp)
		}
		// The MDS Arras booked Paul at the CCAS ("élargir"): the CCAS has
		// that RDV's contact, not the MDS's usager.
		if status := w.call(t, "GET", path, "nadia-morel", nil); status != http.StatusNotFound {
			t.Errorf("export by the CCAS, which has Paul's contact only: %d, want 404", status)
		}
		if status := w.call(t, "GET", path, "julie-lefebvre", nil); status != http.StatusNotFound {
			t.Errorf("export by an organisation that does not know Paul: %d, want 404", status)
		}
		if status := w.call(t, "GET", path, "", nil); status != http.StatusUnauthorized {
			t.Errorf("anonymous export: %d, want 401", status)
		}
	})

	t.Run("erasure", func(t *testing.T) {
		// Booked with an Idempotency-Key: its record answers with the RDV.
		future, err := w.svc.Book(context.Background(), booking.Caller{Agent: thomas},
			rsa("2028-12-11T09:45:00+01:00", "thomas-leroy", nil, lea.Usager.ID), &booking.Idempotency{Key: "k-erase", BodySHA256: "h"})
		if err != nil {
			t.Fatal(err)
		}
		w.settle(t)
		path := "/api/v1/usagers/" + lea.Usager.ID
		if status := w.call(t, "DELETE", path, "julie-lefebvre", nil); status != http.StatusNotFound {
			t.Errorf("erasure by an organisation that does not know Léa: %d, want 404", status)
		}
		var e struct {
			RDVsCancelled int  `json:"rdvs_cancelled"`
			Erased        bool `json:"erased"`
		}
		if status := w.call(t, "DELETE", path, "thomas-leroy", &e); status != http.StatusAccepted || e.RDVsCancelled != 1 || e.Erased {
			t.Fatalf("erasure: %d %+v, want 202 with 1 RDV cancelled, erasure pending", status, e)
		}
		// Hidden at once from every organisation.
		var found struct {
			Usagers []struct{ ID string } `json:"usagers"`
		}
		if w.call(t, "GET", "/api/v1/usagers?q=dubois", "thomas-leroy", &found); len(found.Usagers) > 0 {
			t.Errorf("the erased usager is still found: %+v", found)
		}
		if status := w.call(t, "GET", path+"/export", "thomas-leroy", nil); status != http.StatusNotFound {
			t.Errorf("export of an erased usager: %d, want 404", status)
		}
		w.settle(t)
		// The cancellation notice went to Léa, by the RDV's own contact.
		if len(w.spooled(t, future.RDV.ID+".cancelled.v2.usager")) == 0 {
			t.Errorf("Léa was not told of the cancellation: %v", w.spooled(t, future.RDV.ID))
		}
		if n, err := w.svc.FinishErasures(context.Background()); err != nil || n != 1 {
			t.Fatalf("FinishErasures = %d, %v", n, err)
		}
		w.settle(t)
		w.view(t, func(tx *store.ReadTx) {
			for _, id := range []string{lea.RDV.ID, future.RDV.ID} {
				if _, err := tx.RDV(id); !store.IsNotFound(err) {
					t.Errorf("RDV %s of the erased usager survives: %v", id, err)
				}
				if r, _ := tx.Receipts(id); len(r) > 0 {
					t.Errorf("RDV %s of the erased usager keeps %d receipts", id, len(r))
				}
			}
			if _, err := tx.Usager(lea.Usager.ID); !store.IsNotFound(err) {
				t.Errorf("the erased usager survives: %v", err)
			}
			if tx.ErasurePending(lea.Usager.ID) {
				t.Error("the erasure is still pending")
			}
			if _, err := tx.Idempotency("agent:thomas-leroy", "k-erase"); !store.IsNotFound(err) {
				t.Errorf("the idempotency record of an erased RDV survives: %v", err)
			}
		})
		for _, ev := range w.calendar.Events() {
			if ev.UID == lea.RDV.ID {
				t.Error("the erased usager's RDV is still in camille's calendar")
			}
		}
		for _, id := range []string{lea.RDV.ID, future.RDV.ID} {
			if !w.received("destroyed", id) {
				t.Errorf("the webhook endpoint was not told %s was destroyed", id)
			}
		}
		logs := w.log.String()
		if !strings.Contains(logs, "usager erased") || !strings.Contains(logs, "usager exported") {
			t.Error("export and erasure are not in the log")
		}
		for _, personal := range []string{"Dubois", "lea@example.org", "612345678", "Henry", "paul@example.org", "Quenouille", "zelie@"} {
			if strings.Contains(logs, personal) {
				t.Errorf("the log holds %q", personal)
			}
		}
	})
}
