package booking

import (
	"context"
	"errors"
	"fmt"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/french"
	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
)

// ErrNoSlot says no slot of the motif is free within its booking horizon
// (its max_booking_delay; six months for agents). It is a 409, like a
// slot taken: trying again later may help.
var ErrNoSlot = fmt.Errorf("%w: no free slot within the motif's booking horizon", rdv.ErrSlotUnavailable)

// firstAttempts bounds the slots BookFirstAvailable tries. Each slot lost
// to a concurrent booking was booked by someone, so a request only runs out
// of attempts when that many others booked before it.
const firstAttempts = 100

// BookFirstAvailable books the first slot that fits the request — its
// motif, its lieu if given, the usager's sector, the booking delays, from
// notBefore if later than now — ignoring req.StartsAt. Each attempt is an
// ordinary booking that re-checks its slot in the writing transaction;
// when a concurrent booking took the slot first, the next free slot is
// tried. Nothing free: ErrNoSlot (after the request's other fields are
// checked, so an invalid form says what to correct first).
func (s *Service) BookFirstAvailable(ctx context.Context, caller Caller, req BookRequest, notBefore time.Time, idem *Idempotency) (*Booked, error) {
	b, err := s.bookFirst(ctx, caller, req, notBefore, idem)
	if s.observer != nil {
		s.observer.BookingOutcome(outcome(b, err))
	}
	return b, err
}

func (s *Service) bookFirst(ctx context.Context, caller Caller, req BookRequest, notBefore time.Time, idem *Idempotency) (*Booked, error) {
	if idem != nil {
		if b, err := s.replay(ctx, scopeOf(caller, req, idem), caller, idem); b != nil || err != nil {
			return b, err
		}
	}
	for range firstAttempts {
		sl, ok, err := s.firstSlot(ctx, caller, req, notBefore)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, s.noSlot(ctx, caller, req)
		}
		req.StartsAt = sl.Start.Format(time.RFC3339)
		if req.LieuID == "" && sl.Lieu != nil {
			req.LieuID = sl.Lieu.ID
		}
		b, err := s.book(ctx, caller, req, idem)
		if errors.Is(err, rdv.ErrSlotUnavailable) {
			continue // taken meanwhile: the next search no longer offers it
		}
		return b, err
	}
	return nil, rdv.ErrSlotUnavailable
}

// firstSlot is the first slot the caller may book for req from notBefore.
// ok is false when there is none, or when the request cannot be searched
// (an unknown motif or lieu: noSlot reports it).
func (s *Service) firstSlot(ctx context.Context, caller Caller, req BookRequest, notBefore time.Time) (slots.Slot, bool, error) {
	cat := s.catalog()
	m := cat.Motif(req.MotifID)
	if m == nil || !slots.MayBook(caller.Agent, m) {
		return slots.Slot{}, false, nil
	}
	q := slots.Query{Motif: m, Now: s.now(), Caller: caller.Agent}
	if req.LieuID != "" {
		if q.Lieu = cat.Lieu(req.LieuID); q.Lieu == nil {
			return slots.Slot{}, false, nil
		}
	}
	if u := req.Usager; u != nil {
		q.Address.PostalCode, q.Address.CityCode, q.Address.StreetBanID = u.PostalCode, u.CityCode, u.StreetBanID
	}
	horizon := q.Now.Add(slots.NextHorizon)
	if caller.Agent == nil {
		horizon = q.Now.Add(m.MaxBookingDelay)
	}
	loc := m.Organisation.Location
	from := rdv.DateOf(q.Now.In(loc))
	if notBefore.After(q.Now) {
		from = rdv.DateOf(notBefore.In(loc))
	}
	last := rdv.DateOf(horizon.In(loc))
	var (
		out   slots.Slot
		found bool
	)
	err := s.searchCommitted(ctx, &q, func() {
		for d := from; d <= last && !found; d = d.AddDays(slots.MaxWindowDays) {
			q.From, q.To = d, min(d.AddDays(slots.MaxWindowDays-1), last)
			for _, sl := range slots.Search(cat, q) {
				if !sl.Start.Before(notBefore) && !sl.Start.After(horizon) {
					out, found = sl, true
					break
				}
			}
		}
	})
	return out, found, err
}

// noSlot is the answer when no slot was found: the request's own errors
// if it has some (validated as a booking without a start), else ErrNoSlot.
func (s *Service) noSlot(ctx context.Context, caller Caller, req BookRequest) error {
	req.StartsAt = ""
	_, err := s.plan(ctx, caller, req, s.now())
	var inv *rdv.InvalidError
	if errors.As(err, &inv) {
		delete(inv.Fields, "starts_at")
		if len(inv.Fields) > 0 {
			return inv
		}
		return ErrNoSlot
	}
	if err != nil {
		return err
	}
	return ErrNoSlot
}

// MotifHorizon is how far ahead an anonymous caller may book motif m, in
// French ("90 jours"), for the messages that say nothing is free.
func MotifHorizon(m *catalog.Motif) string { return french.Delay(m.MaxBookingDelay) }

// Replayed returns the booking recorded for idem, nil when there is none,
// or the *RefusedError of a refusal recorded for it. It is a webhook
// source's: its usager is the contact the source sent.
func (s *Service) Replayed(ctx context.Context, idem *Idempotency) (*Booked, error) {
	return s.replay(ctx, idem.Scope, Caller{}, idem)
}
