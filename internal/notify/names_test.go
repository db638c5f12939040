package notify_test

import (
	"context"
	"testing"
	"time"

	"rdvsync/internal/booking"
)

// TestNamesWithQuotesAreMailed: a display name holding a double quote or a
// backslash is quoted by the address formatter, not pasted between
// quotes (which the parser then refused: "mail: no angle-addr", and the
// message was dead-lettered).
func TestNamesWithQuotesAreMailed(t *testing.T) {
	smtpd := newSMTPServer(t)
	h := newHarness(t, setup{smtpPort: smtpd.port()}, tuesday)
	usager := person{"Léa", `O"Brien`, "lea.obrien@example.net", "06 12 34 56 78"}
	b, err := h.booking.Book(context.Background(), booking.Caller{}, booking.BookRequest{
		MotifID: "rsa-orientation", LieuID: "mds-arras-centre", StartsAt: thursday9.Format(time.RFC3339), AgentID: "camille-martin",
		Usager:       &booking.UsagerInput{FirstName: usager.first, LastName: usager.last, Email: usager.email, PhoneNumber: usager.phone},
		Prescripteur: &booking.PrescripteurInput{FirstName: `Jean "JJ"`, LastName: `Petit\Durand`, Email: jean.email},
		Context:      "Première ligne\r\nSeconde",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.settled(t)
	for _, r := range h.receipts(t, b.RDV.ID) {
		if r.Result != "ok" {
			t.Errorf("receipt %s/%s: %s %s", r.Recipient, r.Channel, r.Result, r.Error)
		}
	}
	u := one(t, "usager", emailsTo(t, smtpd, usager.email))
	if len(u.to) != 1 || u.to[0].Name != `Léa O"Brien` || u.to[0].Address != usager.email {
		t.Errorf("usager To: %+v", u.to)
	}
	p := one(t, "prescripteur", emailsTo(t, smtpd, jean.email))
	if len(p.to) != 1 || p.to[0].Name != `Jean "JJ" Petit\Durand` {
		t.Errorf("prescripteur To: %+v", p.to)
	}
	checkICS(t, "usager", u, b.RDV.ID, "REQUEST", 1, thursday9)
}
