package notify_test

import (
	"context"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rdvsync/internal/booking"
)

// readSMS returns the spooled SMS whose file name starts with prefix.
func readSMS(t *testing.T, h *harness, prefix string) (string, error) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(h.cat.Load().Config.SMSSpoolDir(), prefix+"*.txt"))
	if len(files) != 1 {
		return "", errors.New("no single spooled SMS named " + prefix + "*")
	}
	b, err := os.ReadFile(files[0])
	return string(b), err
}

// TestSpool: without smtp and sms blocks (the example configuration),
// every message is a readable file beside the store.
func TestSpool(t *testing.T) {
	h := newHarness(t, setup{}, tuesday)
	b := h.bookExterne(t, thursday9, lea)
	h.settled(t)
	spool := filepath.Join(h.dir, "data")
	if got := h.cat.Load().Config.MailSpoolDir(); got != filepath.Join(spool, "mail") {
		t.Fatalf("mail spool dir %s, want %s/mail", got, spool)
	}
	emls, _ := filepath.Glob(filepath.Join(spool, "mail", "*.eml"))
	if len(emls) != 3 {
		t.Fatalf("%d .eml files, want 3: %v", len(emls), emls)
	}
	byRecipient := map[string]*email{}
	for _, f := range emls {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		e := parseEmail(t, raw)
		if want := "<" + strings.TrimSuffix(filepath.Base(f), ".eml") + "@example.org>"; e.messageID != want {
			t.Errorf("%s: Message-ID %s, want %s (the file is named after it)", f, e.messageID, want)
		}
		byRecipient[e.to[0].Address] = e
		if st, _ := os.Stat(f); st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, want 0600 (personal data)", f, st.Mode().Perm())
		}
	}
	u := byRecipient[lea.email]
	if u == nil || u.subject != "Votre rendez-vous du jeudi 3 décembre 2026 à 9 h 00 est confirmé" {
		t.Fatalf("usager .eml: %+v", u)
	}
	checkICS(t, "spooled usager email", u, b.RDV.ID, "REQUEST", 1, thursday9)
	if byRecipient[jean.email] == nil || byRecipient["camille.martin@example.org"] == nil {
		t.Errorf("missing .eml files: %v", emls)
	}

	sms, err := readSMS(t, h, b.RDV.ID+".created.v1.usager")
	if err != nil {
		t.Fatal(err)
	}
	contains(t, "spooled SMS", sms, "To: +33612345678\n", "Id: "+b.RDV.ID+".created.v1.usager\n",
		"MDS Arras : RDV Orientation RSA confirmé le jeudi 3 décembre à 9 h 00, MDS Arras Centre",
		"/rdv/"+b.RDV.ID+"?token="+b.RDV.UsagerToken)
	for _, r := range h.receipts(t, b.RDV.ID) {
		if r.Transport != "spool" || r.Result != "ok" {
			t.Errorf("receipt %+v", r)
		}
	}
	counts := map[string]float64{}
	mfs, err := h.metrics.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "rdvsync_notifications_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			counts[strings.Join(labels, ",")] = m.GetCounter().GetValue()
		}
	}
	if want := map[string]float64{"channel=email,event=created,result=ok": 3, "channel=sms,event=created,result=ok": 1}; !maps.Equal(counts, want) {
		t.Errorf("rdvsync_notifications_total = %v, want %v", counts, want)
	}
	if tmp, _ := filepath.Glob(filepath.Join(spool, "*", ".tmp-*")); len(tmp) != 0 {
		t.Errorf("temporary files left: %v", tmp)
	}
}

