package web_test

import (
	"context"
	"fmt"
	"html"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/web"
)

const wantCSP = "default-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; " +
	"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

func TestEveryPageSetsTheSecurityHeaders(t *testing.T) {
	h := newHarness(t)
	b := h.book(firstSlot, booking.UsagerInput{FirstName: "Léa", LastName: "Dubois"})
	usager := "/rdv/" + b.RDV.ID + "?token=" + url.QueryEscape(b.RDV.UsagerToken)
	c := h.client()
	c.login("camille-martin")
	paths := []string{
		"/", "/prendre_rdv?prescripteur=1", "/prendre_rdv?prescripteur=1&code_postal=", // address, with errors
		"/prendre_rdv?prescripteur=1&code_postal=62000&commune=Arras",
		"/prendre_rdv?prescripteur=1&code_postal=62000&commune=Arras&service=social",
		"/prendre_rdv?prescripteur=1&code_postal=62000&commune=Arras&service=social&motif=rsa-orientation",
		"/prendre_rdv?" + selArras, "/prendre_rdv?" + selArras + "&creneau=" + url.QueryEscape("2026-12-03T09:45:00+01:00"),
		"/org/mds-arras", "/org/inconnue",
		"/prendre_rdv/prescripteur?" + selArras + "&creneau=" + url.QueryEscape("2026-12-03T09:45:00+01:00"),
		"/prendre_rdv/prescription_interne?" + selArras + "&creneau=" + url.QueryEscape("2026-12-03T09:45:00+01:00"),
		"/agents/connexion", "/agents", "/agents/rdvs/" + b.RDV.ID, usager, "/rdv/" + b.RDV.ID + "/rdv.ics?token=" + url.QueryEscape(b.RDV.UsagerToken),
		"/rdv/inconnu?token=x", "/assets/app.css", "/assets/dsfr/dsfr.min.css", "/favicon.ico",
	}
	for _, p := range paths {
		res := c.get(p)
		if res.StatusCode >= 500 {
			t.Errorf("GET %s: %d", p, res.StatusCode)
		}
		hd := res.Header
		if got := hd.Get("Content-Security-Policy"); got != wantCSP {
			t.Errorf("GET %s: Content-Security-Policy %q", p, got)
		}
		if hd.Get("X-Content-Type-Options") != "nosniff" || hd.Get("Referrer-Policy") != "same-origin" || hd.Get("X-Frame-Options") != "DENY" {
			t.Errorf("GET %s: headers %v", p, hd)
		}
		if hd.Get("X-Test-Wrapped") != "1" {
			t.Errorf("GET %s: not wrapped by Options.Wrap", p)
		}
		if strings.HasPrefix(hd.Get("Content-Type"), "text/html") {
			if hd.Get("Cache-Control") != "no-store" {
				t.Errorf("GET %s: a page with personal data or tokens must not be cached: %q", p, hd.Get("Cache-Control"))
			}
			if strings.Contains(res.body, "<script") || strings.Contains(res.body, " style=") || strings.Contains(res.body, "<style") {
				t.Errorf("GET %s: inline script or style would break the CSP", p)
			}
			if !strings.Contains(res.body, `<html lang="fr"`) {
				t.Errorf("GET %s: no lang", p)
			}
		}
	}
}

