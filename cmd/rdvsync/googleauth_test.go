package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"rdvsync/connectors/googlefake"
	"rdvsync/internal/booking"
	"rdvsync/internal/calsync"
	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/outbox"
	"rdvsync/internal/store"
)

// TestGoogleAuthThenPush runs `rdvsync google-auth` against a fake of
// Google (consent answered by pasting the redirect address), then the
// daemon's connector factory pushes an RDV with the stored token and saves
// the rotated one after a refresh.
func TestGoogleAuthThenPush(t *testing.T) {
	fake := googlefake.New(t)
	dir := t.TempDir()
	creds, _ := json.Marshal(map[string]any{"installed": map[string]any{
		"client_id": "rdvsync-test.apps.googleusercontent.com", "client_secret": "test-secret",
		"auth_uri": fake.URL + "/o/oauth2/auth", "token_uri": fake.TokenURL(), "redirect_uris": []string{"http://127.0.0.1"},
	}})
	os.WriteFile(filepath.Join(dir, "google.json"), creds, 0o600)
	example, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	y := strings.Replace(string(example), "    rdv_notifications_level: others\n",
		"    rdv_notifications_level: others\n    calendar:\n      google: { calendar_id: primary, credentials_file: google.json }\n", 1)
	cfgPath := filepath.Join(dir, "config.yaml")
	os.WriteFile(cfgPath, []byte(y), 0o600)

	var out, errOut bytes.Buffer
	stdin := strings.NewReader("http://127.0.0.1:1/?state=x&code=" + fake.IssueCode() + "&scope=calendar\n")
	if code := googleAuth([]string{"-config", cfgPath, "-agent", "camille-martin"}, stdin, &out, &errOut); code != 0 {
		t.Fatalf("google-auth exited %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), "/o/oauth2/auth?") || !strings.Contains(out.String(), "access_type=offline") {
		t.Errorf("consent URL not printed:\n%s", out.String())
	}

	f, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Build(f)
	if err != nil {
		t.Fatal(err)
	}
	var cp atomic.Pointer[catalog.Catalog]
	cp.Store(cat)
	st, err := store.Open(f.StorePath(), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	firstRefresh := fake.RefreshToken()
	sync := calsync.New(st, cp.Load, openConnector(st, cp.Load, fake.Endpoint()), calsync.Options{})
	d := outbox.New(st, map[string]outbox.Sink{calsync.Kind: sync}, outbox.Options{Poll: 20 * time.Millisecond})
	sync.SetKick(d.Kick)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	svc := booking.New(cp.Load, st, booking.Options{Effects: []booking.Effect{sync}})

	next, ok, err := svc.NextSlot(ctx, booking.Caller{Agent: cat.Agent("camille-martin")}, booking.SlotsRequest{MotifID: "suivi-social-arras"})
	if err != nil || !ok {
		t.Fatalf("no slot: %v", err)
	}
	fake.RotateToken() // the access token from google-auth is now refused: the push must refresh
	b, err := svc.Book(ctx, booking.Caller{Agent: cat.Agent("camille-martin")}, booking.BookRequest{
		MotifID: "suivi-social-arras", LieuID: "mds-arras-centre", StartsAt: next.Start.Format(time.RFC3339), AgentID: next.Agent.ID,
		Usager: &booking.UsagerInput{FirstName: "Léa", LastName: "Dubois"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.ReplaceAll(b.RDV.ID, "-", "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if ev, ok := fake.Event("primary", id); ok && ev.Status == "confirmed" {
			break
		}
		if time.Now().After(deadline) {
			st, _ := sync.Status(ctx, cat.Agent("camille-martin"))
			t.Fatalf("event %s not in the Google calendar; sync status %+v", id, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
	var saved oauth2.Token
	st.View(ctx, func(tx *store.ReadTx) error { return tx.AgentState("camille-martin", "google_token", &saved) })
	if saved.RefreshToken == "" || saved.RefreshToken == firstRefresh || saved.RefreshToken != fake.RefreshToken() {
		t.Errorf("rotated refresh token not saved: stored %q, first %q, current %q", saved.RefreshToken, firstRefresh, fake.RefreshToken())
	}
}
