package notify

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/rdv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func exampleCatalog(t *testing.T) *catalog.Catalog {
	t.Helper()
	data, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.Parse(filepath.Join(t.TempDir(), "rdvsync.yaml"), data)
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Build(f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestTemplatesGolden renders every template for a sample RDV and compares
// with testdata/golden (refresh with go test ./internal/notify -run Golden -update).
func TestTemplatesGolden(t *testing.T) {
	cat := exampleCatalog(t)
	tmpl, err := parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)
	prev := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	r := &rdv.RDV{ID: "0f8c2a9e-6c1d-4b8e-9f3a-2d7e5b1c4a60", Status: rdv.StatusUnknown, StartsAt: start, EndsAt: start.Add(45 * time.Minute),
		MotifID: "rsa-orientation", LieuID: "mds-arras-centre", OrganisationID: "mds-arras", AgentIDs: []string{"camille-martin"},
		UsagerID: "u1", UsagerToken: "jeton-usager", Version: 2, Context: "Première orientation.",
		CreatedBy: rdv.CreatedBy{Type: rdv.CreatedByPrescripteur, FirstName: "Jean", LastName: "Petit", Email: "jean.petit@example.org", PhoneNumber: "+33321000099"}}
	u := &rdv.Usager{ID: "u1", FirstName: "Léa", LastName: "Dubois", Email: "lea@example.org", PhoneNumber: "+33612345678", PhoneMobile: true}
	agent := cat.Agent("camille-martin")
	for _, name := range emailTemplates {
		event, recipient, _ := strings.Cut(name, "_")
		if event == EventRefused {
			continue // TestRefusalGolden
		}
		m := &message{Event: event, Recipient: recipient, Version: 2, Start: start, End: start.Add(45 * time.Minute), LieuID: r.LieuID, Status: rdv.StatusUnknown}
		var a *catalog.Agent
		if recipient == RecipientAgent {
			m.AgentID, a = agent.ID, agent
		}
		switch event {
		case EventMoved:
			m.PrevStart = &prev
			m.PrevLieuID = r.LieuID
		case EventCancelled:
			m.Status = rdv.StatusExcused
		case EventReopened:
			m.ByAgentID = "thomas-leroy" // only agents reopen
		}
		out, err := tmpl.renderEmail(newView(cat, r, u, m, a))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.Contains(out.Subject, "\n") || out.Subject == "" {
			t.Errorf("%s: subject %q", name, out.Subject)
		}
		if hasLink, wantLink := strings.Contains(out.Text+out.HTML, "jeton-usager"), recipient == RecipientUsager && event != EventCancelled; hasLink != wantLink {
			t.Errorf("%s: usager link %v, want %v (usager messages only, not once cancelled)", name, hasLink, wantLink)
		}
		golden(t, name+".txt", "Subject: "+out.Subject+"\n\n"+out.Text)
		golden(t, name+".html", out.HTML)
	}
	for _, event := range smsTemplates {
		m := &message{Event: event, Recipient: RecipientUsager, Version: 2, Start: start, End: start.Add(45 * time.Minute), LieuID: r.LieuID, Status: rdv.StatusUnknown}
		text, err := tmpl.renderSMS(newView(cat, r, u, m, nil))
		if err != nil {
			t.Fatalf("sms %s: %v", event, err)
		}
		// The link is long; without it every SMS fits in 160 characters.
		short := strings.Replace(text, "http://127.0.0.1:8080/rdv/"+r.ID+"?token=jeton-usager", "", 1)
		if n := utf8.RuneCountInString(short); n > 160 {
			t.Errorf("sms %s: %d characters without the link: %q", event, n, text)
		}
		golden(t, "sms_"+event+".txt", text+"\n")
	}
}

// TestRefusalGolden renders the email telling a prescripteur its form
// booked nothing: fields to correct, nothing free, the slot taken.
func TestRefusalGolden(t *testing.T) {
	cat := exampleCatalog(t)
	tmpl, err := parseTemplates()
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]refusal{
		"refused_prescripteur_fields": {MotifID: "rsa-orientation", FirstName: "Jean", LastName: "Petit", UsagerName: "Léa Dubois",
			Fields: map[string]string{"usager.phone_number": "numéro de téléphone invalide (exemple : 06 12 34 56 78)", "usager.last_name": "obligatoire"}},
		"refused_prescripteur_noslot": {MotifID: "rsa-orientation", FirstName: "Jean", LastName: "Petit", UsagerName: "Léa Dubois", NoSlot: true},
		"refused_prescripteur_taken":  {MotifID: "rsa-orientation", FirstName: "Jean", LastName: "Petit", UsagerName: "Léa Dubois"},
	} {
		r.ReceivedWhen = "mardi 1er décembre 2026 à 10 h 00"
		m := &message{Event: EventRefused, Recipient: RecipientPrescripteur, Refusal: &r}
		out, err := tmpl.renderEmail(refusalView(cat, m))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		golden(t, name+".txt", "Subject: "+out.Subject+"\n\n"+out.Text)
		golden(t, name+".html", out.HTML)
	}
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs from the golden file (run with -update if intended):\n%s", name, got)
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"550 5.1.1 <lea.dubois@example.net>: Recipient address rejected": "550 5.1.1 <[adresse]>: Recipient address rejected",
		`{"error": "numéro refusé : +33612345678"}`:                      `{"error": "numéro refusé : [numéro]"}`,
		"invalid 06 12 34 56 78":                                         "invalid [numéro]",
		"dial tcp 127.0.0.1:2525: connect: connection refused":           "dial tcp 127.0.0.1:2525: connect: connection refused",
		"421 4.3.2 Service temporairement indisponible":                  "421 4.3.2 Service temporairement indisponible",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%q) = %q, want %q", in, got, want)
		}
	}
}