func TestFormsRefuseForgedPosts(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	tok := c.csrf("/agents/connexion", "/agents/connexion")
	login := func(token string, header ...string) int {
		return c.post("/agents/connexion", url.Values{"csrf": {token}, "identifiant": {"camille-martin"}, "jeton": {"demo-token-camille-martin"}}, header...).StatusCode
	}
	other := h.client()
	foreign := other.csrf("/agents/connexion", "/agents/connexion")
	b := h.book(firstSlot, booking.UsagerInput{FirstName: "Léa", LastName: "Dubois"})
	cancelToken := c.csrf("/rdv/"+b.RDV.ID+"/annulation?token="+url.QueryEscape(b.RDV.UsagerToken), "/rdv/"+b.RDV.ID+"/annulation")

	tests := []struct {
		name   string
		status int
	}{
		{"no token", login("")},
		{"another visitor's token", login(foreign)},
		{"the token of another form", login(cancelToken)},
		{"a cross-site browser post", login(tok, "Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example")},
		{"an Origin of another host", login(tok, "Sec-Fetch-Site", "", "Origin", "https://evil.example")},
	}
	for _, tt := range tests {
		if tt.status != http.StatusForbidden {
			t.Errorf("%s: %d, want 403", tt.name, tt.status)
		}
	}
	// Without the visitor cookie the token means nothing.
	bare := h.client()
	if res := bare.post("/agents/connexion", url.Values{"csrf": {tok}, "identifiant": {"camille-martin"}, "jeton": {"demo-token-camille-martin"}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("token without its cookie: %d", res.StatusCode)
	}
	// A forged cancellation leaves the RDV alone.
	if res := c.post("/rdv/"+b.RDV.ID+"/annulation", url.Values{"csrf": {foreign}, "token": {b.RDV.UsagerToken}}); res.StatusCode != http.StatusForbidden {
		t.Errorf("forged cancellation: %d", res.StatusCode)
	}
	if got, _ := h.svc.Get(context.Background(), booking.Caller{UsagerToken: b.RDV.UsagerToken}, b.RDV.ID); got.RDV.Status.Cancelled() {
		t.Error("a forged post cancelled the RDV")
	}
	if st := login(tok); st != http.StatusSeeOther {
		t.Errorf("the genuine form: %d, want 303", st)
	}
}

func TestCookieFlags(t *testing.T) {
	h := newHarness(t, func(o *web.Options) { o.SecureCookies = true })
	// Secure cookies are not sent back over http:// by a cookie jar:
	// carry them by hand, as a browser on https would.
	c := h.client()
	c.http.Jar = nil
	res := c.get("/agents/connexion")
	visitor := cookieNamed(res.Response, "rdvsync_visiteur")
	if visitor == nil || !visitor.Secure || !visitor.HttpOnly || visitor.SameSite != http.SameSiteLaxMode || visitor.Path != "/" {
		t.Fatalf("visitor cookie %+v", visitor)
	}
	tok := csrfField.FindStringSubmatch(res.body)[1]
	cookie := "rdvsync_visiteur=" + visitor.Value
	res = c.post("/agents/connexion", url.Values{"csrf": {tok}, "identifiant": {"camille-martin"}, "jeton": {"demo-token-camille-martin"}}, "Cookie", cookie)
	agent := cookieNamed(res.Response, "rdvsync_agent")
	if res.StatusCode != http.StatusSeeOther || agent == nil {
		t.Fatalf("login: %d %v", res.StatusCode, res.Header)
	}
	if !agent.Secure || !agent.HttpOnly || agent.SameSite != http.SameSiteLaxMode || agent.MaxAge != 8*3600 || len(agent.Value) != 43 {
		t.Errorf("agent session cookie %+v", agent)
	}
	// The session is held by the server: the cookie names it, and signing
	// out forgets it.
	cookie += "; rdvsync_agent=" + agent.Value
	req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/agents", nil)
	req.Header.Set("Cookie", cookie)
	if res := c.do(req); res.StatusCode != http.StatusOK || !strings.Contains(res.body, "Camille Martin") {
		t.Fatalf("signed in: %d", res.StatusCode)
	}
	logout := csrfField.FindStringSubmatch(c.do(req).body)[1]
	res = c.post("/agents/deconnexion", url.Values{"csrf": {logout}}, "Cookie", cookie)
	if ck := cookieNamed(res.Response, "rdvsync_agent"); res.StatusCode != http.StatusSeeOther || ck == nil || ck.MaxAge >= 0 {
		t.Errorf("sign-out: %d %+v", res.StatusCode, ck)
	}
	if res := c.do(req); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the old session cookie still signs in after sign-out: %d", res.StatusCode)
	}

	// The prescripteur's details last the browser session, or 30 days
	// when it asks; nothing of the bénéficiaire is kept.
	sel := selArras + "&creneau=" + url.QueryEscape(firstSlot)
	post := func(remember bool) *http.Cookie {
		req, _ := http.NewRequest(http.MethodGet, h.srv.URL+"/prendre_rdv/prescripteur?"+sel, nil)
		req.Header.Set("Cookie", "rdvsync_visiteur="+visitor.Value)
		form := url.Values{"csrf": {csrfField.FindStringSubmatch(c.do(req).body)[1]}, "prenom": {"Jean"}, "nom": {"Petit"},
			"email": {"jean.petit@mediatheque.example.org"}, "telephone": {"03 21 00 00 20"}}
		if remember {
			form.Set("souvenir", "1")
		}
		q, _ := url.ParseQuery(sel)
		for k, v := range q {
			form[k] = v
		}
		res := c.post("/prendre_rdv/prescripteur", form, "Cookie", "rdvsync_visiteur="+visitor.Value)
		p := cookieNamed(res.Response, "rdvsync_prescripteur")
		if res.StatusCode != http.StatusSeeOther || p == nil {
			t.Fatalf("prescripteur form: %d", res.StatusCode)
		}
		if !p.Secure || !p.HttpOnly || p.SameSite != http.SameSiteLaxMode {
			t.Errorf("prescripteur cookie %+v", p)
		}
		return p
	}
	if p := post(false); p.MaxAge != 0 || !p.Expires.IsZero() {
		t.Errorf("not asked to remember: cookie %+v, want a session cookie", p)
	}
	if p := post(true); p.MaxAge != 30*24*3600 {
		t.Errorf("asked to remember: cookie %+v, want 30 days", p)
	}
}

