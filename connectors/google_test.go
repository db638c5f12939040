package connectors_test

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/calendar/v3"

	"rdvsync/caldav"
	"rdvsync/connectors"
	"rdvsync/connectors/googlefake"
)

const (
	googleTestUID     = "0B9C3C8E-5f1a-4d2b-9e7f-3a1c2b4d5e6f"
	googleTestEventID = "0b9c3c8e5f1a4d2b9e7f3a1c2b4d5e6f"
)

func googleTestEvent(t *testing.T) caldav.Event {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, paris)
	return caldav.Event{
		UID: googleTestUID, Sequence: 1, Start: start, End: start.Add(30 * time.Minute),
		Summary: "RDV Permis de conduire", Location: "MSA Gironde, 13 rue Ferrère, Bordeaux",
		Description: "Motif : Permis de conduire (MSA Gironde)",
		URL:         "https://rdv.example.fr/agents/rdvs/" + googleTestUID,
	}
}

// googleCountingSource hands out the token that token(n) gives for its nth call.
type googleCountingSource struct {
	calls atomic.Int32
	token func(n int) string
}

func (s *googleCountingSource) Token() (*oauth2.Token, error) {
	n := int(s.calls.Add(1))
	return &oauth2.Token{AccessToken: s.token(n), TokenType: "Bearer"}, nil
}

// newGoogleTest is a connector on a fresh fake, with a token source that
// always gives the fake's newest token.
func newGoogleTest(t *testing.T, calendarID string) (*connectors.Google, *googlefake.Server, *googleCountingSource) {
	fake := googlefake.New(t)
	src := &googleCountingSource{token: func(int) string { return fake.AccessToken() }}
	return newGoogleOn(t, fake, calendarID, src), fake, src
}

