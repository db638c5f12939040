package webhook

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/rdv"
)

func exampleCatalog(t testing.TB) *catalog.Catalog {
	t.Helper()
	f, err := config.Load("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Build(f)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// A form builder's payload: answers in an array, found by their key.
const answers = `{
  "eventId": "evt_1", "data": {
    "fields": [
      {"key": "q_prenom", "label": "Prénom", "value": " Léa "},
      {"key": "q_nom", "label": "Nom", "value": "Dubois"},
      {"key": "q_tel", "label": "Téléphone", "value": 612345678},
      {"key": "q_date", "label": "Date", "value": "03/12/2026"},
      {"key": "q_heure", "label": "Heure", "value": "09h45"},
      {"key": "q_besoins", "label": "Besoins", "value": ["CAF", "impots.gouv"]},
      {"key": "q_adresse", "label": "Adresse", "value": {"rue": "3 rue Ronville"}},
      {"field": {"ref": "email_pro"}, "text": "jean.petit@mediatheque.example.org"}
    ],
    "a/b": {"~c": "échappé"}
  }
}`

func TestMappingApply(t *testing.T) {
	cat := exampleCatalog(t)
	m, err := CompileMapping(map[string]string{
		"motif_id":               "=rsa-orientation",
		"lieu_id":                "=mds-arras-centre",
		"starts_at.date":         "/data/fields/key=q_date/value",
		"starts_at.time":         "/data/fields/label=Heure/value",
		"usager.first_name":      "/data/fields/0/value",
		"usager.last_name":       "/data/fields/key=q_nom/value",
		"usager.phone_number":    "/data/fields/key=q_tel/value",
		"usager.email":           "/data/fields/key=absent/value",
		"context":                "/data/fields/key=q_besoins/value",
		"prescripteur.email":     "/data/fields/field.ref=email_pro/text",
		"prescripteur.last_name": "/data/a~1b/~0c",
	})
	if err != nil {
		t.Fatal(err)
	}
	req, err := m.Apply(cat, []byte(answers))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(req)
	want := `{"motif_id":"rsa-orientation","lieu_id":"mds-arras-centre","starts_at":"2026-12-03T09:45:00+01:00","agent_id":"",` +
		`"usager":{"first_name":"Léa","last_name":"Dubois","email":"","phone_number":"612345678","address":"","postal_code":"","city_code":"","street_ban_id":"","birth_date":""},` +
		`"usager_id":"","prescripteur":{"first_name":"","last_name":"échappé","email":"jean.petit@mediatheque.example.org","phone_number":""},"context":"CAF, impots.gouv"}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}

	// An object where a text is expected is the sender's mistake: 422.
	m, _ = CompileMapping(map[string]string{"usager.address": "/data/fields/key=q_adresse/value"})
	_, err = m.Apply(cat, []byte(answers))
	var inv *rdv.InvalidError
	if !errors.As(err, &inv) || !strings.Contains(inv.Fields["usager.address"], "/data/fields/key=q_adresse/value") {
		t.Fatalf("object value: %v", err)
	}
	if _, err := m.Apply(cat, []byte(`{"a":`)); !errors.Is(err, ErrMalformedPayload) {
		t.Fatalf("truncated JSON: %v", err)
	}
	for _, bad := range []string{`{} {}`, `{} x`} {
		if _, err := m.Apply(cat, []byte(bad)); !errors.Is(err, ErrMalformedPayload) {
			t.Fatalf("trailing data %q: %v", bad, err)
		}
	}
	if _, err := m.Apply(cat, []byte("{}\n")); err != nil {
		t.Fatalf("a final newline: %v", err)
	}
}

func TestMappingStartsAt(t *testing.T) {
	cat := exampleCatalog(t)
	for _, tt := range []struct {
		in, motif, want string
	}{
		{"2026-12-03T09:00:00+01:00", "rsa-orientation", "2026-12-03T09:00:00+01:00"},
		{"2026-12-03T09:00", "rsa-orientation", "2026-12-03T09:00:00+01:00"},
		{"2026-07-02 09:00", "rsa-orientation", "2026-07-02T09:00:00+02:00"}, // summer time
		{"2026-12-03T09:00", "inconnu", "2026-12-03T09:00"},                  // booking says motif inconnu
	} {
		m, _ := CompileMapping(map[string]string{"motif_id": "=" + tt.motif, "starts_at": "/s"})
		req, err := m.Apply(cat, []byte(`{"s":"`+tt.in+`"}`))
		if err != nil || req.StartsAt != tt.want {
			t.Errorf("%s: starts_at %q, %v; want %q", tt.in, req.StartsAt, err, tt.want)
		}
	}
	m, _ := CompileMapping(map[string]string{"motif_id": "=rsa-orientation", "starts_at.date": "/d", "starts_at.time": "/h"})
	_, err := m.Apply(cat, []byte(`{"d":"2026-12-03"}`))
	var inv *rdv.InvalidError
	if !errors.As(err, &inv) || inv.Fields["starts_at.time"] == "" {
		t.Fatalf("date without time: %v", err)
	}
}

// TestEveryTargetIsABookingField: each field check-config accepts reaches
// the booking request.
func TestEveryTargetIsABookingField(t *testing.T) {
	cat := exampleCatalog(t)
	for _, target := range config.MappingTargets {
		if strings.HasPrefix(target, "starts_at.") || target == "not_before" {
			continue // TestMappingStartsAt, TestMappingFirstAvailable
		}
		m, err := CompileMapping(map[string]string{target: "=X-" + target})
		if err != nil {
			t.Fatal(err)
		}
		req, err := m.Apply(cat, []byte(`{}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(req)
		if !strings.Contains(string(b), `"X-`+target+`"`) {
			t.Errorf("%s does not reach the booking body: %s", target, b)
		}
	}
	if _, err := CompileMapping(map[string]string{"usager.nom": "/x"}); err == nil {
		t.Error("unknown target accepted")
	}
}

// TestMappingFirstAvailable: starts_at "=first_available" asks for the
// first free slot, from a not_before answer read in the motif's zone;
// Typeform's answers are picked by their nested field.ref.
func TestMappingFirstAvailable(t *testing.T) {
	cat := exampleCatalog(t)
	m, err := CompileMapping(map[string]string{"motif_id": "=rsa-orientation", "starts_at": "=first_available",
		"not_before":        "/form_response/answers/field.ref=a_partir_du/date",
		"usager.first_name": "/form_response/answers/field.ref=usager_prenom/text"})
	if err != nil {
		t.Fatal(err)
	}
	payload := `{"form_response": {"answers": [
		{"type": "text", "text": "Léa", "field": {"id": "a1", "type": "short_text", "ref": "usager_prenom"}},
		{"type": "date", "date": "2026-12-07", "field": {"id": "a2", "type": "date", "ref": "a_partir_du"}}]}}`
	sub, err := m.Submission(cat, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	paris, _ := time.LoadLocation("Europe/Paris")
	if !sub.FirstAvailable || sub.Request.StartsAt != "" || !sub.NotBefore.Equal(time.Date(2026, 12, 7, 0, 0, 0, 0, paris)) ||
		sub.Request.Usager == nil || sub.Request.Usager.FirstName != "Léa" {
		t.Fatalf("submission %+v", sub)
	}
	sub, err = m.Submission(cat, []byte(`{"form_response": {"answers": [{"type": "date", "date": "le 7", "field": {"ref": "a_partir_du"}}]}}`))
	var inv *rdv.InvalidError
	if !errors.As(err, &inv) || inv.Fields["not_before"] == "" {
		t.Fatalf("a date that is not one: %+v, %v", sub, err)
	}
	sub, err = m.Submission(cat, []byte(`{"form_response": {"answers": []}}`))
	if err != nil || !sub.FirstAvailable || !sub.NotBefore.IsZero() {
		t.Fatalf("no not_before answer: %+v, %v", sub, err)
	}
}