// TestNotMe: the prescripteur form filled from a remembered prescripteur
// offers "Ce n'est pas moi", which forgets it.
func TestNotMe(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	sel := selArras + "&creneau=" + url.QueryEscape(firstSlot)
	form := url.Values{"csrf": {c.csrf("/prendre_rdv/prescripteur?"+sel, "/prendre_rdv/prescripteur")}, "prenom": {"Jean"}, "nom": {"Petit"},
		"email": {"jean.petit@mediatheque.example.org"}, "souvenir": {"1"}}
	q, _ := url.ParseQuery(sel)
	for k, v := range q {
		form[k] = v
	}
	if res := c.post("/prendre_rdv/prescripteur", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("prescripteur form: %d", res.StatusCode)
	}
	res := c.get("/prendre_rdv/prescripteur?" + sel)
	if !strings.Contains(res.body, `value="jean.petit@mediatheque.example.org"`) || !strings.Contains(res.body, "Ce n'est pas moi") ||
		!strings.Contains(res.body, `name="souvenir" value="1" aria-describedby="prescripteur-souvenir-messages" checked`) {
		i := strings.Index(res.body, "souvenir")
		t.Fatalf("the remembered prescripteur fills the form, with its choice and a way out: %s", res.body[max(0, i-300):min(len(res.body), i+400)])
	}
	m := regexp.MustCompile(`href="([^"]*oublier=1)"`).FindStringSubmatch(res.body)
	if m == nil {
		t.Fatal("no Ce n'est pas moi link")
	}
	res = c.get(html.UnescapeString(m[1]))
	if ck := cookieNamed(res.Response, "rdvsync_prescripteur"); ck == nil || ck.MaxAge >= 0 {
		t.Errorf("Ce n'est pas moi does not delete the cookie: %+v", ck)
	}
	if strings.Contains(res.body, "jean.petit") || strings.Contains(res.body, "Ce n'est pas moi") {
		t.Error("Ce n'est pas moi still shows Jean Petit's details")
	}
	if res := c.get("/prendre_rdv/beneficiaire?" + sel); res.StatusCode != http.StatusSeeOther {
		t.Errorf("forgotten prescripteur: the bénéficiaire step answers %d, want a redirect to the prescripteur form", res.StatusCode)
	}
}

