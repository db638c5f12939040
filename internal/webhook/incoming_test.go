package webhook_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/outbox"
	"rdvsync/internal/store"
)

const formPath = "/webhooks/prescriptions/formulaire-mediatheque"

func bookingBody(start, usagerFirstName string) []byte {
	return []byte(`{
  "motif_id": "rsa-orientation", "lieu_id": "mds-arras-centre", "starts_at": "` + start + `",
  "usager": {"first_name": "` + usagerFirstName + `", "last_name": "Dubois", "phone_number": "06 12 34 56 78", "postal_code": "62000"},
  "prescripteur": {"first_name": "Jean", "last_name": "Petit", "email": "jean.petit@mediatheque.example.org", "phone_number": "03 21 00 00 20"},
  "context": "Première demande de RSA."
}`)
}

// incomingHarness serves one plain source whose secret file holds
// secrets (several: a rotation).
func incomingHarness(t *testing.T, secrets string) *harness {
	t.Helper()
	cat := withWebhooks(t, "  incoming:\n    - { id: formulaire-mediatheque, secret_file: form.secret }\n  outgoing: []\n",
		map[string]string{"form.secret": secrets})
	return newHarness(t, cat, outbox.Policy{})
}

type rdvJSON struct {
	ID        string `json:"id"`
	Status    string `json:"status"`
	StartsAt  string `json:"starts_at"`
	CreatedBy struct {
		Type  string `json:"type"`
		Email string `json:"email"`
	} `json:"created_by"`
	Usager struct {
		FirstName string `json:"first_name"`
		LastName  string `json:"last_name"`
		Phone     string `json:"phone_number"`
	} `json:"usager"`
}

func TestIncomingBooksOnceAndReplays(t *testing.T) {
	secret, key := newSecret()
	h := incomingHarness(t, secret+"\n")
	body := bookingBody("2026-12-03T09:00:00+01:00", "Léa")

	resp := h.do(t, "POST", formPath, signed("msg_1", h.now(), body, key), body)
	if resp.status != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	var first rdvJSON
	resp.json(t, &first)
	if first.ID == "" || first.StartsAt != "2026-12-03T09:00:00+01:00" || first.CreatedBy.Type != "prescripteur" ||
		first.Usager.FirstName != "Léa" || first.Usager.Phone != "" {
		t.Errorf("the prescripteur's view of the RDV: %s", resp.body)
	}
	b, err := h.booking.Get(context.Background(), booking.Caller{Agent: h.cat.Agent("camille-martin")}, first.ID)
	if err != nil || b.RDV.CreatedBy.Email != "jean.petit@mediatheque.example.org" || b.Usager.PhoneNumber != "+33612345678" {
		t.Fatalf("stored RDV: %+v, %v", b, err)
	}

	// The sender retries (it missed our answer): same RDV, nothing booked twice.
	resp = h.do(t, "POST", formPath, signed("msg_1", h.now().Add(time.Minute), body, key), body)
	var again rdvJSON
	resp.json(t, &again)
	if resp.status != http.StatusCreated || again.ID != first.ID || resp.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("replay: %d %s", resp.status, resp.body)
	}
	if rdvs, _ := h.counts(t); rdvs != 1 {
		t.Fatalf("%d RDVs after a replay", rdvs)
	}

	// The same id for another message is refused.
	other := bookingBody("2026-12-03T09:45:00+01:00", "Léa")
	resp = h.do(t, "POST", formPath, signed("msg_1", h.now(), other, key), other)
	if resp.status != http.StatusUnprocessableEntity || resp.errorCode(t) != "idempotency_key_reused" {
		t.Fatalf("id reused: %d %s", resp.status, resp.body)
	}
	if rdvs, _ := h.counts(t); rdvs != 1 {
		t.Fatalf("%d RDVs after a reused id", rdvs)
	}
}