func newGoogleOn(t *testing.T, fake *googlefake.Server, calendarID string, src oauth2.TokenSource) *connectors.Google {
	t.Helper()
	g, err := connectors.NewGoogle(context.Background(), connectors.GoogleConfig{
		AgentID: "agent-1", CalendarID: calendarID, TokenSource: src,
		Endpoint: fake.Endpoint(), HTTPClient: &http.Client{}, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// calls lists the API requests as "METHOD /path status".
func googleCalls(fake *googlefake.Server) []string {
	var out []string
	for _, r := range fake.Requests() {
		out = append(out, fmt.Sprintf("%s %s %d", r.Method, r.Path, r.Status))
	}
	return out
}

// checkGoogleSentNoUpdates checks that every write asked Google not to
// e-mail anyone: an RDV must not send invitations from an agent's account.
func checkGoogleSentNoUpdates(t *testing.T, fake *googlefake.Server) {
	t.Helper()
	for _, r := range fake.Requests() {
		if r.Method != http.MethodGet && r.Path != "/token" && r.Query.Get("sendUpdates") != "none" {
			t.Errorf("%s %s: sendUpdates=%q, want none", r.Method, r.Path, r.Query.Get("sendUpdates"))
		}
	}
}

func googleOnlyEvent(t *testing.T, fake *googlefake.Server, calendarID string) *calendar.Event {
	t.Helper()
	events := fake.Events(calendarID)
	if len(events) != 1 {
		t.Fatalf("calendar has %d events, want 1", len(events))
	}
	return events[0]
}

func TestGooglePutCreatesEvent(t *testing.T) {
	g, fake, _ := newGoogleTest(t, "")
	ev := googleTestEvent(t)

	st, err := g.Put(context.Background(), ev, connectors.State{})
	if err != nil {
		t.Fatal(err)
	}
	if st.EventID != googleTestEventID {
		t.Errorf("EventID = %q, want %q", st.EventID, googleTestEventID)
	}
	e := googleOnlyEvent(t, fake, "primary")
	got := fmt.Sprintf("%s|%s|%s|%s|%s|%s|%s", e.Id, e.Start.DateTime, e.End.DateTime, e.Summary, e.Location, e.Status, e.Transparency)
	want := googleTestEventID + "|2026-03-02T08:00:00Z|2026-03-02T08:30:00Z|RDV Permis de conduire|MSA Gironde, 13 rue Ferrère, Bordeaux|confirmed|opaque"
	if got != want {
		t.Errorf("event:\n got %s\nwant %s", got, want)
	}
	if len(e.Attendees) != 0 {
		t.Errorf("event has attendees %v: Google would invite them", e.Attendees)
	}
	if e.ExtendedProperties == nil || e.ExtendedProperties.Private["rdvsync_uid"] != googleTestUID {
		t.Errorf("extendedProperties = %+v, want private rdvsync_uid", e.ExtendedProperties)
	}
	if e.Source == nil || e.Source.Url != ev.URL {
		t.Errorf("source = %+v, want the agent's page of the RDV", e.Source)
	}
	if want := []string{"POST /calendars/primary/events 200"}; !slices.Equal(googleCalls(fake), want) {
		t.Errorf("requests = %q, want %q", googleCalls(fake), want)
	}
	checkGoogleSentNoUpdates(t, fake)
}

func TestGooglePutMovesEvent(t *testing.T) {
	g, fake, _ := newGoogleTest(t, "")
	ctx := context.Background()
	ev := googleTestEvent(t)
	st, err := g.Put(ctx, ev, connectors.State{})
	if err != nil {
		t.Fatal(err)
	}

	ev.Start, ev.End = ev.Start.Add(26*time.Hour), ev.End.Add(26*time.Hour)
	ev.Sequence++
	st2, err := g.Put(ctx, ev, st)
	if err != nil {
		t.Fatal(err)
	}
	if st2.EventID != st.EventID || st2.Generation != 0 || st2.ETag == st.ETag {
		t.Errorf("state = %+v after %+v, want the same id with a new etag", st2, st)
	}
	e := googleOnlyEvent(t, fake, "primary")
	if e.Id != googleTestEventID || e.Start.DateTime != "2026-03-03T10:00:00Z" || e.End.DateTime != "2026-03-03T10:30:00Z" {
		t.Errorf("event %s at %s–%s, want %s at 2026-03-03T10:00:00Z–10:30:00Z", e.Id, e.Start.DateTime, e.End.DateTime, googleTestEventID)
	}
	want := []string{"POST /calendars/primary/events 200", "PATCH /calendars/primary/events/" + googleTestEventID + " 200"}
	if !slices.Equal(googleCalls(fake), want) {
		t.Errorf("requests = %q, want %q", googleCalls(fake), want)
	}
	if r := fake.Requests()[1]; r.IfMatch != st.ETag {
		t.Errorf("patch If-Match = %q, want the etag of our write %q", r.IfMatch, st.ETag)
	}
	checkGoogleSentNoUpdates(t, fake)
}

// A push that succeeded but whose state was not saved (crash) is pushed
// again without state: the insert hits the id, and becomes an update.
func TestGooglePutRecoversLostState(t *testing.T) {
	g, fake, _ := newGoogleTest(t, "")
	ctx := context.Background()
	ev := googleTestEvent(t)
	if _, err := g.Put(ctx, ev, connectors.State{}); err != nil {
		t.Fatal(err)
	}
	ev.Summary = "RDV Permis de conduire (modifié)"
	st, err := g.Put(ctx, ev, connectors.State{})
	if err != nil {
		t.Fatal(err)
	}
	if st.EventID != googleTestEventID {
		t.Errorf("EventID = %q", st.EventID)
	}
	if e := googleOnlyEvent(t, fake, "primary"); e.Summary != ev.Summary {
		t.Errorf("summary = %q, want %q", e.Summary, ev.Summary)
	}
	want := []string{
		"POST /calendars/primary/events 200",
		"POST /calendars/primary/events 409",
		"PATCH /calendars/primary/events/" + googleTestEventID + " 200",
	}
	if !slices.Equal(googleCalls(fake), want) {
		t.Errorf("requests = %q, want %q", googleCalls(fake), want)
	}
	checkGoogleSentNoUpdates(t, fake)
}

// An agent deletes our event in Google Calendar; the RDV still holds, so
// the next push brings it back, with or without state.
func TestGooglePutRestoresEventDeletedByAgent(t *testing.T) {
	for _, withState := range []bool{true, false} {
		t.Run(fmt.Sprintf("with_state=%v", withState), func(t *testing.T) {
			g, fake, _ := newGoogleTest(t, "")
			ctx := context.Background()
			ev := googleTestEvent(t)
			st, err := g.Put(ctx, ev, connectors.State{})
			if err != nil {
				t.Fatal(err)
			}
			if err := g.Delete(ctx, ev.UID, st); err != nil { // as the agent would
				t.Fatal(err)
			}
			if !withState {
				st = connectors.State{}
			}
			if _, err := g.Put(ctx, ev, st); err != nil {
				t.Fatal(err)
			}
			if e := googleOnlyEvent(t, fake, "primary"); e.Id != googleTestEventID || e.Status != "confirmed" {
				t.Errorf("event %s status %q, want %s confirmed", e.Id, e.Status, googleTestEventID)
			}
		})
	}
}

// A state whose event the calendar does not have (purged, or a calendar
// reset) is recreated.
func TestGooglePutRecreatesMissingEvent(t *testing.T) {
	g, fake, _ := newGoogleTest(t, "")
	st, err := g.Put(context.Background(), googleTestEvent(t), connectors.State{EventID: googleTestEventID})
	if err != nil {
		t.Fatal(err)
	}
	if st.EventID != googleTestEventID {
		t.Errorf("EventID = %q", st.EventID)
	}
	googleOnlyEvent(t, fake, "primary")
	want := []string{
		"PATCH /calendars/primary/events/" + googleTestEventID + " 404",
		"POST /calendars/primary/events 200",
	}
	if !slices.Equal(googleCalls(fake), want) {
		t.Errorf("requests = %q, want %q", googleCalls(fake), want)
	}
}

func TestGooglePutRefusesNonUUID(t *testing.T) {
	g, fake, _ := newGoogleTest(t, "")
	ev := googleTestEvent(t)
	ev.UID = "rdv-2026-xyz" // x, y, z are not base32hex
	_, err := g.Put(context.Background(), ev, connectors.State{})
	if !errors.Is(err, connectors.ErrPermanent) {
		t.Errorf("err = %v, want permanent", err)
	}
	if len(fake.Requests()) != 0 {
		t.Errorf("requests = %q, want none", googleCalls(fake))
	}
}

func TestGoogleDelete(t *testing.T) {
	g, fake, _ := newGoogleTest(t, "")
	ctx := context.Background()
	ev := googleTestEvent(t)
	st, err := g.Put(ctx, ev, connectors.State{})
	if err != nil {
		t.Fatal(err)
	}

	if err := g.Delete(ctx, ev.UID, st); err != nil {
		t.Fatal(err)
	}
	if events := fake.Events("primary"); len(events) != 0 {
		t.Errorf("calendar still has %d events", len(events))
	}
	if err := g.Delete(ctx, ev.UID, st); err != nil {
		t.Errorf("second delete (410): %v", err)
	}
	if err := g.Delete(ctx, "7d1e9a0c-0000-4000-8000-000000000000", connectors.State{}); err != nil {
		t.Errorf("delete of an event never pushed (404): %v", err)
	}
	want := []string{
		"POST /calendars/primary/events 200",
		"DELETE /calendars/primary/events/" + googleTestEventID + " 204",
		"DELETE /calendars/primary/events/" + googleTestEventID + " 410",
		"GET /calendars/primary/events 200", // without state: rdvsync's events of the RDV, by their mark
	}
	if !slices.Equal(googleCalls(fake), want) {
		t.Errorf("requests = %q, want %q", googleCalls(fake), want)
	}
	checkGoogleSentNoUpdates(t, fake)
}

// TestGoogleErrors checks how each Google failure is classed for the
// outbox: wait as told, retry with backoff, or give up at once.
func TestGoogleErrors(t *testing.T) {
	const (
		permanent = "permanent"
		retry     = "retry" // plain error: backoff
	)
	tests := []struct {
		name       string
		calendarID string
		fault      googlefake.Fault
		want       string        // permanent, retry, or "" for a *RetryAfterError
		after      time.Duration // for a *RetryAfterError
	}{
		{name: "403 rateLimitExceeded", fault: googlefake.Fault{Status: 403, Reason: "rateLimitExceeded"}, after: 30 * time.Second},
		{name: "403 userRateLimitExceeded with Retry-After", fault: googlefake.Fault{Status: 403, Reason: "userRateLimitExceeded", RetryAfter: "7"}, after: 7 * time.Second},
		{name: "403 quotaExceeded", fault: googlefake.Fault{Status: 403, Reason: "quotaExceeded"}, after: 15 * time.Minute},
		{name: "429", fault: googlefake.Fault{Status: 429}, after: 30 * time.Second},
		{name: "429 with Retry-After", fault: googlefake.Fault{Status: 429, RetryAfter: "120"}, after: 2 * time.Minute},
		{name: "403 forbidden", fault: googlefake.Fault{Status: 403, Reason: "forbidden"}, want: permanent},
		{name: "403 insufficientPermissions", fault: googlefake.Fault{Status: 403, Reason: "insufficientPermissions"}, want: permanent},
		{name: "400 invalid", fault: googlefake.Fault{Status: 400}, want: permanent},
		{name: "404 calendar", calendarID: "nope@group.calendar.google.com", want: permanent},
		{name: "500", fault: googlefake.Fault{Status: 500}, want: retry},
		{name: "503", fault: googlefake.Fault{Status: 503}, want: retry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, fake, _ := newGoogleTest(t, tt.calendarID)
			if tt.fault.Status != 0 {
				fake.Inject(tt.fault)
			}
			_, err := g.Put(context.Background(), googleTestEvent(t), connectors.State{})
			var ra *connectors.RetryAfterError
			isRA := errors.As(err, &ra)
			isPerm := errors.Is(err, connectors.ErrPermanent)
			switch {
			case err == nil:
				t.Fatal("Put succeeded")
			case tt.want == permanent && (!isPerm || isRA),
				tt.want == retry && (isPerm || isRA),
				tt.want == "" && (!isRA || isPerm):
				t.Fatalf("err = %v (permanent %v, retry-after %v), want %s", err, isPerm, isRA, cmp.Or(tt.want, "retry after"))
			case isRA && ra.After != tt.after:
				t.Errorf("retry after %s, want %s", ra.After, tt.after)
			}
			if n := len(fake.Requests()); n != 1 {
				t.Errorf("%d requests, want 1: %q", n, googleCalls(fake))
			}
		})
	}
}

// An access token revoked before its expiry: one 401, a new token, success.
func TestGoogleRefreshesTokenOnce(t *testing.T) {
	fake := googlefake.New(t)
	src := &googleCountingSource{token: func(n int) string {
		if n == 1 {
			return "ya29.revoked"
		}
		return fake.AccessToken()
	}}
	g := newGoogleOn(t, fake, "", src)
	if _, err := g.Put(context.Background(), googleTestEvent(t), connectors.State{}); err != nil {
		t.Fatal(err)
	}
	if n := src.calls.Load(); n != 2 {
		t.Errorf("token source called %d times, want 2", n)
	}
	want := []string{"POST /calendars/primary/events 401", "POST /calendars/primary/events 200"}
	if !slices.Equal(googleCalls(fake), want) {
		t.Errorf("requests = %q, want %q", googleCalls(fake), want)
	}
	googleOnlyEvent(t, fake, "primary") // the body was sent again whole
}

func TestGoogleUnauthorizedIsPermanent(t *testing.T) {
	fake := googlefake.New(t)
	src := &googleCountingSource{token: func(int) string { return "ya29.revoked" }}
	g := newGoogleOn(t, fake, "", src)
	_, err := g.Put(context.Background(), googleTestEvent(t), connectors.State{})
	if !errors.Is(err, connectors.ErrPermanent) {
		t.Errorf("err = %v, want permanent", err)
	}
	if n := src.calls.Load(); n != 2 {
		t.Errorf("token source called %d times, want 2 (one refresh)", n)
	}
	if n := len(fake.Requests()); n != 2 {
		t.Errorf("%d requests, want 2: %q", n, googleCalls(fake))
	}
}

func TestGoogleBusy(t *testing.T) {
	g, fake, _ := newGoogleTest(t, "")
	ctx := context.Background()
	at := func(s string) string { return "2026-03-02T" + s + ":00+01:00" }
	slot := func(from, to string) (*calendar.EventDateTime, *calendar.EventDateTime) {
		return &calendar.EventDateTime{DateTime: at(from)}, &calendar.EventDateTime{DateTime: at(to)}
	}
	seed := func(e *calendar.Event, from, to string) string {
		e.Start, e.End = slot(from, to)
		return fake.PutEvent("primary", e)
	}
	meeting := seed(&calendar.Event{Summary: "Réunion d'équipe"}, "14:00", "15:00")
	seed(&calendar.Event{Summary: "Rappel", Transparency: "transparent"}, "15:00", "16:00")
	seed(&calendar.Event{Summary: "Annulé", Status: "cancelled"}, "16:00", "17:00")
	seed(&calendar.Event{Summary: "Invitation refusée", Attendees: []*calendar.EventAttendee{
		{Email: "agent@example.fr", Self: true, ResponseStatus: "declined"},
	}}, "17:00", "18:00")
	seed(&calendar.Event{Summary: "Hors fenêtre"}, "06:00", "07:00") // ends before from
	holiday := fake.PutEvent("primary", &calendar.Event{Summary: "Congés",
		Start: &calendar.EventDateTime{Date: "2026-03-03"}, End: &calendar.EventDateTime{Date: "2026-03-04"}})
	if _, err := g.Put(ctx, googleTestEvent(t), connectors.State{}); err != nil {
		t.Fatal(err)
	}

	from := time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)
	busy, err := g.Busy(ctx, from, from.Add(36*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range busy {
		got = append(got, fmt.Sprintf("%s %s–%s", b.UID, b.Start.UTC().Format(time.RFC3339), b.End.UTC().Format(time.RFC3339)))
	}
	want := []string{
		googleTestEventID + " 2026-03-02T08:00:00Z–2026-03-02T08:30:00Z", // ours, named so it is not counted twice
		meeting + " 2026-03-02T13:00:00Z–2026-03-02T14:00:00Z",
		holiday + " 2026-03-02T23:00:00Z–2026-03-03T23:00:00Z", // all day in the calendar's zone
	}
	if !slices.Equal(got, want) {
		t.Errorf("busy:\n got %q\nwant %q", got, want)
	}
}

func TestGoogleBusyReadsEveryPage(t *testing.T) {
	fake := googlefake.New(t)
	// Two pages of 2 500 events take seconds under the race detector.
	g, err := connectors.NewGoogle(context.Background(), connectors.GoogleConfig{AgentID: "agent-1",
		TokenSource: &googleCountingSource{token: func(int) string { return fake.AccessToken() }},
		Endpoint:    fake.Endpoint(), HTTPClient: &http.Client{}, Timeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	day := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	const n = 2600 // more than one page of 2500
	for i := range n {
		start := day.Add(time.Duration(i) * time.Minute)
		fake.PutEvent("primary", &calendar.Event{
			Start: &calendar.EventDateTime{DateTime: start.Format(time.RFC3339)},
			End:   &calendar.EventDateTime{DateTime: start.Add(time.Minute).Format(time.RFC3339)},
		})
	}
	busy, err := g.Busy(context.Background(), day, day.Add(72*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(busy) != n {
		t.Errorf("%d busy times, want %d", len(busy), n)
	}
}

func TestGoogleBusyErrors(t *testing.T) {
	g, fake, _ := newGoogleTest(t, "")
	fake.Inject(googlefake.Fault{Method: http.MethodGet, Status: 503})
	from := time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)
	_, err := g.Busy(context.Background(), from, from.Add(time.Hour))
	var ra *connectors.RetryAfterError
	if err == nil || errors.Is(err, connectors.ErrPermanent) || errors.As(err, &ra) {
		t.Errorf("503: err = %v, want a plain error", err)
	}

	g, _, _ = newGoogleTest(t, "nope@group.calendar.google.com")
	if _, err := g.Busy(context.Background(), from, from.Add(time.Hour)); !errors.Is(err, connectors.ErrPermanent) {
		t.Errorf("unknown calendar: err = %v, want permanent", err)
	}
}

// googleTokenStore is a TokenStore in memory; failSaves makes SaveToken fail.
type googleTokenStore struct {
	mu        sync.Mutex
	tokens    map[string]*oauth2.Token
	saves     int
	failSaves bool
}

func (m *googleTokenStore) LoadToken(_ context.Context, agentID string) (*oauth2.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if tok := m.tokens[agentID]; tok != nil {
		return tok, nil
	}
	return nil, fmt.Errorf("agent %s: %w", agentID, connectors.ErrNoToken)
}

func (m *googleTokenStore) SaveToken(_ context.Context, agentID string, tok *oauth2.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failSaves {
		return errors.New("disk full")
	}
	m.saves++
	m.tokens[agentID] = tok
	return nil
}

func (m *googleTokenStore) token(agentID string) *oauth2.Token {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.tokens[agentID]
}

func googleFakeOAuthConfig(fake *googlefake.Server) *oauth2.Config {
	return &oauth2.Config{ClientID: "rdvsync.apps.googleusercontent.com", ClientSecret: "secret",
		Endpoint: oauth2.Endpoint{TokenURL: fake.TokenURL()}}
}

// The agent's access token is revoked while still unexpired: the 401 makes
// the persisting source refresh it, Google rotates the refresh token, and
// the new one is saved — else the agent would have to authorize again
// after the next restart.
func TestGoogleRefreshSavesRotatedToken(t *testing.T) {
	fake := googlefake.New(t)
	oldRefresh := fake.RefreshToken()
	store := &googleTokenStore{tokens: map[string]*oauth2.Token{"agent-1": {
		AccessToken: fake.AccessToken(), RefreshToken: oldRefresh, TokenType: "Bearer", Expiry: time.Now().Add(time.Hour),
	}}}
	src := connectors.PersistingTokenSource(context.Background(), googleFakeOAuthConfig(fake), "agent-1", nil, store)
	g := newGoogleOn(t, fake, "", src)
	fake.RotateToken()

	if _, err := g.Put(context.Background(), googleTestEvent(t), connectors.State{}); err != nil {
		t.Fatal(err)
	}
	saved := store.token("agent-1")
	if saved.RefreshToken == oldRefresh || saved.RefreshToken != fake.RefreshToken() {
		t.Errorf("saved refresh token %q, want the rotated %q (was %q)", saved.RefreshToken, fake.RefreshToken(), oldRefresh)
	}
	if saved.AccessToken != fake.AccessToken() {
		t.Errorf("saved access token %q, want %q", saved.AccessToken, fake.AccessToken())
	}
	want := []string{"POST /calendars/primary/events 401", "POST /token 200", "POST /calendars/primary/events 200"}
	if !slices.Equal(googleCalls(fake), want) {
		t.Errorf("requests = %q, want %q", googleCalls(fake), want)
	}
}

func TestPersistingTokenSource(t *testing.T) {
	ctx := context.Background()

	t.Run("expired token refreshed and saved", func(t *testing.T) {
		fake := googlefake.New(t)
		store := &googleTokenStore{tokens: map[string]*oauth2.Token{}}
		expired := &oauth2.Token{AccessToken: "ya29.old", RefreshToken: fake.RefreshToken(), Expiry: time.Now().Add(-time.Minute)}
		src := connectors.PersistingTokenSource(ctx, googleFakeOAuthConfig(fake), "agent-1", expired, store)
		tok, err := src.Token()
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken != fake.AccessToken() || store.token("agent-1").RefreshToken != fake.RefreshToken() {
			t.Errorf("token %+v, saved %+v; want the fake's new tokens", tok, store.token("agent-1"))
		}
		if _, err := src.Token(); err != nil || store.saves != 1 {
			t.Errorf("second Token: err %v, %d saves; want the cached token, 1 save", err, store.saves)
		}
	})

	t.Run("failed save is retried", func(t *testing.T) {
		fake := googlefake.New(t)
		store := &googleTokenStore{tokens: map[string]*oauth2.Token{}, failSaves: true}
		expired := &oauth2.Token{AccessToken: "ya29.old", RefreshToken: fake.RefreshToken(), Expiry: time.Now().Add(-time.Minute)}
		src := connectors.PersistingTokenSource(ctx, googleFakeOAuthConfig(fake), "agent-1", expired, store)
		if _, err := src.Token(); err == nil {
			t.Fatal("Token succeeded although the rotated token could not be saved")
		}
		store.mu.Lock()
		store.failSaves = false
		store.mu.Unlock()
		if _, err := src.Token(); err != nil {
			t.Fatal(err)
		}
		if got := store.token("agent-1"); got == nil || got.RefreshToken != fake.RefreshToken() {
			t.Errorf("saved %+v, want the rotated refresh token %q", got, fake.RefreshToken())
		}
		if n := strings.Count(strings.Join(googleCalls(fake), ","), "/token"); n != 1 {
			t.Errorf("%d refreshes, want 1: the rotated token is kept while it is not saved", n)
		}
	})

	t.Run("revoked refresh token is permanent", func(t *testing.T) {
		fake := googlefake.New(t)
		store := &googleTokenStore{tokens: map[string]*oauth2.Token{"agent-1": {AccessToken: "ya29.old", RefreshToken: "1//revoked", Expiry: time.Now().Add(-time.Minute)}}}
		src := connectors.PersistingTokenSource(ctx, googleFakeOAuthConfig(fake), "agent-1", nil, store)
		g := newGoogleOn(t, fake, "", src)
		_, err := g.Put(ctx, googleTestEvent(t), connectors.State{})
		if !errors.Is(err, connectors.ErrPermanent) {
			t.Errorf("err = %v, want permanent (invalid_grant)", err)
		}
	})

	t.Run("no token is permanent", func(t *testing.T) {
		fake := googlefake.New(t)
		src := connectors.PersistingTokenSource(ctx, googleFakeOAuthConfig(fake), "agent-1", nil, &googleTokenStore{tokens: map[string]*oauth2.Token{}})
		if _, err := src.Token(); !errors.Is(err, connectors.ErrPermanent) || !errors.Is(err, connectors.ErrNoToken) {
			t.Errorf("err = %v, want permanent ErrNoToken", err)
		}
	})
}

const googleTestOAuthClient = `{"installed":{"client_id":"123-abc.apps.googleusercontent.com","project_id":"rdvsync",
"auth_uri":"https://accounts.google.com/o/oauth2/auth","token_uri":"https://oauth2.googleapis.com/token",
"client_secret":"GOCSPX-secret","redirect_uris":["http://localhost"]}}`

func TestGoogleCredentials(t *testing.T) {
	tests := []struct {
		json string
		want connectors.CredentialsType
	}{
		{googleTestOAuthClient, connectors.OAuthClientCredentials},
		{`{"web":{"client_id":"x","client_secret":"y","auth_uri":"a","token_uri":"t"}}`, connectors.OAuthClientCredentials},
		{`{"type":"service_account","client_email":"sa@p.iam.gserviceaccount.com"}`, connectors.ServiceAccountCredentials},
		{`{"type":"authorized_user"}`, ""},
		{`{}`, ""},
		{`not json`, ""},
	}
	for _, tt := range tests {
		got, err := connectors.GoogleCredentialsType([]byte(tt.json))
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("GoogleCredentialsType(%.30s) = %q, %v; want %q", tt.json, got, err, tt.want)
		}
	}

	cfg, err := connectors.GoogleOAuthConfig([]byte(googleTestOAuthClient))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{calendar.CalendarEventsScope}; cfg.ClientID != "123-abc.apps.googleusercontent.com" || !slices.Equal(cfg.Scopes, want) {
		t.Errorf("config: client %q scopes %q; want scopes %q", cfg.ClientID, cfg.Scopes, want)
	}
}

// A service account with domain-wide delegation asks for tokens as the
// agent (JWT "sub"), and after a 401 gets a new one instead of the cached.
func TestServiceAccountTokenSource(t *testing.T) {
	fake := googlefake.New(t)
	var grants atomic.Int32
	tokenServer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		grants.Add(1)
		var claims struct{ Iss, Sub, Scope string }
		parts := strings.Split(r.FormValue("assertion"), ".")
		if len(parts) == 3 {
			b, _ := base64.RawURLEncoding.DecodeString(parts[1])
			json.Unmarshal(b, &claims)
		}
		if r.FormValue("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" ||
			claims.Sub != "agent@example.fr" || claims.Scope != calendar.CalendarEventsScope {
			t.Errorf("token request: grant %q, claims %+v", r.FormValue("grant_type"), claims)
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, fake.AccessToken())
	}))
	t.Cleanup(tokenServer.Close)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	creds, _ := json.Marshal(map[string]string{
		"type": "service_account", "client_email": "rdvsync@project.iam.gserviceaccount.com", "private_key_id": "k1",
		"private_key": string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})), "token_uri": tokenServer.URL,
	})
	if typ, _ := connectors.GoogleCredentialsType(creds); typ != connectors.ServiceAccountCredentials {
		t.Errorf("GoogleCredentialsType = %q", typ)
	}
	src, err := connectors.ServiceAccountTokenSource(context.Background(), creds, "agent@example.fr")
	if err != nil {
		t.Fatal(err)
	}
	g := newGoogleOn(t, fake, "", src)
	ctx := context.Background()
	if _, err := g.Put(ctx, googleTestEvent(t), connectors.State{}); err != nil {
		t.Fatal(err)
	}
	fake.RotateToken()
	if err := g.Delete(ctx, googleTestUID, connectors.State{}); err != nil {
		t.Fatal(err)
	}
	if n := grants.Load(); n != 2 {
		t.Errorf("%d token grants, want 2 (first call, after the 401)", n)
	}
}