func TestNoPageShowsAnotherUsagersRDV(t *testing.T) {
	h := newHarness(t)
	lea := h.book(firstSlot, booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "06 12 34 56 78"})
	tom := h.book("2026-12-03T09:45:00+01:00", booking.UsagerInput{FirstName: "Tom", LastName: "Durand"})
	c := h.client()
	leaks := func(what string, res response) {
		t.Helper()
		for _, s := range []string{"Léa", "Dubois", "Tom", "Durand", "Orientation RSA", "Jean Petit"} {
			if strings.Contains(res.body, s) {
				t.Errorf("%s (%d) shows %q", what, res.StatusCode, s)
			}
		}
	}
	for _, tt := range []struct{ name, path string }{
		{"wrong token", "/rdv/" + lea.RDV.ID + "?token=" + url.QueryEscape(tom.RDV.UsagerToken)},
		{"no token", "/rdv/" + lea.RDV.ID},
		{"token of another RDV on the .ics", "/rdv/" + lea.RDV.ID + "/rdv.ics?token=" + url.QueryEscape(tom.RDV.UsagerToken)},
		{"unknown RDV", "/rdv/00000000-0000-0000-0000-000000000000?token=" + url.QueryEscape(lea.RDV.UsagerToken)},
	} {
		res := c.get(tt.path)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", tt.name, res.StatusCode)
		}
		leaks(tt.name, res)
	}
	// The right token shows its own RDV and nothing of the other.
	res := c.get("/rdv/" + lea.RDV.ID + "?token=" + url.QueryEscape(lea.RDV.UsagerToken))
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, "Léa Dubois") || strings.Contains(res.body, "Tom") {
		t.Errorf("own page: %d", res.StatusCode)
	}
	// The usager does not see who booked for it, nor the prescripteur's details.
	if strings.Contains(res.body, "jean.petit") {
		t.Error("the usager's page shows the prescripteur's email")
	}
	// A cancellation with another RDV's token is refused.
	leaTok := c.csrf("/rdv/"+lea.RDV.ID+"/annulation?token="+url.QueryEscape(lea.RDV.UsagerToken), "/rdv/"+lea.RDV.ID+"/annulation")
	if res := c.post("/rdv/"+lea.RDV.ID+"/annulation", url.Values{"csrf": {leaTok}, "token": {tom.RDV.UsagerToken}}); res.StatusCode != http.StatusNotFound {
		t.Errorf("cancel with another token: %d", res.StatusCode)
	}

	// Agents: anonymous → sign-in; another organisation → 404; its own → "Rendez-vous pris par".
	agentPage := "/agents/rdvs/" + lea.RDV.ID
	if res := c.get(agentPage); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/agents/connexion?retour=") {
		t.Errorf("anonymous agent page: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	lens := h.client()
	lens.login("sophie-dupont")
	res = lens.get(agentPage)
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("agent of another organisation: %d, want 404", res.StatusCode)
	}
	leaks("agent of another organisation", res)
	arras := h.client()
	arras.login("camille-martin")
	res = arras.get(agentPage)
	for _, want := range []string{"Rendez-vous pris par", "Jean Petit", "jean.petit@mediatheque.example.org", "03 21 00 00 20",
		"Léa Dubois", "06 12 34 56 78", "Prescripteur (prescription externe)", "/rdv/" + lea.RDV.ID + "?token="} {
		if !strings.Contains(res.body, want) {
			t.Errorf("agent page lacks %q", want)
		}
	}
}

func TestSignIn(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	tok := c.csrf("/agents/connexion", "/agents/connexion")
	res := c.post("/agents/connexion", url.Values{"csrf": {tok}, "identifiant": {"camille-martin"}, "jeton": {"demo-token-thomas-leroy"}})
	if res.StatusCode != http.StatusUnauthorized || cookieNamed(res.Response, "rdvsync_agent") != nil ||
		!strings.Contains(res.body, "Identifiant ou jeton incorrect.") || !strings.Contains(res.body, "<title>Erreur : ") {
		t.Errorf("bad token: %d", res.StatusCode)
	}
	for retour, want := range map[string]string{
		"/prendre_rdv?prescripteur=1": "/prendre_rdv?prescripteur=1",
		"//evil.example/":             "/agents",
		"https://evil.example/":       "/agents",
		"/\\evil.example":             "/agents",
	} {
		res := c.post("/agents/connexion", url.Values{"csrf": {tok}, "identifiant": {"camille-martin"}, "jeton": {"demo-token-camille-martin"}, "retour": {retour}})
		if got := res.Header.Get("Location"); res.StatusCode != http.StatusSeeOther || got != want {
			t.Errorf("retour %q: %d → %q, want %q", retour, res.StatusCode, got, want)
		}
	}
}

