package web_test

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"rdvsync/internal/rdv"
)

// Julie, of the médiathèque, finds a slot: her organisation's motifs
// first, then the search widened to the territory from Léa's address; she
// books "Orientation RSA" at the MDS Arras in prescription interne, finds
// it in "Mes prescriptions" and opens its page, read only.
func TestBrowserAgentFindsASlot(t *testing.T) {
	h := newHarness(t)
	b := newBrowser(t, h)
	b.step("connexion", b.open("/agents/connexion"), page("login"),
		set("#agent-id", "julie-lefebvre"), set("#agent-jeton", "demo-token-julie-lefebvre"),
		click(`main form button[type="submit"]`), page("agents"))
	b.step("trouver", click(`a[href="/agents/trouver"]`), page("wizard-service"))
	b.mustSee("Conseiller numérique", "1 motif de vos organisations", "Pas de créneau qui convienne ?")
	if strings.Contains(b.text("main"), "Service social") {
		t.Error("the agent's own search offers another organisation's service")
	}
	b.step("elargir", click(`a[href*="elargir=1"]`), page("wizard-adresse"))
	b.step("adresse", set("#adresse", "3 rue Ronville"), set("#code_postal", "62000"), set("#commune", "Arras"),
		click(`main form button[type="submit"]`), page("wizard-service"))
	b.mustSee("Service social", "3 rue Ronville, 62000 Arras")
	b.step("service", click(`a[href*="service=social"]`), page("wizard-motif"))
	b.mustSee("Orientation RSA", "MDS Arras")
	if strings.Contains(b.text("main"), "Suivi social") {
		t.Error("the widened search offers another organisation's agents-only motif")
	}
	b.step("motif", click(`a[href*="motif=rsa-orientation"]`), page("wizard-lieu"))
	b.step("lieu", click(`a[href*="lieu=mds-arras-centre"]`), page("wizard-creneau"))
	b.step("creneau", click(`a[href*="creneau=2026-12-03T09%3A00"]`), page("interne"))
	b.mustSee("Étape 6 sur 6", "Orientation RSA", "jeudi 3 décembre 2026 à 9 h 00", "3 rue Ronville, 62000 Arras")
	if strings.Contains(b.text("main"), "Récapitulatif") {
		t.Error("the interne stepper announces a Récapitulatif step that does not exist")
	}
	b.step("usager", set("#usager-prenom", "Léa"), set("#usager-nom", "Dubois"), set("#usager-telephone", "06 12 34 56 78"),
		click(`form input[value="nouveau"] ~ button`), page("confirmation"))
	b.mustSee("Rendez-vous confirmé", "Léa Dubois", "06 12 34 56 78", "Vous allez recevoir un email de confirmation",
		"Mes prescriptions")

	b.step("prescriptions", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), click(`main a[href="/agents/prescriptions"]`), page("prescriptions"))
	b.fitsPhone("Mes prescriptions is wider than a phone's screen")
	b.mustSee("Orientation RSA", "MDS Arras", "Léa Dubois", "jeudi 3 décembre 2026 à 9 h 00")
	b.step("rdv", click(`main table a`), page("agent_rdv"))
	b.mustSee("Vous avez pris ce rendez-vous en prescription interne", "Julie Lefebvre", "Léa Dubois")
	if strings.Contains(b.text("main"), "Agir sur ce rendez-vous") {
		t.Error("the prescribing agent is offered to change an RDV of another organisation")
	}
	list := h.rdvs()
	if len(list) != 1 || list[0].RDV.CreatedBy.Type != rdv.CreatedByAgent || list[0].RDV.CreatedBy.AgentID != "julie-lefebvre" {
		t.Fatalf("booked: %+v", list)
	}
}
