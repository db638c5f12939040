package webhook

import (
	"errors"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"rdvsync/internal/config"
)

// The example of the Standard Webhooks specification and its libraries.
const (
	specSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	specID     = "msg_p5jXN8AQM9LWM0D4loKWxJek"
	specBody   = `{"test": 2432232314}`
	specSig    = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
)

var specTime = time.Unix(1614265330, 0)

func specKeys(t testing.TB, secrets string) [][]byte {
	t.Helper()
	keys, err := config.DecodeWebhookSecrets(secrets)
	if err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestSignMatchesTheSpecification(t *testing.T) {
	if got := Sign(specKeys(t, specSecret), specID, specTime, []byte(specBody)); got != specSig {
		t.Fatalf("Sign = %q, want %q", got, specSig)
	}
}

func TestVerify(t *testing.T) {
	other := "whsec_" + "c2VjcmV0LXF1aS1uLWVzdC1wYXMtbGUtYm9u" // another valid secret
	headers := func(id, ts, sig string) http.Header {
		h := http.Header{}
		for k, v := range map[string]string{HeaderID: id, HeaderTimestamp: ts, HeaderSignature: sig} {
			if v != "" {
				h.Set(k, v)
			}
		}
		return h
	}
	ts := "1614265330"
	tests := []struct {
		name    string
		secrets string
		h       http.Header
		body    string
		now     time.Time
		want    error
	}{
		{"valid", specSecret, headers(specID, ts, specSig), specBody, specTime, nil},
		{"one of several signatures", specSecret, headers(specID, ts, "v1,bm9wZQ== v1a,xyz "+specSig), specBody, specTime, nil},
		{"rotation: old secret still accepted", other + "\n" + specSecret + "\n", headers(specID, ts, specSig), specBody, specTime, nil},
		{"4 minutes late", specSecret, headers(specID, ts, specSig), specBody, specTime.Add(4 * time.Minute), nil},
		{"tampered body", specSecret, headers(specID, ts, specSig), `{"test": 2432232315}`, specTime, ErrSignature},
		{"other id", specSecret, headers("msg_other", ts, specSig), specBody, specTime, ErrSignature},
		{"wrong secret", other, headers(specID, ts, specSig), specBody, specTime, ErrSignature},
		{"unknown version only", specSecret, headers(specID, ts, "v2,"+specSig[3:]), specBody, specTime, ErrSignature},
		{"stale", specSecret, headers(specID, ts, specSig), specBody, specTime.Add(5*time.Minute + time.Second), ErrTimestamp},
		{"future", specSecret, headers(specID, ts, specSig), specBody, specTime.Add(-6 * time.Minute), ErrTimestamp},
		{"timestamp not a number", specSecret, headers(specID, "2021-02-25T15:02:10Z", specSig), specBody, specTime, ErrSignature},
		{"no id", specSecret, headers("", ts, specSig), specBody, specTime, ErrSignature},
		{"no timestamp", specSecret, headers(specID, "", specSig), specBody, specTime, ErrSignature},
		{"no signature", specSecret, headers(specID, ts, ""), specBody, specTime, ErrSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := Verify(specKeys(t, tt.secrets), tt.h, []byte(tt.body), tt.now)
			if !errors.Is(err, tt.want) || (tt.want == nil && id != specID) {
				t.Fatalf("Verify = %q, %v; want %v", id, err, tt.want)
			}
		})
	}
}

func TestSigningKeys(t *testing.T) {
	lapin, keys := signingKeys(config.Secret(specSecret + "\nwhsec_c2VjcmV0LXF1aS1uLWVzdC1wYXMtbGUtYm9u\n"))
	if lapin != specSecret || len(keys) != 2 || string(keys[0]) != string(specKeys(t, specSecret)[0]) {
		t.Fatalf("whsec_ secrets: lapin %q, %d keys", lapin, len(keys))
	}
	// An RDV Solidarités style secret: used as text both ways.
	lapin, keys = signingKeys("3f1c0a9e6b2d4f5a")
	if lapin != "3f1c0a9e6b2d4f5a" || len(keys) != 1 || string(keys[0]) != "3f1c0a9e6b2d4f5a" {
		t.Fatalf("plain secret: lapin %q, keys %q", lapin, keys)
	}
	// What RDV Solidarités' receivers compute: OpenSSL::HMAC.hexdigest("SHA256", secret, body).
	if got, want := LapinSignature("secret", []byte(`{"a":1}`)), "aa9e2e3575f5d7098b6caccd790888c36d5fdb63342a73bada2d6a51747a8494"; got != want {
		t.Fatalf("LapinSignature = %s, want %s (openssl dgst -sha256 -hmac secret)", got, want)
	}
}

func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "2606:4700::6810:85e5": true, "8.8.8.8": true,
		"127.0.0.1": false, "127.8.9.1": false, "::1": false, "10.1.2.3": false, "172.16.0.1": false,
		"192.168.1.1": false, "169.254.169.254": false, "fe80::1%eth0": false, "fd00::1": false,
		"0.0.0.0": false, "::": false, "100.64.0.1": false, "255.255.255.255": false, "224.0.0.1": false,
		"::ffff:127.0.0.1": false, "::ffff:10.0.0.1": false, "64:ff9b::a00:1": false, "64:ff9b::808:808": true,
		"2002:a00:1::": false, "198.18.0.1": false,
	} {
		if got := publicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("publicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}
