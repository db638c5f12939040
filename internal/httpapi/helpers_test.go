package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/httpapi"
	"rdvsync/internal/ratelimit"
	"rdvsync/internal/store"
)

// now is the tests' clock: Tuesday 1 December 2026, 10:00 in Paris. With
// config.example.yaml, camille-martin receives rsa-orientation on Monday
// and Thursday 09:00–12:00 (09:00, 09:45, 10:30, 11:15), thomas-leroy on
// Monday 09:00–10:30; on Thursday 3 December only camille works.
var now = mustTime("2026-12-01T10:00:00+01:00")

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

// testClock is a settable clock, so a test can stand close to an RDV.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// serverOptions tune newServer; the zero value serves config.example.yaml
// at now, without fsync and with a rate limit too high to matter.
type serverOptions struct {
	catalog           *catalog.Catalog
	ratePerMin, burst int
	fsync             bool
	// failures is the failed-authentication throttle (default: none
	// in practice, as the tests send many bad credentials on purpose).
	failures *ratelimit.Failures
	logger   *slog.Logger
}

// testServer is the API on a real loopback HTTP server, wired as serve.go
// does it.
type testServer struct {
	t      testing.TB
	URL    string
	clock  *testClock
	store  *store.Store
	client *http.Client
}

func exampleCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	f, err := config.Load("../../config.example.yaml")
	if err != nil {
		t.Fatalf("config.example.yaml: %v", err)
	}
	cat, err := catalog.Build(f)
	if err != nil {
		t.Fatalf("catalog.Build: %v", err)
	}
	return cat
}

func newServer(t testing.TB, opts serverOptions) *testServer {
	t.Helper()
	cat := opts.catalog
	if cat == nil {
		cat = exampleCatalog(t)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "rdvsync.db"), store.Options{NoSync: !opts.fsync})
	if err != nil {
		t.Fatalf("store.Open: %v", err)
	}
	t.Cleanup(func() {
		if err := st.Close(); err != nil {
			t.Errorf("store.Close: %v", err)
		}
	})
	if opts.ratePerMin == 0 {
		opts.ratePerMin, opts.burst = 1_000_000, 1_000_000
	}
	if opts.failures == nil {
		opts.failures = ratelimit.NewFailures(1_000_000, time.Nanosecond)
	}
	clock := &testClock{t: now}
	var api *httpapi.API
	svc := booking.New(func() *catalog.Catalog { return cat }, st, booking.Options{
		Now:      clock.Now,
		Observer: observerFunc(func(o string) { api.BookingOutcome(o) }),
	})
	api = httpapi.New(httpapi.Options{Booking: svc, RatePerMinute: opts.ratePerMin, RateBurst: opts.burst,
		Failures: opts.failures, Logger: opts.logger, Ready: func() error { return nil }})
	mux := http.NewServeMux()
	api.Register(mux)
	var h http.Handler = mux
	if _, bench := t.(*testing.B); !bench {
		h = checkContract(t, mux)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := srv.Client()
	client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
	return &testServer{t: t, URL: srv.URL, clock: clock, store: st, client: client}
}

type observerFunc func(string)

func (f observerFunc) BookingOutcome(o string) { f(o) }

// token is the demo Bearer token of an agent of config.example.yaml.
func token(agentID string) string { return "demo-token-" + agentID }

// req is one HTTP call. Body is sent as is when it is a string or []byte,
// else encoded as JSON.
type req struct {
	method, path string
	agent        string // agent id whose demo token to send
	auth         string // raw Authorization header (overrides agent)
	body         any
	header       map[string]string
}

// response is what a call returned.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (s *testServer) do(r req) response {
	s.t.Helper()
	resp, err := s.try(r)
	if err != nil {
		s.t.Fatal(err)
	}
	return resp
}

