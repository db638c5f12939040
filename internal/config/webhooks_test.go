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