func TestAddressDrivesSectorisation(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	social := func(addr string) string {
		return c.get("/prendre_rdv?prescripteur=1&" + addr + "&service=social").body
	}
	arras := social("code_postal=62000&commune=Arras")
	if !strings.Contains(arras, "Orientation RSA") || strings.Contains(arras, "Premier accueil social") {
		t.Error("Arras: the MDS Lens's organisation-sectorised motif must not be offered, the département-wide one must")
	}
	if strings.Contains(arras, "Suivi social") {
		t.Error("an agents-only motif is offered to prescripteurs")
	}
	lens := social("code_postal=62300&commune=Lens")
	if !strings.Contains(lens, "Premier accueil social") || !strings.Contains(lens, "Rendez-vous téléphonique") {
		t.Error("Lens (62300 → INSEE 62498): both MDS Lens motifs must be offered")
	}
	// Another commune of 62300 is not taken for Lens: the agent-sectorised
	// phone motif needs Lens-Nord (INSEE 62498) …
	if other := social("code_postal=62300&commune=Loison-sous-Lens"); strings.Contains(other, "Rendez-vous téléphonique") {
		t.Error("Loison-sous-Lens is not Lens")
	}
	// … unless its INSEE code is typed.
	if typed := social("code_postal=62300&commune=Lens&code_insee=62498"); !strings.Contains(typed, "Rendez-vous téléphonique") {
		t.Error("a typed INSEE code sectorises")
	}
	res := c.get("/prendre_rdv?prescripteur=1&adresse=&code_postal=620&commune=&code_insee=")
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, "Le code postal comporte 5 chiffres") ||
		!strings.Contains(res.body, "Indiquez la commune") || !strings.Contains(res.body, `aria-describedby="code_postal-messages"`) {
		t.Errorf("address errors: %d", res.StatusCode)
	}
	// The organisation link skips the address and stays in its organisation.
	org := c.get("/org/mds-lens?service=social").body
	if !strings.Contains(org, "Premier accueil social") || strings.Contains(org, "Orientation RSA") {
		t.Error("/org/mds-lens must list only the MDS Lens's motifs")
	}
	orgSel := "org=mds-lens&service=social&motif=accompagnement-social-lens&lieu=mds-lens-centre&creneau=" + url.QueryEscape("2026-12-02T13:30:00+01:00")
	if res := c.get("/prendre_rdv/prescripteur?" + orgSel); res.StatusCode != http.StatusOK || !strings.Contains(res.body, "mercredi 2 décembre 2026 à 13 h 30") ||
		strings.Contains(res.body, "Adresse de l'usager") {
		t.Errorf("organisation link, prescripteur step: %d", res.StatusCode)
	}
	// A motif received by phone has no lieu step.
	phone := c.get("/prendre_rdv?prescripteur=1&code_postal=62300&commune=Lens&service=social&motif=appel-social-lens")
	if !strings.Contains(phone.body, `data-page="wizard-creneau"`) || !strings.Contains(phone.body, "Par téléphone") ||
		!strings.Contains(phone.body, "creneau=2026-12-01T10%3a40") && !strings.Contains(phone.body, "creneau=2026-12-01T10%3A40") {
		t.Error("a phone motif goes from the motif to the créneaux, the first at 10 h 40 (30 minutes from now, rounded to 5 minutes)")
	}
	if res := c.get("/org/nulle-part"); res.StatusCode != http.StatusNotFound {
		t.Errorf("unknown organisation: %d", res.StatusCode)
	}
}