// try is do for goroutines other than the test's: it returns the error.
func (s *testServer) try(r req) (response, error) {
	var body io.Reader
	switch b := r.body.(type) {
	case nil:
	case string:
		body = strings.NewReader(b)
	case []byte:
		body = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return response{}, fmt.Errorf("encode body: %w", err)
		}
		body = bytes.NewReader(data)
	}
	hr, err := http.NewRequestWithContext(context.Background(), r.method, s.URL+r.path, body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	if body != nil {
		hr.Header.Set("Content-Type", "application/json")
	}
	switch {
	case r.auth != "":
		hr.Header.Set("Authorization", r.auth)
	case r.agent != "":
		hr.Header.Set("Authorization", "Bearer "+token(r.agent))
	}
	for k, v := range r.header {
		hr.Header.Set(k, v)
	}
	resp, err := s.client.Do(hr)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", r.method, r.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: read body: %w", r.method, r.path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// must calls and fails the test unless the status is want.
func (s *testServer) must(want int, r req) response {
	s.t.Helper()
	resp := s.do(r)
	if resp.status != want {
		s.t.Fatalf("%s %s: status %d, want %d; body: %s", r.method, r.path, resp.status, want, resp.body)
	}
	return resp
}

// The JSON shapes of docs/design.md §5, written from the contract rather than
// borrowed from the package, so a change of the wire format fails here.

type rdvJSON struct {
	ID              string   `json:"id"`
	Status          string   `json:"status"`
	StartsAt        string   `json:"starts_at"`
	EndsAt          string   `json:"ends_at"`
	DurationMinutes int      `json:"duration_minutes"`
	MotifID         string   `json:"motif_id"`
	LieuID          string   `json:"lieu_id"`
	OrganisationID  string   `json:"organisation_id"`
	AgentIDs        []string `json:"agent_ids"`
	Usager          *struct {
		ID          string `json:"id"`
		FirstName   string `json:"first_name"`
		LastName    string `json:"last_name"`
		Email       string `json:"email"`
		PhoneNumber string `json:"phone_number"`
	} `json:"usager"`
	CreatedBy struct {
		Type        string `json:"type"`
		FirstName   string `json:"first_name"`
		LastName    string `json:"last_name"`
		Email       string `json:"email"`
		PhoneNumber string `json:"phone_number"`
		AgentID     string `json:"agent_id"`
	} `json:"created_by"`
	Context      string  `json:"context"`
	CancelledAt  *string `json:"cancelled_at"`
	CancelReason string  `json:"cancel_reason"`
	UsagerURL    string  `json:"usager_url"`
}

// usagerToken extracts the token of the usager's link.
func (r rdvJSON) usagerToken(t testing.TB) string {
	t.Helper()
	u, err := url.Parse(r.UsagerURL)
	if err != nil || u.Query().Get("token") == "" {
		t.Fatalf("usager_url %q has no token", r.UsagerURL)
	}
	return u.Query().Get("token")
}

type slotJSON struct {
	StartsAt       string `json:"starts_at"`
	EndsAt         string `json:"ends_at"`
	MotifID        string `json:"motif_id"`
	LieuID         string `json:"lieu_id"`
	OrganisationID string `json:"organisation_id"`
	AgentID        string `json:"agent_id"`
}

type errorJSON struct {
	Error struct {
		Code    string            `json:"code"`
		Message string            `json:"message"`
		Fields  map[string]string `json:"fields"`
	} `json:"error"`
}

func decodeJSON[T any](t testing.TB, resp response) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(resp.body, &v); err != nil {
		t.Fatalf("body does not parse as %T: %v\n%s", v, err, resp.body)
	}
	return v
}

// decodeJSONErr parses an error body where failing the test is not allowed.
func decodeJSONErr(resp response) (errorJSON, error) {
	var e errorJSON
	if err := json.Unmarshal(resp.body, &e); err != nil {
		return e, fmt.Errorf("status %d: body is not the error shape: %w: %s", resp.status, err, resp.body)
	}
	return e, nil
}

// slotStarts returns the starts of the slots of a /slots response.
func slotStarts(t testing.TB, resp response) []string {
	t.Helper()
	var body struct {
		Slots []slotJSON `json:"slots"`
	}
	if err := json.Unmarshal(resp.body, &body); err != nil || body.Slots == nil {
		t.Fatalf("bad slots body (%v): %s", err, resp.body)
	}
	out := make([]string, len(body.Slots))
	for i, s := range body.Slots {
		out[i] = s.StartsAt
	}
	return out
}

// booking bodies used across tests.

func usager(first, last, email string) map[string]any {
	u := map[string]any{"first_name": first, "last_name": last}
	if email != "" {
		u["email"] = email
	}
	return u
}

var jean = map[string]any{"first_name": "Jean", "last_name": "Petit",
	"email": "jean.petit@mediatheque.example.org", "phone_number": "0321000000"}

func prescription(motif, lieu, start, agent string) map[string]any {
	b := map[string]any{"motif_id": motif, "lieu_id": lieu, "starts_at": start,
		"usager":       map[string]any{"first_name": "Léa", "last_name": "Dubois", "email": "lea@example.org", "phone_number": "0612345678"},
		"prescripteur": jean}
	if agent != "" {
		b["agent_id"] = agent
	}
	return b
}
