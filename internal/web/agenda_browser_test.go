package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"rdvsync/internal/booking"
)

// Camille asks for a sign-in link, follows it, and reads her agenda on a
// phone and on a desktop screen, week after week.
func TestBrowserSignInByLinkThenAgenda(t *testing.T) {
	h, mb := linkHarness(t)
	booked := h.book(firstSlot, booking.UsagerInput{FirstName: "Léa", LastName: "Dubois"})
	b := newBrowser(t, h)

	b.step("connexion", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), b.open("/agents/agenda"), page("login"))
	b.mustSee("Par un lien reçu par email", "Adresse email professionnelle")
	b.step("lien-demande", set("#agent-email", "camille.martin@example.org"),
		click(`form[action="/agents/connexion/lien"] button[type="submit"]`), page("login"))
	b.mustSee("Vérifiez votre messagerie")
	sent := mb.waitLinks(t, 1)
	b.step("lien", chromedp.Navigate(sent.link), page("signin_link"))
	b.mustSee("Ce lien vous connecte en tant que Camille Martin")
	b.step("agenda-mobile", click(`main form button[type="submit"]`), page("agenda"))
	b.mustSee("Mon agenda", "Semaine du lundi 30 novembre au dimanche 6 décembre 2026", "Léa Dubois", "Orientation RSA")

	// At 390 px the days are one list: nothing wider than the screen.
	width, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
	if err != nil {
		t.Fatal(err)
	}
	if width > 390 {
		t.Errorf("the agenda is %d px wide on a 390 px screen", width)
	}
	cols, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".rdv-agenda")).gridTemplateColumns`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(cols, "px") != 1 {
		t.Errorf("at 390 px the agenda has columns %q, want one", cols)
	}
	if got := b.attr(`a[href="/agents/rdvs/`+booked.RDV.ID+`"]`, "href"); got == "" {
		t.Error("the RDV does not link to its page")
	}
	b.step("semaine-suivante", click(`a[href*="semaine=2026-12-07"]`), page("agenda"))
	b.mustSee("Semaine du lundi 7 décembre au dimanche 13 décembre 2026")
	b.step("rdv", click(`a[href*="semaine=2026-12-01"]`), page("agenda"), click(`a[href="/agents/rdvs/`+booked.RDV.ID+`"]`), page("agent_rdv"))
	b.mustSee("Léa Dubois")

	b.step("agenda-bureau", chromedp.EmulateViewport(1280, 1000), b.open("/agents/agenda?vue=organisation:mds-arras&semaine=2026-12-07"), page("agenda"))
	b.mustSee("Agenda de MDS Arras", "Thomas Leroy", "Camille Martin")
	cols, err = chromedp.Run(b.ctx, chromedp.Evaluate[string](`getComputedStyle(document.querySelector(".rdv-agenda")).gridTemplateColumns`))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Count(cols, "px") != 7 {
		t.Errorf("on a desktop screen the agenda has columns %q, want seven", cols)
	}

	b.step("lien-expire", chromedp.Navigate(sent.link), page("signin_problem"))
	b.mustSee("Lien de connexion expiré")
}

// Camille signs in at her provider from the sign-in page and lands on
// her agenda; an identity no agent has gets a page that says so.
func TestBrowserOIDCSignIn(t *testing.T) {
	h, _ := oidcHarness(t, false)
	b := newBrowser(t, h)
	b.step("connexion", b.open("/agents/agenda"), page("login"))
	b.mustSee("Avec votre identité professionnelle", "Se connecter avec Keycloak")
	if err := chromedp.Do(b.ctx, click("#oidc-connexion")); err != nil {
		t.Fatal(err)
	}
	b.atProvider("camille")
	b.step("agenda", page("agenda"))
	b.mustSee("Mon agenda")
	if bar := b.text(".rdv-agent-bar"); !strings.Contains(bar, "Camille Martin") {
		t.Errorf("agent bar %q", bar)
	}

	b.step("deconnexion", click(`.rdv-agent-bar button`), page("login"))
	if err := chromedp.Do(b.ctx, click("#oidc-connexion")); err != nil {
		t.Fatal(err)
	}
	b.atProvider("inconnue")
	b.step("inconnue", page("signin_problem"))
	b.mustSee("Compte agent introuvable", "personne@ailleurs.example")
}