// The agent gives our event a colour, reminders, a guest, another
// application's property and a note in the description; then the RDV
// moves, and later its motif is renamed. Every edit of the agent
// survives: rdvsync patches only what it owns, after refetching the etag
// its If-Match no longer matched.
func TestGooglePutKeepsAgentEdits(t *testing.T) {
	g, fake, _ := newGoogleTest(t, "")
	ctx := context.Background()
	ev := googleTestEvent(t)
	st, err := g.Put(ctx, ev, connectors.State{})
	if err != nil {
		t.Fatal(err)
	}
	note := ev.Description + "\n\nNote de l'agent : prévoir un interprète."
	fake.Edit("primary", googleTestEventID, func(e *calendar.Event) {
		e.ColorId = "11"
		e.Reminders = &calendar.EventReminders{Overrides: []*calendar.EventReminder{{Method: "popup", Minutes: 15}}}
		e.Attendees = []*calendar.EventAttendee{{Email: "collegue@example.fr"}}
		e.ExtendedProperties.Private["autre_appli"] = "42"
		e.Description = note
	})

	ev.Start, ev.End = ev.Start.Add(26*time.Hour), ev.End.Add(26*time.Hour)
	ev.Sequence++
	if st, err = g.Put(ctx, ev, st); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"POST /calendars/primary/events 200",
		"PATCH /calendars/primary/events/" + googleTestEventID + " 412",
		"GET /calendars/primary/events/" + googleTestEventID + " 200",
		"PATCH /calendars/primary/events/" + googleTestEventID + " 200",
	}
	if !slices.Equal(googleCalls(fake), want) {
		t.Errorf("requests = %q, want %q", googleCalls(fake), want)
	}
	check := func(when, summary string) {
		t.Helper()
		e := googleOnlyEvent(t, fake, "primary")
		if e.Start.DateTime != "2026-03-03T10:00:00Z" || e.Summary != summary {
			t.Errorf("%s: start %s summary %q, want 2026-03-03T10:00:00Z %q", when, e.Start.DateTime, e.Summary, summary)
		}
		if e.ColorId != "11" || e.Reminders == nil || len(e.Reminders.Overrides) != 1 || len(e.Attendees) != 1 ||
			e.ExtendedProperties.Private["autre_appli"] != "42" || e.ExtendedProperties.Private["rdvsync_uid"] != googleTestUID {
			t.Errorf("%s: the agent's edits were lost: colour %q reminders %+v attendees %v properties %v",
				when, e.ColorId, e.Reminders, e.Attendees, e.ExtendedProperties.Private)
		}
		if e.Description != note {
			t.Errorf("%s: description %q, want the agent's note kept", when, e.Description)
		}
	}
	check("after the move", ev.Summary)

	ev.Summary = "RDV Permis de conduire B"
	ev.Sequence++
	if _, err := g.Put(ctx, ev, st); err != nil {
		t.Fatal(err)
	}
	check("after the motif's new name", "RDV Permis de conduire B")
	checkGoogleSentNoUpdates(t, fake)
}

