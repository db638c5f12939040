package webhook

import (
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"rdvsync/internal/rdv"
)

// FuzzMappingApply runs a form builder's payload through a mapping that
// uses every kind of path (key=value selectors, indexes, escapes, the
// date and time split): whatever the payload, Apply returns a request or
// ErrMalformedPayload or a field error, and never panics.
func FuzzMappingApply(f *testing.F) {
	cat := exampleCatalog(f)
	m, err := CompileMapping(map[string]string{
		"motif_id":               "=rsa-orientation",
		"lieu_id":                "/data/lieu",
		"starts_at.date":         "/data/fields/key=q_date/value",
		"starts_at.time":         "/data/fields/label=Heure/value",
		"usager.first_name":      "/data/fields/0/value",
		"usager.last_name":       "/data/fields/key=q_nom/value",
		"usager.phone_number":    "/data/fields/key=q_tel/value",
		"usager.email":           "/data/fields/key=q_email/value",
		"context":                "/data/fields/key=q_besoins/value",
		"prescripteur.email":     "/data/fields/field.ref=email_pro/text",
		"prescripteur.last_name": "/data/a~1b/~0c",
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, payload []byte) {
		req, err := m.Apply(cat, payload)
		var inv *rdv.InvalidError
		switch {
		case err == nil:
			if req.MotifID != "rsa-orientation" {
				t.Fatalf("constant motif_id lost: %+v", req)
			}
		case errors.Is(err, ErrMalformedPayload):
		case errors.As(err, &inv):
			for k, msg := range inv.Fields {
				if k == "" || msg == "" {
					t.Fatalf("empty field error %q: %q", k, msg)
				}
			}
		default:
			t.Fatalf("Apply: unexpected error %v", err)
		}
	})
}

// FuzzVerify checks Standard Webhooks verification against any headers and
// body: it never panics, accepts what Sign produced for that body and
// time, and refuses the same signature on another body.
func FuzzVerify(f *testing.F) {
	keys := specKeys(f, specSecret)
	f.Fuzz(func(t *testing.T, id, ts, sigs string, body []byte) {
		h := http.Header{}
		h.Set(HeaderID, id)
		h.Set(HeaderTimestamp, ts)
		h.Set(HeaderSignature, sigs)
		now := specTime
		if sec, err := strconv.ParseInt(ts, 10, 64); err == nil && sec > -1<<40 && sec < 1<<40 {
			now = time.Unix(sec, 0)
		}
		if got, err := Verify(keys, h, body, now); err == nil && got != id {
			t.Fatalf("Verify returned id %q for %q", got, id)
		}
		if id == "" || h.Get(HeaderID) != id {
			return // not representable as a header value
		}
		good := Sign(keys, id, now, body)
		h.Set(HeaderTimestamp, strconv.FormatInt(now.Unix(), 10))
		h.Set(HeaderSignature, good)
		if got, err := Verify(keys, h, body, now); err != nil || got != id {
			t.Fatalf("Verify of a message Sign produced: %q, %v", got, err)
		}
		if _, err := Verify(keys, h, append(body[:len(body):len(body)], 'x'), now); !errors.Is(err, ErrSignature) {
			t.Fatalf("Verify of another body: %v, want ErrSignature", err)
		}
	})
}
