package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"rdvsync/internal/store"
)

// Store is where the pages keep their tickets (below): the daemon's store,
// shared by every replica on it.
type Store interface {
	View(ctx context.Context, fn func(*store.ReadTx) error) error
	Update(ctx context.Context, fn func(*store.Tx) error) error
}

var _ Store = (*store.Store)(nil)

// Kinds of tickets in the store.
const (
	kindSession = "agent_session"
	kindLink    = "signin_link"
	kindOIDC    = "oidc_flow"
)

// errTooManyTickets: put found max live tickets of its kind.
var errTooManyTickets = errors.New("too many tickets waiting")

// tickets are short-lived random ids handed to a browser or sent by
// email, each standing for a value: agent sessions, OpenID Connect
// sign-ins under way, sign-in links. They live in the store (store.Tx.
// PutTicket), not in the process: a visitor's next request may reach
// another replica, and a restart signs nobody out. The store keeps only
// the SHA-256 of each id, so a copy of it holds nothing that could be
// replayed.
type tickets[T any] struct {
	st   Store
	kind string
	max  int // live tickets of the kind at most; 0: no bound
}

// put stores v for ttl and returns its id, or errTooManyTickets when max
// tickets are live (a flood of sign-in attempts must not grow the store
// without end).
func (s *tickets[T]) put(ctx context.Context, v T, now time.Time, ttl time.Duration) (string, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("%s: encode: %w", s.kind, err)
	}
	id := randomID()
	err = s.st.Update(ctx, func(tx *store.Tx) error {
		if s.max > 0 && tx.LiveTickets(s.kind, now, s.max) >= s.max {
			return errTooManyTickets
		}
		return tx.PutTicket(s.kind, id, b, now.Add(ttl))
	})
	if err != nil {
		return "", fmt.Errorf("%s: %w", s.kind, err)
	}
	return id, nil
}

// get returns the value of a live ticket.
func (s *tickets[T]) get(ctx context.Context, id string, now time.Time) (T, bool, error) {
	var b []byte
	var ok bool
	if !validID(id) {
		return s.decode(nil, false)
	}
	err := s.st.View(ctx, func(tx *store.ReadTx) error {
		b, ok = tx.Ticket(s.kind, id, now)
		return nil
	})
	if err != nil {
		var zero T
		return zero, false, fmt.Errorf("%s: %w", s.kind, err)
	}
	return s.decode(b, ok)
}

// take returns the value of a live ticket and deletes it: a ticket is
// used once, even when two replicas are asked for it at the same time.
func (s *tickets[T]) take(ctx context.Context, id string, now time.Time) (T, bool, error) {
	var b []byte
	var ok bool
	if !validID(id) {
		return s.decode(nil, false)
	}
	err := s.st.Update(ctx, func(tx *store.Tx) error {
		var err error
		b, ok, err = tx.TakeTicket(s.kind, id, now)
		return err
	})
	if err != nil {
		var zero T
		return zero, false, fmt.Errorf("%s: %w", s.kind, err)
	}
	return s.decode(b, ok)
}

// decode reads a ticket's value. One that does not decode (written by
// another version of rdvsync during an upgrade) counts as absent: its
// holder signs in again.
func (s *tickets[T]) decode(b []byte, ok bool) (T, bool, error) {
	var v T
	if !ok || json.Unmarshal(b, &v) != nil {
		var zero T
		return zero, false, nil
	}
	return v, true, nil
}

func (s *tickets[T]) delete(ctx context.Context, id string) error {
	if !validID(id) {
		return nil
	}
	if err := s.st.Update(ctx, func(tx *store.Tx) error { return tx.DeleteTicket(s.kind, id) }); err != nil {
		return fmt.Errorf("%s: %w", s.kind, err)
	}
	return nil
}