// TestIncomingRefusesUnsigned: every bad message is a 401 with the JSON
// error body, and leaves nothing behind: no RDV, no usager, and its
// webhook-id is not burnt.
func TestIncomingRefusesUnsigned(t *testing.T) {
	secret, key := newSecret()
	_, wrongKey := newSecret()
	h := incomingHarness(t, secret)
	body := bookingBody("2026-12-03T09:00:00+01:00", "Léa")
	tampered := []byte(strings.Replace(string(body), "09:00:00", "09:45:00", 1))
	without := func(name string) http.Header {
		hd := signed("msg_2", h.now(), body, key)
		hd.Del(name)
		return hd
	}
	tests := []struct {
		name   string
		header http.Header
		body   []byte
		code   string
	}{
		{"tampered body", signed("msg_2", h.now(), body, key), tampered, "invalid_signature"},
		{"wrong secret", signed("msg_2", h.now(), body, wrongKey), body, "invalid_signature"},
		{"stale timestamp", signed("msg_2", h.now().Add(-6*time.Minute), body, key), body, "invalid_timestamp"},
		{"future timestamp", signed("msg_2", h.now().Add(6*time.Minute), body, key), body, "invalid_timestamp"},
		{"no webhook-id", without("webhook-id"), body, "invalid_signature"},
		{"no webhook-timestamp", without("webhook-timestamp"), body, "invalid_signature"},
		{"no webhook-signature", without("webhook-signature"), body, "invalid_signature"},
		{"no headers at all", http.Header{"Content-Type": {"application/json"}}, body, "invalid_signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := h.do(t, "POST", formPath, tt.header, tt.body)
			if resp.status != http.StatusUnauthorized || resp.errorCode(t) != tt.code {
				t.Fatalf("%d %s", resp.status, resp.body)
			}
		})
	}
	if rdvs, usagers := h.counts(t); rdvs != 0 || usagers != 0 {
		t.Fatalf("refused messages stored %d RDVs and %d usagers", rdvs, usagers)
	}
	h.store.View(context.Background(), func(tx *store.ReadTx) error {
		if _, err := tx.Idempotency("webhook:formulaire-mediatheque", "msg_2"); !store.IsNotFound(err) {
			t.Errorf("a refused message left its webhook-id: %v", err)
		}
		return nil
	})
	// The genuine message still goes through afterwards.
	if resp := h.do(t, "POST", formPath, signed("msg_2", h.now(), body, key), body); resp.status != http.StatusCreated {
		t.Fatalf("genuine message after the refusals: %d %s", resp.status, resp.body)
	}
}

func TestIncomingUnknownSource(t *testing.T) {
	secret, key := newSecret()
	h := incomingHarness(t, secret)
	body := bookingBody("2026-12-03T09:00:00+01:00", "Léa")
	resp := h.do(t, "POST", "/webhooks/prescriptions/inconnu", signed("msg_3", h.now(), body, key), body)
	if resp.status != http.StatusNotFound || resp.errorCode(t) != "not_found" {
		t.Fatalf("%d %s", resp.status, resp.body)
	}
}

// TestIncomingSecretRotation: with the new and the old secret in the file,
// senders signing with either (or with both) are accepted.
func TestIncomingSecretRotation(t *testing.T) {
	oldSecret, oldKey := newSecret()
	newSecretText, newKey := newSecret()
	h := incomingHarness(t, newSecretText+"\n"+oldSecret+"\n")
	for i, tt := range []struct {
		start string
		keys  [][]byte
	}{
		{"2026-12-03T09:00:00+01:00", [][]byte{oldKey}},
		{"2026-12-03T09:45:00+01:00", [][]byte{newKey}},
		{"2026-12-03T10:30:00+01:00", [][]byte{newKey, oldKey}},
	} {
		body := bookingBody(tt.start, "Léa")
		resp := h.do(t, "POST", formPath, signed("msg_rot_"+tt.start, h.now(), body, tt.keys...), body)
		if resp.status != http.StatusCreated {
			t.Fatalf("message %d: %d %s", i, resp.status, resp.body)
		}
	}
	if rdvs, _ := h.counts(t); rdvs != 3 {
		t.Fatalf("%d RDVs", rdvs)
	}
}

// TestIncomingAnswersAsTheAPI: a webhook gets the answers POST
// /api/v1/rdvs gives an anonymous prescripteur.
func TestIncomingAnswersAsTheAPI(t *testing.T) {
	secret, key := newSecret()
	h := incomingHarness(t, secret)
	post := func(id string, body []byte) response {
		return h.do(t, "POST", formPath, signed(id, h.now(), body, key), body)
	}
	if resp := post("a", bookingBody("2026-12-03T09:00:00+01:00", "Léa")); resp.status != http.StatusCreated {
		t.Fatalf("%d %s", resp.status, resp.body)
	}
	// thomas-leroy does not work on Thursdays: the slot is taken.
	resp := post("b", bookingBody("2026-12-03T09:00:00+01:00", "Marc"))
	if resp.status != http.StatusConflict || resp.errorCode(t) != "slot_unavailable" {
		t.Errorf("taken slot: %d %s", resp.status, resp.body)
	}
	resp = post("c", bookingBody("2026-12-03T09:10:00+01:00", "Marc"))
	if resp.status != http.StatusUnprocessableEntity || resp.errorCode(t) != "invalid_fields" {
		t.Errorf("not a slot: %d %s", resp.status, resp.body)
	}
	noPrescripteur := []byte(`{"motif_id": "atelier-numerique", "lieu_id": "mediatheque-arras-verlaine", "starts_at": "2026-12-02T10:00:00+01:00",
  "usager": {"first_name": "Marc", "last_name": "Durand", "phone_number": "0612345679"}}`)
	resp = post("d", noPrescripteur)
	if resp.status != http.StatusUnprocessableEntity || !strings.Contains(string(resp.body), `"prescripteur"`) {
		t.Errorf("a form without prescripteur (even for an everyone motif): %d %s", resp.status, resp.body)
	}
	resp = post("e", []byte(`{"motif_id": `))
	if resp.status != http.StatusBadRequest || resp.errorCode(t) != "malformed_json" {
		t.Errorf("bad JSON: %d %s", resp.status, resp.body)
	}
	resp = post("f", []byte(`{"motif": "rsa-orientation"}`))
	if resp.status != http.StatusBadRequest || resp.errorCode(t) != "malformed_json" {
		t.Errorf("unknown field: %d %s", resp.status, resp.body)
	}
	if rdvs, _ := h.counts(t); rdvs != 1 {
		t.Fatalf("%d RDVs", rdvs)
	}
}

