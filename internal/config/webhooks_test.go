package config

import (
	"os"
	"strings"
	"testing"
)

func TestDecodeWebhookSecrets(t *testing.T) {
	const a, b = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_c2VjcmV0LXF1aS1uLWVzdC1wYXMtbGUtYm9u"
	keys, err := DecodeWebhookSecrets(a + "\n" + b + "\r\n")
	if err != nil || len(keys) != 2 || string(keys[1]) != "secret-qui-n-est-pas-le-bon" {
		t.Fatalf("two secrets: %q, %v", keys, err)
	}
	if keys, err := DecodeWebhookSecrets(a + " " + b); err != nil || len(keys) != 2 {
		t.Fatalf("space separated: %v", err)
	}
	if _, err := DecodeWebhookSecrets(a + "\nwhsec_court"); err == nil || !strings.Contains(err.Error(), "secret 2 of 2") {
		t.Fatalf("a bad second secret: %v", err)
	}
	if _, err := DecodeWebhookSecrets(" \n"); err == nil {
		t.Fatal("empty secret accepted")
	}
}

func TestWebhookMappingIsChecked(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/hook", []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Parse(dir+"/c.yaml", []byte(base+`
webhooks:
  incoming:
    - id: w
      secret_file: hook
      mapping:
        usager.first_name: /data/fields/key=prenom/value
        motif_id: "=rsa-orientation"
        usager.prenom: /x
        lieu_id: mds-arras-centre
`))
	if err == nil {
		t.Fatal("bad mapping accepted")
	}
	got := err.Error()
	for _, want := range []string{
		`webhooks.incoming[0].mapping.usager.prenom: "usager.prenom" is not a booking field`,
		`webhooks.incoming[0].mapping.lieu_id: "mds-arras-centre" is neither a JSON pointer`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got:\n%s\nwant it to contain %q", got, want)
		}
	}
	if strings.Count(got, "\n") != 1 {
		t.Errorf("the valid rules were refused too:\n%s", got)
	}
}

// TestIncomingSchemesAreChecked: each signature scheme asks for what it
// needs, and check-config names what is wrong.
func TestIncomingSchemesAreChecked(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"hook": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", "tally": "signing-secret\n", "token": "ds-token\n"} {
		if err := os.WriteFile(dir+"/"+name, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	const m = "      mapping: { motif_id: \"=rsa-orientation\", starts_at: \"=first_available\" }\n"
	_, err := Parse(dir+"/c.yaml", []byte(base+`
webhooks:
  incoming:
    - { id: a, signature: jotform, secret_file: hook }
    - { id: b, signature: tally }
    - { id: c, signature: typeform, secret_file: tally }
    - id: d
      signature: demarches-simplifiees
      secret_file: tally
      demarches_simplifiees: { procedure: 0, state: brouillon, api_url: "ftp://ds", api_token_file: token }
`+m+`    - { id: e, signature: demarches-simplifiees }
    - id: f
      signature: tally
      secret_file: tally
      demarches_simplifiees: { procedure: 9407, api_token_file: token }
      mapping: { motif_id: "=rsa-orientation", starts_at: "=first_available", starts_at.date: /d, not_before: /n }
    - id: g
      secret_file: hook
      mapping: { not_before: /n }
    - id: ok-tally
      signature: tally
      secret_file: tally
`+m+`    - id: ok-ds
      signature: demarches-simplifiees
      demarches_simplifiees: { procedure: 9407, api_token_file: token }
`+m))
	if err == nil {
		t.Fatal("bad sources accepted")
	}
	got := err.Error()
	for _, want := range []string{
		`webhooks.incoming[0].signature: "jotform" is not a signature scheme`,
		`webhooks.incoming[1]: secret_file or secret_env is required`,
		`webhooks.incoming[1].mapping: required with signature: tally`,
		`webhooks.incoming[2].mapping: required with signature: typeform`,
		`webhooks.incoming[3].secret_file: Démarches Simplifiées does not sign its callbacks`,
		`webhooks.incoming[3].demarches_simplifiees.procedure: required`,
		`webhooks.incoming[3].demarches_simplifiees.state: "brouillon" is not a dossier state that can book`,
		`webhooks.incoming[3].demarches_simplifiees.api_url: "ftp://ds" is not an absolute http(s) URL`,
		`webhooks.incoming[4].demarches_simplifiees: required with signature: demarches-simplifiees`,
		`webhooks.incoming[5].demarches_simplifiees: only with signature: demarches-simplifiees`,
		`webhooks.incoming[5].mapping.starts_at: "=first_available" books the first free slot: remove starts_at.date`,
		`webhooks.incoming[6].mapping.not_before: only with starts_at: "=first_available"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got:\n%s\nwant it to contain %q", got, want)
		}
	}
	if strings.Contains(got, "incoming[7]") || strings.Contains(got, "incoming[8]") {
		t.Errorf("valid sources refused:\n%s", got)
	}
}

