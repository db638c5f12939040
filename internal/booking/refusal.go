package booking

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/google/uuid"

	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// A form builder only shows "Merci" to the prescripteur who submitted: a
// submission it sent that books nothing must not be lost in silence. The
// webhook handler records such a refusal with RecordRefusal: the answer
// given, kept under the message's id (a retried message gets the same
// answer and no second email), and the RefusalEffects (the email that
// tells the prescripteur what to correct), in one transaction.

// Refusal is a form submission that booked nothing.
type Refusal struct {
	// ID names the refusal in receipts and logs (set by RecordRefusal).
	ID          string
	Idempotency *Idempotency // the message id in its source's scope
	Source      string       // the incoming source id
	Status      int          // the HTTP status answered: 409 or 422
	Response    []byte       // the error body answered
	MotifID     string
	// Prescripteur is who submitted (its email is valid: see ValidEmail).
	Prescripteur PrescripteurInput
	UsagerName   string
	// Fields are the invalid fields (422); NoSlot says nothing was free
	// within the motif's horizon, else the slot asked for was taken (409).
	Fields map[string]string
	NoSlot bool
	At     time.Time
}

// RefusalEffect records what a refusal causes, in its transaction.
type RefusalEffect interface {
	OnRefusal(tx *store.Tx, r *Refusal) error
	Committed()
}

// RefusedError replays a refusal recorded for a message seen before: the
// same status and body as the first answer.
type RefusedError struct {
	Status int
	Body   []byte
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("message refused before (status %d)", e.Status)
}

// RecordRefusal keeps r's answer under its message id and runs the
// refusal effects, once: when the message id already holds an answer (a
// concurrent delivery of the same message), nothing is written and
// recorded is false.
func (s *Service) RecordRefusal(ctx context.Context, r *Refusal) (recorded bool, err error) {
	if r.Idempotency == nil || r.Idempotency.Scope == "" {
		return false, errors.New("booking: a refusal needs its message id and scope")
	}
	if r.Status != http.StatusConflict && r.Status != http.StatusUnprocessableEntity {
		return false, fmt.Errorf("booking: refusal status %d", r.Status)
	}
	r.ID, r.At = uuid.NewString(), s.now().UTC()
	idem := r.Idempotency
	err = s.store.Update(ctx, func(tx *store.Tx) error {
		recorded = false
		_, err := tx.Idempotency(idem.Scope, idem.Key)
		if err == nil {
			return nil
		}
		if !errors.Is(err, rdv.ErrNotFound) {
			return err
		}
		if err := tx.PutIdempotency(idem.Scope, idem.Key, store.IdempotencyRecord{
			BodySHA256: idem.BodySHA256, Status: r.Status, Response: r.Response, CreatedAt: r.At,
		}); err != nil {
			return err
		}
		for _, e := range s.refusals {
			if err := e.OnRefusal(tx, r); err != nil {
				return err
			}
		}
		recorded = true
		return nil
	})
	if err != nil {
		return false, err
	}
	if recorded {
		for _, e := range s.refusals {
			e.Committed()
		}
		s.log.Info("form submission refused", "refusal_id", r.ID, "source_id", r.Source, "status", r.Status, "motif_id", r.MotifID)
	}
	return recorded, nil
}

// ValidEmail returns s lowercased and whether it is an email address that
// booking would accept.
func ValidEmail(s string) (string, bool) {
	fe := fieldErrors{}
	e := fe.cleanEmail("email", s, true)
	return e, len(fe) == 0
}