// formPayload is what a form builder posts: answers in an array.
const formPayload = `{
  "eventId": "5d1e2b1c-7a4e-4a63-9f1e-3b8f0c2a9d11",
  "eventType": "FORM_RESPONSE",
  "createdAt": "2026-12-01T09:12:03.000Z",
  "data": {
    "formId": "mO8xk2",
    "formName": "Orientation RSA — prescription",
    "fields": [
      {"key": "question_prescripteur_prenom", "label": "Votre prénom", "type": "INPUT_TEXT", "value": "Jean"},
      {"key": "question_prescripteur_nom", "label": "Votre nom", "type": "INPUT_TEXT", "value": "Petit"},
      {"key": "question_prescripteur_email", "label": "Votre email professionnel", "type": "INPUT_EMAIL", "value": "jean.petit@mediatheque.example.org"},
      {"key": "question_usager_prenom", "label": "Prénom de la personne", "type": "INPUT_TEXT", "value": "Léa"},
      {"key": "question_usager_nom", "label": "Nom de la personne", "type": "INPUT_TEXT", "value": "Dubois"},
      {"key": "question_usager_tel", "label": "Son téléphone", "type": "INPUT_PHONE_NUMBER", "value": "+33612345678"},
      {"key": "question_cp", "label": "Code postal", "type": "INPUT_TEXT", "value": "62000"},
      {"key": "question_creneau", "label": "Créneau", "type": "DROPDOWN", "value": "2026-12-03T09:45"},
      {"key": "question_besoins", "label": "Démarches", "type": "CHECKBOXES", "value": ["RSA", "Prime d'activité"]}
    ]
  }
}`

const formMapping = `
        motif_id: "=rsa-orientation"
        lieu_id: "=mds-arras-centre"
        starts_at: /data/fields/key=question_creneau/value
        usager.first_name: /data/fields/key=question_usager_prenom/value
        usager.last_name: /data/fields/key=question_usager_nom/value
        usager.phone_number: /data/fields/key=question_usager_tel/value
        usager.postal_code: /data/fields/key=question_cp/value
        prescripteur.first_name: /data/fields/key=question_prescripteur_prenom/value
        prescripteur.last_name: /data/fields/key=question_prescripteur_nom/value
        prescripteur.email: /data/fields/key=question_prescripteur_email/value
        context: /data/fields/key=question_besoins/value
`

func TestIncomingMappedFormBooks(t *testing.T) {
	secret, key := newSecret()
	cat := withWebhooks(t, "  incoming:\n    - id: formulaire-rsa\n      secret_file: rsa.secret\n      mapping:"+formMapping+"  outgoing: []\n",
		map[string]string{"rsa.secret": secret})
	h := newHarness(t, cat, outbox.Policy{})
	body := []byte(formPayload)
	resp := h.do(t, "POST", "/webhooks/prescriptions/formulaire-rsa", signed("5d1e2b1c", h.now(), body, key), body)
	if resp.status != http.StatusCreated {
		t.Fatalf("%d %s", resp.status, resp.body)
	}
	var got rdvJSON
	resp.json(t, &got)
	b, err := h.booking.Get(context.Background(), booking.Caller{Agent: h.cat.Agent("camille-martin")}, got.ID)
	if err != nil {
		t.Fatal(err)
	}
	r, u := b.RDV, b.Usager
	if r.MotifID != "rsa-orientation" || r.LieuID != "mds-arras-centre" || got.StartsAt != "2026-12-03T09:45:00+01:00" ||
		r.CreatedBy.Type != "prescripteur" || r.CreatedBy.FirstName != "Jean" || r.CreatedBy.Email != "jean.petit@mediatheque.example.org" ||
		u.FirstName != "Léa" || u.LastName != "Dubois" || u.PhoneNumber != "+33612345678" || u.PostalCode != "62000" ||
		r.Context != "RSA, Prime d'activité" {
		t.Fatalf("booked from the form: %+v %+v", r, u)
	}

	// A form sent without the prescripteur's email says which field is missing.
	noEmail := []byte(strings.Replace(formPayload, `"value": "jean.petit@mediatheque.example.org"`, `"value": ""`, 1))
	resp = h.do(t, "POST", "/webhooks/prescriptions/formulaire-rsa", signed("other", h.now(), noEmail, key), noEmail)
	if resp.status != http.StatusUnprocessableEntity || !strings.Contains(string(resp.body), `"prescripteur.email":"obligatoire"`) {
		t.Fatalf("missing answer: %d %s", resp.status, resp.body)
	}
}
