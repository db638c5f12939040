package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/httpapi"
	"rdvsync/internal/notify"
	"rdvsync/internal/outbox"
	"rdvsync/internal/store"
	"rdvsync/internal/webhook"
)

// now is the tests' starting time: Tuesday 1 December 2026, 10:00 in
// Paris. In config.example.yaml camille-martin receives rsa-orientation
// at MDS Arras Centre on Thursday 3 December at 09:00, 09:45, 10:30, 11:15.
var now = time.Date(2026, 12, 1, 10, 0, 0, 0, time.FixedZone("CET", 3600))

// newSecret returns a fresh Standard Webhooks secret and its key.
func newSecret() (string, []byte) {
	key := make([]byte, 24)
	rand.Read(key)
	return "whsec_" + base64.StdEncoding.EncodeToString(key), key
}

// parseWebhooks parses config.example.yaml with webhooksYAML (the body of
// its webhooks: block) and the secret files it names, written in a
// temporary directory beside the configuration.
func parseWebhooks(t *testing.T, webhooksYAML string, secretFiles map[string]string, edits ...func(string) string) (*config.File, error) {
	t.Helper()
	data, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const empty = "webhooks:\n  incoming: []\n  outgoing: []\n"
	if !strings.Contains(string(data), empty) {
		t.Fatal("config.example.yaml has no empty webhooks block to replace")
	}
	dir := t.TempDir()
	for name, content := range secretFiles {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	y := strings.Replace(string(data), empty, "webhooks:\n"+webhooksYAML, 1)
	for _, edit := range edits {
		y = edit(y)
	}
	return config.Parse(filepath.Join(dir, "config.yaml"), []byte(y))
}

// withWebhooks is the catalogue of parseWebhooks.
func withWebhooks(t *testing.T, webhooksYAML string, secretFiles map[string]string, edits ...func(string) string) *catalog.Catalog {
	t.Helper()
	f, err := parseWebhooks(t, webhooksYAML, secretFiles, edits...)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Build(f)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// harness is the daemon's wiring for webhooks: booking with the webhook
// and notification Effects, the outbox dispatcher with their Sinks
// (emails spooled beside the store), and the HTTP API with the webhook
// routes on a real loopback server. Its clock starts at now and runs, so
// retries come due.
type harness struct {
	cat     *catalog.Catalog
	store   *store.Store
	booking *booking.Service
	hooks   *webhook.Service
	notify  *notify.Service
	url     string
	started time.Time
}

func (h *harness) now() time.Time { return now.Add(time.Since(h.started)) }

func newHarness(t *testing.T, cat *catalog.Catalog, policy outbox.Policy) *harness {
	t.Helper()
	return newHarnessLogged(t, cat, policy, nil)
}

// newHarnessLogged is newHarness with the outbox dispatcher logging to log.
func newHarnessLogged(t *testing.T, cat *catalog.Catalog, policy outbox.Policy, log *slog.Logger) *harness {
	t.Helper()
	h := &harness{cat: cat, started: time.Now()}
	st, err := store.Open(filepath.Join(t.TempDir(), "db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	h.store = st
	load := func() *catalog.Catalog { return cat }
	h.hooks = webhook.New(st, load, webhook.Options{Render: httpapi.WebhookRDVView, RenderUsager: httpapi.WebhookUsagerView, Now: h.now})
	if h.notify, err = notify.New(st, load, notify.Options{Now: h.now}); err != nil {
		t.Fatal(err)
	}
	h.booking = booking.New(load, st, booking.Options{Now: h.now, Effects: []booking.Effect{h.hooks, h.notify},
		Refusals: []booking.RefusalEffect{h.notify}})
	if policy.Base == 0 {
		policy = outbox.Policy{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}
	}
	sinks := h.notify.Sinks()
	sinks[webhook.Kind] = h.hooks
	d := outbox.New(st, sinks, outbox.Options{
		Now: h.now, Poll: 20 * time.Millisecond, Policy: policy, Logger: log})
	h.hooks.SetKick(d.Kick)
	h.notify.SetKick(d.Kick)

	api := httpapi.New(httpapi.Options{Booking: h.booking, Webhooks: h.hooks, RatePerMinute: 1_000_000, RateBurst: 1_000_000})
	mux := http.NewServeMux()
	api.Register(mux)
	srv := httptest.NewServer(mux)
	h.url = srv.URL

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.Run(ctx) }()
	t.Cleanup(func() { srv.Close(); cancel(); wg.Wait(); st.Close() })
	return h
}

// response is an HTTP answer of the API.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) errorCode(t *testing.T) string {
	t.Helper()
	var e struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
	}
	r.json(t, &e)
	if e.Error.Message == "" {
		t.Errorf("error without a message: %s", r.body)
	}
	return e.Error.Code
}

func (h *harness) do(t *testing.T, method, path string, header http.Header, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(method, h.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// signed returns the Standard Webhooks headers of a message, computed
// here from the specification rather than with the package under test.
func signed(id string, ts time.Time, body []byte, keys ...[]byte) http.Header {
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set("webhook-id", id)
	stamp := strconv.FormatInt(ts.Unix(), 10)
	h.Set("webhook-timestamp", stamp)
	var sigs []string
	for _, k := range keys {
		m := hmac.New(sha256.New, k)
		m.Write([]byte(id + "." + stamp + "."))
		m.Write(body)
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(m.Sum(nil)))
	}
	h.Set("webhook-signature", strings.Join(sigs, " "))
	return h
}

// rdvCount counts the stored RDVs and usagers.
func (h *harness) counts(t *testing.T) (rdvs, usagers int) {
	t.Helper()
	st, err := h.store.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return st.RDVs, st.Usagers
}

// settled waits until the outbox holds no pending record (dead ones stay).
func (h *harness) settled(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := 0
		h.store.View(context.Background(), func(tx *store.ReadTx) error {
			return tx.EachOutbox("", func(r *store.OutboxRecord) error {
				if !r.Dead {
					n++
				}
				return nil
			})
		})
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox still has %d pending records", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// received is one delivery a receiver accepted.
type received struct {
	messageID string
	model     string
	event     string
	rdvID     string // the RDV's uuid (data.id in format rdvsync, data.uuid in rdv-solidarites)
	status    string
	startsAt  string
	data      map[string]any
	meta      map[string]any
	body      string
}

// receiver is a partner system on loopback. It checks both signatures of
// every request as a receiver would (X-Lapin-Signature with the secret
// text, webhook-signature with the whsec_ key, timestamp within 5 min of
// clock), and every body in format rdv-solidarites against RDV
// Solidarités' JSON Schema (the contract test: every delivery of every
// test goes through it), and answers fail(n) for the n-th request
// (1-based), 2xx when nil.
type receiver struct {
	t      *testing.T
	secret string
	key    []byte
	clock  func() time.Time

	mu       sync.Mutex
	fail     func(n int) int
	requests []time.Time
	got      []received
	bad      []string
}

func newReceiver(t *testing.T, secret string, key []byte, clock func() time.Time) *receiver {
	return &receiver{t: t, secret: secret, key: key, clock: clock}
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests = append(rc.requests, time.Now())
	if rc.fail != nil {
		if code := rc.fail(len(rc.requests)); code != 0 {
			w.WriteHeader(code)
			return
		}
	}
	lapin := hmac.New(sha256.New, []byte(rc.secret))
	lapin.Write(body)
	if got := r.Header.Get("X-Lapin-Signature"); !hmac.Equal([]byte(got), []byte(hex.EncodeToString(lapin.Sum(nil)))) {
		rc.bad = append(rc.bad, "X-Lapin-Signature "+got)
	}
	id, stamp := r.Header.Get("webhook-id"), r.Header.Get("webhook-timestamp")
	sec, err := strconv.ParseInt(stamp, 10, 64)
	if d := rc.clock().Sub(time.Unix(sec, 0)); err != nil || d > 5*time.Minute || d < -5*time.Minute {
		rc.bad = append(rc.bad, "webhook-timestamp "+stamp)
	}
	std := hmac.New(sha256.New, rc.key)
	std.Write([]byte(id + "." + stamp + "."))
	std.Write(body)
	want := "v1," + base64.StdEncoding.EncodeToString(std.Sum(nil))
	if !strings.Contains(" "+r.Header.Get("webhook-signature")+" ", " "+want+" ") {
		rc.bad = append(rc.bad, "webhook-signature "+r.Header.Get("webhook-signature"))
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json; charset=utf-8" {
		rc.bad = append(rc.bad, "Content-Type "+ct)
	}
	var payload struct {
		Data map[string]any `json:"data"`
		Meta map[string]any `json:"meta"`
	}
	if err := json.Unmarshal(body, &payload); err != nil {
		rc.bad = append(rc.bad, "body "+string(body))
	}
	str := func(m map[string]any, k string) string { s, _ := m[k].(string); return s }
	got := received{messageID: id, model: str(payload.Meta, "model"), event: str(payload.Meta, "event"),
		status: str(payload.Data, "status"), startsAt: str(payload.Data, "starts_at"), data: payload.Data, meta: payload.Meta, body: string(body)}
	if _, rdvs := payload.Data["id"].(float64); rdvs {
		if err := validateRdvs(body); err != nil {
			rc.bad = append(rc.bad, "not RDV Solidarités' payload: "+err.Error())
		}
		if got.model == "Rdv" {
			got.rdvID = str(payload.Data, "uuid")
		}
	} else if got.model == "Rdv" {
		got.rdvID = str(payload.Data, "id")
	}
	rc.got = append(rc.got, got)
	w.WriteHeader(http.StatusNoContent)
}

func (rc *receiver) deliveries() ([]received, []string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...), append([]string(nil), rc.bad...)
}

func (rc *receiver) attempts() []time.Time {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]time.Time(nil), rc.requests...)
}

// serve starts rc on ln.
func serve(t *testing.T, ln net.Listener, h http.Handler) {
	srv := &http.Server{Handler: h}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
}

func mustListen(t *testing.T, addr string) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return ln
}
