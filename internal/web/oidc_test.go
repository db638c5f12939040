package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"rdvsync/internal/testenv"
)

const oidcSecret = "s3cret-du-client-rdvsync"

var (
	yes = true
	no  = false
)

// oidcHarness serves the example's pages with auth.oidc pointing at a
// running OpenID Provider, whose users are camille (Camille Martin's
// address, written in another case), thomas (Thomas Leroy's address,
// which the provider says is not verified) and inconnue (an address no
// agent has).
func oidcHarness(t *testing.T, emailInIDToken bool) (*harness, *provider) {
	t.Helper()
	return oidcHarnessEffects(t, emailInIDToken, nil)
}

// oidcHarnessEffects is oidcHarness with the booking effects of wire.
func oidcHarnessEffects(t *testing.T, emailInIDToken bool, wire effects) (*harness, *provider) {
	t.Helper()
	client := &opClient{id: "rdvsync", secret: oidcSecret, emailInIDToken: emailInIDToken}
	prov := newProvider(t, client, map[string]opUser{
		"camille":  {email: "Camille.Martin@Example.org", verified: &yes},
		"thomas":   {email: "thomas.leroy@example.org", verified: &no},
		"inconnue": {email: "personne@ailleurs.example"},
	})
	t.Setenv("RDVSYNC_TEST_OIDC_SECRET", oidcSecret)
	cat := testenv.Example(t, "  email_link: true\n", "  email_link: true\n  oidc: { name: Keycloak, issuer: \""+prov.issuer+
		"\", client_id: rdvsync, client_secret_env: RDVSYNC_TEST_OIDC_SECRET }\n")
	h := newHarnessEffects(t, cat, wire)
	client.redirectURI = h.srv.URL + "/agents/connexion/oidc/retour"
	return h, prov
}

// getURL fetches an absolute URL (the provider's pages).
func (c *client) getURL(u string) response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	return c.do(req)
}

// location resolves a response's Location against its request.
func location(t *testing.T, res response) string {
	t.Helper()
	if res.StatusCode < 300 || res.StatusCode > 399 {
		t.Fatalf("%s %s: %d, want a redirect\n%s", res.Request.Method, res.Request.URL, res.StatusCode, res.body)
	}
	u, err := res.Request.URL.Parse(res.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return u.String()
}

var oidcButton = regexp.MustCompile(`id="oidc-connexion" href="([^"]+)"`)

// signInAtProvider goes from the sign-in page to the provider, signs in
// there as username and returns the provider's redirect back to rdvsync
// (the callback URL with code and state), not yet followed.
func signInAtProvider(t *testing.T, c *client, retour, username string) string {
	t.Helper()
	page := c.get("/agents/connexion?retour=" + url.QueryEscape(retour))
	m := oidcButton.FindStringSubmatch(page.body)
	if m == nil || !strings.Contains(page.body, "Se connecter avec Keycloak") {
		t.Fatalf("no provider button on the sign-in page:\n%s", page.body)
	}
	authorize := location(t, c.get(html.UnescapeString(m[1])))
	login := location(t, c.getURL(authorize))
	form := url.Values{"authRequestID": {mustQuery(t, login).Get("authRequestID")}, "username": {username}}
	res, err := c.http.PostForm(strings.Split(login, "?")[0], form)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	back := location(t, c.getURL(location(t, response{Response: res})))
	return back
}

func mustQuery(t *testing.T, u string) url.Values {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query()
}

func TestOIDCSignIn(t *testing.T) {
	for _, tt := range []struct {
		name           string
		emailInIDToken bool
	}{
		{"email from UserInfo, as ProConnect", false},
		{"email in the ID token, as Keycloak", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			h, prov := oidcHarness(t, tt.emailInIDToken)
			c := h.client()
			back := signInAtProvider(t, c, "/agents/agenda", "camille")
			if !strings.HasPrefix(back, h.srv.URL+"/agents/connexion/oidc/retour?") || mustQuery(t, back).Get("code") == "" {
				t.Fatalf("the provider sent the browser to %s", back)
			}
			// What rdvsync asked the provider for.
			seen := prov.storage.requestsSeen()
			if len(seen) != 1 {
				t.Fatalf("%d authorization requests", len(seen))
			}
			a := seen[0]
			if a.challenge == nil || a.challenge.Method != "S256" || len(a.challenge.Challenge) != 43 {
				t.Errorf("PKCE: %+v, want an S256 challenge", a.challenge)
			}
			if len(a.state) != 43 || len(a.nonce) != 43 || a.redirectURI != h.srv.URL+"/agents/connexion/oidc/retour" ||
				strings.Join(a.scopes, " ") != "openid email" || strings.Join(a.prompt, " ") != "login" {
				t.Errorf("authorization request %+v", a)
			}
			res := c.getURL(back)
			if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/agents/agenda" {
				t.Fatalf("callback: %d %q\n%s", res.StatusCode, res.Header.Get("Location"), res.body)
			}
			if ck := cookieNamed(res.Response, "rdvsync_agent"); ck == nil || !ck.HttpOnly {
				t.Fatalf("no agent session cookie: %v", res.Cookies())
			}
			if ag := c.get("/agents/agenda"); ag.StatusCode != http.StatusOK || !strings.Contains(ag.body, "Mon agenda") ||
				!strings.Contains(ag.body, "Connecté·e : <strong>Camille Martin</strong>") {
				t.Errorf("the agenda after sign-in: %d", ag.StatusCode)
			}
			// The answer cannot be replayed: the state was used once.
			replay := h.client()
			if res := replay.getURL(back); res.StatusCode != http.StatusBadRequest || !strings.Contains(res.body, "Connexion expirée") {
				t.Errorf("replayed callback: %d", res.StatusCode)
			}
		})
	}
}

