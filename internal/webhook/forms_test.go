package webhook_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"rdvsync/internal/outbox"
	"rdvsync/internal/store"
)

// The fixtures in testdata are payloads in each tool's documented shape:
// Tally's FORM_RESPONSE event, Typeform's form_response event, and the
// answers of Démarches Simplifiées' GraphQL API (API v2) to the dossier
// query. They are signed here as each tool signs them.

const (
	tallySecret    = "tally-signing-secret-b3f1c9"
	typeformSecret = "typeform-secret-4d7e2a"
	dsToken        = "ds-api-token-9407"
	// thursday9 is the first slot of rsa-orientation from now (see now).
	thursday9 = "2026-12-03T09:00:00+01:00"
)

// formsYAML configures one source per tool, booking rsa-orientation at
// the first available slot. dsURL is the fake DS API.
func formsYAML(dsURL string) string {
	return `  incoming:
    - id: tally-mediatheque
      signature: tally
      secret_file: tally.secret
      mapping:
        motif_id: "=rsa-orientation"
        lieu_id: "=mds-arras-centre"
        starts_at: "=first_available"
        usager.first_name: /data/fields/key=question_mVGEg3/value
        usager.last_name: /data/fields/key=question_nPL1xd/value
        usager.phone_number: /data/fields/key=question_w4GxLY/value
        usager.postal_code: /data/fields/key=question_3jxKdA/value
        prescripteur.first_name: /data/fields/key=question_nWl2KX/value
        prescripteur.last_name: /data/fields/key=question_mJ8kQo/value
        prescripteur.email: /data/fields/key=question_wA9xZp/value
        context: /data/fields/key=question_3xB7Qe/value
    - id: typeform-ccas
      signature: typeform
      secret_file: typeform.secret
      mapping:
        motif_id: "=rsa-orientation"
        lieu_id: "=mds-arras-centre"
        starts_at: "=first_available"
        not_before: /form_response/answers/field.ref=a_partir_du/date
        usager.first_name: /form_response/answers/field.ref=usager_prenom/text
        usager.last_name: /form_response/answers/field.ref=usager_nom/text
        usager.email: /form_response/answers/field.ref=usager_email/email
        usager.postal_code: /form_response/answers/field.ref=usager_code_postal/text
        prescripteur.first_name: /form_response/answers/field.ref=prescripteur_prenom/text
        prescripteur.last_name: /form_response/answers/field.ref=prescripteur_nom/text
        prescripteur.email: /form_response/answers/field.ref=prescripteur_email/email
    - id: ds-ccas
      signature: demarches-simplifiees
      demarches_simplifiees:
        procedure: 9407
        state: en_construction
        api_url: "` + dsURL + `"
        api_token_file: ds.token
        allow_private: true
      mapping:
        motif_id: "=rsa-orientation"
        lieu_id: "=mds-arras-centre"
        starts_at: "=first_available"
        usager.first_name: "/champs/label=Prénom de l'usager/stringValue"
        usager.last_name: "/champs/label=Nom de l'usager/stringValue"
        usager.phone_number: "/champs/label=Téléphone de l'usager/stringValue"
        usager.postal_code: "/champs/label=Code postal de l'usager/stringValue"
        prescripteur.first_name: "/champs/label=Prénom du prescripteur/stringValue"
        prescripteur.last_name: "/champs/label=Nom du prescripteur/stringValue"
        prescripteur.email: /usager/email
  outgoing: []
`
}

var formSecrets = map[string]string{"tally.secret": tallySecret + "\n", "typeform.secret": typeformSecret + "\n", "ds.token": dsToken + "\n"}

// fakeDS is Démarches Simplifiées' GraphQL endpoint: it checks the token
// and the query it gets, and answers the dossiers of testdata by number.
type fakeDS struct {
	t        *testing.T
	mu       sync.Mutex
	requests int
}