// The agent deleted our event and Google purged it from the bin: the id
// can never be used again (patch 404, insert 409), so the event comes back
// under the id of the next generation, which the state keeps; a push
// whose state was lost converges on the same id.
func TestGooglePutRecreatesPurgedEvent(t *testing.T) {
	g, fake, _ := newGoogleTest(t, "")
	ctx := context.Background()
	ev := googleTestEvent(t)
	st, err := g.Put(ctx, ev, connectors.State{})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Delete(ctx, ev.UID, st); err != nil { // as the agent would
		t.Fatal(err)
	}
	fake.Purge("primary")
	st, err = g.Put(ctx, ev, st)
	if err != nil {
		t.Fatal(err)
	}
	next := googleTestEventID + "g1"
	if st.EventID != next || st.Generation != 1 {
		t.Errorf("state = %+v, want event %s generation 1", st, next)
	}
	if e := googleOnlyEvent(t, fake, "primary"); e.Id != next || e.ExtendedProperties.Private["rdvsync_uid"] != googleTestUID {
		t.Errorf("event %s %v", e.Id, e.ExtendedProperties)
	}
	want := []string{
		"POST /calendars/primary/events 200",
		"DELETE /calendars/primary/events/" + googleTestEventID + " 204",
		"PATCH /calendars/primary/events/" + googleTestEventID + " 404",
		"POST /calendars/primary/events 409",
		"POST /calendars/primary/events 200",
	}
	if !slices.Equal(googleCalls(fake), want) {
		t.Errorf("requests = %q, want %q", googleCalls(fake), want)
	}

	n := len(fake.Requests())
	ev.Start, ev.End = ev.Start.Add(time.Hour), ev.End.Add(time.Hour)
	if st, err = g.Put(ctx, ev, st); err != nil || st.EventID != next {
		t.Fatalf("move: %+v, %v", st, err)
	}
	if got := googleCalls(fake)[n:]; !slices.Equal(got, []string{"PATCH /calendars/primary/events/" + next + " 200"}) {
		t.Errorf("move after the new id: %q, want one patch of %s", got, next)
	}

	n = len(fake.Requests())
	if st, err = g.Put(ctx, ev, connectors.State{}); err != nil || st.EventID != next || st.Generation != 1 {
		t.Fatalf("push without state: %+v, %v", st, err)
	}
	if events := fake.Events("primary"); len(events) != 1 {
		t.Errorf("push without state: %d events, want 1", len(events))
	}
	want = []string{
		"POST /calendars/primary/events 409", "PATCH /calendars/primary/events/" + googleTestEventID + " 404",
		"POST /calendars/primary/events 409", "PATCH /calendars/primary/events/" + next + " 200",
	}
	if got := googleCalls(fake)[n:]; !slices.Equal(got, want) {
		t.Errorf("push without state: %q, want %q", got, want)
	}

	// Cancelled with its state lost: the event is found by its mark.
	if err := g.Delete(ctx, ev.UID, connectors.State{}); err != nil {
		t.Fatal(err)
	}
	if events := fake.Events("primary"); len(events) != 0 {
		t.Errorf("delete without state left %d events", len(events))
	}
}