func TestOIDCRefusals(t *testing.T) {
	h, prov := oidcHarness(t, false)

	t.Run("unknown email", func(t *testing.T) {
		c := h.client()
		res := c.getURL(signInAtProvider(t, c, "/agents", "inconnue"))
		if res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "Compte agent introuvable") ||
			!strings.Contains(res.body, "aucun agent de RDV Solidarités n&#39;a cette adresse email ici") ||
			!strings.Contains(res.body, "personne@ailleurs.example") {
			t.Errorf("unknown email: %d\n%s", res.StatusCode, res.body)
		}
		if cookieNamed(res.Response, "rdvsync_agent") != nil || c.get("/agents").StatusCode != http.StatusSeeOther {
			t.Error("an unknown email was signed in")
		}
	})

	t.Run("email not verified", func(t *testing.T) {
		c := h.client()
		res := c.getURL(signInAtProvider(t, c, "/agents", "thomas"))
		if res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "Adresse email non vérifiée") {
			t.Errorf("unverified email: %d\n%s", res.StatusCode, res.body)
		}
	})

	t.Run("state of another browser", func(t *testing.T) {
		// An attacker signs in at the provider and sends its callback
		// link to a victim (login CSRF): the victim's browser did not
		// start this sign-in.
		attacker, victim := h.client(), h.client()
		back := signInAtProvider(t, attacker, "/agents", "camille")
		res := victim.getURL(back)
		if res.StatusCode != http.StatusBadRequest || cookieNamed(res.Response, "rdvsync_agent") != nil {
			t.Errorf("foreign state: %d", res.StatusCode)
		}
	})

	t.Run("forged state", func(t *testing.T) {
		c := h.client()
		back := signInAtProvider(t, c, "/agents", "camille")
		q := mustQuery(t, back)
		q.Set("state", strings.Repeat("A", 43))
		if res := c.get("/agents/connexion/oidc/retour?" + q.Encode()); res.StatusCode != http.StatusBadRequest {
			t.Errorf("forged state: %d", res.StatusCode)
		}
	})

	t.Run("wrong nonce", func(t *testing.T) {
		prov.storage.mu.Lock()
		prov.storage.wrongNonce = true
		prov.storage.mu.Unlock()
		defer func() {
			prov.storage.mu.Lock()
			prov.storage.wrongNonce = false
			prov.storage.mu.Unlock()
		}()
		c := h.client()
		res := c.getURL(signInAtProvider(t, c, "/agents", "camille"))
		if res.StatusCode != http.StatusBadGateway || cookieNamed(res.Response, "rdvsync_agent") != nil {
			t.Errorf("ID token with another nonce: %d", res.StatusCode)
		}
	})

	t.Run("cancelled at the provider", func(t *testing.T) {
		c := h.client()
		page := c.get("/agents/connexion")
		authorize := location(t, c.get(html.UnescapeString(oidcButton.FindStringSubmatch(page.body)[1])))
		state := mustQuery(t, authorize).Get("state")
		res := c.get("/agents/connexion/oidc/retour?error=access_denied&state=" + url.QueryEscape(state))
		if res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "La connexion a été annulée") {
			t.Errorf("access_denied: %d\n%s", res.StatusCode, res.body)
		}
	})
}
