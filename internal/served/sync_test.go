package served

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// syncBody is a sync-collection report as DAVx5 sends it (RFC 6578 §3.2).
func syncBody(token string) string {
	return `<?xml version='1.0' encoding='UTF-8' ?><sync-collection xmlns="DAV:"><sync-token>` + token +
		`</sync-token><sync-level>1</sync-level><prop><getetag /></prop></sync-collection>`
}

// syncResult is what a sync-collection answered: href → ETag, or "404"
// for a removed member, and the new token.
type syncResult struct {
	members map[string]string
	token   string
}

func (f *fixture) syncCollection(t testing.TB, token string) syncResult {
	t.Helper()
	resp, body := f.camilleDAV(t, "REPORT", calendarPath(camille), "0", syncBody(token))
	if resp.StatusCode != http.StatusMultiStatus {
		t.Fatalf("sync-collection from %q: %d\n%s", token, resp.StatusCode, body)
	}
	ms := decodeExt(t, body)
	res := syncResult{members: map[string]string{}, token: ms.SyncToken}
	for _, r := range ms.Responses {
		if strings.Contains(r.Status, " 404 ") {
			res.members[r.Href] = "404"
			continue
		}
		res.members[r.Href] = r.Propstats[0].Prop.ETag
	}
	return res
}

// ctag reads the calendar's getctag and sync-token with a PROPFIND.
func (f *fixture) ctag(t *testing.T) (ctag, token string) {
	t.Helper()
	_, body := f.camilleDAV(t, "PROPFIND", calendarPath(camille), "0", extPropfind)
	for _, ps := range decodeExt(t, body).Responses[0].Propstats {
		if ps.Prop.CTag != nil && ps.Prop.SyncToken != nil {
			return *ps.Prop.CTag, *ps.Prop.SyncToken
		}
	}
	t.Fatalf("no getctag and sync-token:\n%s", body)
	return "", ""
}

// TestDAVSyncCollection: a change made after a sync token appears in the
// next sync-collection, and nothing else does (RFC 6578 §3.5).
func TestDAVSyncCollection(t *testing.T) {
	f := newFixture(t, "")
	first := f.syncCollection(t, "")
	var all []string
	for _, uid := range camilleUIDs {
		all = append(all, objectPath(camille, uid))
	}
	if got := sortedKeys(first.members); !slices.Equal(got, sorted(all)) {
		t.Fatalf("initial sync lists %v, want %v", got, all)
	}
	etags := f.etags(t)
	for _, uid := range camilleUIDs {
		if first.members[objectPath(camille, uid)] != etags[uid] {
			t.Errorf("%s: sync ETag %s, PROPFIND %s", uid, first.members[objectPath(camille, uid)], etags[uid])
		}
	}
	if !strings.HasPrefix(first.token, "https://") {
		t.Errorf("sync token %q is not a URI (RFC 6578 §4)", first.token)
	}
	if ctag, token := f.ctag(t); ctag != first.token || token != first.token {
		t.Errorf("getctag %q and sync-token %q, want %q", ctag, token, first.token)
	}

	if again := f.syncCollection(t, first.token); len(again.members) != 0 || again.token != first.token {
		t.Errorf("nothing changed, yet the sync answers %v with %q", again.members, again.token)
	}

	f.changeCamille(t)
	second := f.syncCollection(t, first.token)
	want := []string{objectPath(camille, rdvNext), objectPath(camille, rdvFebruary), objectPath(camille, rdvNew)}
	if got := sortedKeys(second.members); !slices.Equal(got, sorted(want)) {
		t.Errorf("after the change: %v, want %v", got, sorted(want))
	}
	if second.members[objectPath(camille, rdvFebruary)] != "404" {
		t.Errorf("the RDV given to Thomas is not reported removed: %v", second.members)
	}
	etags = f.etags(t)
	for _, uid := range []string{rdvNext, rdvNew} {
		if got := second.members[objectPath(camille, uid)]; got != etags[uid] || got == first.members[objectPath(camille, uid)] {
			t.Errorf("%s: sync ETag %s, PROPFIND %s, before %s", uid, got, etags[uid], first.members[objectPath(camille, uid)])
		}
	}
	if second.token == first.token {
		t.Errorf("the token did not change")
	}
	if ctag, _ := f.ctag(t); ctag != second.token {
		t.Errorf("getctag %q, want the new token %q", ctag, second.token)
	}
	if again := f.syncCollection(t, second.token); len(again.members) != 0 {
		t.Errorf("from the new token: %v, want nothing", again.members)
	}
	if again := f.syncCollection(t, first.token); !slices.Equal(sortedKeys(again.members), sortedKeys(second.members)) {
		t.Errorf("from the first token again: %v", again.members)
	}

	// What the calendar shows changes without any write to the RDVs: the
	// agent's details switched to minimal (no usager names any more).
	cat := exampleCatalog(t, f.ts.URL)
	cat.Agent(camille).Calendar = nil
	f.catalog.Store(cat)
	third := f.syncCollection(t, second.token)
	var shown []string
	for _, uid := range []string{rdvRecent, rdvNext, rdvCancelled, rdvShared, rdvNew} {
		shown = append(shown, objectPath(camille, uid))
	}
	if got := sortedKeys(third.members); !slices.Equal(got, sorted(shown)) {
		t.Errorf("after details: minimal: %v, want %v", got, sorted(shown))
	}

	// Nor does time passing: 20 days later, the RDV of 15 November is
	// more than a month old and leaves the calendar.
	f.srv.now = func() time.Time { return testNow.AddDate(0, 0, 20) }
	fourth := f.syncCollection(t, third.token)
	if want := map[string]string{objectPath(camille, rdvRecent): "404"}; !maps.Equal(fourth.members, want) {
		t.Errorf("20 days later: %v, want %v", fourth.members, want)
	}
}