// TestSpoolPrescribingAgentAndCancelReason: an agent of the médiathèque
// books in prescription interne an RDV with an agent of the MDS; it gets
// the confirmation a prescripteur gets, with the RDV's page. The usager
// cancels with a reason: the agent's email says it.
func TestSpoolPrescribingAgentAndCancelReason(t *testing.T) {
	h := newHarness(t, setup{}, tuesday)
	b := h.bookAsAgent(t, "julie-lefebvre", thursday9, lea)
	h.settled(t)
	spooled := func(event, recipient string) *email {
		t.Helper()
		files, _ := filepath.Glob(filepath.Join(h.cat.Load().Config.MailSpoolDir(), b.RDV.ID+"."+event+".*"+recipient+"*.eml"))
		if len(files) != 1 {
			t.Fatalf("%d spooled %s emails to %s, want 1", len(files), event, recipient)
		}
		raw, err := os.ReadFile(files[0])
		if err != nil {
			t.Fatal(err)
		}
		return parseEmail(t, raw)
	}
	julie := spooled("created", "prescripteur")
	if julie.to[0].Address != "julie.lefebvre@example.org" {
		t.Errorf("the prescribing agent's confirmation went to %v", julie.to)
	}
	contains(t, "prescribing agent's confirmation", julie.subject, "Rendez-vous confirmé pour Léa Dubois le jeudi 3 décembre 2026 à 9 h 00")
	contains(t, "prescribing agent's confirmation", julie.text, "Bonjour Julie Lefebvre", "Vous avez pris rendez-vous pour Léa Dubois",
		"avec un lien pour consulter son rendez-vous.", "/agents/rdvs/"+b.RDV.ID)
	// Thursday 9:00 is less than 48 hours away: no reminder will go out,
	// and the email does not promise one.
	lacks(t, "prescribing agent's confirmation", julie.text, b.RDV.UsagerToken, "rappel")

	if _, err := h.booking.Cancel(context.Background(), booking.Caller{UsagerToken: b.RDV.UsagerToken}, b.RDV.ID, "Je travaille ce jour-là."); err != nil {
		t.Fatal(err)
	}
	h.settled(t)
	camille := spooled("cancelled", "agent")
	contains(t, "agent's cancellation", camille.text, "annulé par l'usager", "Raison de l'annulation : Je travaille ce jour-là.")
	contains(t, "agent's cancellation", camille.html, "Raison de l'annulation : <em")
	lacks(t, "usager's cancellation", spooled("cancelled", "usager").text, "Raison de l'annulation")
	contains(t, "prescribing agent's cancellation", spooled("cancelled", "prescripteur").text, "à sa demande")
}

// TestSpoolAgentsOnlyMotifLink: an RDV of a motif only agents book is
// moved by its service, not from the usager's link (its page offers no
// move): the usager's confirmation says it may cancel from the link and
// whom to call to move it.
func TestSpoolAgentsOnlyMotifLink(t *testing.T) {
	h := newHarness(t, setup{}, tuesday)
	b, err := h.booking.Book(context.Background(), booking.Caller{Agent: h.cat.Load().Agent("camille-martin")}, booking.BookRequest{
		MotifID: "suivi-social-arras", LieuID: "mds-arras-centre", StartsAt: thursday9.Format(time.RFC3339), AgentID: "camille-martin",
		Usager: &booking.UsagerInput{FirstName: lea.first, LastName: lea.last, Email: lea.email},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.settled(t)
	files, _ := filepath.Glob(filepath.Join(h.cat.Load().Config.MailSpoolDir(), b.RDV.ID+".created.*usager*.eml"))
	if len(files) != 1 {
		t.Fatalf("%d spooled confirmations to the usager, want 1", len(files))
	}
	raw, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	e := parseEmail(t, raw)
	contains(t, "usager's confirmation", e.text, "Pour consulter ce rendez-vous ou l'annuler (jusqu'à 4 h avant) : ",
		"Pour le déplacer, contactez MDS Arras au 03 21 00 00 00.")
	contains(t, "usager's confirmation", e.html, "Ce lien permet aussi d'annuler le rendez-vous, jusqu'à 4 h avant. Pour le déplacer, contactez MDS Arras")
	lacks(t, "usager's confirmation", e.text, "le déplacer ou l'annuler")
	lacks(t, "usager's confirmation", e.html, "déplacer ou d'annuler")
}