func TestUsagerCancelLimits(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	c := h.client()
	// The CCAS motif may not be cancelled by the usager.
	ccas, err := h.svc.Book(ctx, booking.Caller{}, booking.BookRequest{MotifID: "aide-numerique-ccas", LieuID: "ccas-lens-mairie",
		StartsAt: "2026-12-31T09:00:00+01:00", Usager: &booking.UsagerInput{FirstName: "A", LastName: "B"},
		Prescripteur: &booking.PrescripteurInput{FirstName: "J", LastName: "P", Email: "j@example.org"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res := c.get("/rdv/" + ccas.RDV.ID + "?token=" + url.QueryEscape(ccas.RDV.UsagerToken))
	if strings.Contains(res.body, "Annuler le RDV</a>") || !strings.Contains(res.body, "ne peut être ni déplacé ni annulé en ligne") ||
		!strings.Contains(res.body, "03 21 00 00 30") {
		t.Error("not cancellable by the usager: the page must say so and give the service's phone")
	}
	// The page was opened in time, the form is sent less than 4 hours
	// before the RDV: too late online.
	b := h.book(firstSlot, booking.UsagerInput{FirstName: "C", LastName: "D"})
	page := "/rdv/" + b.RDV.ID + "?token=" + url.QueryEscape(b.RDV.UsagerToken)
	tok := c.csrf("/rdv/"+b.RDV.ID+"/annulation?token="+url.QueryEscape(b.RDV.UsagerToken), "/rdv/"+b.RDV.ID+"/annulation")
	h.setNow(time.Date(2026, 12, 3, 5, 30, 0, 0, paris))
	res = c.post("/rdv/"+b.RDV.ID+"/annulation", url.Values{"csrf": {tok}, "token": {b.RDV.UsagerToken}})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(res.body, "moins de 4 heures") || !strings.Contains(res.body, "03 21 00 00 00") {
		t.Errorf("cancelling too late: %d", res.StatusCode)
	}
	if res := c.get(page); !strings.Contains(res.body, "moins de 4 heures") || strings.Contains(res.body, "Annuler le RDV</a>") {
		t.Error("too late: the page must say so, without the button")
	}
	if got, _ := h.svc.Get(ctx, booking.Caller{UsagerToken: b.RDV.UsagerToken}, b.RDV.ID); got.RDV.Status.Cancelled() {
		t.Error("cancelled less than 4 hours before")
	}
	// The .ics is an iCalendar object of the RDV, with the usager's link.
	res = c.get("/rdv/" + ccas.RDV.ID + "/rdv.ics?token=" + url.QueryEscape(ccas.RDV.UsagerToken))
	if res.Header.Get("Content-Type") != "text/calendar; charset=utf-8" || !strings.Contains(res.body, "BEGIN:VEVENT") ||
		!strings.Contains(res.body, "UID:"+ccas.RDV.ID) || strings.Contains(res.body, "METHOD:") ||
		!strings.Contains(res.body, "DTSTART:20261231T080000Z") {
		t.Errorf("ics: %s", res.body)
	}
}

func TestConfirmationPageNeedsItsSignature(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	res := c.get("/prendre_rdv/confirmation?" + selArras + "&creneau=" + url.QueryEscape(firstSlot) + "&rdv=x&par=prescripteur&sig=forged")
	if res.StatusCode != http.StatusNotFound || strings.Contains(res.body, "Rendez-vous confirmé") {
		t.Errorf("forged confirmation: %d", res.StatusCode)
	}
}

// The icon classes the templates use must be in the embedded subset
// (scripts/update-dsfr.sh ICONS), and every file the stylesheets point
// to must be served.
func TestEmbeddedAssetsAreComplete(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	icons := c.get("/assets/dsfr/icons.min.css").body
	used := map[string]bool{}
	err := fs.WalkDir(os.DirFS("templates"), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile("templates/" + p)
		for _, m := range regexp.MustCompile(`fr-icon-[a-z0-9][a-z0-9-]*[a-z0-9]`).FindAllString(string(b), -1) {
			used[m] = true
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for icon := range used {
		if !strings.Contains(icons, "."+icon+":") {
			t.Errorf("%s is used by a template but not in icons.min.css: add it to ICONS in scripts/update-dsfr.sh", icon)
		}
	}
	for _, css := range []string{"/assets/dsfr/dsfr.min.css", "/assets/dsfr/icons.min.css"} {
		body := c.get(css).body
		for _, m := range regexp.MustCompile(`url\(([^)"']+)\)`).FindAllStringSubmatch(body, -1) {
			if strings.HasPrefix(m[1], "data:") {
				continue
			}
			if res := c.get("/assets/dsfr/" + m[1]); res.StatusCode != http.StatusOK {
				t.Errorf("%s points to %s: %d", css, m[1], res.StatusCode)
			}
		}
	}
	if res := c.get("/assets/dsfr/"); res.StatusCode != http.StatusNotFound {
		t.Errorf("directory listing: %d", res.StatusCode)
	}
}

// Two clicks on "Confirmer le RDV" (or a resent form) book once: the
// recap's key replays the first booking.
func TestConfirmTwiceBooksOnce(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	sel := selArras + "&creneau=" + url.QueryEscape(firstSlot)
	form, _ := url.ParseQuery(sel)
	form.Set("csrf", c.csrf("/prendre_rdv/prescripteur?"+sel, "/prendre_rdv/prescripteur"))
	form.Set("prenom", "Jean")
	form.Set("nom", "Petit")
	form.Set("email", "jean.petit@mediatheque.example.org")
	if res := c.post("/prendre_rdv/prescripteur", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("prescripteur: %d", res.StatusCode)
	}
	form, _ = url.ParseQuery(sel)
	form.Set("csrf", c.csrf("/prendre_rdv/beneficiaire?"+sel, "/prendre_rdv/beneficiaire"))
	form.Set("prenom", "Léa")
	form.Set("nom", "Dubois")
	recap := c.post("/prendre_rdv/beneficiaire", form)
	if recap.StatusCode != http.StatusOK || !strings.Contains(recap.body, "Confirmer le RDV") {
		t.Fatalf("recap: %d", recap.StatusCode)
	}
	i := strings.Index(recap.body, `action="/prendre_rdv/confirmer"`)
	end := i + strings.Index(recap.body[i:], "</form>")
	confirm := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(recap.body[i:end], -1) {
		confirm.Add(m[1], html.UnescapeString(m[2]))
	}
	if !strings.Contains(recap.body, "Sans numéro de téléphone portable ni email, aucune notification ne sera envoyée au bénéficiaire") {
		t.Error("the recap must warn that the bénéficiaire gets no notification")
	}
	var first string
	for n := range 2 {
		res := c.post("/prendre_rdv/confirmer", confirm)
		loc := res.Header.Get("Location")
		if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/prendre_rdv/confirmation?") {
			t.Fatalf("confirm #%d: %d %s", n+1, res.StatusCode, loc)
		}
		if n == 0 {
			first = loc
		} else if loc != first {
			t.Errorf("the second click leads to another RDV: %s", loc)
		}
	}
	if list := h.rdvs(); len(list) != 1 {
		t.Errorf("%d RDVs, want 1", len(list))
	}
	res := c.get(first)
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, "Rendez-vous confirmé") {
		t.Errorf("confirmation page: %d", res.StatusCode)
	}
	// No email, no phone: no message at all, and the page says so.
	if !strings.Contains(res.body, "Le bénéficiaire ne recevra aucun message") || strings.Contains(res.body, "rappel") {
		t.Error("the confirmation page must say that the bénéficiaire gets no message")
	}
	// The confirmation link is for this browser only.
	if res := h.client().get(first); res.StatusCode != http.StatusNotFound {
		t.Errorf("another browser opens the confirmation: %d", res.StatusCode)
	}
}

func TestSignInIsThrottledAfterRepeatedFailures(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	tok := c.csrf("/agents/connexion", "/agents/connexion")
	try := func(jeton string) response {
		return c.post("/agents/connexion", url.Values{"csrf": {tok}, "identifiant": {"camille-martin"}, "jeton": {jeton}})
	}
	for i := range 10 {
		if res := try(fmt.Sprintf("guess-%d", i)); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, res.StatusCode)
		}
	}
	// The 11th try, even with the right token, waits.
	if res := try("demo-token-camille-martin"); res.StatusCode != http.StatusTooManyRequests || !strings.Contains(res.body, "Trop de tentatives") {
		t.Errorf("after 10 failures: %d", res.StatusCode)
	}
}
