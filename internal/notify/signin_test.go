package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"
)

// An agent's sign-in link goes out at once through the SMTP server, and
// an SMTP outage is an error the pages log, with nothing personal in it.
func TestSignInLinkBySMTP(t *testing.T) {
	smtpd := newSMTPServer(t)
	h := newHarness(t, setup{smtpPort: smtpd.port()}, tuesday)
	a := h.cat.Load().Agent("camille-martin")
	link := "http://127.0.0.1:8080/agents/connexion/lien?jeton=AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_AbCd"
	if err := h.notify.SendSignInLink(context.Background(), a, link, tuesday.Add(15*time.Minute)); err != nil {
		t.Fatal(err)
	}
	es := emailsTo(t, smtpd, "camille.martin@example.org")
	if len(es) != 1 {
		t.Fatalf("%d emails to Camille", len(es))
	}
	e := es[0]
	if e.subject != "Votre lien de connexion à RDV Solidarités" || !strings.HasPrefix(e.messageID, "<signin.") {
		t.Errorf("subject %q, Message-ID %q", e.subject, e.messageID)
	}
	contains(t, "text", e.text, "Bonjour Camille Martin,", link, "valable jusqu'à 10h15 et ne sert qu'une fois")
	contains(t, "html", e.html, `href="`+link+`"`, "Me connecter")
	if len(e.attachments) != 0 || e.ics != nil {
		t.Error("a sign-in email carries no calendar")
	}

	smtpd.stop()
	err := h.notify.SendSignInLink(context.Background(), a, link, tuesday.Add(15*time.Minute))
	if err == nil || strings.Contains(err.Error(), "camille") || strings.Contains(err.Error(), "jeton") {
		t.Errorf("SMTP down: %v", err)
	}
}
