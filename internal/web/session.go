package web

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"rdvsync/internal/catalog"
)

// Cookies. All are HttpOnly and SameSite=Lax, and Secure when the
// daemon says it is served over HTTPS.
const (
	// visitorCookie anchors CSRF tokens: a random id per browser session.
	visitorCookie = "rdvsync_visiteur"
	// agentCookie holds the id of a signed-in agent's session.
	agentCookie = "rdvsync_agent"
	// prescripteurCookie remembers the prescripteur's own details (never
	// the bénéficiaire's) for its next booking.
	prescripteurCookie = "rdvsync_prescripteur"
)

// AgentSessionTTL is how long an agent stays signed in.
const AgentSessionTTL = 8 * time.Hour

// PrescripteurCookieTTL is how long the prescripteur's details are
// remembered when it asks for it ("Se souvenir de moi sur cet
// ordinateur"); otherwise they last as long as the browser session, as
// the computer is often shared (a médiathèque's, a France services').
const PrescripteurCookieTTL = 30 * 24 * time.Hour

// randomID returns 256 random bits, base64url-encoded (43 characters).
func randomID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func validID(s string) bool {
	if len(s) != 43 {
		return false
	}
	_, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil
}

func (w *Web) cookie(name, value string, maxAge time.Duration) *http.Cookie {
	c := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: w.secure, SameSite: http.SameSiteLaxMode}
	switch {
	case maxAge > 0:
		c.MaxAge = int(maxAge / time.Second)
	case maxAge < 0:
		c.MaxAge = -1
	}
	return c
}

// visitorID returns the visitor's id, setting the cookie when it is new.
// It lasts as long as the browser session.
func (w *Web) visitorID(rw http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(visitorCookie); err == nil && validID(ck.Value) {
		return ck.Value
	}
	id := randomID()
	http.SetCookie(rw, w.cookie(visitorCookie, id, 0))
	return id
}

// sign returns a MAC of the parts under the server key.
func (w *Web) sign(parts ...string) string {
	m := hmac.New(sha256.New, w.key)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfToken is the token of the form posting to action for this visitor:
// a token taken from another visitor's page, or from another form, is
// refused.
func (w *Web) csrfToken(visitor, action string) string { return w.sign("csrf", visitor, action) }

// checkCSRF checks the csrf field of a parsed POST form against the
// visitor cookie the request carries (not a new one).
func (w *Web) checkCSRF(r *http.Request, visitor string) bool {
	ck, err := r.Cookie(visitorCookie)
	if err != nil || ck.Value != visitor {
		return false
	}
	got := r.PostForm.Get("csrf")
	return got != "" && hmac.Equal([]byte(got), []byte(w.csrfToken(visitor, r.URL.Path)))
}

// sessions are the signed-in agents: agent ids by session id, in the
// store, so that every replica knows them and a restart signs nobody out.
type sessions = tickets[string]

// agentSession returns the signed-in agent, if any, and its session id.
// An agent removed from the configuration since it signed in is signed
// out.
func (w *Web) agentSession(r *http.Request, cat *catalog.Catalog) (*catalog.Agent, string, error) {
	ck, err := r.Cookie(agentCookie)
	if err != nil || !validID(ck.Value) {
		return nil, "", nil
	}
	id, ok, err := w.sessions.get(r.Context(), ck.Value, w.now())
	if err != nil || !ok {
		return nil, "", err
	}
	a := cat.Agent(id)
	if a == nil {
		return nil, "", nil
	}
	return a, ck.Value, nil
}

// prescripteur is what the prescripteur types about itself.
type prescripteur struct {
	FirstName string `json:"f"`
	LastName  string `json:"l"`
	Email     string `json:"e"`
	Phone     string `json:"p,omitempty"`
	// Remember keeps the details after the browser is closed.
	Remember bool `json:"r,omitempty"`
}

// readPrescripteur returns the remembered prescripteur, if any.
func readPrescripteur(r *http.Request) (prescripteur, bool) {
	var p prescripteur
	ck, err := r.Cookie(prescripteurCookie)
	if err != nil || len(ck.Value) > 2048 {
		return p, false
	}
	b, err := base64.RawURLEncoding.DecodeString(ck.Value)
	if err != nil || json.Unmarshal(b, &p) != nil {
		return prescripteur{}, false
	}
	return p, strings.TrimSpace(p.Email) != ""
}

func (w *Web) rememberPrescripteur(rw http.ResponseWriter, p prescripteur) {
	b, _ := json.Marshal(p)
	ttl := time.Duration(0) // the browser session
	if p.Remember {
		ttl = PrescripteurCookieTTL
	}
	http.SetCookie(rw, w.cookie(prescripteurCookie, base64.RawURLEncoding.EncodeToString(b), ttl))
}

// forgetPrescripteur removes the remembered details ("Ce n'est pas moi").
func (w *Web) forgetPrescripteur(rw http.ResponseWriter) {
	http.SetCookie(rw, w.cookie(prescripteurCookie, "", -1))
}
