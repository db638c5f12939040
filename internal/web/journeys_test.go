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

// A médiathèque employee books "Orientation RSA" for Léa, from her
// address to the confirmation, without an account.
func TestBrowserPrescripteurJourney(t *testing.T) {
	h := newHarness(t)
	b := newBrowser(t, h)

	b.step("adresse", b.open("/prendre_rdv?prescripteur=1"), page("wizard-adresse"))
	b.step("adresse-remplie",
		set("#adresse", "3 rue Ronville"), set("#code_postal", "62000"), set("#commune", "Arras"),
		click(`main form button[type="submit"]`), page("wizard-service"))
	b.mustSee("Service social", "Conseiller numérique", "3 rue Ronville, 62000 Arras")
	b.step("service", click(`a[href*="service=social"]`), page("wizard-motif"))
	b.mustSee("Orientation RSA", "MDS Arras")
	b.step("motif", click(`a[href*="motif=rsa-orientation"]`), page("wizard-lieu"))
	b.mustSee("MDS Arras Centre", "1 place Foch, 62000 Arras", "Prochaine disponibilité : jeudi 3 décembre 2026 à 9 h 00")
	b.step("lieu", click(`a[href*="lieu=mds-arras-centre"]`), page("wizard-creneau"))
	b.mustSee("Du jeudi 3 décembre au mercredi 9 décembre", "jeudi 3 décembre", "lundi 7 décembre", "9 h 00", "9 h 45")
	b.step("creneau", click(`a[href*="creneau=2026-12-03T09%3A00"]`), page("wizard-choix"))
	b.mustSee("jeudi 3 décembre 2026 à 9 h 00 (45 minutes)")
	if strings.Contains(b.text("main"), "Vous êtes connecté·e") {
		t.Error("the agent banner is shown to a visitor who is not signed in")
	}
	b.step("choix", click(`a[href^="/prendre_rdv/prescripteur"]`), page("person"))
	b.step("prescripteur",
		set("#prescripteur-prenom", "Jean"), set("#prescripteur-nom", "Petit"),
		set("#prescripteur-email", "jean.petit@mediatheque.example.org"), set("#prescripteur-telephone", "03 21 00 00 20"),
		click(`main form button[type="submit"]`), chromedp.WaitVisible(chromedp.CSS("#beneficiaire-prenom")))
	b.mustSee("Rendez-vous pris par Jean Petit", "Sans numéro de téléphone portable ni email, aucune notification ne sera envoyée au bénéficiaire")
	b.step("beneficiaire",
		set("#beneficiaire-prenom", "Léa"), set("#beneficiaire-nom", "Dubois"), set("#beneficiaire-telephone", "06 12 34 56 78"),
		set("#beneficiaire-contexte", "Première demande de RSA."),
		click(`main form button[type="submit"]`), page("recap"))
	b.mustSee("Léa Dubois", "06 12 34 56 78", "Jean Petit", "jean.petit@mediatheque.example.org", "Orientation RSA",
		"jeudi 3 décembre 2026 à 9 h 00", "3 rue Ronville, 62000 Arras")
	b.step("recapitulatif", click(`form[action="/prendre_rdv/confirmer"] button`), page("confirmation"))
	b.mustSee("Rendez-vous confirmé", "jean.petit@mediatheque.example.org", "ni annuler ni modifier", "03 21 00 00 00",
		"Apportez une pièce d'identité")
	// The bénéficiaire, and exactly the messages it will get: an SMS (no
	// email), and no reminder, as Thursday 9:00 is less than 48 hours away.
	b.mustSee("Bénéficiaire", "Léa Dubois", "06 12 34 56 78",
		"Le bénéficiaire reçoit une confirmation par SMS, avec le lien pour le déplacer ou l'annuler jusqu'à 4 heures avant.",
		"Le rendez-vous est trop proche pour un rappel : il n'en recevra pas.")
	if strings.Contains(b.text("main"), "48 heures") {
		t.Error("the confirmation still promises a reminder 48 hours before")
	}

	list := h.rdvs()
	if len(list) != 1 {
		t.Fatalf("%d RDVs booked, want 1", len(list))
	}
	got := list[0]
	cb := got.RDV.CreatedBy
	if cb.Type != rdv.CreatedByPrescripteur || cb.FirstName != "Jean" || cb.LastName != "Petit" ||
		cb.Email != "jean.petit@mediatheque.example.org" || cb.PhoneNumber != "+33321000020" {
		t.Errorf("created_by %+v", cb)
	}
	if got.RDV.MotifID != "rsa-orientation" || got.RDV.LieuID != "mds-arras-centre" || !got.RDV.StartsAt.Equal(mustTime(firstSlot)) {
		t.Errorf("rdv %+v", got.RDV)
	}
	u := got.Usager
	if u.FirstName != "Léa" || u.LastName != "Dubois" || u.PhoneNumber != "+33612345678" || u.PostalCode != "62000" ||
		u.CityCode != "62041" || u.Address != "3 rue Ronville, 62000 Arras" || got.RDV.Context != "Première demande de RSA." {
		t.Errorf("usager %+v, context %q", u, got.RDV.Context)
	}

	// Next time, the prescripteur's details are filled in.
	b.step("prescripteur-memorise", b.open("/prendre_rdv/prescripteur?"+selArras+"&creneau="+url.QueryEscape("2026-12-03T09:45:00+01:00")),
		page("person"))
	if v := b.attr("#prescripteur-email", "value"); v != "jean.petit@mediatheque.example.org" {
		t.Errorf("remembered email %q", v)
	}
}

