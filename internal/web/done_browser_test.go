package web_test

import (
	"context"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/notify"
	"rdvsync/internal/outbox"
	"rdvsync/internal/store"
)

// The whole agent side of issue 12 in one journey, in Chromium: Camille
// Martin, of the MDS Arras, signs in at her organisation's OpenID
// Provider, finds a slot at another organisation of the territory and
// books it in prescription interne, finds it in "Mes prescriptions",
// reads her agenda, moves then cancels an RDV of her organisation with a
// reason; then the usager of one of her RDVs moves it from its link.
func TestBrowserAgentJourney(t *testing.T) {
	var spool string
	h, _ := oidcHarnessEffects(t, false, func(cat *catalog.Catalog, st *store.Store, clock func() time.Time) []booking.Effect {
		spool = cat.Config.MailSpoolDir()
		return []booking.Effect{runNotify(t, cat, st, clock)}
	})
	// Léa's RDV with Camille, and Marc's with Thomas Leroy, her colleague.
	lea := h.book(firstSlot, booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "06 12 34 56 78"})
	marc, err := h.svc.Book(context.Background(), booking.Caller{}, booking.BookRequest{
		MotifID: "rsa-orientation", LieuID: "mds-arras-centre", StartsAt: "2026-12-07T09:00:00+01:00", AgentID: "thomas-leroy",
		Usager:       &booking.UsagerInput{FirstName: "Marc", LastName: "Girard", PhoneNumber: "06 98 76 54 32"},
		Prescripteur: &booking.PrescripteurInput{FirstName: "Jean", LastName: "Petit", Email: "jean.petit@mediatheque.example.org", PhoneNumber: "03 21 00 00 20"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}

	// Some twenty pages: more time than a single page's test, for a
	// loaded machine.
	b := newBrowserFor(t, h, 90*time.Second)
	b.step("accueil", b.open("/agents"), page("login"))
	b.mustSee("Avec votre identité professionnelle")
	if err := chromedp.Do(b.ctx, click("#oidc-connexion")); err != nil {
		t.Fatal(err)
	}
	b.atProvider("camille")
	b.step("agents", page("agents"))
	b.mustSee("Espace agent", "Léa Dubois", "Marc Girard")
	if bar := b.text(".rdv-agent-bar"); !strings.Contains(bar, "Camille Martin") {
		t.Errorf("agent bar %q", bar)
	}

	// Trouver un RDV: her organisation's motifs, then the territory's
	// from the usager's address, in Lens.
	b.step("trouver", click(`a[href="/agents/trouver"]`), page("wizard-service"))
	b.mustSee("Service social", "2 motifs de vos organisations", "Élargir la recherche")
	b.step("elargir", click(`a[href*="elargir=1"]`), page("wizard-adresse"))
	b.step("adresse", set("#adresse", "10 rue de la Gare"), set("#code_postal", "62300"), set("#commune", "Lens"),
		click(`main form button[type="submit"]`), page("wizard-service"))
	b.mustSee("10 rue de la Gare, 62300 Lens", "Conseiller numérique", "2 motifs ouverts à la prescription")
	b.step("service", click(`a[href*="service=numerique"]`), page("wizard-motif"))
	b.mustSee("Accompagnement numérique", "CCAS de Lens")
	b.step("motif", click(`a[href*="motif=aide-numerique-ccas"]`), page("wizard-lieu"))
	b.mustSee("CCAS — Hôtel de ville", "Prochaine disponibilité : mardi 1er décembre 2026 à 14 h 00")
	b.step("lieu", click(`a[href*="lieu=ccas-lens-mairie"]`), page("wizard-creneau"))
	b.step("creneau", click(`a[href*="creneau=2026-12-01T14%3A00"]`), page("interne"))
	b.mustSee("Prescription interne : l'usager", "Accompagnement numérique — CCAS de Lens", "mardi 1er décembre 2026 à 14 h 00")
	b.step("usager", set("#usager-prenom", "Nora"), set("#usager-nom", "Haddad"), set("#usager-telephone", "06 11 22 33 44"),
		click(`form input[value="nouveau"] ~ button`), page("confirmation"))
	b.mustSee("Rendez-vous confirmé", "Nora Haddad", "06 11 22 33 44", "Vous allez recevoir un email de confirmation",
		"dans l'agenda de CCAS de Lens comme pris par vous en prescription interne")
	// The prescribing agent's confirmation, with the RDV's page.
	emailSays(t, spooledEmail(t, spool, "camille.martin@example.org", "Nora Haddad"),
		"Vous avez pris rendez-vous pour Nora Haddad", "Accompagnement numérique (CCAS de Lens)",
		"mardi 1er décembre 2026 à 14 h 00", "/agents/rdvs/")

	// Mes prescriptions, and the RDV's page, read only.
	b.step("prescriptions", click(`main a[href="/agents/prescriptions"]`), page("prescriptions"))
	b.mustSee("Accompagnement numérique", "CCAS de Lens", "Nora Haddad", "mardi 1er décembre 2026 à 14 h 00")
	b.step("prescription", click(`main table a`), page("agent_rdv"))
	b.mustSee("Vous avez pris ce rendez-vous en prescription interne", "Nora Haddad")
	if strings.Contains(b.text("main"), "Agir sur ce rendez-vous") {
		t.Error("the prescribing agent is offered to change an RDV of another organisation")
	}

	// Her agenda: her own RDV with Léa; her organisation's, with Marc's.
	b.step("espace-agent", click(`.rdv-agent-bar a[href="/agents"]`), page("agents"))
	b.step("agenda", click(`main a[href="/agents/agenda"]`), page("agenda"))
	b.mustSee("Mon agenda", "Semaine du lundi 30 novembre au dimanche 6 décembre 2026", "Orientation RSA", "Léa Dubois")
	if b.attr(`main a[href="/agents/rdvs/`+lea.RDV.ID+`"]`, "href") == "" {
		t.Error("her agenda does not link Léa's RDV")
	}
	b.step("agenda-organisation", chromedp.SetValue(chromedp.CSS("#agenda-vue"), "organisation:mds-arras"),
		click(`form[action="/agents/agenda"] button[type="submit"]`),
		chromedp.WaitVisible(chromedp.CSS(`a[href*="semaine=2026-12-07"][href*="organisation"]`)))
	b.mustSee("Agenda de MDS Arras", "Semaine du lundi 30 novembre au dimanche 6 décembre 2026")
	b.step("agenda-semaine-suivante", click(`a[href*="semaine=2026-12-07"]`),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/agents/rdvs/`+marc.RDV.ID+`"]`)))
	b.mustSee("Agenda de MDS Arras", "Semaine du lundi 7 décembre au dimanche 13 décembre 2026", "Marc Girard", "Thomas Leroy")

	// She moves Thomas's RDV with Marc, then cancels it with a reason.
	b.step("rdv-marc", click(`a[href="/agents/rdvs/`+marc.RDV.ID+`"]`), page("agent_rdv"))
	b.mustSee("Rendez-vous du lundi 7 décembre 2026 à 9 h 00", "Marc Girard", "Agir sur ce rendez-vous")
	b.step("deplacer", click(`a[href$="/deplacer"]`), page("deplacer"))
	b.mustSee("Déplacer le rendez-vous", "Marc Girard", "Du mardi 1er décembre au lundi 7 décembre")
	// Tuesday 8 December at 14:00: only Thomas receives then.
	tuesday14 := "2026-12-08T14:00:00+01:00"
	b.step("deplacer-semaine-suivante", click(`nav[aria-label="Autres semaines"] a.fr-icon-arrow-right-line`), chromedp.WaitVisible(chromedp.CSS(`a[href*="creneau=`+url.QueryEscape(tuesday14)+`"]`)))
	b.step("deplacer-choix", click(`a[href*="creneau=`+url.QueryEscape(tuesday14)+`"]`), page("deplacer-confirmation"))
	b.mustSee("Nouveau créneau : mardi 8 décembre 2026 à 14 h 00.")
	b.step("deplace", click(`main form button[type="submit"]`), page("agent_rdv"))
	b.mustSee("Le rendez-vous est déplacé", "Rendez-vous du mardi 8 décembre 2026 à 14 h 00", "Thomas Leroy")
	emailSays(t, spooledEmail(t, spool, "thomas.leroy@example.org", "déplacé"),
		"a été déplacé par Camille Martin", "mardi 8 décembre 2026 à 14 h 00", "Auparavant : lundi 7 décembre 2026 à 9 h 00")

	b.step("annuler", click(`a[href$="/annuler"]`), page("agent-annuler"),
		set("#raison", "Marc a trouvé un emploi : plus besoin d'orientation."), click(`main form button[type="submit"]`), page("agent_rdv"))
	b.mustSee("Le rendez-vous est annulé", "Raison de l'annulation", "Marc a trouvé un emploi : plus besoin d'orientation.")
	b.badge("Annulé par le service")
	// The agents' cancellation email carries the reason.
	emailSays(t, spooledEmail(t, spool, "thomas.leroy@example.org", "annulé"),
		"a été annulé par Camille Martin", "Raison de l'annulation : Marc a trouvé un emploi : plus besoin d'orientation.",
		"mardi 8 décembre 2026 à 14 h 00", "Marc Girard")

	// Léa moves her RDV from the link of her SMS, on her phone.
	link := "/rdv/" + lea.RDV.ID + "?token=" + url.QueryEscape(lea.RDV.UsagerToken)
	b.step("usager", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), b.open(link), page("usager_rdv"))
	b.mustSee("Votre rendez-vous", "jeudi 3 décembre 2026 à 9 h 00")
	b.step("usager-deplacer", click(`a[href*="/deplacement?token="]`), page("usager-deplacer"))
	monday9 := "2026-12-07T09:00:00+01:00"
	b.step("usager-choix", click(`a[href*="creneau=`+url.QueryEscape(monday9)+`"]`), page("usager-deplacer-confirmation"))
	b.mustSee("Nouveau créneau : lundi 7 décembre 2026 à 9 h 00.")
	b.step("usager-deplace", click(`main form button[type="submit"]`), page("usager_rdv"))
	b.mustSee("Votre rendez-vous a été déplacé", "lundi 7 décembre 2026 à 9 h 00")
	emailSays(t, spooledEmail(t, spool, "camille.martin@example.org", "déplacé"),
		"a été déplacé par l'usager", "lundi 7 décembre 2026 à 9 h 00", "Auparavant : jeudi 3 décembre 2026 à 9 h 00")
}

// atProvider signs in at the provider's login page, which is not ours:
// no axe-core there.
func (b *browser) atProvider(username string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`input[name="username"]`)),
		set(`input[name="username"]`, username), click(`button`)); err != nil {
		loc, _ := chromedp.Run(b.ctx, chromedp.Location())
		b.t.Fatalf("provider's login page: %v (at %s)", err, loc)
	}
}

