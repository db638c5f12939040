package served

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// parseFeed decodes a feed with go-ical and returns its calendar and the
// UID → STATUS of its events, in order.
func parseFeed(t *testing.T, body string) (*ical.Calendar, []string, map[string]string) {
	t.Helper()
	cal, err := ical.NewDecoder(strings.NewReader(body)).Decode()
	if err != nil {
		t.Fatalf("go-ical cannot parse the feed: %v\n%s", err, body)
	}
	var uids []string
	status := map[string]string{}
	for _, ev := range cal.Events() {
		uid, _ := ev.Props.Text(ical.PropUID)
		st, _ := ev.Props.Text(ical.PropStatus)
		uids = append(uids, uid)
		status[uid] = st
	}
	return cal, uids, status
}

func TestFeedGolden(t *testing.T) {
	f := newFixture(t, "https://rdv.example.org")
	for _, agent := range []string{camille, thomas} {
		t.Run(agent, func(t *testing.T) {
			u := f.feedURL(t, agent)
			_, path, _ := strings.Cut(strings.TrimPrefix(u, "https://"), "/")
			resp, body := f.do(t, "GET", "/"+path, nil, "")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET feed: %d %s", resp.StatusCode, body)
			}
			golden := filepath.Join("testdata", "feed-"+agent+".ics")
			if *update {
				if err := os.WriteFile(golden, []byte(body), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if body != string(want) {
				t.Errorf("the feed of %s differs from %s (go test -update rewrites it):\n--- got\n%s\n--- want\n%s", agent, golden, body, want)
			}
		})
	}
}

func TestFeedContent(t *testing.T) {
	f := newFixture(t, "")
	tests := []struct {
		agent      string
		calName    string
		uids       []string
		mustHave   []string
		mustNotHas []string
	}{
		{camille, "RDV – Camille Martin", camilleUIDs,
			[]string{"Léa Dubois", "06 12 34 56 78", "Dossier RSA à compléter", "[Annulé] RDV Orientation RSA"}, nil},
		// Thomas has no calendar block: minimal details, no usager data.
		{thomas, "RDV – Thomas Leroy", []string{rdvThomas, rdvShared}, nil,
			[]string{"Léa", "Dubois", "Marc", "Petit", "+336", "Dossier"}},
	}
	for _, tc := range tests {
		t.Run(tc.agent, func(t *testing.T) {
			resp, body := f.do(t, "GET", f.feedURL(t, tc.agent), nil, "")
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET feed: %d %s", resp.StatusCode, body)
			}
			for h, want := range map[string]string{"Content-Type": "text/calendar; charset=utf-8", "Cache-Control": "private"} {
				if got := resp.Header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			cal, uids, status := parseFeed(t, body)
			if !slices.Equal(uids, tc.uids) {
				t.Errorf("feed UIDs = %v, want %v", uids, tc.uids)
			}
			if name, _ := cal.Props.Text("X-WR-CALNAME"); name != tc.calName {
				t.Errorf("X-WR-CALNAME = %q, want %q", name, tc.calName)
			}
			if p := cal.Props.Get(ical.PropMethod); p != nil {
				t.Errorf("the feed has METHOD:%s; a published calendar has none", p.Value)
			}
			for uid, st := range status {
				want := "CONFIRMED"
				if uid == rdvCancelled {
					want = "CANCELLED"
				}
				if st != want {
					t.Errorf("STATUS of %s = %s, want %s", uid, st, want)
				}
			}
			unfolded := strings.ReplaceAll(body, "\r\n ", "")
			for _, s := range tc.mustHave {
				if !strings.Contains(unfolded, s) {
					t.Errorf("the feed of %s lacks %q", tc.agent, s)
				}
			}
			for _, s := range tc.mustNotHas {
				if strings.Contains(unfolded, s) {
					t.Errorf("the feed of %s (details: minimal) shows %q", tc.agent, s)
				}
			}
		})
	}
}

func TestFeedWithoutRDVs(t *testing.T) {
	f := newFixture(t, "")
	resp, body := f.do(t, "GET", f.feedURL(t, "julie-lefebvre"), nil, "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET feed: %d %s", resp.StatusCode, body)
	}
	if _, uids, _ := parseFeed(t, body); len(uids) != 0 {
		t.Errorf("an agent without RDVs has events %v", uids)
	}
	if resp.Header.Get("Last-Modified") != "" {
		t.Errorf("Last-Modified %q without any RDV", resp.Header.Get("Last-Modified"))
	}
}

