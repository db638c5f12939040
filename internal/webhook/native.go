package webhook

import (
	"crypto/hmac"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"rdvsync/internal/config"
)

// Form builders sign their webhooks their own way, without Standard
// Webhooks' signed timestamp:
//
//   - Tally: header Tally-Signature, the base64 HMAC-SHA256 of the raw body
//     keyed with the webhook's signing secret; the event id is the
//     payload's eventId, its creation time createdAt.
//   - Typeform: header Typeform-Signature, "sha256=" then the base64
//     HMAC-SHA256 of the raw body keyed with the webhook's secret; the
//     event id is event_id, the submission time form_response.submitted_at.
//
// Replays are stopped by the event id (kept as an idempotency key, as
// webhook-ids are) and, since ids are forgotten after
// booking.IdempotencyTTL, by refusing a payload created more than
// Tolerance away from now.
const (
	HeaderTally    = "Tally-Signature"
	HeaderTypeform = "Typeform-Signature"
)

// nativeScheme describes one form builder's scheme.
type nativeScheme struct {
	header string
	prefix string // before the base64 signature
	id     []string
	when   []string // members leading to the creation time, RFC 3339
}

var nativeSchemes = map[string]nativeScheme{
	config.SignatureTally:    {header: HeaderTally, id: []string{"eventId"}, when: []string{"createdAt"}},
	config.SignatureTypeform: {header: HeaderTypeform, prefix: "sha256=", id: []string{"event_id"}, when: []string{"form_response", "submitted_at"}},
}

// rawKeys are the keys of a form builder's secret: the text of each
// whitespace-separated secret (two during a rotation).
func rawKeys(secret string) [][]byte {
	var keys [][]byte
	for _, f := range strings.Fields(secret) {
		keys = append(keys, []byte(f))
	}
	return keys
}

// verifyNative checks a form builder's signature, then reads the event id
// and the creation time from the (now authenticated) payload.
func verifyNative(s nativeScheme, keys [][]byte, h http.Header, body []byte, now time.Time) (string, error) {
	sig := h.Get(s.header)
	if sig == "" {
		return "", fmt.Errorf("%w: missing %s header", ErrSignature, s.header)
	}
	b64, ok := strings.CutPrefix(strings.TrimSpace(sig), s.prefix)
	got, err := base64.StdEncoding.DecodeString(b64)
	if !ok || err != nil {
		return "", fmt.Errorf("%w: %s is not %sbase64", ErrSignature, s.header, s.prefix)
	}
	matched := false
	for _, k := range keys {
		matched = matched || hmac.Equal(got, mac(k, body))
	}
	if !matched {
		return "", fmt.Errorf("%w: %s matches no secret", ErrSignature, s.header)
	}
	var doc any
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", ErrMalformedPayload
	}
	id, _ := member(doc, strings.Join(s.id, "."))
	idText, _ := id.(string)
	if idText == "" {
		return "", fmt.Errorf("%w: the payload has no %s", ErrSignature, strings.Join(s.id, "."))
	}
	when, _ := member(doc, strings.Join(s.when, "."))
	if whenText, _ := when.(string); whenText != "" {
		t, err := time.Parse(time.RFC3339Nano, whenText)
		if err != nil {
			return "", fmt.Errorf("%w: %s is not an RFC 3339 time", ErrTimestamp, strings.Join(s.when, "."))
		}
		if d := now.Sub(t); d > Tolerance || d < -Tolerance {
			return "", fmt.Errorf("%w (%s off by %s)", ErrTimestamp, strings.Join(s.when, "."), d.Round(time.Second))
		}
	}
	return idText, nil
}
