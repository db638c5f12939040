package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/rdv"
)

// beneficiaire fills the prescripteur's and then the bénéficiaire's form
// for the selection sel, and returns the answer to the latter.
func (c *client) beneficiaire(sel string, fields url.Values) response {
	c.t.Helper()
	form, _ := url.ParseQuery(sel)
	form.Set("csrf", c.csrf("/prendre_rdv/prescripteur?"+sel, "/prendre_rdv/prescripteur"))
	form.Set("prenom", "Jean")
	form.Set("nom", "Petit")
	form.Set("email", "jean.petit@mediatheque.example.org")
	if res := c.post("/prendre_rdv/prescripteur", form); res.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("prescripteur: %d", res.StatusCode)
	}
	form, _ = url.ParseQuery(sel)
	form.Set("csrf", c.csrf("/prendre_rdv/beneficiaire?"+sel, "/prendre_rdv/beneficiaire"))
	for k, v := range fields {
		form[k] = v
	}
	return c.post("/prendre_rdv/beneficiaire", form)
}

// TestPhoneRDVAndLandlines: a phone RDV asks for the number the agent will
// call (a landline will do); otherwise a landline without an email is
// refused, as it would receive no message.
func TestPhoneRDVAndLandlines(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	phone := "prescripteur=1&code_postal=62300&commune=Lens&code_insee=62498&service=social&motif=appel-social-lens&creneau=" +
		url.QueryEscape("2026-12-03T10:00:00+01:00")
	res := c.beneficiaire(phone, url.Values{"prenom": {"Léa"}, "nom": {"Dubois"}, "email": {"lea@example.org"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, "l&#39;agent l&#39;appellera à l&#39;heure du rendez-vous téléphonique") {
		t.Errorf("phone RDV without a phone: %d, want 422 with the field's error", res.StatusCode)
	}
	if !strings.Contains(res.body, `<label class="fr-label" for="beneficiaire-telephone">Téléphone du bénéficiaire`) ||
		!strings.Contains(res.body, `autocomplete="off" required aria-required="true"`) {
		t.Error("the phone of a phone RDV is a required field")
	}
	res = c.beneficiaire(phone, url.Values{"prenom": {"Léa"}, "nom": {"Dubois"}, "telephone": {"03 21 55 55 55"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, "Ce numéro n'est pas un numéro de portable") {
		t.Errorf("phone RDV with a landline: %d, want the recap, flagging the landline", res.StatusCode)
	}

	rsa := selArras + "&creneau=" + url.QueryEscape(firstSlot)
	res = c.beneficiaire(rsa, url.Values{"prenom": {"Léa"}, "nom": {"Dubois"}, "telephone": {"03 21 55 55 55"}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, "Ce numéro est un fixe : il ne reçoit pas de SMS") {
		t.Errorf("a landline without email: %d, want 422", res.StatusCode)
	}
	res = c.beneficiaire(rsa, url.Values{"prenom": {"Léa"}, "nom": {"Dubois"}, "telephone": {"03 21 55 55 55"}, "email": {"lea@example.org"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(res.body, "Ce numéro n'est pas un numéro de portable") {
		t.Errorf("a landline with an email: %d, want the recap, flagging the landline", res.StatusCode)
	}

	// In prescription interne too.
	c.login("camille-martin")
	interne := strings.Replace(phone, "prescripteur=1&", "", 1)
	form2, _ := url.ParseQuery(interne)
	form2.Set("csrf", c.csrf("/prendre_rdv/prescription_interne?"+interne, "/prendre_rdv/prescription_interne"))
	form2.Set("mode", "nouveau")
	form2.Set("prenom", "Léa")
	form2.Set("nom", "Dubois")
	res = c.post("/prendre_rdv/prescription_interne", form2)
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, "l&#39;agent l&#39;appellera") {
		t.Errorf("interne phone RDV without a phone: %d, want 422", res.StatusCode)
	}
}

// TestConfirmationSaysTheReminder: an RDV beyond the reminder's delay gets
// one, and the confirmation page says when.
func TestConfirmationSaysTheReminder(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	sel := strings.Replace(selArras, "date=2026-12-03", "date=2026-12-07", 1) + "&creneau=" + url.QueryEscape("2026-12-07T09:00:00+01:00")
	recap := c.beneficiaire(sel, url.Values{"prenom": {"Léa"}, "nom": {"Dubois"}, "telephone": {"06 12 34 56 78"}, "email": {"lea@example.org"}})
	if recap.StatusCode != http.StatusOK {
		t.Fatalf("recap: %d", recap.StatusCode)
	}
	res := c.confirm(recap.body)
	for _, want := range []string{"Léa Dubois", `href="tel:&#43;33612345678"`, "lea@example.org",
		"Le bénéficiaire reçoit une confirmation par email et par SMS",
		"Il recevra un rappel le samedi 5 décembre 2026 à 9 h 00.",
		"Vous allez recevoir un email de confirmation à l&#39;adresse jean.petit@mediatheque.example.org."} {
		if !strings.Contains(res.body, want) {
			t.Errorf("the confirmation page does not say %q", want)
		}
	}
}

// confirm posts the recap's "Confirmer le RDV" form and returns the
// confirmation page.
func (c *client) confirm(recap string) response {
	c.t.Helper()
	i := strings.Index(recap, `action="/prendre_rdv/confirmer"`)
	end := i + strings.Index(recap[i:], "</form>")
	form := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(recap[i:end], -1) {
		form.Add(m[1], html.UnescapeString(m[2]))
	}
	res := c.post("/prendre_rdv/confirmer", form)
	if res.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("confirm: %d", res.StatusCode)
	}
	return c.get(res.Header.Get("Location"))
}

// TestAgentSearch: "Trouver un RDV" needs a signed-in agent and offers its
// organisations' agents-only motifs, which the prescripteur link does not.
func TestAgentSearch(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	for _, path := range []string{"/agents/trouver", "/prendre_rdv?agent=1&service=social"} {
		if res := c.get(path); res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/agents/connexion?retour=") {
			t.Errorf("%s signed out: %d %s", path, res.StatusCode, res.Header.Get("Location"))
		}
	}
	c.login("camille-martin")
	res := c.get("/agents/trouver")
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/prendre_rdv?agent=1" {
		t.Fatalf("Trouver un RDV: %d %s", res.StatusCode, res.Header.Get("Location"))
	}
	own := c.get("/prendre_rdv?agent=1&service=social")
	if !strings.Contains(own.body, "Suivi social") || !strings.Contains(own.body, "Orientation RSA") || strings.Contains(own.body, "Premier accueil social") {
		t.Error("the agent's search: its organisation's motifs, agents-only ones included, and no other organisation's")
	}
	wide := c.get("/prendre_rdv?agent=1&elargir=1&code_postal=62300&commune=Lens&service=social")
	if strings.Contains(wide.body, "Suivi social") || !strings.Contains(wide.body, "Premier accueil social") {
		t.Error("the widened search: the territory's prescription-open motifs for the address")
	}
	// The agent's slots ignore the public booking delays: at 10:00, the
	// 10:00 slot of the phone motif (30 minutes minimum) is offered.
	slots := c.get("/prendre_rdv?agent=1&elargir=1&code_postal=62300&commune=Lens&code_insee=62498&service=social&motif=appel-social-lens&date=2026-12-01")
	if !strings.Contains(slots.body, "creneau="+url.QueryEscape("2026-12-01T10:20:00+01:00")) {
		t.Error("the agent's créneaux must not apply the public booking delay")
	}
}

// TestWhoActsOnAnRDV: the agents of the RDV's organisation act on it; an
// agent of another organisation gets 404; the agent who prescribed it
// reads it but does not act on it.
func TestWhoActsOnAnRDV(t *testing.T) {
	h := newHarness(t)
	julie := h.cat.Agent("julie-lefebvre")
	b, err := h.svc.Book(context.Background(), booking.Caller{Agent: julie}, booking.BookRequest{MotifID: "rsa-orientation",
		LieuID: "mds-arras-centre", StartsAt: firstSlot, Usager: &booking.UsagerInput{FirstName: "Léa", LastName: "Dubois"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	page := "/agents/rdvs/" + b.RDV.ID
	for _, tt := range []struct {
		agent        string
		page, action int
	}{
		{"thomas-leroy", http.StatusOK, http.StatusOK},
		{"sophie-dupont", http.StatusNotFound, http.StatusNotFound},
		{"julie-lefebvre", http.StatusOK, http.StatusNotFound},
	} {
		c := h.client()
		c.login(tt.agent)
		if res := c.get(page); res.StatusCode != tt.page {
			t.Errorf("%s opens the RDV: %d, want %d", tt.agent, res.StatusCode, tt.page)
		}
		for _, a := range []string{"/annuler", "/deplacer", "/statut?statut=seen", "/contexte"} {
			if res := c.get(page + a); res.StatusCode != tt.action {
				t.Errorf("%s GET %s: %d, want %d", tt.agent, a, res.StatusCode, tt.action)
			}
		}
	}
	// Thomas's invalid forms: an unknown status, a context too long.
	c := h.client()
	c.login("thomas-leroy")
	if res := c.post(page+"/statut", url.Values{"csrf": {c.csrf(page+"/statut?statut=seen", page+"/statut")}, "statut": {"revoked"}}); res.StatusCode != http.StatusUnprocessableEntity {
		t.Errorf("status revoked from the page: %d, want 422", res.StatusCode)
	}
	res := c.post(page+"/contexte", url.Values{"csrf": {c.csrfFor(page + "/contexte")}, "contexte": {strings.Repeat("x", 2001)}})
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, "Trop long") {
		t.Errorf("context too long: %d", res.StatusCode)
	}
	if got := h.get(b.RDV.ID); got.RDV.Status != rdv.StatusUnknown || got.RDV.Context != "" {
		t.Errorf("refused forms changed the RDV: %+v", got.RDV)
	}
	// "Mes prescriptions" lists Julie's RDV, not Thomas's.
	jc := h.client()
	jc.login("julie-lefebvre")
	if res := jc.get("/agents/prescriptions"); !strings.Contains(res.body, page) || !strings.Contains(res.body, "MDS Arras") {
		t.Error("Mes prescriptions must list the RDV Julie booked")
	}
	if res := c.get("/agents/prescriptions"); strings.Contains(res.body, page) {
		t.Error("Mes prescriptions lists an RDV the agent did not book")
	}
}

// csrfFor is the token of a form posting to path, as the page that holds
// it would give it (tokens are bound to the visitor and the action).
func (c *client) csrfFor(path string) string {
	c.t.Helper()
	return c.csrf(path, path)
}

// TestUsagerBooksAgain: after cancelling an RDV of a motif it books
// itself, the usager books again from its link; an RDV booked by a
// prescripteur says whom to ask instead. Too close to the start, moving is
// not offered and the move pages send back to the RDV.
func TestUsagerBooksAgain(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	c := h.client()
	b, err := h.svc.Book(ctx, booking.Caller{}, booking.BookRequest{MotifID: "atelier-numerique", LieuID: "mediatheque-arras-verlaine",
		StartsAt: "2026-12-02T10:00:00+01:00", Usager: &booking.UsagerInput{FirstName: "Marc", LastName: "Leclerc", Email: "marc@example.org"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.svc.Cancel(ctx, booking.Caller{UsagerToken: b.RDV.UsagerToken}, b.RDV.ID, ""); err != nil {
		t.Fatal(err)
	}
	link := "/rdv/" + b.RDV.ID + "?token=" + url.QueryEscape(b.RDV.UsagerToken)
	again := "/rdv/" + b.RDV.ID + "/nouveau?token=" + url.QueryEscape(b.RDV.UsagerToken)
	if res := c.get(link); !strings.Contains(res.body, `href="`+html.EscapeString(again)+`"`) {
		t.Fatal("the cancelled RDV's page offers to book again")
	}
	picker := c.get(again)
	slot := "2026-12-02T10:00:00+01:00"
	if picker.StatusCode != http.StatusOK || !strings.Contains(picker.body, "creneau="+url.QueryEscape(slot)) {
		t.Fatalf("the picker offers the freed slot again: %d", picker.StatusCode)
	}
	confirmPage := again + "&creneau=" + url.QueryEscape(slot)
	form := url.Values{"csrf": {c.csrf(confirmPage, "/rdv/"+b.RDV.ID+"/nouveau")}, "token": {b.RDV.UsagerToken}, "creneau": {slot}, "cle": {"x"}}
	res := c.post("/rdv/"+b.RDV.ID+"/nouveau", form)
	loc := res.Header.Get("Location")
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "pris=1") || strings.Contains(loc, b.RDV.UsagerToken) {
		t.Fatalf("book again: %d %s", res.StatusCode, loc)
	}
	if res := c.get(loc); !strings.Contains(res.body, "Votre rendez-vous est confirmé") || !strings.Contains(res.body, "mercredi 2 décembre 2026 à 10 h 00") {
		t.Error("the new RDV's page")
	}

	// A prescripteur's booking: no self-service, the page says whom to ask.
	lea := h.book(firstSlot, booking.UsagerInput{FirstName: "Léa", LastName: "Dubois"})
	leaLink := "/rdv/" + lea.RDV.ID + "?token=" + url.QueryEscape(lea.RDV.UsagerToken)
	h.setNow(time.Date(2026, 12, 3, 6, 0, 0, 0, paris))
	if res := c.get(leaLink); strings.Contains(res.body, "Déplacer le RDV</a>") || !strings.Contains(res.body, "moins de 4 heures") {
		t.Error("too late: no move offered")
	}
	if res := c.get("/rdv/" + lea.RDV.ID + "/deplacement?token=" + url.QueryEscape(lea.RDV.UsagerToken)); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the move page too late: %d, want a redirect to the RDV", res.StatusCode)
	}
	if _, err := h.svc.Cancel(ctx, booking.Caller{Agent: h.cat.Agent("camille-martin")}, lea.RDV.ID, ""); err != nil {
		t.Fatal(err)
	}
	if res := c.get(leaLink); strings.Contains(res.body, "/nouveau?") || !strings.Contains(res.body, `contactez MDS Arras au <a href="tel:&#43;33321000000">03 21 00 00 00</a>`) {
		t.Error("a prescripteur's cancelled RDV: whom to ask, no self-service booking")
	}
	if res := c.get("/rdv/" + lea.RDV.ID + "/nouveau?token=" + url.QueryEscape(lea.RDV.UsagerToken)); res.StatusCode != http.StatusSeeOther {
		t.Errorf("booking again a prescription motif: %d, want a redirect", res.StatusCode)
	}
}

// TestUsagerLinkPromisesWhatItsPageDoes: an RDV of a motif only agents
// book is moved by its service (the usager's page offers no move), one of
// a motif with cancellable_by_usager: false is neither moved nor cancelled
// from the link; the confirmation and the agent's RDV page say so.
func TestUsagerLinkPromisesWhatItsPageDoes(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	c.login("camille-martin")
	interne := "agent=1&service=social&motif=suivi-social-arras&lieu=mds-arras-centre&creneau=" + url.QueryEscape(firstSlot)
	form, _ := url.ParseQuery(interne)
	form.Set("csrf", c.csrf("/prendre_rdv/prescription_interne?"+interne, "/prendre_rdv/prescription_interne"))
	form.Set("mode", "nouveau")
	form.Set("prenom", "Léa")
	form.Set("nom", "Dubois")
	form.Set("telephone", "06 12 34 56 78")
	res := c.post("/prendre_rdv/prescription_interne", form)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("interne: %d\n%s", res.StatusCode, res.body)
	}
	confirmation := c.get(res.Header.Get("Location")).body
	if !strings.Contains(confirmation, "avec le lien pour l&#39;annuler jusqu&#39;à 4 heures avant.") || strings.Contains(confirmation, "déplacer") {
		t.Errorf("the confirmation of an agents-only motif promises a move from the usager's link:\n%s", confirmation)
	}
	list := h.rdvs()
	if len(list) != 1 {
		t.Fatalf("%d RDVs", len(list))
	}
	suivi := list[0]
	ccas, err := h.svc.Book(context.Background(), booking.Caller{Agent: h.cat.Agent("nadia-morel")}, booking.BookRequest{
		MotifID: "aide-numerique-ccas", LieuID: "ccas-lens-mairie", StartsAt: "2026-12-01T14:00:00+01:00",
		Usager: &booking.UsagerInput{FirstName: "Nora", LastName: "Haddad", PhoneNumber: "06 11 22 33 44"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rsa := h.book("2026-12-07T09:00:00+01:00", booking.UsagerInput{FirstName: "Marc", LastName: "Girard", PhoneNumber: "06 98 76 54 32"})
	nadia := h.client()
	nadia.login("nadia-morel")
	for _, tt := range []struct {
		c    *client
		id   string
		want string
	}{
		{c, suivi.RDV.ID, "Le lien personnel de l'usager pour voir ou annuler ce rendez-vous,"},
		{nadia, ccas.RDV.ID, "Le lien personnel de l'usager pour voir ce rendez-vous,"},
		{c, rsa.RDV.ID, "Le lien personnel de l'usager pour voir, déplacer ou annuler ce rendez-vous,"},
	} {
		if page := tt.c.get("/agents/rdvs/" + tt.id); !strings.Contains(page.body, tt.want) {
			t.Errorf("the agent's page of %s does not say %q", tt.id, tt.want)
		}
	}
}
