package webhook_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/outbox"
	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
	"rdvsync/internal/webhook"
)

// outgoingYAML declares the endpoint "partenaire" (organisation mds-arras)
// at url, with the secret file partner.secret, plus extra endpoints.
func outgoingYAML(url string, allowPrivate bool, extra string) string {
	ap := "false"
	if allowPrivate {
		ap = "true"
	}
	return "  incoming: []\n  outgoing:\n    - { id: partenaire, url: \"" + url + "\", secret_file: partner.secret, organisations: [mds-arras], allow_private: " + ap + " }\n" + extra
}

func (h *harness) bookAt(t *testing.T, motif, lieu, start string) *booking.Booked {
	t.Helper()
	b, err := h.booking.Book(context.Background(), booking.Caller{}, booking.BookRequest{
		MotifID: motif, LieuID: lieu, StartsAt: start,
		Usager:       &booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "0612345678"},
		Prescripteur: &booking.PrescripteurInput{FirstName: "Jean", LastName: "Petit", Email: "jean.petit@mediatheque.example.org"},
	}, nil)
	if err != nil {
		t.Fatalf("book %s: %v", start, err)
	}
	return b
}

func (h *harness) book(t *testing.T, start string) *booking.Booked {
	t.Helper()
	return h.bookAt(t, "rsa-orientation", "mds-arras-centre", start)
}

func (h *harness) agent(id string) booking.Caller { return booking.Caller{Agent: h.cat.Agent(id)} }

func (h *harness) move(t *testing.T, id, start string) {
	t.Helper()
	if _, err := h.booking.Move(context.Background(), h.agent("camille-martin"), id, booking.MoveRequest{StartsAt: start}); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) cancel(t *testing.T, id string) {
	t.Helper()
	if _, err := h.booking.Cancel(context.Background(), h.agent("camille-martin"), id, "indisponible"); err != nil {
		t.Fatal(err)
	}
}