// The créneau is booked by someone else while the prescripteur types.
func TestBrowserSlotTakenMeanwhile(t *testing.T) {
	h := newHarness(t)
	b := newBrowser(t, h)
	sel := selArras + "&creneau=" + url.QueryEscape(firstSlot)
	b.step("prescripteur", b.open("/prendre_rdv/prescripteur?"+sel), page("person"),
		set("#prescripteur-prenom", "Jean"), set("#prescripteur-nom", "Petit"), set("#prescripteur-email", "jean.petit@mediatheque.example.org"),
		click(`main form button[type="submit"]`), chromedp.WaitVisible(chromedp.CSS("#beneficiaire-prenom")))
	h.book(firstSlot, booking.UsagerInput{FirstName: "Tom", LastName: "Durand"})
	b.step("beneficiaire", set("#beneficiaire-prenom", "Léa"), set("#beneficiaire-nom", "Dubois"),
		click(`main form button[type="submit"]`), page("wizard-creneau"))
	b.mustSee("Ce créneau n'est plus disponible", "Orientation RSA", "MDS Arras Centre", "3 rue Ronville, 62000 Arras", "9 h 45")
	if loc := b.location(); !strings.Contains(loc, "motif=rsa-orientation") || !strings.Contains(loc, "lieu=mds-arras-centre") ||
		strings.Contains(loc, "creneau=") {
		t.Errorf("back to the créneaux with the selection kept, not the créneau: %s", loc)
	}
	if n, _ := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll('a[href*="creneau=2026-12-03T09%3A00"]').length`)); n != 0 {
		t.Error("the taken créneau is still offered")
	}
	// Opening the old créneau link again sends back to the créneaux too.
	b.step("lien-perime", b.open("/prendre_rdv?"+sel), page("wizard-creneau"))
	b.mustSee("Ce créneau n'est plus disponible")
	if n := len(h.rdvs()); n != 1 {
		t.Errorf("%d RDVs, want only the one booked meanwhile", n)
	}
}

// Mistakes are shown next to their fields, with what was typed kept.
func TestBrowserFieldErrors(t *testing.T) {
	h := newHarness(t)
	b := newBrowser(t, h)
	sel := selArras + "&creneau=" + url.QueryEscape(firstSlot)
	b.step("prescripteur-erreurs", b.open("/prendre_rdv/prescripteur?"+sel), page("person"),
		set("#prescripteur-prenom", "Jean"), set("#prescripteur-email", "jean.petit@"), set("#prescripteur-telephone", "12"),
		click(`main form button[type="submit"]`), chromedp.WaitVisible(chromedp.CSS("#prescripteur-nom-error")))
	if got := b.text("#prescripteur-nom-error"); got != "Ce champ est obligatoire." {
		t.Errorf("nom: %q", got)
	}
	if got := b.text("#prescripteur-email-error"); !strings.Contains(got, "Adresse email invalide") {
		t.Errorf("email: %q", got)
	}
	if got := b.text("#prescripteur-telephone-error"); !strings.Contains(got, "Numéro de téléphone invalide") {
		t.Errorf("téléphone: %q", got)
	}
	if got := b.attr("#prescripteur-email", "aria-describedby"); got != "prescripteur-email-messages" ||
		!strings.Contains(b.text("#prescripteur-email-messages"), "Adresse email invalide") {
		t.Errorf("the error is not tied to its field: aria-describedby=%q", got)
	}
	if b.attr("#prescripteur-email", "aria-invalid") != "true" || !strings.Contains(b.attr("#prescripteur-email", "class"), "fr-input--error") {
		t.Error("the field is not marked invalid")
	}
	if v := b.attr("#prescripteur-prenom", "value"); v != "Jean" {
		t.Errorf("the typed first name is lost: %q", v)
	}
	if v := b.attr("#prescripteur-email", "value"); v != "jean.petit@" {
		t.Errorf("the typed email is lost: %q", v)
	}
	if title, _ := chromedp.Run(b.ctx, chromedp.Title()); !strings.HasPrefix(title, "Erreur : ") {
		t.Errorf("title %q", title)
	}
	b.mustSee("Le formulaire contient 3 erreurs")

	b.step("prescripteur-corrige", set("#prescripteur-nom", "Petit"), set("#prescripteur-email", "jean.petit@mediatheque.example.org"),
		set("#prescripteur-telephone", ""), click(`main form button[type="submit"]`), chromedp.WaitVisible(chromedp.CSS("#beneficiaire-prenom")))
	b.step("beneficiaire-erreurs", set("#beneficiaire-prenom", "Léa"), set("#beneficiaire-telephone", "01 02"),
		click(`main form button[type="submit"]`), chromedp.WaitVisible(chromedp.CSS("#beneficiaire-nom-error")))
	if !strings.Contains(b.text("#beneficiaire-telephone-messages"), "Numéro de téléphone invalide") ||
		!strings.Contains(b.text("#beneficiaire-telephone-messages"), "Sans numéro de téléphone") {
		t.Error("the phone error and its warning must both be read with the field")
	}
	if v := b.attr("#beneficiaire-prenom", "value"); v != "Léa" {
		t.Errorf("the typed first name is lost: %q", v)
	}
	// The address step checks its fields too.
	b.step("adresse-erreurs", b.open("/prendre_rdv?prescripteur=1"), page("wizard-adresse"), set("#code_postal", "6200"),
		click(`main form button[type="submit"]`), chromedp.WaitVisible(chromedp.CSS("#code_postal-error")))
	b.mustSee("Le code postal comporte 5 chiffres", "Indiquez la commune")
	if n := len(h.rdvs()); n != 0 {
		t.Errorf("%d RDVs booked with invalid forms", n)
	}
}

// An agent of the médiathèque signs in, goes through the prescripteur
// link, and finalises in prescription interne for an usager it finds.
func TestBrowserAgentHandOff(t *testing.T) {
	h := newHarness(t)
	h.book("2026-12-07T09:00:00+01:00", booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "06 12 34 56 78"})
	// Léa also booked a digital-help session at the médiathèque herself,
	// so its agents know her (agents find only the usagers of their
	// organisations; a booking without an agent token always makes a new
	// usager: this is the one the médiathèque knows).
	lea, err := h.svc.Book(context.Background(), booking.Caller{}, booking.BookRequest{MotifID: "atelier-numerique",
		LieuID: "mediatheque-arras-verlaine", StartsAt: "2026-12-02T10:00:00+01:00",
		Usager: &booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "06 12 34 56 78"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, h)
	b.step("connexion", b.open("/agents/connexion"), page("login"),
		set("#agent-id", "julie-lefebvre"), set("#agent-jeton", "demo-token-julie-lefebvre"),
		click(`main form button[type="submit"]`), page("agents"))
	b.mustSee("Espace agent")
	b.step("choix", b.open("/prendre_rdv?"+selArras+"&creneau="+url.QueryEscape(firstSlot)), page("wizard-choix"))
	b.mustSee("Vous êtes connecté·e : cliquez ici pour finaliser en prescription interne")
	b.step("bandeau", click(`.rdv-banner a`), page("interne"))
	b.mustSee("Orientation RSA", "jeudi 3 décembre 2026 à 9 h 00", "3 rue Ronville, 62000 Arras")
	b.step("recherche", set("#recherche", "dubois"), click(`form.rdv-search button`), chromedp.WaitVisible(chromedp.CSS("#usager-"+lea.Usager.ID)))
	b.mustSee("Léa Dubois", "06 12 34 56 78")
	b.step("confirmation", click("#usager-"+lea.Usager.ID), click(`form input[value="existant"] ~ button`),
		page("confirmation"))
	b.mustSee("Rendez-vous confirmé", "prescription interne")

	var booked *booking.Booked
	for _, x := range h.rdvs() {
		if x.RDV.StartsAt.Equal(mustTime(firstSlot)) {
			booked = x
		}
	}
	if booked == nil {
		t.Fatal("no RDV on the chosen créneau")
	}
	if cb := booked.RDV.CreatedBy; cb.Type != rdv.CreatedByAgent || cb.AgentID != "julie-lefebvre" || cb.FirstName != "Julie" {
		t.Errorf("created_by %+v", cb)
	}
	if booked.RDV.UsagerID != lea.Usager.ID {
		t.Errorf("usager %s, want the existing Léa %s", booked.RDV.UsagerID, lea.Usager.ID)
	}

	// An agent of the MDS Arras sees who booked it.
	b.step("deconnexion", click(`.rdv-agent-bar button`), page("login"))
	b.step("connexion-mds", set("#agent-id", "camille-martin"), set("#agent-jeton", "demo-token-camille-martin"),
		click(`main form button[type="submit"]`), page("agents"))
	b.step("rdv-agent", b.open("/agents/rdvs/"+booked.RDV.ID), page("agent_rdv"))
	b.mustSee("Rendez-vous pris par", "Julie Lefebvre", "Agent de Médiathèque d'Arras (prescription interne)",
		"julie.lefebvre@example.org", "Léa Dubois", "06 12 34 56 78")
}

// Léa opens the link of her confirmation and cancels.
func TestBrowserUsagerCancels(t *testing.T) {
	h := newHarness(t)
	lea := h.book(firstSlot, booking.UsagerInput{FirstName: "Léa", LastName: "Dubois"})
	b := newBrowser(t, h)
	link := "/rdv/" + lea.RDV.ID + "?token=" + url.QueryEscape(lea.RDV.UsagerToken)
	// The link comes by SMS: on a phone.
	b.step("rdv", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), b.open(link), page("usager_rdv"))
	b.fitsPhone("the page is wider than a phone's screen")
	b.mustSee("Votre rendez-vous", "Orientation RSA", "jeudi 3 décembre 2026 à 9 h 00", "MDS Arras Centre", "1 place Foch, 62000 Arras",
		"Apportez une pièce d'identité", "Ajouter à mon agenda")
	if href := b.attr(`a[href*="rdv.ics"]`, "href"); href != "/rdv/"+lea.RDV.ID+"/rdv.ics?token="+url.QueryEscape(lea.RDV.UsagerToken) {
		t.Errorf("agenda link %q", href)
	}
	// Cancelling asks for a confirmation first; "Ne pas annuler" leaves the RDV alone.
	b.step("annulation-non", click(`a[href*="/annulation?token="]`), page("usager-annuler"), click(`main form a.fr-btn--secondary`), page("usager_rdv"))
	b.step("annulation", click(`a[href*="/annulation?token="]`), page("usager-annuler"),
		set("#motif-annulation", "Je travaille ce jour-là."), click(`form[action$="/annulation"] button`),
		chromedp.WaitVisible(chromedp.CSS(`main [role="status"]`)))
	b.mustSee("Votre rendez-vous a été annulé")
	got, err := h.svc.Get(context.Background(), booking.Caller{UsagerToken: lea.RDV.UsagerToken}, lea.RDV.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.RDV.Status != rdv.StatusExcused || got.RDV.CancelReason != "Je travaille ce jour-là." {
		t.Errorf("status %s, reason %q", got.RDV.Status, got.RDV.CancelReason)
	}
	main := b.text("main")
	if strings.Contains(main, "Annuler le RDV") || strings.Contains(main, "À savoir avant de venir") {
		t.Error("a cancelled RDV still offers to cancel, or tells what to bring")
	}
	// Orientation RSA is booked by professionals: the page says whom to ask.
	b.mustSee("Prendre un nouveau rendez-vous", "contactez MDS Arras au 03 21 00 00 00")
}

// Léa moves her RDV from her link, on her phone.
func TestBrowserUsagerMoves(t *testing.T) {
	h := newHarness(t)
	lea := h.book(firstSlot, booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "06 12 34 56 78"})
	b := newBrowser(t, h)
	link := "/rdv/" + lea.RDV.ID + "?token=" + url.QueryEscape(lea.RDV.UsagerToken)
	b.step("rdv", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), b.open(link), page("usager_rdv"))
	if href := b.attr(`main a[href^="tel:"]`, "href"); href != "tel:+33321000000" {
		t.Errorf("the service's phone link %q", href)
	}
	b.step("deplacer", click(`a[href*="/deplacement?token="]`), page("usager-deplacer"))
	b.fitsPhone("the slot picker is wider than a phone's screen")
	b.mustSee("Déplacer le rendez-vous", "Orientation RSA", "lundi 7 décembre")
	monday9 := "2026-12-07T09:00:00+01:00"
	b.step("choix", click(`a[href*="creneau=`+url.QueryEscape(monday9)+`"]`), page("usager-deplacer-confirmation"))
	b.mustSee("Nouveau créneau : lundi 7 décembre 2026 à 9 h 00.")
	b.step("deplace", click(`main form button[type="submit"]`), page("usager_rdv"))
	b.mustSee("Votre rendez-vous a été déplacé", "lundi 7 décembre 2026 à 9 h 00")
	got, err := h.svc.Get(context.Background(), booking.Caller{UsagerToken: lea.RDV.UsagerToken}, lea.RDV.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.RDV.StartsAt.Equal(mustTime(monday9)) || got.RDV.Status != rdv.StatusUnknown {
		t.Errorf("after the move: %v %s", got.RDV.StartsAt, got.RDV.Status)
	}
}