func TestFeedConditional(t *testing.T) {
	f := newFixture(t, "")
	u := f.feedURL(t, camille)
	resp, _ := f.do(t, "GET", u, nil, "")
	etag, lastMod := resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	if !strings.HasPrefix(etag, `"`) || len(etag) < 10 {
		t.Fatalf("ETag = %q, want a strong quoted validator", etag)
	}
	// The latest change in Camille's window is the cancellation.
	if want := time.Date(2026, 11, 28, 16, 0, 0, 0, time.UTC).Format(http.TimeFormat); lastMod != want {
		t.Errorf("Last-Modified = %q, want %q", lastMod, want)
	}
	check := func(name string, h http.Header, want int) {
		t.Helper()
		resp, body := f.do(t, "GET", u, h, "")
		if resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", name, resp.StatusCode, want)
		}
		if want == http.StatusNotModified && body != "" {
			t.Errorf("%s: 304 with a body", name)
		}
	}
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i+1 < len(kv); i += 2 {
			h.Set(kv[i], kv[i+1])
		}
		return h
	}
	check("If-None-Match", hdr("If-None-Match", etag), http.StatusNotModified)
	check("If-None-Match other", hdr("If-None-Match", `"other"`), http.StatusOK)
	check("If-Modified-Since", hdr("If-Modified-Since", lastMod), http.StatusNotModified)
	check("If-Modified-Since earlier", hdr("If-Modified-Since", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Format(http.TimeFormat)), http.StatusOK)

	// Moving an RDV changes the feed: the old validators no longer match.
	moved := f.rdv(t, rdvNext)
	moved.StartsAt, moved.EndsAt = moved.StartsAt.Add(time.Hour), moved.EndsAt.Add(time.Hour)
	moved.UpdatedAt, moved.Version = testNow.Add(-time.Minute), moved.Version+1
	f.put(t, moved)
	check("If-None-Match after a move", hdr("If-None-Match", etag), http.StatusOK)
	check("If-Modified-Since after a move", hdr("If-Modified-Since", lastMod), http.StatusOK)
	resp, _ = f.do(t, "GET", u, nil, "")
	if resp.Header.Get("ETag") == etag {
		t.Error("the ETag did not change when an RDV moved")
	}
}