// runNotify records notifications with each change and delivers them,
// to the spool as the example configuration has no SMTP server, as the
// daemon does.
func runNotify(t *testing.T, cat *catalog.Catalog, st *store.Store, clock func() time.Time) booking.Effect {
	t.Helper()
	n, err := notify.New(st, func() *catalog.Catalog { return cat }, notify.Options{Now: clock})
	if err != nil {
		t.Fatal(err)
	}
	d := outbox.New(st, n.Sinks(), outbox.Options{Now: clock, Poll: 20 * time.Millisecond})
	n.SetKick(d.Kick)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	// Registered after the store's: runs before it closes.
	t.Cleanup(func() { cancel(); <-done })
	return n
}

// spooledEmail waits for the spooled email to to whose subject contains
// subject, and returns its text.
func spooledEmail(t *testing.T, dir, to, subject string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		var seen []string
		for _, f := range files {
			raw, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			subj, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			rcpt := msg.Header.Get("To")
			seen = append(seen, rcpt+": "+subj)
			if strings.Contains(rcpt, to) && strings.Contains(subj, subject) {
				return plainText(t, msg.Header.Get("Content-Type"), msg.Header.Get("Content-Transfer-Encoding"), msg.Body)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no email to %s about %q in the spool; spooled:\n%s", to, subject, strings.Join(seen, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// emailSays fails unless the email's text says every want.
func emailSays(t *testing.T, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("the email does not say %q:\n%s", w, text)
		}
	}
}

// plainText returns the text/plain parts of a MIME body, decoded.
func plainText(t *testing.T, contentType, encoding string, body io.Reader) string {
	t.Helper()
	media, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasPrefix(media, "multipart/") {
		var text strings.Builder
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextRawPart()
			if err == io.EOF {
				return text.String()
			}
			if err != nil {
				t.Fatal(err)
			}
			text.WriteString(plainText(t, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p))
		}
	}
	if media != "text/plain" {
		return ""
	}
	switch strings.ToLower(encoding) {
	case "quoted-printable":
		body = quotedprintable.NewReader(body)
	case "base64":
		body = base64.NewDecoder(base64.StdEncoding, body)
	}
	b, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