// story is what a receiver heard of one RDV: "created@09:00,updated@10:30,updated:revoked".
func story(got []received, rdvID string) string {
	var parts []string
	for _, r := range got {
		if r.rdvID != rdvID {
			continue
		}
		// Either format: "2026-12-03 09:00:00 +0100" or "2026-12-03T09:00:00+01:00".
		s := r.event + "@" + r.startsAt[11:16]
		if r.status != "unknown" {
			s += ":" + r.status
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ",")
}

func uniqueMessageIDs(t *testing.T, got []received) {
	t.Helper()
	seen := map[string]bool{}
	for _, r := range got {
		if r.messageID == "" || seen[r.messageID] {
			t.Errorf("message id %q empty or delivered twice", r.messageID)
		}
		seen[r.messageID] = true
	}
}

func TestOutgoingEventsAreSignedAndInOrder(t *testing.T) {
	secret, key := newSecret()
	var clock func() time.Time
	partner := newReceiver(t, secret, key, func() time.Time { return clock() })
	lens := newReceiver(t, secret, key, func() time.Time { return clock() })
	ps, ls := httptest.NewServer(partner), httptest.NewServer(lens)
	t.Cleanup(ps.Close)
	t.Cleanup(ls.Close)
	cat := withWebhooks(t, outgoingYAML(ps.URL+"/hooks/rdv", true,
		"    - { id: lens, url: \""+ls.URL+"\", secret_file: partner.secret, organisations: [mds-lens], allow_private: true, format: rdvsync }\n"),
		map[string]string{"partner.secret": secret + "\n"})
	h := newHarness(t, cat, outbox.Policy{})
	clock = h.now

	b := h.book(t, "2026-12-03T09:00:00+01:00")
	h.move(t, b.RDV.ID, "2026-12-03T10:30:00+01:00")
	h.cancel(t, b.RDV.ID)
	pmi := h.bookAt(t, "consultation-pmi", "mds-lens-centre", "2026-12-02T13:30:00+01:00")
	h.settled(t)

	got, bad := partner.deliveries()
	if len(bad) > 0 {
		t.Fatalf("bad signatures: %v", bad)
	}
	if s := story(got, b.RDV.ID); s != "created@09:00,updated@10:30,updated@10:30:revoked" || len(got) != 3 {
		t.Fatalf("the partner heard %q (%d deliveries)", s, len(got))
	}
	uniqueMessageIDs(t, got)
	// RDV Solidarités' shape (the details are in the golden files).
	first := got[0]
	stamp, _ := first.meta["timestamp"].(string)
	if ts, err := time.Parse("2006-01-02 15:04:05 -0700", stamp); err != nil || ts.Sub(now).Abs() > time.Minute ||
		!strings.HasSuffix(stamp, " +0100") || first.meta["model"] != "Rdv" {
		t.Errorf("meta: %v", first.meta)
	}
	org, _ := first.data["organisation"].(map[string]any)
	if first.data["id"] != float64(b.RDV.RdvsID) || b.RDV.RdvsID == 0 || org["name"] != "MDS Arras" ||
		first.data["duration_in_min"] != float64(45) || first.data["created_by"] != "prescripteur" {
		t.Errorf("data: %v", first.data)
	}
	if strings.Contains(first.body, b.RDV.UsagerToken) {
		t.Errorf("the usager's link went to a partner: %s", first.body)
	}

	// organisations filters: the Lens endpoint heard only the Lens RDV,
	// in format rdvsync: the API's view of an agent, without the usager's link.
	lg, bad := lens.deliveries()
	if len(bad) > 0 || len(lg) != 1 || lg[0].rdvID != pmi.RDV.ID || lg[0].event != "created" {
		t.Fatalf("lens endpoint: %+v %v", lg, bad)
	}
	pmiView := lg[0]
	if pmiView.meta["model"] != "Rdv" || pmiView.meta["webhook_id"] != "lens" {
		t.Errorf("meta: %v", pmiView.meta)
	}
	if ts, err := time.Parse(time.RFC3339, pmiView.meta["timestamp"].(string)); err != nil || ts.Sub(now).Abs() > time.Minute ||
		!strings.HasSuffix(pmiView.meta["timestamp"].(string), "+01:00") {
		t.Errorf("meta.timestamp %v", pmiView.meta["timestamp"])
	}
	// The agent's view: "pris par" and the usager's contact, not its link.
	createdBy, _ := pmiView.data["created_by"].(map[string]any)
	usager, _ := pmiView.data["usager"].(map[string]any)
	if createdBy["email"] != "jean.petit@mediatheque.example.org" || usager["phone_number"] != "+33612345678" ||
		pmiView.data["organisation_id"] != "mds-lens" || pmiView.data["duration_minutes"] != float64(30) ||
		pmiView.data["rdvs_id"] != float64(pmi.RDV.RdvsID) {
		t.Errorf("data: %v", pmiView.data)
	}
	if _, ok := pmiView.data["usager_url"]; ok {
		t.Errorf("the usager's link went to a partner: %v", pmiView.data["usager_url"])
	}

	// The delivery log, as agents of the endpoint's organisations see it.
	auth := func(agent string) http.Header {
		return http.Header{"Authorization": {"Bearer demo-token-" + agent}}
	}
	resp := h.do(t, "GET", "/api/v1/webhooks/partenaire/deliveries", auth("camille-martin"), nil)
	var rep webhook.DeliveryReport
	resp.json(t, &rep)
	if resp.status != http.StatusOK || len(rep.Deliveries) != 3 || rep.Deliveries[0].Event != "updated" || rep.Deliveries[0].Model != "Rdv" ||
		rep.Deliveries[2].Event != "created" || rep.Deliveries[2].StatusCode != http.StatusNoContent ||
		rep.Deliveries[0].RDVID != b.RDV.ID || rep.Pending != 0 || rep.LastSuccessAt == nil || len(rep.DeadLetters) != 0 {
		t.Fatalf("delivery log: %d %s", resp.status, resp.body)
	}
	if resp := h.do(t, "GET", "/api/v1/webhooks/partenaire/deliveries", auth("sophie-dupont"), nil); resp.status != http.StatusForbidden {
		t.Errorf("an agent of another organisation: %d %s", resp.status, resp.body)
	}
	if resp := h.do(t, "GET", "/api/v1/webhooks/partenaire/deliveries", nil, nil); resp.status != http.StatusUnauthorized {
		t.Errorf("anonymous: %d %s", resp.status, resp.body)
	}
	if resp := h.do(t, "GET", "/api/v1/webhooks/inconnu/deliveries", auth("camille-martin"), nil); resp.status != http.StatusNotFound {
		t.Errorf("unknown endpoint: %d %s", resp.status, resp.body)
	}
}

// TestOutgoingReceiverDownThenUp: events queued while the receiver is
// unreachable all arrive once it is back, in order per RDV, each once.
func TestOutgoingReceiverDownThenUp(t *testing.T) {
	secret, key := newSecret()
	ln := mustListen(t, "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // down: connection refused
	cat := withWebhooks(t, outgoingYAML("http://"+addr+"/hooks", true, ""), map[string]string{"partner.secret": secret})
	h := newHarness(t, cat, outbox.Policy{})
	ctx := context.Background()

	a := h.book(t, "2026-12-03T09:00:00+01:00")
	b := h.book(t, "2026-12-03T09:45:00+01:00")
	h.move(t, a.RDV.ID, "2026-12-03T11:15:00+01:00")
	h.cancel(t, b.RDV.ID)
	h.cancel(t, a.RDV.ID)

	deadline := time.Now().Add(5 * time.Second)
	var st []webhook.EndpointStatus
	for time.Now().Before(deadline) {
		var err error
		if st, err = webhook.Status(ctx, h.store, h.cat); err != nil {
			t.Fatal(err)
		}
		if st[0].Failing == 2 && st[0].Failures[0].Attempts >= 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st[0].Failing != 2 || st[0].Pending != 5 || !strings.Contains(st[0].LastError, "connection refused") || st[0].LastSuccessAt != nil {
		t.Fatalf("the outage is not visible: %+v", st[0])
	}

	rc := newReceiver(t, secret, key, h.now)
	serve(t, mustListen(t, addr), rc) // up again
	h.settled(t)
	got, bad := rc.deliveries()
	if len(bad) > 0 {
		t.Fatalf("bad signatures: %v", bad)
	}
	if s := story(got, a.RDV.ID); s != "created@09:00,updated@11:15,updated@11:15:revoked" {
		t.Errorf("RDV a: %s", s)
	}
	if s := story(got, b.RDV.ID); s != "created@09:45,updated@09:45:revoked" {
		t.Errorf("RDV b: %s", s)
	}
	if len(got) != 5 {
		t.Errorf("%d deliveries, want 5", len(got))
	}
	uniqueMessageIDs(t, got)
	st, _ = webhook.Status(ctx, h.store, h.cat)
	if st[0].Pending != 0 || st[0].Failing != 0 || st[0].Dead != 0 || st[0].LastSuccessAt == nil {
		t.Errorf("status after the outage: %+v", st[0])
	}
}

// syncBuffer is a log destination shared by goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestOutgoingFailingReceiverIsDeadLettered: a receiver answering 500 is
// retried with growing delays until the retry budget is spent; the dead
// letter shows in the delivery log and the log has a warning; once fixed,
// RetryDead delivers it.
func TestOutgoingFailingReceiverIsDeadLettered(t *testing.T) {
	secret, key := newSecret()
	var mu sync.Mutex
	failing := true
	var clock func() time.Time
	rc := newReceiver(t, secret, key, func() time.Time { return clock() })
	rc.fail = func(int) int {
		mu.Lock()
		defer mu.Unlock()
		if failing {
			return http.StatusInternalServerError
		}
		return 0
	}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	cat := withWebhooks(t, outgoingYAML(srv.URL, true, ""), map[string]string{"partner.secret": secret})
	// Delays 50, 100, 200, 400 ms (±25 %), then 800 ms would pass the 1 s budget.
	var logs syncBuffer
	h := newHarnessLogged(t, cat, outbox.Policy{Base: 50 * time.Millisecond, Max: time.Second, Budget: time.Second},
		slog.New(slog.NewTextHandler(&logs, nil)))
	clock = h.now
	ctx := context.Background()
	b := h.book(t, "2026-12-03T09:00:00+01:00")

	var rep webhook.DeliveryReport
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var err error
		if rep, err = h.hooks.Deliveries(ctx, "partenaire"); err != nil {
			t.Fatal(err)
		}
		if len(rep.DeadLetters) == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if rep.Dead != 1 || len(rep.DeadLetters) != 1 || rep.DeadLetters[0].RDVID != b.RDV.ID || rep.DeadLetters[0].Events != 1 ||
		!strings.Contains(rep.DeadLetters[0].LastError, "500") || rep.Pending != 0 {
		t.Fatalf("dead letter: %+v", rep)
	}
	attempts := rc.attempts()
	if len(attempts) < 4 || len(rep.Deliveries) != len(attempts) {
		t.Fatalf("%d attempts received, %d logged", len(attempts), len(rep.Deliveries))
	}
	for i, d := range rep.Deliveries { // newest first
		if d.StatusCode != http.StatusInternalServerError || d.Attempt != len(attempts)-i || d.RDVID != b.RDV.ID || d.Event != "created" {
			t.Errorf("log entry %d: %+v", i, d)
		}
	}
	var gaps []time.Duration
	for i := 1; i < len(attempts); i++ {
		gaps = append(gaps, attempts[i].Sub(attempts[i-1]))
	}
	// Each delay is at least its backoff less the jitter (50 ms × 2^i × 0.75):
	// a loaded machine can only lengthen a delay, so the lower bound is what
	// shows the backoff growing without failing on a slow run.
	for i, g := range gaps {
		if least := time.Duration(float64(50*time.Millisecond<<i) * 0.75); g < least {
			t.Errorf("retry delay %d = %v, want ≥ %v (delays %v)", i, g, least, gaps)
		}
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "dead letter") ||
		!strings.Contains(logs.String(), webhook.Key("partenaire", b.RDV.ID)) {
		t.Errorf("no warning for the dead letter:\n%s", logs.String())
	}
	resp := h.do(t, "GET", "/api/v1/webhooks/partenaire/deliveries", http.Header{"Authorization": {"Bearer demo-token-thomas-leroy"}}, nil)
	if resp.status != http.StatusOK || !strings.Contains(string(resp.body), `"dead_letters":[{"rdv_id":"`+b.RDV.ID) {
		t.Errorf("GET deliveries: %d %s", resp.status, resp.body)
	}

	mu.Lock()
	failing = false
	mu.Unlock()
	if n, err := h.hooks.RetryDead(ctx, "partenaire"); n != 1 || err != nil {
		t.Fatalf("RetryDead: %d, %v", n, err)
	}
	h.settled(t)
	if got, bad := rc.deliveries(); len(got) != 1 || len(bad) > 0 || got[0].event != "created" {
		t.Fatalf("after the retry: %+v %v", got, bad)
	}
}

// TestOutgoingPrivateTargetRefused: without allow_private, a loopback
// receiver is never contacted, and the refusal is permanent at once.
func TestOutgoingPrivateTargetRefused(t *testing.T) {
	secret, key := newSecret()
	rc := newReceiver(t, secret, key, time.Now)
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	// By name, so the check runs on the resolved address at dial time.
	url := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	cat := withWebhooks(t, outgoingYAML(url, false, ""), map[string]string{"partner.secret": secret})
	h := newHarness(t, cat, outbox.Policy{})
	h.book(t, "2026-12-03T09:00:00+01:00")
	ctx := context.Background()
	var st []webhook.EndpointStatus
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		st, _ = webhook.Status(ctx, h.store, h.cat)
		if st[0].Dead == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if st[0].Dead != 1 || st[0].Failures[0].Attempts != 1 || !strings.Contains(st[0].LastError, "allow_private") {
		t.Fatalf("status: %+v", st[0])
	}
	if n := len(rc.attempts()); n != 0 {
		t.Fatalf("the private receiver was contacted %d times", n)
	}
}

// TestOutgoingDoesNotFollowRedirects: a 3xx is a failed delivery; the
// Location is not visited.
func TestOutgoingDoesNotFollowRedirects(t *testing.T) {
	secret, key := newSecret()
	target := newReceiver(t, secret, key, time.Now)
	ts := httptest.NewServer(target)
	t.Cleanup(ts.Close)
	redirect := httptest.NewServer(http.RedirectHandler(ts.URL, http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	cat := withWebhooks(t, outgoingYAML(redirect.URL, true, ""), map[string]string{"partner.secret": secret})
	h := newHarness(t, cat, outbox.Policy{})
	h.book(t, "2026-12-03T09:00:00+01:00")
	var rep webhook.DeliveryReport
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && len(rep.Deliveries) == 0 {
		rep, _ = h.hooks.Deliveries(context.Background(), "partenaire")
		time.Sleep(10 * time.Millisecond)
	}
	if len(rep.Deliveries) == 0 || rep.Deliveries[0].StatusCode != http.StatusTemporaryRedirect || rep.LastSuccessAt != nil {
		t.Fatalf("delivery log: %+v", rep)
	}
	if n := len(target.attempts()); n != 0 {
		t.Fatalf("the redirect was followed %d times", n)
	}
}

// TestOutgoingDestroyed: an RDV deleted (retention, erasure of its
// usager: a change without After) is told as "destroyed" with its last
// state.
func TestOutgoingDestroyed(t *testing.T) {
	secret, key := newSecret()
	var clock func() time.Time
	rc := newReceiver(t, secret, key, func() time.Time { return clock() })
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	cat := withWebhooks(t, outgoingYAML(srv.URL, true, ""), map[string]string{"partner.secret": secret})
	h := newHarness(t, cat, outbox.Policy{})
	clock = h.now
	b := h.book(t, "2026-12-03T09:00:00+01:00")
	err := h.store.Update(context.Background(), func(tx *store.Tx) error {
		return h.hooks.OnChange(tx, booking.Change{Before: b.RDV, Now: h.now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	h.hooks.Committed()
	h.settled(t)
	got, bad := rc.deliveries()
	if len(bad) > 0 || story(got, b.RDV.ID) != "created@09:00,destroyed@09:00" {
		t.Fatalf("%s %v", story(got, b.RDV.ID), bad)
	}
}

// TestOutgoingUserSubscription: an endpoint subscribed to "user" hears of
// an usager created or completed by a booking, as RDV Solidarités' User,
// before the RDV that names it; one subscribed to "rdv" only does not.
func TestOutgoingUserSubscription(t *testing.T) {
	secret, key := newSecret()
	var clock func() time.Time
	both := newReceiver(t, secret, key, func() time.Time { return clock() })
	users := newReceiver(t, secret, key, func() time.Time { return clock() })
	bs, us := httptest.NewServer(both), httptest.NewServer(users)
	t.Cleanup(bs.Close)
	t.Cleanup(us.Close)
	cat := withWebhooks(t, outgoingYAML(bs.URL, true, "")[:0]+"  incoming: []\n  outgoing:\n"+
		"    - { id: both, url: \""+bs.URL+"\", secret_file: s, organisations: [mds-arras], allow_private: true, subscriptions: [rdv, user] }\n"+
		"    - { id: users, url: \""+us.URL+"\", secret_file: s, organisations: [mds-lens], allow_private: true, subscriptions: [user] }\n",
		map[string]string{"s": secret})
	h := newHarness(t, cat, outbox.Policy{})
	clock = h.now

	a := h.book(t, "2026-12-03T09:00:00+01:00") // creates Léa
	// The same Léa, nothing new: an agent of the MDS, which knows her,
	// books her again (a booking without an agent token would make a new
	// usager).
	b, err := h.booking.Book(context.Background(), h.agent("thomas-leroy"), booking.BookRequest{
		MotifID: "rsa-orientation", LieuID: "mds-arras-centre", StartsAt: "2026-12-03T09:45:00+01:00",
		Usager: &booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "0612345678"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.move(t, a.RDV.ID, "2026-12-03T11:15:00+01:00") // the RDV only
	h.settled(t)
	got, bad := both.deliveries()
	if len(bad) > 0 {
		t.Fatalf("bad deliveries: %v", bad)
	}
	var seq []string
	for _, r := range got {
		seq = append(seq, r.model+":"+r.event)
	}
	// Each RDV's events are in order; the two RDVs' queues are independent.
	if story(got, a.RDV.ID) != "created@09:00,updated@11:15" || story(got, b.RDV.ID) != "created@09:45" || len(got) != 4 {
		t.Fatalf("heard %v", seq)
	}
	// The User event arrives before the RDV that names it (same queue).
	var user received
	userAt, rdvAt := -1, -1
	for i, r := range got {
		switch {
		case r.model == "User":
			user, userAt = r, i
		case r.rdvID == a.RDV.ID && r.event == "created":
			rdvAt = i
		}
	}
	if userAt < 0 || userAt > rdvAt {
		t.Errorf("the User event does not come before the RDV that names it: %v", seq)
	}
	// A booking without an agent token sees back only what it sent: the
	// usager's integer id is read from the store.
	var lea *rdv.Usager
	if err := h.store.View(context.Background(), func(tx *store.ReadTx) error {
		var err error
		lea, err = tx.Usager(a.RDV.UsagerID)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if user.event != "created" || user.data["id"] != float64(lea.RdvsID) || user.data["first_name"] != "Léa" {
		t.Errorf("User event: %v %v", user.meta, user.data)
	}
	// The Lens endpoint's organisations do not know Léa.
	if n := len(users.attempts()); n != 0 {
		t.Errorf("an endpoint of organisations that do not know the usager heard %d events", n)
	}
	// The MDS Arras books Léa in Lens (élargir) with her email: its usager
	// is completed, and stays its own: Lens has the RDV's contact, and its
	// endpoint hears of no User.
	pmi, err := h.booking.Book(context.Background(), h.agent("thomas-leroy"), booking.BookRequest{
		MotifID: "consultation-pmi", LieuID: "mds-lens-centre", StartsAt: "2026-12-02T13:30:00+01:00",
		Usager: &booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "0612345678", Email: "lea@example.org"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.settled(t)
	if pmi.Usager.ID != lea.ID || pmi.Usager.Email != "lea@example.org" {
		t.Fatalf("the élargir booking did not complete the MDS Arras's usager: %+v", pmi.Usager)
	}
	if n := len(users.attempts()); n != 0 {
		t.Errorf("after an élargir booking, the Lens endpoint heard %d events of the MDS Arras's usager", n)
	}
	// Lens records Léa itself: a new usager, its own, told to its endpoint.
	own, err := h.booking.Book(context.Background(), h.agent("sophie-dupont"), booking.BookRequest{
		MotifID: "consultation-pmi", LieuID: "mds-lens-centre", StartsAt: "2026-12-02T14:00:00+01:00",
		Usager: &booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "0612345678"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.settled(t)
	ug, bad := users.deliveries()
	if len(bad) > 0 || len(ug) != 1 || ug[0].model != "User" || ug[0].event != "created" || ug[0].data["email"] != nil ||
		ug[0].data["id"] != float64(own.Usager.RdvsID) || own.Usager.RdvsID == lea.RdvsID {
		t.Fatalf("users endpoint: %+v %v", ug, bad)
	}
}

// TestOutgoingPhoneRDVBookedByAnAgent: an RDV without lieu is sent with
// "lieu": null and an empty address, as RDV Solidarités renders it, and
// one an agent booked names that agent by its integer id.
func TestOutgoingPhoneRDVBookedByAnAgent(t *testing.T) {
	secret, key := newSecret()
	var clock func() time.Time
	rc := newReceiver(t, secret, key, func() time.Time { return clock() })
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	cat := withWebhooks(t, "  incoming: []\n  outgoing:\n    - { id: lens, url: \""+srv.URL+"\", secret_file: s, allow_private: true }\n",
		map[string]string{"s": secret})
	h := newHarness(t, cat, outbox.Policy{})
	clock = h.now
	b, err := h.booking.Book(context.Background(), h.agent("karim-benali"), booking.BookRequest{
		MotifID: "appel-social-lens", StartsAt: "2026-12-03T10:00:00+01:00",
		Usager: &booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "0612345678"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.settled(t)
	got, bad := rc.deliveries()
	if len(bad) > 0 || len(got) != 1 {
		t.Fatalf("%d deliveries, %v", len(got), bad)
	}
	d := got[0].data
	lieu, hasLieu := d["lieu"]
	if !hasLieu || lieu != nil || d["address"] != "" || d["created_by"] != "agent" || d["created_by_type"] != "Agent" {
		t.Errorf("data: %v", d)
	}
	agents, _ := d["agents"].([]any)
	karim, _ := agents[0].(map[string]any)
	if karim["first_name"] != "Karim" || d["created_by_id"] != karim["id"] || b.RDV.AgentIDs[0] != "karim-benali" {
		t.Errorf("created_by_id %v, agents %v", d["created_by_id"], agents)
	}
	motif, _ := d["motif"].(map[string]any)
	if motif["location_type"] != "phone" {
		t.Errorf("motif: %v", motif)
	}
}

// TestOutgoingElargirSendsTheContactOnly: an agent of the MDS Arras books
// at the MDS Lens ("élargir") an usager the MDS Arras recorded with her
// address, birth date and email, typing only her names and phone. The
// MDS Lens's endpoints get that contact in the RDV (RDV Solidarités'
// payload still valid, with null for what they may not see) and no User
// event; an endpoint of every organisation sees the whole record.
func TestOutgoingElargirSendsTheContactOnly(t *testing.T) {
	secret, key := newSecret()
	var clock func() time.Time
	lens := newReceiver(t, secret, key, func() time.Time { return clock() })
	native := newReceiver(t, secret, key, func() time.Time { return clock() })
	all := newReceiver(t, secret, key, func() time.Time { return clock() })
	ls, ns, as := httptest.NewServer(lens), httptest.NewServer(native), httptest.NewServer(all)
	for _, s := range []*httptest.Server{ls, ns, as} {
		t.Cleanup(s.Close)
	}
	cat := withWebhooks(t, "  incoming: []\n  outgoing:\n"+
		"    - { id: lens, url: \""+ls.URL+"\", secret_file: s, organisations: [mds-lens], allow_private: true, subscriptions: [rdv, user] }\n"+
		"    - { id: lens-native, url: \""+ns.URL+"\", secret_file: s, organisations: [mds-lens], allow_private: true, format: rdvsync, subscriptions: [rdv, user] }\n"+
		"    - { id: all, url: \""+as.URL+"\", secret_file: s, allow_private: true, subscriptions: [rdv, user] }\n",
		map[string]string{"s": secret})
	h := newHarness(t, cat, outbox.Policy{})
	clock = h.now

	arras, err := h.booking.Book(context.Background(), h.agent("thomas-leroy"), booking.BookRequest{
		MotifID: "rsa-orientation", LieuID: "mds-arras-centre", StartsAt: "2026-12-03T09:00:00+01:00",
		Usager: &booking.UsagerInput{FirstName: "Léa-Marie", LastName: "Dubois", PhoneNumber: "0612345678", Email: "lea@example.org",
			Address: "3 rue Ronville, 62000 Arras", PostalCode: "62000", CityCode: "62041", BirthDate: "1990-04-02"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	elargi, err := h.booking.Book(context.Background(), h.agent("thomas-leroy"), booking.BookRequest{
		MotifID: "consultation-pmi", LieuID: "mds-lens-centre", StartsAt: "2026-12-02T13:30:00+01:00",
		Usager: &booking.UsagerInput{FirstName: "Lea Marie", LastName: "DUBOIS", PhoneNumber: "06 12 34 56 78"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if elargi.Usager.ID != arras.Usager.ID || !elargi.RDV.ContactOnly {
		t.Fatalf("the élargir RDV is not linked to the MDS Arras's usager for its contact only: %+v", elargi.RDV)
	}
	h.settled(t)

	recorded := []string{"Ronville", "62000", "62041", "1990-04-02", "lea@example.org", "Léa-Marie"}
	for name, rc := range map[string]*receiver{"lens": lens, "lens-native": native} {
		got, bad := rc.deliveries()
		if len(bad) > 0 || len(got) != 1 || got[0].model != "Rdv" || got[0].rdvID != elargi.RDV.ID {
			t.Fatalf("%s heard %+v %v, want the élargir RDV only", name, got, bad)
		}
		for _, s := range recorded {
			if strings.Contains(got[0].body, s) {
				t.Errorf("%s was sent %q, which the MDS Arras recorded: %s", name, s, got[0].body)
			}
		}
	}
	got, _ := lens.deliveries()
	users, _ := got[0].data["users"].([]any)
	participations, _ := got[0].data["participations"].([]any)
	if len(users) != 1 || len(participations) != 1 {
		t.Fatalf("users %v, participations %v", users, participations)
	}
	for _, u := range []any{users[0], participations[0].(map[string]any)["user"]} {
		u := u.(map[string]any)
		if u["first_name"] != "Lea Marie" || u["last_name"] != "DUBOIS" || u["phone_number"] != "+33612345678" ||
			u["id"] != float64(arras.Usager.RdvsID) || u["address"] != nil || u["birth_date"] != nil || u["email"] != nil {
			t.Errorf("the Lens endpoint's user is not the contact: %v", u)
		}
	}
	got, _ = native.deliveries()
	if u, _ := got[0].data["usager"].(map[string]any); u["first_name"] != "Lea Marie" || u["id"] != arras.Usager.ID {
		t.Errorf("the Lens endpoint's usager (format rdvsync): %v", got[0].data["usager"])
	}

	// The territory's endpoint hears both organisations and sees the record.
	got, bad := all.deliveries()
	if len(bad) > 0 {
		t.Fatal(bad)
	}
	found := false
	for _, r := range got {
		if r.model == "Rdv" && r.rdvID == elargi.RDV.ID {
			found = true
			if !strings.Contains(r.body, "Ronville") {
				t.Errorf("the territory's endpoint does not see the record: %s", r.body)
			}
		}
	}
	if !found {
		t.Errorf("the territory's endpoint did not hear of the élargir RDV: %+v", got)
	}
}