func TestFeedSecret(t *testing.T) {
	f := newFixture(t, "")
	ctx := context.Background()
	first := f.feedURL(t, camille)
	if again := f.feedURL(t, camille); again != first {
		t.Errorf("FeedURL changed without rotation: %s then %s", first, again)
	}
	prefix := f.ts.URL + "/calendars/"
	secret, ok := strings.CutSuffix(strings.TrimPrefix(first, prefix), ".ics")
	if !strings.HasPrefix(first, prefix) || !ok || !validSecret(secret) {
		t.Fatalf("FeedURL = %s, want %s<43 base64url characters>.ics", first, prefix)
	}
	if other := f.feedURL(t, thomas); other == first {
		t.Error("two agents share a feed URL")
	}
	if _, err := f.srv.FeedURL(ctx, "nobody"); !errors.Is(err, rdv.ErrNotFound) {
		t.Errorf("FeedURL(unknown agent) = %v, want rdv.ErrNotFound", err)
	}

	status := func(u string) int {
		t.Helper()
		resp, _ := f.do(t, "GET", u, nil, "")
		return resp.StatusCode
	}
	flipped := []byte(secret)
	flipped[0] ^= 1
	for name, u := range map[string]string{
		"unknown secret": prefix + string(flipped) + ".ics",
		"no extension":   prefix + secret,
		"short secret":   prefix + secret[:20] + ".ics",
		"bad characters": prefix + strings.Repeat("~", 43) + ".ics",
	} {
		if got := status(u); got != http.StatusNotFound {
			t.Errorf("%s: status %d, want 404", name, got)
		}
	}

	rotated, err := f.srv.RotateFeed(ctx, camille)
	if err != nil {
		t.Fatal(err)
	}
	if rotated == first {
		t.Fatal("RotateFeed returned the same URL")
	}
	if got := status(first); got != http.StatusNotFound {
		t.Errorf("old URL after rotation: status %d, want 404", got)
	}
	if got := status(rotated); got != http.StatusOK {
		t.Errorf("new URL after rotation: status %d, want 200", got)
	}
	if again := f.feedURL(t, camille); again != rotated {
		t.Errorf("FeedURL after rotation = %s, want %s", again, rotated)
	}

	// A restarted daemon finds the secrets in the store.
	restarted := New(f.store, f.catalog.Load, Options{Now: func() time.Time { return testNow }})
	rec := httptest.NewRecorder()
	req := httptest.NewRequest("GET", strings.TrimPrefix(rotated, f.ts.URL), nil)
	mux := http.NewServeMux()
	restarted.Register(mux, func(h http.Handler) http.Handler { return h })
	mux.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Errorf("feed after restart: status %d, want 200", rec.Code)
	}
}

func TestFeedInfo(t *testing.T) {
	f := newFixture(t, "")
	cat := f.catalog.Load()
	mux := http.NewServeMux()
	var caller *catalog.Agent
	mux.HandleFunc(FeedInfoPattern, func(w http.ResponseWriter, r *http.Request) { f.srv.ServeFeedInfo(w, r, caller) })
	tests := []struct {
		caller, path string
		status       int
		code         string
	}{
		{camille, "/api/v1/agents/camille-martin/feed", http.StatusOK, ""},
		{thomas, "/api/v1/agents/camille-martin/feed", http.StatusForbidden, "forbidden"},
		{camille, "/api/v1/agents/nobody/feed", http.StatusNotFound, "not_found"},
	}
	for _, tc := range tests {
		t.Run(tc.caller+" "+tc.path, func(t *testing.T) {
			caller = cat.Agent(tc.caller)
			rec := httptest.NewRecorder()
			mux.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tc.status, rec.Body)
			}
			if tc.code != "" {
				var e struct {
					Error struct{ Code, Message string }
				}
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error.Code != tc.code || e.Error.Message == "" {
					t.Errorf("body %s, want error code %q with a message", rec.Body, tc.code)
				}
				return
			}
			var info FeedInfo
			dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&info); err != nil {
				t.Fatalf("body %s: %v", rec.Body, err)
			}
			if info.ICSURL != f.feedURL(t, camille) {
				t.Errorf("ics_url = %s, want %s", info.ICSURL, f.feedURL(t, camille))
			}
			if want := f.ts.URL + "/dav/calendars/camille-martin/rdv/"; info.CalDAVURL != want {
				t.Errorf("caldav_url = %s, want %s", info.CalDAVURL, want)
			}
			resp, _ := f.do(t, "GET", info.ICSURL, nil, "")
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET ics_url: status %d", resp.StatusCode)
			}
		})
	}
}

func TestFeedURLConcurrentFirstUse(t *testing.T) {
	f := newFixture(t, "")
	urls := make([]string, 8)
	errs := make([]error, len(urls))
	var wg sync.WaitGroup
	for i := range urls {
		wg.Go(func() { urls[i], errs[i] = f.srv.FeedURL(context.Background(), camille) })
	}
	wg.Wait()
	for i := range urls {
		if errs[i] != nil || urls[i] != urls[0] {
			t.Fatalf("concurrent first uses of FeedURL: %v, errors %v; want one URL", urls, errs)
		}
	}
	resp, _ := f.do(t, "GET", urls[0], nil, "")
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET feed: status %d", resp.StatusCode)
	}
}
