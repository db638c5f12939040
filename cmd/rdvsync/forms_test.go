package main

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDaemonTallyForm runs the daemon with a Tally source as the README
// shows it: a submission books the first available slot, an invalid one
// is refused and its prescripteur gets an email saying what to correct.
func TestDaemonTallyForm(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	dir, bin, cfg, conf := daemonSetup(t)
	const empty = "webhooks:\n  incoming: []\n"
	if !bytes.Contains(conf, []byte(empty)) {
		t.Fatal("config.example.yaml has no empty incoming webhooks list")
	}
	conf = bytes.Replace(conf, []byte(empty), []byte(`webhooks:
  incoming:
    - id: tally-mediatheque
      signature: tally
      secret_file: tally.secret
      mapping:
        motif_id: "=rsa-orientation"
        lieu_id: "=mds-arras-centre"
        starts_at: "=first_available"
        usager.first_name: /data/fields/key=question_prenom/value
        usager.last_name: /data/fields/key=question_nom/value
        usager.phone_number: /data/fields/key=question_tel/value
        prescripteur.first_name: /data/fields/key=question_p_prenom/value
        prescripteur.last_name: /data/fields/key=question_p_nom/value
        prescripteur.email: /data/fields/key=question_p_email/value
`), 1)
	if err := os.WriteFile(filepath.Join(dir, "tally.secret"), []byte("secret-de-signature\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, cfg)
	var next struct {
		Slot struct {
			StartsAt string `json:"starts_at"`
		} `json:"slot"`
	}
	if status := d.call(t, "GET", "/api/v1/slots/next?motif_id=rsa-orientation&lieu_id=mds-arras-centre", "", nil, &next); status != http.StatusOK || next.Slot.StartsAt == "" {
		t.Fatalf("next slot: %d %+v", status, next)
	}
	submit := func(eventID, phone string) (int, []byte) {
		field := func(key, value string) map[string]string {
			return map[string]string{"key": key, "label": key, "type": "INPUT_TEXT", "value": value}
		}
		created := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
		body, _ := json.Marshal(map[string]any{"eventId": eventID, "eventType": "FORM_RESPONSE", "createdAt": created,
			"data": map[string]any{"responseId": eventID, "formId": "VwbNEw", "formName": "RSA", "createdAt": created,
				"fields": []map[string]string{field("question_prenom", "Léa"), field("question_nom", "Dubois"), field("question_tel", phone),
					field("question_p_prenom", "Jean"), field("question_p_nom", "Petit"), field("question_p_email", "jean.petit@mediatheque.example.org")}}})
		m := hmac.New(sha256.New, []byte("secret-de-signature"))
		m.Write(body)
		req, _ := http.NewRequest("POST", d.url+"/webhooks/prescriptions/tally-mediatheque", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Tally-Signature", base64.StdEncoding.EncodeToString(m.Sum(nil)))
		resp, err := d.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, out
	}
	status, out := submit("evt-1", "06 12 34 56 78")
	var booked struct {
		StartsAt string `json:"starts_at"`
	}
	json.Unmarshal(out, &booked)
	if status != http.StatusCreated || booked.StartsAt != next.Slot.StartsAt {
		t.Fatalf("valid submission: %d %s; want 201 at %s", status, out, next.Slot.StartsAt)
	}
	if status, out := submit("evt-2", "12"); status != http.StatusUnprocessableEntity {
		t.Fatalf("invalid submission: %d %s", status, out)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "data", "mail", "*.refused.r.prescripteur.eml"))
		if len(files) == 1 {
			b, _ := os.ReadFile(files[0])
			if !strings.Contains(string(b), "jean.petit@mediatheque.example.org") {
				t.Fatalf("refusal email:\n%s", b)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d refusal emails spooled, want 1", len(files))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
