package notify_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"rdvsync/internal/booking"
	"rdvsync/internal/rdv"
)

// tuesday is the test's "now": Tuesday 1 December 2026, 10:00 in Paris.
var tuesday = parisTime(2026, 12, 1, 10, 0)

// thursday9 is camille-martin's first slot on Thursday 3 December 2026.
var thursday9 = parisTime(2026, 12, 3, 9, 0)

func one(t *testing.T, what string, es []*email) *email {
	t.Helper()
	if len(es) != 1 {
		t.Fatalf("%s: %d messages, want 1", what, len(es))
	}
	return es[0]
}

func contains(t *testing.T, what, text string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(text, w) {
			t.Errorf("%s does not contain %q:\n%s", what, w, text)
		}
	}
}

func lacks(t *testing.T, what, text string, unwanted ...string) {
	t.Helper()
	for _, w := range unwanted {
		if strings.Contains(text, w) {
			t.Errorf("%s contains %q:\n%s", what, w, text)
		}
	}
}

// checkICS checks an email's calendar alternative and attachment.
func checkICS(t *testing.T, who string, e *email, rdvID, method string, seq int, start time.Time) {
	t.Helper()
	if e.icsMethod != method {
		t.Errorf("%s: text/calendar method=%q, want %s", who, e.icsMethod, method)
	}
	if att := e.attachments["rdv.ics"]; string(att) != string(e.ics) {
		t.Errorf("%s: the rdv.ics attachment differs from the text/calendar part:\n%s\n---\n%s", who, att, e.ics)
	}
	m, ev := parseICS(t, e.ics)
	if m != method {
		t.Errorf("%s: METHOD %q, want %s", who, m, method)
	}
	if uid, _ := ev.Props.Text(ical.PropUID); uid != rdvID {
		t.Errorf("%s: UID %q, want %s", who, uid, rdvID)
	}
	if p := ev.Props.Get(ical.PropSequence); p == nil || p.Value != fmt.Sprint(seq) {
		t.Errorf("%s: SEQUENCE %v, want %d", who, p, seq)
	}
	if got, err := ev.DateTimeStart(time.UTC); err != nil || !got.Equal(start) {
		t.Errorf("%s: DTSTART %v (%v), want %v", who, got, err, start.UTC())
	}
	if p := ev.Props.Get(ical.PropOrganizer); p == nil || p.Value != "mailto:ne-pas-repondre@example.org" {
		t.Errorf("%s: ORGANIZER %v", who, p)
	}
}