func (f *fakeDS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.requests++
	f.mu.Unlock()
	if r.Method != http.MethodPost || r.Header.Get("Authorization") != "Bearer "+dsToken {
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"errors":[{"message":"Without a token, only persisted queries are allowed"}]}`)
		return
	}
	var q struct {
		Query     string         `json:"query"`
		Variables map[string]int `json:"variables"`
	}
	if err := json.NewDecoder(r.Body).Decode(&q); err != nil || !strings.Contains(q.Query, "dossier(number: $dossierNumber)") ||
		!strings.Contains(q.Query, "champs") {
		f.t.Errorf("fake DS: unexpected request %+v, %v", q, err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	file := fmt.Sprintf("testdata/ds-dossier-%d.json", q.Variables["dossierNumber"])
	if _, err := os.Stat(file); err != nil {
		file = "testdata/ds-dossier-not-found.json"
	}
	b, err := os.ReadFile(file)
	if err != nil {
		f.t.Error(err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (f *fakeDS) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.requests
}

// formsHarness serves the three sources, with edits to the example
// configuration.
func formsHarness(t *testing.T, edits ...func(string) string) (*harness, *fakeDS) {
	t.Helper()
	ds := &fakeDS{t: t}
	srv := httptest.NewServer(ds)
	t.Cleanup(srv.Close)
	cat := withWebhooks(t, formsYAML(srv.URL), formSecrets, edits...)
	return newHarness(t, cat, outbox.Policy{}), ds
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tallySigned is the header Tally sends: Tally-Signature, the base64
// HMAC-SHA256 of the raw body with the signing secret.
func tallySigned(secret string, body []byte) http.Header {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return http.Header{"Content-Type": {"application/json"}, "Tally-Signature": {base64.StdEncoding.EncodeToString(m.Sum(nil))}}
}

// typeformSigned is the header Typeform sends: Typeform-Signature,
// "sha256=" and the base64 HMAC-SHA256 of the raw body.
func typeformSigned(secret string, body []byte) http.Header {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return http.Header{"Content-Type": {"application/json"}, "Typeform-Signature": {"sha256=" + base64.StdEncoding.EncodeToString(m.Sum(nil))}}
}

// dsCallback is Démarches Simplifiées' callback: form-urlencoded, unsigned.
func (h *harness) dsCallback(t *testing.T, procedure, dossier int, state string) response {
	t.Helper()
	form := url.Values{"procedure_id": {fmt.Sprint(procedure)}, "dossier_id": {fmt.Sprint(dossier)}, "state": {state},
		"updated_at": {"2026-12-01 08:58:00 UTC"}}
	return h.do(t, "POST", "/webhooks/prescriptions/ds-ccas",
		http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, []byte(form.Encode()))
}

// spooledEmail is one email written to the spool.
type spooledEmail struct {
	to, subject, text string
}

// spooled reads the emails of the spool, after the outbox settled.
func (h *harness) spooled(t *testing.T) []spooledEmail {
	t.Helper()
	h.settled(t)
	files, _ := filepath.Glob(filepath.Join(h.cat.Config.MailSpoolDir(), "*.eml"))
	var out []spooledEmail
	dec := new(mime.WordDecoder)
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		m, err := mail.ReadMessage(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		subject, _ := dec.DecodeHeader(m.Header.Get("Subject"))
		to, _ := mail.ParseAddress(m.Header.Get("To"))
		e := spooledEmail{subject: subject, text: plainText(t, m)}
		if to != nil {
			e.to = to.Address
		}
		out = append(out, e)
	}
	return out
}

// plainText is the text/plain part of a message.
func plainText(t *testing.T, m *mail.Message) string {
	t.Helper()
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("content type %q: %v", m.Header.Get("Content-Type"), err)
	}
	r := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := r.NextRawPart()
		if err != nil {
			return ""
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			var body io.Reader = p
			if p.Header.Get("Content-Transfer-Encoding") == "quoted-printable" {
				body = quotedprintable.NewReader(p)
			}
			b, _ := io.ReadAll(body)
			return string(b)
		}
	}
}

func withSubject(emails []spooledEmail, prefix string) []spooledEmail {
	var out []spooledEmail
	for _, e := range emails {
		if strings.HasPrefix(e.subject, prefix) {
			out = append(out, e)
		}
	}
	return out
}

// TestTallyBooksFirstAvailable: a Tally submission signed as Tally signs
// it books the first free slot; the prescripteur gets the confirmation the
// pages send; Tally's retry of the same eventId books nothing more.
func TestTallyBooksFirstAvailable(t *testing.T) {
	h, _ := formsHarness(t)
	body := fixture(t, "tally-form-response.json")
	const path = "/webhooks/prescriptions/tally-mediatheque"
	resp := h.do(t, "POST", path, tallySigned(tallySecret, body), body)
	if resp.status != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
	var got rdvJSON
	resp.json(t, &got)
	if got.StartsAt != thursday9 || got.CreatedBy.Type != "prescripteur" || got.Usager.FirstName != "Léa" {
		t.Fatalf("booked %s", resp.body)
	}
	again := h.do(t, "POST", path, tallySigned(tallySecret, body), body)
	var second rdvJSON
	again.json(t, &second)
	if again.status != http.StatusCreated || second.ID != got.ID || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the same eventId again: %d %s", again.status, again.body)
	}
	if rdvs, _ := h.counts(t); rdvs != 1 {
		t.Fatalf("%d RDVs for one eventId", rdvs)
	}
	confirm := withSubject(h.spooled(t), "Rendez-vous confirmé pour Léa Dubois le jeudi 3 décembre 2026 à 9 h 00")
	if len(confirm) != 1 || confirm[0].to != "jean.petit@mediatheque.example.org" {
		t.Fatalf("prescripteur confirmations: %+v", confirm)
	}
}

// TestTypeformNotBefore: Typeform's nested field.ref picks the answers, and
// "pas de rendez-vous avant le 7 décembre" books the first slot from then.
func TestTypeformNotBefore(t *testing.T) {
	h, _ := formsHarness(t)
	body := fixture(t, "typeform-form-response.json")
	resp := h.do(t, "POST", "/webhooks/prescriptions/typeform-ccas", typeformSigned(typeformSecret, body), body)
	var got rdvJSON
	resp.json(t, &got)
	if resp.status != http.StatusCreated || got.StartsAt != "2026-12-07T09:00:00+01:00" || got.Usager.LastName != "Dubois" {
		t.Fatalf("status %d: %s", resp.status, resp.body)
	}
}

// TestNativeSignaturesRefused: for both form builders, a wrong secret, a
// tampered body, a missing header or a stale submission is a 401 that
// leaves nothing behind.
func TestNativeSignaturesRefused(t *testing.T) {
	h, _ := formsHarness(t)
	tally := fixture(t, "tally-form-response.json")
	typeform := fixture(t, "typeform-form-response.json")
	tamper := func(b []byte) []byte { return bytes.Replace(b, []byte("Dubois"), []byte("Durand"), 1) }
	stale := func(b []byte, from, to string) []byte { return bytes.ReplaceAll(b, []byte(from), []byte(to)) }
	staleTally := stale(tally, "2026-12-01T09:00:00.000Z", "2026-12-01T08:54:00.000Z")
	staleTypeform := stale(typeform, "2026-12-01T09:00:00Z", "2026-12-01T08:54:00Z")
	tests := []struct {
		name, source string
		header       http.Header
		body         []byte
		code         string
	}{
		{"tally wrong secret", "tally-mediatheque", tallySigned("not-the-secret", tally), tally, "invalid_signature"},
		{"tally tampered body", "tally-mediatheque", tallySigned(tallySecret, tally), tamper(tally), "invalid_signature"},
		{"tally no header", "tally-mediatheque", http.Header{"Content-Type": {"application/json"}}, tally, "invalid_signature"},
		{"tally Typeform's header", "tally-mediatheque", typeformSigned(tallySecret, tally), tally, "invalid_signature"},
		{"tally stale createdAt", "tally-mediatheque", tallySigned(tallySecret, staleTally), staleTally, "invalid_timestamp"},
		{"typeform wrong secret", "typeform-ccas", typeformSigned("not-the-secret", typeform), typeform, "invalid_signature"},
		{"typeform tampered body", "typeform-ccas", typeformSigned(typeformSecret, typeform), tamper(typeform), "invalid_signature"},
		{"typeform no header", "typeform-ccas", http.Header{"Content-Type": {"application/json"}}, typeform, "invalid_signature"},
		{"typeform without sha256=", "typeform-ccas", tallySigned(typeformSecret, typeform), typeform, "invalid_signature"},
		{"typeform stale submitted_at", "typeform-ccas", typeformSigned(typeformSecret, staleTypeform), staleTypeform, "invalid_timestamp"},
	}
	for _, tt := range tests {
		resp := h.do(t, "POST", "/webhooks/prescriptions/"+tt.source, tt.header, tt.body)
		if resp.status != http.StatusUnauthorized || resp.errorCode(t) != tt.code {
			t.Errorf("%s: %d %s", tt.name, resp.status, resp.body)
		}
	}
	if rdvs, usagers := h.counts(t); rdvs != 0 || usagers != 0 {
		t.Fatalf("refused messages stored %d RDVs, %d usagers", rdvs, usagers)
	}
	if emails := h.spooled(t); len(emails) != 0 {
		t.Fatalf("refused signatures sent %d emails", len(emails))
	}
}

// TestDSCallback: the callback is only a hint; what books is the dossier
// as DS's API shows it.
func TestDSCallback(t *testing.T) {
	h, ds := formsHarness(t)
	if resp := h.dsCallback(t, 9999, 204179, "en_construction"); resp.status != http.StatusNotFound {
		t.Errorf("unknown procedure: %d %s", resp.status, resp.body)
	}
	// The callback says en_construction, the API says en_instruction.
	if resp := h.dsCallback(t, 9407, 204180, "en_construction"); resp.status != http.StatusConflict || resp.errorCode(t) != "dossier_not_confirmed" {
		t.Errorf("a dossier in another state: %d %s", resp.status, resp.body)
	}
	if resp := h.dsCallback(t, 9407, 1, "en_construction"); resp.status != http.StatusNotFound {
		t.Errorf("a dossier the API does not know: %d %s", resp.status, resp.body)
	}
	if resp := h.dsCallback(t, 9407, 204179, "en_instruction"); resp.status != http.StatusOK {
		t.Errorf("a change to a state that does not book: %d %s", resp.status, resp.body)
	}
	if rdvs, _ := h.counts(t); rdvs != 0 {
		t.Fatalf("%d RDVs booked from unconfirmed callbacks", rdvs)
	}
	if n := ds.count(); n != 2 {
		t.Errorf("the API was asked %d times, want 2 (only for the configured procedure and state)", n)
	}

	resp := h.dsCallback(t, 9407, 204179, "en_construction")
	var got rdvJSON
	resp.json(t, &got)
	if resp.status != http.StatusCreated || got.StartsAt != thursday9 || got.Usager.FirstName != "Léa" {
		t.Fatalf("confirmed dossier: %d %s", resp.status, resp.body)
	}
	again := h.dsCallback(t, 9407, 204179, "en_construction")
	if again.status != http.StatusCreated || again.header.Get("Idempotent-Replayed") != "true" {
		t.Fatalf("the same dossier again: %d %s", again.status, again.body)
	}
	if rdvs, _ := h.counts(t); rdvs != 1 {
		t.Fatalf("%d RDVs for one dossier", rdvs)
	}
	confirm := withSubject(h.spooled(t), "Rendez-vous confirmé pour Léa Dubois")
	if len(confirm) != 1 || confirm[0].to != "jean.petit@ccas-lens.example.org" {
		t.Fatalf("prescripteur confirmations: %+v", confirm)
	}
}

// TestDSGuard: the API's address is checked like an outgoing webhook's:
// a loopback address needs allow_private.
func TestDSGuard(t *testing.T) {
	h, ds := formsHarness(t, func(y string) string { return strings.Replace(y, "        allow_private: true\n", "", 1) })
	resp := h.dsCallback(t, 9407, 204179, "en_construction")
	if resp.status != http.StatusBadGateway || ds.count() != 0 {
		t.Fatalf("loopback API without allow_private: %d %s, %d requests", resp.status, resp.body, ds.count())
	}
}

// TestDSTokenRefused: a token the API refuses books nothing and says the
// dossier could not be read (the log says why).
func TestDSTokenRefused(t *testing.T) {
	h, ds := formsHarness(t, func(y string) string {
		return strings.Replace(y, "api_token_file: ds.token", "api_token_file: tally.secret", 1)
	})
	resp := h.dsCallback(t, 9407, 204179, "en_construction")
	if resp.status != http.StatusBadGateway || resp.errorCode(t) != "upstream_unavailable" || ds.count() != 1 {
		t.Fatalf("refused token: %d %s", resp.status, resp.body)
	}
	if rdvs, _ := h.counts(t); rdvs != 0 {
		t.Fatalf("%d RDVs", rdvs)
	}
}

// TestRefusalWithoutEmail: with no valid prescripteur email there is no one
// to tell; the refusal is not recorded, so a corrected retry can book.
func TestRefusalWithoutEmail(t *testing.T) {
	h, _ := formsHarness(t)
	body := bytes.Replace(fixture(t, "tally-form-response.json"), []byte(`"jean.petit@mediatheque.example.org"`), []byte(`"jean.petit"`), 1)
	for range 2 {
		resp := h.do(t, "POST", "/webhooks/prescriptions/tally-mediatheque", tallySigned(tallySecret, body), body)
		if resp.status != http.StatusUnprocessableEntity || resp.header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("invalid prescripteur email: %d %s %v", resp.status, resp.body, resp.header)
		}
	}
	if emails := h.spooled(t); len(emails) != 0 {
		t.Fatalf("%d emails sent", len(emails))
	}
}

// TestRefusalTellsPrescripteur: an invalid submission is a 422 and an
// email to the prescripteur saying what to correct; Tally's retries of it
// get the same answer and send no second email.
func TestRefusalTellsPrescripteur(t *testing.T) {
	h, _ := formsHarness(t)
	body := bytes.Replace(fixture(t, "tally-form-response.json"), []byte(`"+33612345678"`), []byte(`"12"`), 1)
	const path = "/webhooks/prescriptions/tally-mediatheque"
	first := h.do(t, "POST", path, tallySigned(tallySecret, body), body)
	if first.status != http.StatusUnprocessableEntity || first.errorCode(t) != "invalid_fields" {
		t.Fatalf("invalid phone: %d %s", first.status, first.body)
	}
	again := h.do(t, "POST", path, tallySigned(tallySecret, body), body)
	if again.status != first.status || !bytes.Equal(again.body, first.body) {
		t.Fatalf("retry: %d %s, want the first answer %s", again.status, again.body, first.body)
	}
	refusals := withSubject(h.spooled(t), "Demande de rendez-vous non enregistrée pour Léa Dubois")
	if len(refusals) != 1 {
		t.Fatalf("%d refusal emails, want 1", len(refusals))
	}
	e := refusals[0]
	if e.to != "jean.petit@mediatheque.example.org" || !strings.Contains(e.text, "Téléphone de l'usager : numéro de téléphone invalide") ||
		!strings.Contains(e.text, "Orientation RSA") {
		t.Fatalf("refusal email to %s:\n%s", e.to, e.text)
	}
	if rdvs, usagers := h.counts(t); rdvs != 0 || usagers != 0 {
		t.Fatalf("%d RDVs, %d usagers after a refusal", rdvs, usagers)
	}
	h.receiptsOK(t, 1)
}

// receiptsOK checks that n refusal emails left an "ok" receipt.
func (h *harness) receiptsOK(t *testing.T, n int) {
	t.Helper()
	ok := 0
	h.store.View(context.Background(), func(tx *store.ReadTx) error {
		return tx.EachReceipt(func(r store.Receipt) error {
			if r.Event == "refused" && r.Recipient == "prescripteur" && r.Result == "ok" {
				ok++
			}
			return nil
		})
	})
	if ok != n {
		t.Fatalf("%d refusal receipts, want %d", ok, n)
	}
}

// TestFirstAvailableConcurrent: 20 submissions at once for a motif with 5
// free slots book exactly 5 RDVs, on 5 distinct slots; the 15 others get a
// clear 409 and their prescripteurs an email each.
func TestFirstAvailableConcurrent(t *testing.T) {
	h, _ := formsHarness(t, func(y string) string {
		y = strings.Replace(y, "\nmotifs:\n", `
motifs:
  - id: atelier-cv
    organisation: mds-arras
    service: social
    name: "Atelier CV"
    duration: 30m
    location_type: public_office
    bookable_by: agents_and_prescripteurs
`, 1)
		y = strings.Replace(y, "\nplages_ouverture:\n", `
plages_ouverture:
  - id: po-atelier-cv
    agent: camille-martin
    lieu: mds-arras-centre
    motifs: [atelier-cv]
    first_day: 2026-12-03
    start_time: "14:00"
    end_time: "16:30"
`, 1)
		return strings.Replace(y, `motif_id: "=rsa-orientation"`, `motif_id: "=atelier-cv"`, 1)
	})
	base := fixture(t, "tally-form-response.json")
	const n = 20
	type result struct {
		status int
		code   string
		start  string
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		body := bytes.Replace(base, []byte("a4cb511e-d513-4fa5-baee-b815d718dfd1"), fmt.Appendf(nil, "event-%02d", i), 1)
		body = bytes.Replace(body, []byte("jean.petit@mediatheque"), fmt.Appendf(nil, "prescripteur-%02d@mediatheque", i), 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp := h.do(t, "POST", "/webhooks/prescriptions/tally-mediatheque", tallySigned(tallySecret, body), body)
			var r struct {
				StartsAt string `json:"starts_at"`
				Error    struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			json.Unmarshal(resp.body, &r)
			results[i] = result{resp.status, r.Error.Code, r.StartsAt}
		}()
	}
	wg.Wait()
	starts := map[string]bool{}
	refused := 0
	for i, r := range results {
		switch {
		case r.status == http.StatusCreated:
			starts[r.start] = true
		case r.status == http.StatusConflict && r.code == "no_slot_available":
			refused++
		default:
			t.Errorf("submission %d: %+v", i, r)
		}
	}
	want := map[string]bool{}
	for _, s := range []string{"14:00", "14:30", "15:00", "15:30", "16:00"} {
		want["2026-12-03T"+s+":00+01:00"] = true
	}
	if fmt.Sprint(starts) != fmt.Sprint(want) || refused != 15 {
		t.Fatalf("booked %v, %d refused; want the 5 slots and 15 refusals", starts, refused)
	}
	if rdvs, _ := h.counts(t); rdvs != 5 {
		t.Fatalf("%d RDVs stored", rdvs)
	}
	refusals := withSubject(h.spooled(t), "Demande de rendez-vous non enregistrée")
	to := map[string]bool{}
	for _, e := range refusals {
		to[e.to] = true
		if !strings.Contains(e.text, "Aucun créneau n'est libre pour ce motif dans les 90 jours à venir") {
			t.Errorf("refusal email:\n%s", e.text)
		}
	}
	if len(refusals) != 15 || len(to) != 15 {
		t.Fatalf("%d refusal emails to %d prescripteurs, want 15 to 15", len(refusals), len(to))
	}
	h.receiptsOK(t, 15)
}