// A weekly meeting of the agent blocks each of its occurrences.
func TestGoogleBusyExpandsRecurringEvents(t *testing.T) {
	g, fake, _ := newGoogleTest(t, "")
	series := fake.PutEvent("primary", &calendar.Event{Summary: "Réunion d'équipe",
		Start:      &calendar.EventDateTime{DateTime: "2026-03-02T14:00:00+01:00", TimeZone: "Europe/Paris"},
		End:        &calendar.EventDateTime{DateTime: "2026-03-02T15:00:00+01:00", TimeZone: "Europe/Paris"},
		Recurrence: []string{"RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10"}})
	from := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	busy, err := g.Busy(context.Background(), from, from.AddDate(0, 0, 21))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, b := range busy {
		got = append(got, b.Start.UTC().Format(time.RFC3339)+" "+strings.TrimPrefix(b.UID, series))
	}
	want := []string{"2026-03-02T13:00:00Z _20260302T130000Z", "2026-03-09T13:00:00Z _20260309T130000Z", "2026-03-16T13:00:00Z _20260316T130000Z"}
	if !slices.Equal(got, want) {
		t.Errorf("busy = %q, want %q", got, want)
	}
}

// Google's own quota refusals, not injected ones, make the outbox wait.
func TestGoogleThrottledByQuota(t *testing.T) {
	g, fake, _ := newGoogleTest(t, "")
	fake.SetLimits(googlefake.Limits{PerUserPerMinute: 1})
	ctx := context.Background()
	if _, err := g.Put(ctx, googleTestEvent(t), connectors.State{}); err != nil {
		t.Fatal(err)
	}
	_, err := g.Put(ctx, googleTestEvent(t), connectors.State{})
	var ra *connectors.RetryAfterError
	if !errors.As(err, &ra) || ra.After != 30*time.Second {
		t.Errorf("err = %v, want a retry after 30s (403 userRateLimitExceeded)", err)
	}
}

