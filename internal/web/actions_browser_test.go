package web_test

import (
	"context"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"rdvsync/internal/booking"
	"rdvsync/internal/rdv"
)

// An agent of the MDS Arras opens an RDV booked by a prescripteur, calls
// the usager from its page, moves it, edits its context, marks it absent,
// then cancels it with a reason: each action has its confirmation page.
func TestBrowserAgentActsOnRDV(t *testing.T) {
	h := newHarness(t)
	lea := h.book(firstSlot, booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "06 12 34 56 78"})
	id := lea.RDV.ID
	b := newBrowser(t, h)
	b.step("connexion", b.open("/agents/connexion"), page("login"),
		set("#agent-id", "camille-martin"), set("#agent-jeton", "demo-token-camille-martin"),
		click(`main form button[type="submit"]`), page("agents"))
	b.step("rdv", b.open("/agents/rdvs/"+id), page("agent_rdv"))
	// Phone links are tel: URIs (html/template wrote "#ZgotmplZ" for plain strings).
	if href := b.attr(`a[href^="tel:+336"]`, "href"); href != "tel:+33612345678" {
		t.Errorf("usager phone link %q", href)
	}
	if href := b.attr(`a[href^="tel:+333"]`, "href"); href != "tel:+33321000020" {
		t.Errorf("prescripteur phone link %q", href)
	}
	b.mustSee("06 12 34 56 78", "03 21 00 00 20")

	// Move: the slot picker of the wizard, on a phone, then the confirmation.
	monday9 := "2026-12-07T09:00:00+01:00"
	b.step("deplacer", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), click(`a[href$="/deplacer"]`), page("deplacer"))
	b.fitsPhone("the slot picker is wider than a phone's screen")
	b.mustSee("Déplacer le rendez-vous", "Orientation RSA", "Léa Dubois", "Du mardi 1er décembre au lundi 7 décembre", "lundi 7 décembre")
	b.step("deplacer-choix", click(`a[href*="creneau=`+url.QueryEscape(monday9)+`"]`), page("deplacer-confirmation"))
	b.mustSee("Nouveau créneau : lundi 7 décembre 2026 à 9 h 00.")
	b.step("deplace", click(`main form button[type="submit"]`), page("agent_rdv"))
	b.mustSee("Le rendez-vous est déplacé", "Rendez-vous du lundi 7 décembre 2026 à 9 h 00")
	b.fitsPhone("the agent's RDV page is wider than a phone's screen")
	got := h.get(id)
	if !got.RDV.StartsAt.Equal(mustTime(monday9)) || got.RDV.Status != rdv.StatusUnknown {
		t.Errorf("after the move: %v %s", got.RDV.StartsAt, got.RDV.Status)
	}

	// The context.
	b.step("contexte", click(`a[href$="/contexte"]`), page("agent-contexte"),
		set("#contexte", "Appeler la CAF avant le rendez-vous."), click(`main form button[type="submit"]`), page("agent_rdv"))
	b.mustSee("Le contexte du rendez-vous est enregistré", "Appeler la CAF avant le rendez-vous.")

	// The status: absent, after its confirmation.
	b.step("absent", click(`a[href$="statut=noshow"]`), page("agent-statut"))
	b.mustSee("Marquer le rendez-vous « Absent »", "L'usager n'est pas venu et n'a pas prévenu")
	b.fitsPhone("the confirmation page is wider than a phone's screen")
	b.step("absent-fait", click(`main form button[type="submit"]`), page("agent_rdv"))
	b.mustSee("Le statut du rendez-vous est enregistré")
	b.badge("Absence non excusée")
	if got := h.get(id); got.RDV.Status != rdv.StatusNoShow {
		t.Errorf("status %s, want noshow", got.RDV.Status)
	}

	// Cancel with a reason; "Ne pas annuler" first leaves it alone.
	b.step("annuler-non", click(`a[href$="/annuler"]`), page("agent-annuler"), click(`main form a.fr-btn--secondary`), page("agent_rdv"))
	if got := h.get(id); got.RDV.Status.Cancelled() {
		t.Fatal("the RDV was cancelled without confirmation")
	}
	b.step("annuler", click(`a[href$="/annuler"]`), page("agent-annuler"),
		set("#raison", "Usager réorienté vers le CCAS."), click(`main form button[type="submit"]`), page("agent_rdv"))
	b.mustSee("Le rendez-vous est annulé", "Raison de l'annulation", "Usager réorienté vers le CCAS.")
	b.badge("Annulé par le service")
	if strings.Contains(b.text("main"), "Déplacer") {
		t.Error("a cancelled RDV still offers to move it")
	}
	got = h.get(id)
	if got.RDV.Status != rdv.StatusRevoked || got.RDV.CancelReason != "Usager réorienté vers le CCAS." {
		t.Errorf("after cancelling: %s %q", got.RDV.Status, got.RDV.CancelReason)
	}
}

// get reads an RDV as an agent of the MDS Arras.
func (h *harness) get(id string) *booking.Booked {
	h.t.Helper()
	b, err := h.svc.Get(context.Background(), booking.Caller{Agent: h.cat.Agent("camille-martin")}, id)
	if err != nil {
		h.t.Fatal(err)
	}
	return b
}

// badge checks the status badge (DSFR writes it in capitals).
func (b *browser) badge(want string) {
	b.t.Helper()
	if got := b.text("main .fr-badge"); !strings.EqualFold(got, want) {
		b.t.Errorf("status badge %q, want %q", got, want)
	}
}

// fitsPhone fails with msg when the page is wider than the viewport (a
// phone's, 390 px, after chromedp.EmulateViewport).
func (b *browser) fitsPhone(msg string) {
	b.t.Helper()
	if wide, _ := chromedp.Run(b.ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`)); wide {
		b.t.Error(msg)
	}
}
