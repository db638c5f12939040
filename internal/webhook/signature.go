package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"rdvsync/internal/config"
	"rdvsync/internal/rdv"
)

// Standard Webhooks headers (https://www.standardwebhooks.com, "Signature
// scheme"): the message id, the unix time of the attempt and a space
// separated list of "<version>,<base64 signature>".
const (
	HeaderID        = "webhook-id"
	HeaderTimestamp = "webhook-timestamp"
	HeaderSignature = "webhook-signature"
	// HeaderLapin is RDV Solidarités' signature: hex HMAC-SHA256 of the body.
	HeaderLapin = "X-Lapin-Signature"
)

// Tolerance is how far a webhook-timestamp may be from our clock, either
// way, before the message is refused (replays of old captures, and
// senders with a broken clock).
const Tolerance = 5 * time.Minute

var (
	// ErrSignature refuses a message whose headers are missing or
	// malformed, or whose signatures match none of the source's secrets.
	ErrSignature = fmt.Errorf("%w: webhook signature missing or invalid", rdv.ErrUnauthenticated)
	// ErrTimestamp refuses a message signed more than Tolerance away from now.
	ErrTimestamp = fmt.Errorf("%w: webhook timestamp too far from the current time", rdv.ErrUnauthenticated)
)

// signedContent is what Standard Webhooks signs: "id.timestamp.body",
// the timestamp exactly as sent.
func signedContent(id, timestamp string, body []byte) []byte {
	b := make([]byte, 0, len(id)+len(timestamp)+2+len(body))
	b = append(b, id...)
	b = append(b, '.')
	b = append(b, timestamp...)
	b = append(b, '.')
	return append(b, body...)
}

func mac(key, content []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(content)
	return m.Sum(nil)
}

// Verify checks the Standard Webhooks headers of a message signed with one
// of keys (several during a secret rotation) and returns its webhook-id.
// The timestamp is checked first; signatures are compared in constant
// time; signature versions other than v1 (v1a is asymmetric) are skipped.
func Verify(keys [][]byte, h http.Header, body []byte, now time.Time) (string, error) {
	id, ts, sigs := h.Get(HeaderID), h.Get(HeaderTimestamp), h.Get(HeaderSignature)
	if id == "" || ts == "" || sigs == "" {
		return "", fmt.Errorf("%w: missing %s, %s or %s header", ErrSignature, HeaderID, HeaderTimestamp, HeaderSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "", fmt.Errorf("%w: %s is not a unix time in seconds", ErrSignature, HeaderTimestamp)
	}
	if d := now.Sub(time.Unix(sec, 0)); d > Tolerance || d < -Tolerance {
		return "", fmt.Errorf("%w (off by %s)", ErrTimestamp, d.Round(time.Second))
	}
	content := signedContent(id, ts, body)
	for _, key := range keys {
		want := mac(key, content)
		for _, sig := range strings.Fields(sigs) {
			version, b64, ok := strings.Cut(sig, ",")
			if !ok || version != "v1" {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(b64)
			if err == nil && hmac.Equal(got, want) {
				return id, nil
			}
		}
	}
	return "", fmt.Errorf("%w: no v1 signature matches", ErrSignature)
}

// Sign returns the webhook-signature header value of a message: one
// "v1,<base64>" per key, space separated.
func Sign(keys [][]byte, id string, ts time.Time, body []byte) string {
	content := signedContent(id, strconv.FormatInt(ts.Unix(), 10), body)
	sigs := make([]string, len(keys))
	for i, key := range keys {
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(mac(key, content))
	}
	return strings.Join(sigs, " ")
}

// LapinSignature is RDV Solidarités' X-Lapin-Signature of body: hex
// HMAC-SHA256 keyed with the secret text itself.
func LapinSignature(secret string, body []byte) string {
	return hex.EncodeToString(mac([]byte(secret), body))
}

// signingKeys turns an outgoing endpoint's secret into its keys. The
// secret may hold several secrets separated by whitespace (rotation): the
// first one is current. X-Lapin-Signature uses the current secret's text
// as is (whsec_ prefix included), as an RDV Solidarités receiver given
// that text computes it. webhook-signature carries one signature per
// secret, keyed as Standard Webhooks says for a whsec_ secret (the
// base64-decoded bytes) and with the text's bytes for any other secret.
func signingKeys(secret config.Secret) (lapin string, keys [][]byte) {
	fields := strings.Fields(string(secret))
	for _, f := range fields {
		if k, err := config.DecodeWebhookSecret(f); err == nil && strings.HasPrefix(f, "whsec_") {
			keys = append(keys, k)
		} else {
			keys = append(keys, []byte(f))
		}
	}
	if len(fields) > 0 {
		lapin = fields[0]
	}
	return lapin, keys
}