// Google refuses to restore some events the agent deleted in its own
// interface (403 to the patch, 409 to the insert): the event is recreated
// under the next generation's id. A calendar the agent may only read
// refuses the insert too: that is permanent, after one try of each.
func TestGooglePutRecreatesUnrestorableEvent(t *testing.T) {
	g, fake, _ := newGoogleTest(t, "")
	ctx := context.Background()
	ev := googleTestEvent(t)
	st, err := g.Put(ctx, ev, connectors.State{})
	if err != nil {
		t.Fatal(err)
	}
	fake.Edit("primary", googleTestEventID, func(e *calendar.Event) { e.Status = "cancelled" })
	fake.Inject(googlefake.Fault{Method: http.MethodPatch, Status: 403, Reason: "forbidden"})
	if st, err = g.Put(ctx, ev, st); err != nil || st.EventID != googleTestEventID+"g1" {
		t.Fatalf("state %+v, %v; want the event recreated as %sg1", st, err, googleTestEventID)
	}
	want := []string{"PATCH /calendars/primary/events/" + googleTestEventID + " 403", "POST /calendars/primary/events 409", "POST /calendars/primary/events 200"}
	if got := googleCalls(fake)[1:]; !slices.Equal(got, want) {
		t.Errorf("requests = %q, want %q", got, want)
	}

	n := len(fake.Requests())
	fake.Inject(googlefake.Fault{Status: 403, Reason: "forbidden", Times: 2})
	if _, err := g.Put(ctx, ev, st); !errors.Is(err, connectors.ErrPermanent) {
		t.Errorf("read-only calendar: err = %v, want permanent", err)
	}
	if got := len(fake.Requests()) - n; got != 2 {
		t.Errorf("read-only calendar: %d requests, want 2 (patch, insert)", got)
	}
}
