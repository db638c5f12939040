package web

import (
	"crypto/sha256"
	"sync"
	"time"
)

// tickets are short-lived random ids handed to a browser or sent by
// email, each standing for a value kept here, in memory: agent sessions,
// OpenID Connect sign-ins under way, sign-in links. Ids are stored
// hashed, so the map holds nothing a reader of memory dumps could replay;
// a restart forgets them all (agents sign in again).
type tickets[T any] struct {
	mu  sync.Mutex
	m   map[[32]byte]ticket[T]
	max int // 0: no bound
}

type ticket[T any] struct {
	value   T
	expires time.Time
}

func newTickets[T any](max int) *tickets[T] {
	return &tickets[T]{m: map[[32]byte]ticket[T]{}, max: max}
}

// put stores v for ttl and returns its id; "" when the store is full of
// live tickets (a flood of sign-in attempts must not grow memory without
// end).
func (s *tickets[T]) put(v T, now time.Time, ttl time.Duration) string {
	id := randomID()
	s.mu.Lock()
	defer s.mu.Unlock()
	for k, t := range s.m {
		if !now.Before(t.expires) {
			delete(s.m, k)
		}
	}
	if s.max > 0 && len(s.m) >= s.max {
		return ""
	}
	s.m[sha256.Sum256([]byte(id))] = ticket[T]{value: v, expires: now.Add(ttl)}
	return id
}

// get returns the value of a live ticket.
func (s *tickets[T]) get(id string, now time.Time) (T, bool) { return s.lookup(id, now, false) }

// take returns the value of a live ticket and forgets it: a ticket is
// used once.
func (s *tickets[T]) take(id string, now time.Time) (T, bool) { return s.lookup(id, now, true) }

func (s *tickets[T]) lookup(id string, now time.Time, remove bool) (T, bool) {
	var zero T
	if !validID(id) {
		return zero, false
	}
	k := sha256.Sum256([]byte(id))
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.m[k]
	if !ok {
		return zero, false
	}
	if remove || !now.Before(t.expires) {
		delete(s.m, k)
	}
	if !now.Before(t.expires) {
		return zero, false
	}
	return t.value, true
}

func (s *tickets[T]) delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, sha256.Sum256([]byte(id)))
}
