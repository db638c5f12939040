package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/testenv"
	"rdvsync/internal/web"
)

// mailbox records the sign-in links the pages send (the daemon sends them
// with notify; cmd/rdvsync's tests read them from its mail spool).
type mailbox struct {
	mu    sync.Mutex
	links []sentLink
}

type sentLink struct {
	agentID, link string
	expires       time.Time
}

func (m *mailbox) SendSignInLink(_ context.Context, a *catalog.Agent, link string, expires time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.links = append(m.links, sentLink{a.ID, link, expires})
	return nil
}

func (m *mailbox) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.links)
}

// waitLinks waits until n links were sent and returns the last.
func (m *mailbox) waitLinks(t *testing.T, n int) sentLink {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for m.count() < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d sign-in links sent, want %d", m.count(), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.links[len(m.links)-1]
}

func linkHarness(t *testing.T, replacements ...string) (*harness, *mailbox) {
	t.Helper()
	mb := &mailbox{}
	h := newHarnessWith(t, testenv.Example(t, replacements...), func(o *web.Options) { o.Mailer = mb })
	return h, mb
}

// askLink posts the email form of the sign-in page.
func (c *client) askLink(addr, retour string) response {
	c.t.Helper()
	tok := c.csrf("/agents/connexion", "/agents/connexion/lien")
	return c.post("/agents/connexion/lien", url.Values{"csrf": {tok}, "email": {addr}, "retour": {retour}})
}

var confirmForm = regexp.MustCompile(`name="jeton" value="([^"]+)"`)

// useLink opens a sign-in link and presses its button.
func (c *client) useLink(link string) response {
	c.t.Helper()
	page := c.getURL(link)
	if page.StatusCode != http.StatusOK {
		return page
	}
	m := confirmForm.FindStringSubmatch(page.body)
	if m == nil {
		c.t.Fatalf("no button on the link's page:\n%s", page.body)
	}
	tok := c.csrf(strings.TrimPrefix(link, c.h.srv.URL), "/agents/connexion/lien/valider")
	return c.post("/agents/connexion/lien/valider", url.Values{"csrf": {tok}, "jeton": {html.UnescapeString(m[1])}})
}

func TestEmailLinkSignIn(t *testing.T) {
	h, mb := linkHarness(t)
	c := h.client()

	// An unknown address and an agent's get the same answer.
	unknown := c.askLink("personne@ailleurs.example", "/agents/agenda")
	known := c.askLink("Camille.Martin@EXAMPLE.org", "/agents/agenda")
	for _, res := range []response{unknown, known} {
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/agents/connexion?lien=envoye&retour=%2Fagents%2Fagenda" {
			t.Errorf("ask for a link: %d %q", res.StatusCode, res.Header.Get("Location"))
		}
	}
	sent := mb.waitLinks(t, 1)
	if mb.count() != 1 || sent.agentID != "camille-martin" || !strings.HasPrefix(sent.link, h.srv.URL+"/agents/connexion/lien?jeton=") ||
		!sent.expires.Equal(now.Add(15*time.Minute)) {
		t.Fatalf("links sent: %+v", mb.links)
	}
	if page := c.get("/agents/connexion?lien=envoye"); !strings.Contains(page.body, "Si cette adresse est celle d'un agent, un lien de connexion vient de lui être envoyé") {
		t.Error("the sign-in page does not say a link may have been sent")
	}

	// Opening the link signs nobody in (mail scanners open links); its
	// button does, once.
	other := h.client()
	page := other.getURL(sent.link)
	if page.StatusCode != http.StatusOK || !strings.Contains(page.body, "Camille Martin") || other.get("/agents").StatusCode != http.StatusSeeOther {
		t.Fatalf("link page: %d", page.StatusCode)
	}
	res := other.useLink(sent.link)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/agents/agenda" {
		t.Fatalf("sign in by link: %d %q\n%s", res.StatusCode, res.Header.Get("Location"), res.body)
	}
	if home := other.get("/agents"); home.StatusCode != http.StatusOK || !strings.Contains(home.body, "Camille Martin") {
		t.Errorf("/agents after the link: %d", home.StatusCode)
	}
	if res := h.client().getURL(sent.link); res.StatusCode != http.StatusGone || !strings.Contains(res.body, "Lien de connexion expiré") {
		t.Errorf("a used link: %d", res.StatusCode)
	}

	// A link unused for 15 minutes expires.
	c.askLink("camille.martin@example.org", "/agents")
	late := mb.waitLinks(t, 2)
	h.setNow(now.Add(15 * time.Minute))
	if res := h.client().useLink(late.link); res.StatusCode != http.StatusGone {
		t.Errorf("a link after 15 minutes: %d", res.StatusCode)
	}
}