func TestPrescriptionExterneBookedThenCancelledByTheUsager(t *testing.T) {
	smtpd := newSMTPServer(t)
	h := newHarness(t, setup{smtpPort: smtpd.port(), camilleLevel: "all"}, tuesday)
	b := h.bookExterne(t, thursday9, lea)
	h.settled(t)
	id, token := b.RDV.ID, b.RDV.UsagerToken
	link := "http://127.0.0.1:8080/rdv/" + id + "?token=" + token
	when := "jeudi 3 décembre 2026 à 9 h 00"

	// The prescripteur: the RDV, the usager, the instructions, no hand on it, no link.
	p := one(t, "prescripteur", emailsTo(t, smtpd, jean.email))
	if p.subject != "Rendez-vous confirmé pour Léa Dubois le "+when {
		t.Errorf("prescripteur subject %q", p.subject)
	}
	if len(p.to) != 1 || p.to[0].Name != "Jean Petit" {
		t.Errorf("prescripteur To: %v", p.to)
	}
	for _, part := range []string{p.text, p.html} {
		contains(t, "prescripteur email", part, when, "Léa Dubois", "MDS Arras Centre", "1 place Foch, 62000 Arras",
			"Apportez une pièce d", "Vous ne pouvez pas modifier ni annuler ce rendez-vous", "03 21 00 00 00")
		lacks(t, "prescripteur email", part, token)
	}
	if p.ics != nil || len(p.attachments) != 0 {
		t.Errorf("the prescripteur gets no .ics")
	}
	if p.messageID != "<"+id+".created.v1.prescripteur@example.org>" {
		t.Errorf("prescripteur Message-ID %q", p.messageID)
	}
	if from, _ := p.header.AddressList("From"); len(from) != 1 || from[0].Name != "RDV Solidarités Pas-de-Calais" {
		t.Errorf("From %v", from)
	}

	// The usager: the RDV, the instructions, its link, the .ics.
	u := one(t, "usager", emailsTo(t, smtpd, lea.email))
	if u.subject != "Votre rendez-vous du "+when+" est confirmé" {
		t.Errorf("usager subject %q", u.subject)
	}
	contains(t, "usager text", u.text, when, "(45 min)", "MDS Arras Centre, 1 place Foch, 62000 Arras",
		"Apportez une pièce d'identité", link, "pris pour vous par Jean Petit")
	contains(t, "usager html", u.html, when, "Apportez une pièce d&#39;identité", "href=\""+link+"\"")
	checkICS(t, "usager", u, id, "REQUEST", 1, thursday9)

	// The agent (level all): the usager, who booked, its page; no usager link.
	a := one(t, "agent", emailsTo(t, smtpd, "camille.martin@example.org"))
	if a.subject != "Nouveau RDV le "+when+" : Léa Dubois" {
		t.Errorf("agent subject %q", a.subject)
	}
	contains(t, "agent text", a.text, "Léa Dubois", "Léa Dubois, 06 12 34 56 78", "Jean Petit (prescripteur)", jean.email,
		"http://127.0.0.1:8080/agents/rdvs/"+id)
	lacks(t, "agent text", a.text+a.html, token)
	checkICS(t, "agent", a, id, "REQUEST", 1, thursday9)
	if n := len(smtpd.messages()); n != 3 {
		t.Errorf("%d emails for the booking, want 3 (prescripteur, usager, agent)", n)
	}

	// The usager cancels: usager, prescripteur and agent are told; the .ics cancels.
	h.usagerCancel(t, b)
	h.settled(t)
	u = emailsTo(t, smtpd, lea.email)[1]
	if u.subject != "Votre rendez-vous du "+when+" est annulé" {
		t.Errorf("usager cancellation subject %q", u.subject)
	}
	contains(t, "usager cancellation", u.text, "Comme vous l'avez demandé")
	checkICS(t, "usager cancellation", u, id, "CANCEL", 2, thursday9)
	p = emailsTo(t, smtpd, jean.email)[1]
	contains(t, "prescripteur cancellation", p.subject, "Rendez-vous annulé pour Léa Dubois")
	contains(t, "prescripteur cancellation", p.text, "à sa demande")
	a = emailsTo(t, smtpd, "camille.martin@example.org")[1]
	contains(t, "agent cancellation", a.text, "annulé par l'usager")
	checkICS(t, "agent cancellation", a, id, "CANCEL", 2, thursday9)

	// Receipts: every attempt, by kind of recipient, without addresses.
	var got []string
	for _, r := range h.receipts(t, id) {
		if r.Result != "ok" || r.MessageID == "" {
			t.Errorf("receipt %+v", r)
		}
		got = append(got, r.Event+"/"+r.Recipient+"/"+r.Channel+"/"+r.Transport)
	}
	slices.Sort(got)
	want := []string{
		"cancelled/agent/email/smtp", "cancelled/prescripteur/email/smtp", "cancelled/usager/email/smtp", "cancelled/usager/sms/spool",
		"created/agent/email/smtp", "created/prescripteur/email/smtp", "created/usager/email/smtp", "created/usager/sms/spool",
	}
	if !slices.Equal(got, want) {
		t.Errorf("receipts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	h.checkLogs(t)
}

func TestAgentNotificationLevels(t *testing.T) {
	camille := "camille.martin@example.org"
	t.Run("others: nothing for its own booking, the usager's cancellation", func(t *testing.T) {
		smtpd := newSMTPServer(t)
		h := newHarness(t, setup{smtpPort: smtpd.port(), camilleLevel: "others"}, tuesday)
		b := h.bookAsAgent(t, "camille-martin", thursday9, lea)
		h.settled(t)
		if es := emailsTo(t, smtpd, camille); len(es) != 0 {
			t.Errorf("camille was told of her own booking: %q", es[0].subject)
		}
		one(t, "usager confirmation", emailsTo(t, smtpd, lea.email))
		h.usagerCancel(t, b)
		h.settled(t)
		a := one(t, "camille", emailsTo(t, smtpd, camille))
		contains(t, "agent cancellation", a.subject, "RDV annulé")
	})
	t.Run("others: a booking by a colleague", func(t *testing.T) {
		smtpd := newSMTPServer(t)
		h := newHarness(t, setup{smtpPort: smtpd.port(), camilleLevel: "others"}, tuesday)
		h.bookAsAgent(t, "thomas-leroy", thursday9, lea)
		h.settled(t)
		a := one(t, "camille", emailsTo(t, smtpd, camille))
		contains(t, "agent email", a.text, "Pris par : Thomas Leroy")
	})
	t.Run("soon: only today or tomorrow", func(t *testing.T) {
		smtpd := newSMTPServer(t)
		wednesday := parisTime(2026, 12, 2, 10, 0)
		h := newHarness(t, setup{smtpPort: smtpd.port(), camilleLevel: "soon"}, wednesday)
		far := h.bookExterne(t, parisTime(2026, 12, 7, 9, 0), lea) // Monday: not soon
		h.settled(t)
		if es := emailsTo(t, smtpd, camille); len(es) != 0 {
			t.Fatalf("soon: told of a booking on Monday: %q", es[0].subject)
		}
		h.bookExterne(t, thursday9, person{"Marc", "Roux", "marc@example.net", ""}) // tomorrow
		h.settled(t)
		a := one(t, "camille", emailsTo(t, smtpd, camille))
		contains(t, "soon", a.subject, "jeudi 3 décembre 2026", "Marc Roux")
		// Moving the Monday RDV to tomorrow: the new date is soon.
		h.usagerMove(t, far, parisTime(2026, 12, 3, 10, 30))
		h.settled(t)
		es := emailsTo(t, smtpd, camille)
		if len(es) != 2 || !strings.HasPrefix(es[1].subject, "RDV déplacé au jeudi 3 décembre 2026 à 10 h 30") {
			t.Fatalf("soon: after moving to tomorrow: %d messages", len(es))
		}
		contains(t, "moved", es[1].text, "Auparavant : lundi 7 décembre 2026 à 9 h 00", "déplacé par l'usager")
	})
	t.Run("none: never", func(t *testing.T) {
		smtpd := newSMTPServer(t)
		h := newHarness(t, setup{smtpPort: smtpd.port(), camilleLevel: "none"}, parisTime(2026, 12, 2, 10, 0))
		b := h.bookExterne(t, thursday9, lea)
		h.settled(t)
		h.usagerCancel(t, b)
		h.settled(t)
		if es := emailsTo(t, smtpd, camille); len(es) != 0 {
			t.Errorf("none: camille got %q", es[0].subject)
		}
		if n := len(emailsTo(t, smtpd, lea.email)); n != 2 {
			t.Errorf("the usager got %d emails, want 2", n)
		}
	})
}

func TestMovedByTheUsager(t *testing.T) {
	smtpd := newSMTPServer(t)
	h := newHarness(t, setup{smtpPort: smtpd.port()}, tuesday)
	b := h.bookExterne(t, thursday9, lea)
	h.settled(t)
	h.usagerMove(t, b, parisTime(2026, 12, 7, 9, 0))
	h.settled(t)
	es := emailsTo(t, smtpd, lea.email)
	if len(es) != 2 {
		t.Fatalf("usager: %d emails, want 2", len(es))
	}
	u := es[1]
	if u.subject != "Votre rendez-vous est déplacé au lundi 7 décembre 2026 à 9 h 00" {
		t.Errorf("subject %q", u.subject)
	}
	contains(t, "moved", u.text, "Il était prévu le jeudi 3 décembre 2026 à 9 h 00", b.RDV.UsagerToken)
	checkICS(t, "moved", u, b.RDV.ID, "REQUEST", 2, parisTime(2026, 12, 7, 9, 0))
	if n := len(emailsTo(t, smtpd, jean.email)); n != 1 {
		t.Errorf("the prescripteur got %d emails, want only the confirmation", n)
	}
}

func TestNothingAboutAnRDVThatHasStarted(t *testing.T) {
	smtpd := newSMTPServer(t)
	h := newHarness(t, setup{smtpPort: smtpd.port()}, tuesday)
	smtpd.refuse.Store(true) // nothing gets through before the start
	b := h.bookExterne(t, thursday9, lea)
	count := func(result string) int {
		n := 0
		for _, r := range h.receipts(t, b.RDV.ID) {
			if r.Channel == "email" && r.Result == result {
				n++
			}
		}
		return n
	}
	waitFor(t, "a failed attempt", func() bool { return count("failed") > 0 })
	h.clock.Set(thursday9.Add(time.Minute))
	h.settled(t)
	// Still refusing: attempts begun before the start fail rather than slip through.
	smtpd.refuse.Store(false)
	if n := len(smtpd.messages()); n != 0 {
		t.Errorf("%d messages about a started RDV", n)
	}
	if n := count("skipped"); n != 3 {
		t.Errorf("%d emails skipped once the RDV started, want 3", n)
	}
	for _, r := range h.receipts(t, b.RDV.ID) {
		if r.Result == "skipped" && r.Error != "le rendez-vous a commencé" {
			t.Errorf("skipped receipt %+v", r)
		}
	}
	// A cancellation after the start tells nobody.
	if _, err := h.booking.Cancel(context.Background(), booking.Caller{Agent: h.cat.Load().Agent("camille-martin")}, b.RDV.ID, ""); err != nil {
		t.Fatal(err)
	}
	h.settled(t)
	if n := len(smtpd.messages()); n != 0 {
		t.Errorf("%d messages about a started RDV", n)
	}
}

// TestSMTPOutage: while the server refuses (421) or is down, messages wait
// in the outbox; they arrive once it is back, each exactly once, and the
// receipts show the failed attempts.
func TestSMTPOutage(t *testing.T) {
	smtpd := newSMTPServer(t)
	h := newHarness(t, setup{smtpPort: smtpd.port()}, tuesday)

	smtpd.refuse.Store(true)
	a := h.bookExterne(t, thursday9, lea)
	failed := func(id string) bool {
		n := 0
		for _, r := range h.receipts(t, id) {
			if r.Result == "failed" {
				n++
			}
		}
		return n >= 6
	}
	waitFor(t, "failed attempts while the server answers 421", func() bool { return failed(a.RDV.ID) })
	smtpd.refuse.Store(false)
	h.settled(t)

	smtpd.stop()
	b := h.bookExterne(t, parisTime(2026, 12, 3, 9, 45), person{"Marc", "Roux", "marc@example.net", ""})
	waitFor(t, "failed attempts while the server is down", func() bool { return failed(b.RDV.ID) })
	smtpd.start(t)
	h.settled(t)

	perID := map[string]int{}
	for _, r := range smtpd.messages() {
		perID[parseEmail(t, r.raw).messageID]++
	}
	if len(perID) != 6 {
		t.Errorf("%d distinct messages, want 6 (3 per booking): %v", len(perID), perID)
	}
	for id, n := range perID {
		if n != 1 {
			t.Errorf("message %s received %d times", id, n)
		}
	}
	for _, id := range []string{a.RDV.ID, b.RDV.ID} {
		var failedN, okN int
		for _, r := range h.receipts(t, id) {
			switch {
			case r.Result == "failed" && r.Channel == "email":
				failedN++
				if r.Error == "" || r.Transport != "smtp" {
					t.Errorf("failed receipt without its error: %+v", r)
				}
				lacks(t, "receipt error", r.Error, lea.email, jean.email, "marc@example.net")
			case r.Result == "ok" && r.Channel == "email":
				okN++
			}
		}
		if failedN == 0 || okN != 3 {
			t.Errorf("rdv %s: %d failed and %d ok email receipts", id, failedN, okN)
		}
	}
	h.checkLogs(t)
	if strings.Contains(h.logs.String(), "marc@example.net") {
		t.Error("an address reached the logs")
	}
}

func TestReceiptsOfAnUnknownRDV(t *testing.T) {
	h := newHarness(t, setup{}, tuesday)
	rs, err := h.notify.Receipts(context.Background(), "nope")
	if err != nil || rs == nil || len(rs) != 0 {
		t.Errorf("Receipts of an unknown rdv = %#v, %v; want empty (served as [])", rs, err)
	}
}

// TestRecipientRefused: a 550 to RCPT is final: the message is dead-lettered
// at once, with the server's reply (address redacted) in its receipt.
func TestRecipientRefused(t *testing.T) {
	smtpd := newSMTPServer(t)
	smtpd.unknown.Store(lea.email)
	h := newHarness(t, setup{smtpPort: smtpd.port()}, tuesday)
	b := h.bookExterne(t, thursday9, lea)
	h.settled(t)
	if n := len(smtpd.messages()); n != 2 {
		t.Errorf("%d messages delivered, want 2 (prescripteur, agent)", n)
	}
	var failed []string
	for _, r := range h.receipts(t, b.RDV.ID) {
		if r.Result == "failed" {
			failed = append(failed, r.Recipient+": "+r.Error)
		}
	}
	if len(failed) != 1 || !strings.Contains(failed[0], "usager: permanent failure") || !strings.Contains(failed[0], "550") {
		t.Errorf("failed receipts %q, want one for the usager, not retried", failed)
	}
	lacks(t, "receipt", strings.Join(failed, ""), lea.email)
	h.checkLogs(t)
}

// TestMovedToAnotherAgent: when the agent is not free at the new time, the
// RDV moves to a colleague: one is told it left its agenda (CANCEL), the
// other that it joined (REQUEST).
func TestMovedToAnotherAgent(t *testing.T) {
	smtpd := newSMTPServer(t)
	h := newHarness(t, setup{smtpPort: smtpd.port()}, tuesday)
	monday9 := parisTime(2026, 12, 7, 9, 0)
	h.bookExterne(t, monday9, person{"Marc", "Roux", "marc@example.net", ""})
	b := h.bookExterne(t, thursday9, lea)
	h.settled(t)
	h.usagerMove(t, b, monday9) // camille is busy: thomas-leroy (level all) takes it
	h.settled(t)
	var left *email
	for _, e := range emailsTo(t, smtpd, "camille.martin@example.org") {
		if strings.Contains(e.messageID, b.RDV.ID+".moved.") {
			left = e
		}
	}
	if left == nil || !strings.HasPrefix(left.subject, "RDV retiré de votre agenda : Léa Dubois, jeudi 3 décembre 2026") {
		t.Fatalf("camille: %+v", left)
	}
	contains(t, "removed", left.text, "confié à Thomas Leroy")
	checkICS(t, "removed", left, b.RDV.ID, "CANCEL", 2, monday9)
	joined := one(t, "thomas", emailsTo(t, smtpd, "thomas.leroy@example.org"))
	if joined.subject != "RDV ajouté à votre agenda le lundi 7 décembre 2026 à 9 h 00 : Léa Dubois" {
		t.Errorf("thomas: subject %q", joined.subject)
	}
	checkICS(t, "added", joined, b.RDV.ID, "REQUEST", 2, monday9)
}

// TestReopenedRDVSendsARequest: an RDV cancelled, then set back to
// "unknown" by an agent, is told to its usager (email and SMS) and its
// agents as a new REQUEST with a higher SEQUENCE, so the calendars that
// received the CANCEL show the RDV again.
func TestReopenedRDVSendsARequest(t *testing.T) {
	smtpd := newSMTPServer(t)
	h := newHarness(t, setup{smtpPort: smtpd.port()}, tuesday)
	b := h.bookExterne(t, thursday9, lea)
	h.settled(t)
	camille := h.cat.Load().Agent("camille-martin")
	ctx := context.Background()
	if _, err := h.booking.Cancel(ctx, booking.Caller{Agent: camille}, b.RDV.ID, "indisponible"); err != nil {
		t.Fatal(err)
	}
	h.settled(t)
	if _, err := h.booking.SetStatus(ctx, camille, b.RDV.ID, rdv.StatusUnknown); err != nil {
		t.Fatal(err)
	}
	h.settled(t)
	when := "jeudi 3 décembre 2026 à 9 h 00"
	es := emailsTo(t, smtpd, lea.email)
	if len(es) != 3 {
		t.Fatalf("usager: %d emails, want 3 (created, cancelled, reopened)", len(es))
	}
	checkICS(t, "usager cancellation", es[1], b.RDV.ID, "CANCEL", 2, thursday9)
	u := es[2]
	if u.subject != "Votre rendez-vous du "+when+" est maintenu" {
		t.Errorf("usager subject %q", u.subject)
	}
	contains(t, "reopened", u.text, when, "MDS Arras Centre", b.RDV.UsagerToken)
	checkICS(t, "usager reopened", u, b.RDV.ID, "REQUEST", 3, thursday9)
	as := emailsTo(t, smtpd, "camille.martin@example.org") // level "all": her own changes too
	if len(as) != 3 {
		t.Fatalf("agent: %d emails, want 3", len(as))
	}
	contains(t, "agent reopened", as[2].subject, "RDV rétabli le "+when)
	contains(t, "agent reopened", as[2].text, "rétabli par Camille Martin")
	checkICS(t, "agent reopened", as[2], b.RDV.ID, "REQUEST", 3, thursday9)
	var got []string
	for _, r := range h.receipts(t, b.RDV.ID) {
		if r.Event == "reopened" {
			got = append(got, r.Recipient+"/"+r.Channel)
		}
	}
	slices.Sort(got)
	if want := []string{"agent/email", "usager/email", "usager/sms"}; !slices.Equal(got, want) {
		t.Errorf("receipts of the reopening: %v, want %v (not the prescripteur)", got, want)
	}
	h.checkLogs(t)
}
