package web_test

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Several daemons behind a load balancer share one store (issue 15): a
// visitor's requests land on any of them, and a restart keeps everyone
// signed in. These tests run two web.Web on one store, as two replicas.

// on returns a client of the replica r with c's cookies (a cookie jar
// ignores ports, and r serves the same host).
func (c *client) on(r *harness) *client { return &client{t: c.t, h: r, http: c.http} }

// signedInAs reports whether the client's /agents page is that of the
// agent named name.
func (c *client) signedInAs(name string) bool {
	c.t.Helper()
	res := c.get("/agents")
	return res.StatusCode == http.StatusOK && strings.Contains(res.body, "Connecté·e : <strong>"+name+"</strong>")
}

func TestSessionSharedByReplicas(t *testing.T) {
	a := newHarness(t)
	b := a.replica()
	c := a.client()
	c.login("camille-martin")
	if !c.signedInAs("Camille Martin") || !c.on(b).signedInAs("Camille Martin") {
		t.Fatal("an agent signed in on one replica is not on the other")
	}
	// A replica started after the sign-in (a restart) knows the session.
	restarted := a.replica()
	if !c.on(restarted).signedInAs("Camille Martin") {
		t.Error("a new replica signed the agent out")
	}
	// A form of one replica is accepted by another: the agent signs out
	// with the form of a's page, sent to b; every replica has forgotten
	// the session.
	tok := c.csrf("/agents", "/agents/deconnexion")
	if res := c.on(b).post("/agents/deconnexion", url.Values{"csrf": {tok}}); res.StatusCode != http.StatusSeeOther ||
		res.Header.Get("Location") != "/agents/connexion?deconnecte=1" {
		t.Fatalf("sign out on b: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	for _, r := range []*harness{a, b, restarted} {
		if res := c.on(r).get("/agents"); res.StatusCode != http.StatusSeeOther {
			t.Errorf("/agents after signing out on another replica: %d", res.StatusCode)
		}
	}
}

func TestSessionCookieOutlivesSignOut(t *testing.T) {
	// Someone who copied the session cookie before the agent signed out
	// (a shared computer) gets nothing from it afterwards, on any replica.
	a := newHarness(t)
	b := a.replica()
	c := a.client()
	c.login("camille-martin")
	res := c.get("/agents")
	thief := a.client()
	u, _ := url.Parse(a.srv.URL)
	thief.http.Jar.SetCookies(u, c.http.Jar.Cookies(u))
	if !thief.on(b).signedInAs("Camille Martin") {
		t.Fatalf("the copied cookie does not work before the sign-out (%d)", res.StatusCode)
	}
	tok := c.csrf("/agents", "/agents/deconnexion")
	c.post("/agents/deconnexion", url.Values{"csrf": {tok}})
	if thief.on(b).get("/agents").StatusCode != http.StatusSeeOther || thief.get("/agents").StatusCode != http.StatusSeeOther {
		t.Error("a copy of the cookie still works after the sign-out")
	}
}

func TestSessionExpiresOnEveryReplica(t *testing.T) {
	a := newHarness(t)
	b := a.replica()
	c := a.client()
	c.login("camille-martin")
	a.setNow(now.Add(8*time.Hour - time.Second))
	if !c.on(b).signedInAs("Camille Martin") {
		t.Fatal("signed out before 8 hours")
	}
	a.setNow(now.Add(8 * time.Hour))
	for _, r := range []*harness{a, b} {
		if res := c.on(r).get("/agents"); res.StatusCode != http.StatusSeeOther {
			t.Errorf("/agents 8 hours after the sign-in: %d", res.StatusCode)
		}
	}
}

func TestSignInLinkOnceAcrossReplicas(t *testing.T) {
	a, mb := linkHarness(t)
	b := a.replica()
	c := a.client()
	c.askLink("camille.martin@example.org", "/agents/agenda")
	sent := mb.waitLinks(t, 1)
	// The link (to the public URL) opened on b, its button pressed on b.
	onB := strings.Replace(sent.link, a.srv.URL, b.srv.URL, 1)
	if res := c.on(b).useLink(onB); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/agents/agenda" {
		t.Fatalf("sign in by link on b: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if !c.signedInAs("Camille Martin") {
		t.Error("signed in on b, not on a")
	}
	// Spent on b, it is spent on a.
	if res := a.client().useLink(sent.link); res.StatusCode != http.StatusGone {
		t.Errorf("the link used on b, then opened on a: %d", res.StatusCode)
	}

	// Two browsers press the button of one link at the same moment, one
	// on each replica: one is signed in.
	c.askLink("camille.martin@example.org", "/agents")
	sent = mb.waitLinks(t, 2)
	type press struct {
		c           *client
		csrf, jeton string
	}
	var presses []press
	for _, r := range []*harness{a, b} {
		p := press{c: r.client()}
		link := strings.Replace(sent.link, a.srv.URL, r.srv.URL, 1)
		page := p.c.getURL(link)
		m := confirmForm.FindStringSubmatch(page.body)
		if page.StatusCode != http.StatusOK || m == nil {
			t.Fatalf("link page on %s: %d", r.srv.URL, page.StatusCode)
		}
		p.jeton = html.UnescapeString(m[1])
		p.csrf = p.c.csrf(strings.TrimPrefix(link, r.srv.URL), "/agents/connexion/lien/valider")
		presses = append(presses, p)
	}
	codes := make([]int, len(presses))
	var wg sync.WaitGroup
	for i, p := range presses {
		wg.Go(func() {
			codes[i] = p.c.post("/agents/connexion/lien/valider", url.Values{"csrf": {p.csrf}, "jeton": {p.jeton}}).StatusCode
		})
	}
	wg.Wait()
	if !(codes[0] == http.StatusSeeOther && codes[1] == http.StatusGone || codes[0] == http.StatusGone && codes[1] == http.StatusSeeOther) {
		t.Errorf("one link pressed on two replicas at once: %v, want one 303 and one 410", codes)
	}
}

func TestOIDCSignInAcrossReplicas(t *testing.T) {
	// The sign-in starts on a; the provider's answer comes back to b.
	a, _ := oidcHarness(t, false)
	b := a.replica()
	c := a.client()
	back := signInAtProvider(t, c, "/agents/agenda", "camille")
	res := c.on(b).getURL(strings.Replace(back, a.srv.URL, b.srv.URL, 1))
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/agents/agenda" {
		t.Fatalf("callback on b: %d %q\n%s", res.StatusCode, res.Header.Get("Location"), res.body)
	}
	if !c.signedInAs("Camille Martin") {
		t.Error("signed in on b, not on a")
	}
	// The state was used on b: a refuses it.
	if res := c.getURL(back); res.StatusCode != http.StatusBadRequest {
		t.Errorf("the callback replayed on a: %d", res.StatusCode)
	}
}