// TestDSDefaults: a Démarches Simplifiées procedure books on
// en_construction through the official API unless told otherwise.
func TestDSDefaults(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/token", []byte("ds-token\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := Parse(dir+"/c.yaml", []byte(base+`
webhooks:
  incoming:
    - id: ds
      signature: demarches-simplifiees
      demarches_simplifiees: { procedure: 9407, api_token_file: token }
      mapping: { motif_id: "=rsa-orientation", starts_at: "=first_available" }
`))
	if err != nil {
		t.Fatal(err)
	}
	ds := f.Webhooks.Incoming[0].DemarchesSimplifiees
	if ds.State != "en_construction" || ds.APIURL != DSDefaultAPIURL || ds.APIToken != "ds-token" {
		t.Fatalf("defaults: %+v", ds)
	}
}

func TestRdvsIDsAndOutgoingFormat(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/hook", []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	withIDs := strings.NewReplacer(
		`{ id: o1, name: O1`, `{ id: o1, rdvs_id: 7, name: O1`,
		`{ id: o2, name: O2`, `{ id: o2, rdvs_id: 7, name: O2`,
		`{ id: m1, organisation`, `{ id: m1, rdvs_id: 0, organisation`,
		`{ id: l1, organisation`, `{ id: l1, rdvs_id: 12, organisation`,
	).Replace(base)
	hooks := `
webhooks:
  outgoing:
    - { id: a, url: "https://a.example.org/h", secret_file: hook }
    - { id: b, url: "https://b.example.org/h", secret_file: hook, format: rdvsync, subscriptions: [rdv, user] }
    - { id: c, url: "https://c.example.org/h", secret_file: hook, format: json, subscriptions: [rdv, absence] }
`
	_, err := Parse(dir+"/c.yaml", []byte(withIDs+hooks))
	if err == nil {
		t.Fatal("bad rdvs_id and format accepted")
	}
	got := err.Error()
	for _, want := range []string{
		`organisations[1].rdvs_id: rdvs_id 7 is already used by organisations[0]`,
		`motifs[0].rdvs_id: 0 is not a positive integer`,
		`webhooks.outgoing[2].format: "json" is not allowed (use one of: rdv-solidarites, rdvsync)`,
		`webhooks.outgoing[2].subscriptions[1]: "absence" is not allowed (use rdv or user)`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("got:\n%s\nwant it to contain %q", got, want)
		}
	}
	if n := strings.Count(got, "\n") + 1; n != 4 {
		t.Errorf("%d errors, want 4:\n%s", n, got)
	}

	valid := strings.NewReplacer("rdvs_id: 7, name: O2", "rdvs_id: 8, name: O2", "rdvs_id: 0, ", "").Replace(withIDs) +
		strings.Replace(hooks, "format: json, subscriptions: [rdv, absence]", "subscriptions: [user]", 1)
	f, err := Parse(dir+"/c.yaml", []byte(valid))
	if err != nil {
		t.Fatal(err)
	}
	out := f.Webhooks.Outgoing
	if out[0].Format != FormatRdvSolidarites || !out[0].Subscribes("rdv") || out[0].Subscribes("user") {
		t.Errorf("defaults: %+v", out[0])
	}
	if out[1].Format != FormatRdvsync || !out[1].Subscribes("user") || out[2].Subscribes("rdv") {
		t.Errorf("given: %+v %+v", out[1], out[2])
	}
	if f.Organisations[1].RdvsID != 8 || f.Lieux[0].RdvsID != 12 || f.Motifs[0].RdvsID != 0 {
		t.Errorf("rdvs_id: %+v %+v %+v", f.Organisations[1], f.Lieux[0], f.Motifs[0])
	}
}