func TestEmailLinkThrottled(t *testing.T) {
	h, mb := linkHarness(t)
	c := h.client()
	// A mistyped address is said so (it tells nothing about agents).
	if res := c.askLink("camille.martin@", "/agents"); res.StatusCode != http.StatusUnprocessableEntity ||
		!strings.Contains(res.body, "Saisissez une adresse email valide") {
		t.Errorf("invalid address: %d", res.StatusCode)
	}
	// Per address: 3 links, then silence (the same answer).
	for i := range 5 {
		if res := c.askLink("thomas.leroy@example.org", "/agents"); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("request %d: %d", i+1, res.StatusCode)
		}
	}
	mb.waitLinks(t, 3)
	time.Sleep(50 * time.Millisecond)
	if n := mb.count(); n != 3 {
		t.Errorf("%d links to one address in a row, want 3", n)
	}
	// Per client: 10 requests, then a 429.
	for i := 6; i < 10; i++ {
		c.askLink("personne@ailleurs.example", "/agents")
	}
	res := c.askLink("camille.martin@example.org", "/agents")
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(res.body, "Trop de demandes de lien depuis ce poste") {
		t.Errorf("11th request: %d", res.StatusCode)
	}
}

func TestTokenSignInOnlyWhenConfigured(t *testing.T) {
	h, _ := linkHarness(t, "  token_sign_in: true\n", "  token_sign_in: false\n")
	c := h.client()
	page := c.get("/agents/connexion")
	if strings.Contains(page.body, `name="jeton"`) || !strings.Contains(page.body, "Recevoir un lien de connexion") {
		t.Errorf("sign-in page with token_sign_in false:\n%s", page.body)
	}
	// The page has no token for this form; whatever token is sent, no
	// session comes out.
	tok := c.csrf("/agents/connexion", "/agents/connexion/lien")
	res := c.post("/agents/connexion", url.Values{"csrf": {tok}, "identifiant": {"camille-martin"}, "jeton": {"demo-token-camille-martin"}})
	if res.StatusCode < 400 || cookieNamed(res.Response, "rdvsync_agent") != nil {
		t.Errorf("token sign-in when not configured: %d", res.StatusCode)
	}
}

func TestSignInPagesHeaders(t *testing.T) {
	h, prov := oidcHarness(t, false)
	c := h.client()
	c.login("camille-martin")
	for _, p := range []string{"/agents/agenda", "/agents/agenda?vue=organisation:mds-arras&semaine=2026-12-07",
		"/agents/connexion/lien?jeton=inconnu", "/agents/connexion/oidc/retour?state=x&code=y"} {
		res := c.get(p)
		if res.StatusCode >= 500 || res.Header.Get("Content-Security-Policy") != wantCSP || res.Header.Get("Cache-Control") != "no-store" ||
			res.Header.Get("X-Test-Wrapped") != "1" || strings.Contains(res.body, "<script") || strings.Contains(res.body, " style=") {
			t.Errorf("GET %s: %d %v", p, res.StatusCode, res.Header)
		}
	}
	// The redirect to the provider.
	res := c.get("/agents/connexion/oidc?retour=/agents")
	if res.StatusCode != http.StatusFound || !strings.HasPrefix(res.Header.Get("Location"), prov.issuer+"/") ||
		res.Header.Get("Content-Security-Policy") != wantCSP {
		t.Errorf("start: %d %v", res.StatusCode, res.Header)
	}
	// No provider configured: no such page.
	if res := newHarness(t).client().get("/agents/connexion/oidc"); res.StatusCode != http.StatusNotFound {
		t.Errorf("without auth.oidc: %d", res.StatusCode)
	}
}

func TestOIDCStartThrottled(t *testing.T) {
	h, _ := oidcHarness(t, false)
	c := h.client()
	for i := range 20 {
		if res := c.get("/agents/connexion/oidc"); res.StatusCode != http.StatusFound {
			t.Fatalf("sign-in %d: %d", i+1, res.StatusCode)
		}
	}
	if res := c.get("/agents/connexion/oidc"); res.StatusCode != http.StatusTooManyRequests {
		t.Errorf("21st sign-in in a row: %d", res.StatusCode)
	}
}