// TestDAVSyncInvalidToken: a token that is not one of this calendar's, or
// is newer than its state, is refused with 403 and the
// DAV:valid-sync-token precondition (RFC 6578 §3.2).
func TestDAVSyncInvalidToken(t *testing.T) {
	f := newFixture(t, "")
	token := f.syncCollection(t, "").token
	epoch := strings.TrimSuffix(strings.TrimPrefix(token, syncTokenPrefix), "/1")
	for _, bad := range []string{
		"garbage",
		syncTokenPrefix + "0000000000000000/1",
		syncTokenPrefix + epoch + "/2",
		syncTokenPrefix + epoch + "/x",
		token + "0",
	} {
		resp, body := f.camilleDAV(t, "REPORT", calendarPath(camille), "0", syncBody(bad))
		if resp.StatusCode != http.StatusForbidden || !strings.Contains(body, "valid-sync-token") {
			t.Errorf("token %q: %d, want 403 valid-sync-token\n%s", bad, resp.StatusCode, body)
		}
	}
	// Thomas's token is not valid on Camille's calendar, and his calendar
	// has its own history.
	resp, body := f.do(t, "REPORT", calendarPath(thomas), basic(thomas, thomasToken, "Content-Type", "application/xml"), syncBody(token))
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("Camille's token on Thomas's calendar: %d\n%s", resp.StatusCode, body)
	}
	resp, _ = f.camilleDAV(t, "REPORT", homePath(camille), "0", syncBody(""))
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("sync-collection on the calendar home: %d, want 403 (not a synchronised collection)", resp.StatusCode)
	}
	resp, body = f.camilleDAV(t, "REPORT", calendarPath(camille), "0",
		`<sync-collection xmlns="DAV:"><sync-token/><sync-level>1</sync-level><limit><nresults>2</nresults></limit><prop><getetag/></prop></sync-collection>`)
	if resp.StatusCode != http.StatusInsufficientStorage || !strings.Contains(body, "number-of-matches-within-limits") {
		t.Errorf("a limit below the changes: %d, want 507\n%s", resp.StatusCode, body)
	}
}

// TestSyncStateForgetsOldRemovals: past maxRemovals, the oldest removals
// are forgotten and the tokens that would need them become invalid.
func TestSyncStateForgetsOldRemovals(t *testing.T) {
	current := map[string]string{}
	for i := range maxRemovals + 10 {
		current[fmt.Sprintf("r%05d", i)] = "e"
	}
	st, _ := syncState{}.advance(current)
	first := st.token()
	for i := range maxRemovals + 10 {
		delete(current, fmt.Sprintf("r%05d", i))
		st, _ = st.advance(current)
		if i == 5 {
			first = st.token()
		}
	}
	if len(st.Removed) != maxRemovals {
		t.Errorf("%d removals kept, want %d", len(st.Removed), maxRemovals)
	}
	if _, ok := st.parse(first); ok {
		t.Errorf("a token older than the forgotten removals is still accepted")
	}
	n, ok := st.parse(st.token())
	if !ok {
		t.Fatalf("the current token is refused")
	}
	if changed, removed := st.since(n - 3); len(changed) != 0 || len(removed) != 3 {
		t.Errorf("three states back: %d changed and %d removed, want 0 and 3", len(changed), len(removed))
	}
	if _, changed := st.advance(current); changed {
		t.Errorf("the same members advance the state")
	}
}

func sortedKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
