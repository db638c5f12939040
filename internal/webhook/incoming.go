package webhook

import (
	"fmt"
	"net/http"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/rdv"
)

// Incoming is one configured source of prescription forms
// (webhooks.incoming), ready to verify and translate its messages.
type Incoming struct {
	ID string
	// Signature is the source's scheme (config.IncomingSignatures).
	Signature string
	keys      [][]byte
	mapping   *Mapping // nil: the body is the booking body itself
	// DS is the procedure of a Démarches Simplifiées source.
	DS *config.DSProcedure
}

// LookupIncoming returns the source id of the catalogue's configuration,
// or an error wrapping rdv.ErrNotFound.
func LookupIncoming(cat *catalog.Catalog, id string) (*Incoming, error) {
	for i := range cat.Config.Webhooks.Incoming {
		c := &cat.Config.Webhooks.Incoming[i]
		if c.ID != id {
			continue
		}
		in := &Incoming{ID: id, Signature: c.Signature, DS: c.DemarchesSimplifiees}
		var err error
		switch c.Signature {
		case config.SignatureTally, config.SignatureTypeform:
			in.keys = rawKeys(string(c.Secret))
		case config.SignatureDemarchesSimplifiees:
		default:
			in.Signature = config.SignatureStandardWebhooks
			if in.keys, err = config.DecodeWebhookSecrets(string(c.Secret)); err != nil {
				return nil, fmt.Errorf("webhook source %s: %w", id, err)
			}
		}
		if len(c.Mapping) > 0 {
			if in.mapping, err = CompileMapping(c.Mapping); err != nil {
				return nil, fmt.Errorf("webhook source %s: %w", id, err)
			}
		}
		return in, nil
	}
	return nil, fmt.Errorf("webhook source %q: %w", id, rdv.ErrNotFound)
}

// Verify checks a message's signature in the source's scheme against its
// secrets and returns the message id that guards against replays: the
// webhook-id (see Verify), or the form builder's event id (verifyNative).
// A Démarches Simplifiées callback is not signed: see FetchDossier.
func (in *Incoming) Verify(h http.Header, body []byte, now time.Time) (string, error) {
	if s, ok := nativeSchemes[in.Signature]; ok {
		return verifyNative(s, in.keys, h, body, now)
	}
	if in.Signature == config.SignatureDemarchesSimplifiees {
		return "", fmt.Errorf("%w: a Démarches Simplifiées callback is checked against the API, not a signature", ErrSignature)
	}
	return Verify(in.keys, h, body, now)
}

// Mapped reports whether the source's payloads go through a mapping.
func (in *Incoming) Mapped() bool { return in.mapping != nil }

// Map translates a payload through the source's mapping: ErrMalformedPayload
// when it is not JSON, an *rdv.InvalidError for values it cannot use.
func (in *Incoming) Map(cat *catalog.Catalog, payload []byte) (Submission, error) {
	return in.mapping.Submission(cat, payload)
}

// MaxIDLength bounds a webhook-id, which is kept as an idempotency key.
const MaxIDLength = 255

// Idempotency is the replay protection of a message: its webhook-id in
// the source's own scope, so a repeated id returns the first booking, and
// the same id with another body is refused (idempotency_key_reused).
func (in *Incoming) Idempotency(webhookID string, body []byte) *booking.Idempotency {
	return &booking.Idempotency{Scope: "webhook:" + in.ID, Key: webhookID, BodySHA256: booking.BodyHash(body)}
}

// CheckPrescription enforces that a form books as a prescripteur externe:
// a webhook is anonymous, and the prescripteur's details are what tells
// the agent who booked.
func CheckPrescription(req *booking.BookRequest) error {
	if req.Prescripteur == nil {
		return rdv.Invalid("prescripteur", "obligatoire : un formulaire de prescription indique le prescripteur (prénom, nom, email professionnel)")
	}
	return nil
}
