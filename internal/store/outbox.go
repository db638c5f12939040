package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"rdvsync/internal/rdv"
)

// OutboxRecord is one pending delivery to one sink: "push RDV r to agent
// a's calendar", later "send this notification". There is at most one
// record per Key: enqueuing again while one is pending collapses into it
// (Gen increases), so only the latest state of an RDV is delivered, and
// deliveries of one key never run concurrently.
type OutboxRecord struct {
	Key     string          `json:"key"`  // unique, e.g. "calendar/<agent>/<rdv>"
	Kind    string          `json:"kind"` // the sink: "calendar", …
	AgentID string          `json:"agent_id,omitempty"`
	RDVID   string          `json:"rdv_id,omitempty"`
	Payload json.RawMessage `json:"payload,omitempty"`

	Gen            int        `json:"gen"` // bumped by every Enqueue
	Attempts       int        `json:"attempts"`
	CreatedAt      time.Time  `json:"created_at"`
	NextAttemptAt  time.Time  `json:"next_attempt_at"`
	FirstFailureAt *time.Time `json:"first_failure_at,omitempty"`
	LastAttemptAt  *time.Time `json:"last_attempt_at,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	Dead           bool       `json:"dead"`
	// LeaseUntil is set while a dispatcher holds the record. A record
	// whose lease expired (the process died mid-delivery) is due again.
	LeaseUntil time.Time `json:"lease_until"`
}

type outboxV1 struct {
	V int `json:"v"`
	OutboxRecord
}

func (tx *ReadTx) outboxRecord(key string) (*OutboxRecord, error) {
	b := tx.bucket(bucketOutbox).Get([]byte(key))
	if b == nil {
		return nil, fmt.Errorf("outbox record: %w", rdv.ErrNotFound)
	}
	var v outboxV1
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("store: decode outbox record: %w", err)
	}
	if v.V != recordV1 {
		return nil, fmt.Errorf("store: outbox record version %d, want %d", v.V, recordV1)
	}
	return &v.OutboxRecord, nil
}

// dueAt is when the dispatcher should next look at r: its lease end while
// claimed, else its next attempt.
func (r *OutboxRecord) dueAt() time.Time {
	if r.LeaseUntil.After(r.NextAttemptAt) {
		return r.LeaseUntil
	}
	return r.NextAttemptAt
}

// putOutbox writes r and moves its due index entry from prevDue.
func (tx *Tx) putOutbox(r *OutboxRecord, prevDue *time.Time) error {
	due := tx.bucket(bucketOutboxDue)
	if prevDue != nil {
		if err := due.Delete(timeKey(*prevDue, r.Key)); err != nil {
			return fmt.Errorf("store: outbox due index: %w", err)
		}
	}
	b, err := json.Marshal(outboxV1{V: recordV1, OutboxRecord: *r})
	if err != nil {
		return fmt.Errorf("store: encode outbox record: %w", err)
	}
	if err := tx.bucket(bucketOutbox).Put([]byte(r.Key), b); err != nil {
		return fmt.Errorf("store: outbox: %w", err)
	}
	if !r.Dead {
		if err := due.Put(timeKey(r.dueAt(), r.Key), nil); err != nil {
			return fmt.Errorf("store: outbox due index: %w", err)
		}
	}
	return nil
}

// Enqueue records a delivery due now, in the caller's transaction. A
// pending record with the same key absorbs it (newer Gen, due now); a dead
// one comes back to life with a fresh retry budget.
func (tx *Tx) Enqueue(r OutboxRecord, now time.Time) error {
	now = now.UTC()
	prev, err := tx.outboxRecord(r.Key)
	switch {
	case errors.Is(err, rdv.ErrNotFound):
		r.Gen, r.CreatedAt, r.NextAttemptAt = 1, now, now
		return tx.putOutbox(&r, nil)
	case err != nil:
		return err
	}
	var prevDue *time.Time
	if !prev.Dead {
		d := prev.dueAt()
		prevDue = &d
	}
	prev.Gen++
	prev.Payload = r.Payload
	prev.NextAttemptAt = now
	if prev.Dead {
		prev.Dead, prev.Attempts, prev.FirstFailureAt, prev.CreatedAt = false, 0, nil, now
	}
	return tx.putOutbox(prev, prevDue)
}

// ClaimDue leases up to limit records due at now for lease, oldest first,
// skipping keys in busy (already being delivered by this process).
func (tx *Tx) ClaimDue(now time.Time, limit int, lease time.Duration, busy func(key string) bool) ([]OutboxRecord, error) {
	return tx.ClaimOutbox(tx.DueOutboxKeys(now, limit, busy), now, lease)
}

// DueOutboxKeys returns the keys of up to limit records due at now, oldest
// first, skipping keys in busy. Read in a View, then claimed with
// ClaimOutbox, they spare the claiming transaction a range read of
// outbox_due, where every booking inserts its deliveries: on PostgreSQL,
// each such insert would abort the claim (or the booking).
func (tx *ReadTx) DueOutboxKeys(now time.Time, limit int, busy func(key string) bool) []string {
	var keys []string
	c := tx.bucket(bucketOutboxDue).Cursor()
	end := keyNanos(now.UTC())
	for k, _ := c.First(); k != nil && len(keys) < limit; k, _ = c.Next() {
		if keyNanos(keyTime(k)) > end {
			break
		}
		if key := string(k[timeKeyLen:]); busy == nil || !busy(key) {
			keys = append(keys, key)
		}
	}
	return keys
}

// ClaimOutbox leases for lease those of keys whose records are still due at
// now (another process may have claimed or completed one since they were
// listed), reading each by its key only.
func (tx *Tx) ClaimOutbox(keys []string, now time.Time, lease time.Duration) ([]OutboxRecord, error) {
	now = now.UTC()
	out := make([]OutboxRecord, 0, len(keys))
	for _, key := range keys {
		r, err := tx.outboxRecord(key)
		if errors.Is(err, rdv.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		prevDue := r.dueAt()
		if r.Dead || prevDue.After(now) {
			continue
		}
		r.LeaseUntil = now.Add(lease)
		if err := tx.putOutbox(r, &prevDue); err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, nil
}

// DueOutbox returns up to limit records due at now, oldest first, skipping
// keys in busy, without writing: a dispatcher that is the store's only
// user keeps its claims in memory (the store's lock makes it the only
// one), so a crash leaves the records due as they were, and no commit is
// spent per claim. ClaimDue writes a lease instead.
func (tx *ReadTx) DueOutbox(now time.Time, limit int, busy func(key string) bool) ([]OutboxRecord, error) {
	var out []OutboxRecord
	c := tx.bucket(bucketOutboxDue).Cursor()
	end := keyNanos(now.UTC())
	for k, _ := c.First(); k != nil && len(out) < limit; k, _ = c.Next() {
		if keyNanos(keyTime(k)) > end {
			break
		}
		key := string(k[timeKeyLen:])
		if busy != nil && busy(key) {
			continue
		}
		r, err := tx.outboxRecord(key)
		if err != nil {
			return nil, err
		}
		out = append(out, *r)
	}
	return out, nil
}

// NextOutboxDueExcept returns when the earliest record not in busy is
// due, or false if none.
func (tx *ReadTx) NextOutboxDueExcept(busy func(key string) bool) (time.Time, bool) {
	c := tx.bucket(bucketOutboxDue).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if !busy(string(k[timeKeyLen:])) {
			return keyTime(k), true
		}
	}
	return time.Time{}, false
}

// ReleaseLeases makes every claimed record due now. Only one process holds
// the store, so at start any lease is a delivery the previous process did
// not finish (it died): it is retried at once instead of after the lease.
func (tx *Tx) ReleaseLeases(now time.Time) (int, error) {
	var leased []*OutboxRecord
	err := tx.EachOutbox("", func(r *OutboxRecord) error {
		if !r.Dead && !r.LeaseUntil.IsZero() {
			c := *r
			leased = append(leased, &c)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	for _, r := range leased {
		prevDue := r.dueAt()
		r.LeaseUntil, r.NextAttemptAt = time.Time{}, now.UTC()
		if err := tx.putOutbox(r, &prevDue); err != nil {
			return 0, err
		}
	}
	return len(leased), nil
}

// CompleteOutbox ends a delivery of generation gen. If the record was
// enqueued again meanwhile, it stays, due now, for the newer state.
func (tx *Tx) CompleteOutbox(key string, gen int, now time.Time) error {
	r, err := tx.outboxRecord(key)
	if errors.Is(err, rdv.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	prevDue := r.dueAt()
	if r.Gen == gen {
		if err := tx.bucket(bucketOutboxDue).Delete(timeKey(prevDue, key)); err != nil {
			return fmt.Errorf("store: outbox due index: %w", err)
		}
		if err := tx.bucket(bucketOutbox).Delete([]byte(key)); err != nil {
			return fmt.Errorf("store: outbox: %w", err)
		}
		return nil
	}
	r.LeaseUntil, r.NextAttemptAt, r.Attempts, r.FirstFailureAt, r.LastError = time.Time{}, now.UTC(), 0, nil, ""
	return tx.putOutbox(r, &prevDue)
}

// FailOutbox records a failed attempt: retried at next, or dead when dead
// is true. A record enqueued again meanwhile is retried at once instead.
func (tx *Tx) FailOutbox(key string, gen int, now time.Time, cause string, next time.Time, dead bool) error {
	r, err := tx.outboxRecord(key)
	if errors.Is(err, rdv.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	prevDue := r.dueAt()
	now = now.UTC()
	r.Attempts++
	r.LastError, r.LastAttemptAt, r.LeaseUntil = cause, &now, time.Time{}
	if r.FirstFailureAt == nil {
		r.FirstFailureAt = &now
	}
	r.NextAttemptAt = next.UTC()
	if r.Gen != gen {
		r.NextAttemptAt, dead = now, false
	}
	r.Dead = dead
	return tx.putOutbox(r, &prevDue)
}

// EachOutbox calls fn for every record (pending, failing and dead), in key order.
func (tx *ReadTx) EachOutbox(prefix string, fn func(*OutboxRecord) error) error {
	c := tx.bucket(bucketOutbox).Cursor()
	for k, v := c.Seek([]byte(prefix)); k != nil && string(k[:min(len(k), len(prefix))]) == prefix; k, v = c.Next() {
		var r outboxV1
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("store: decode outbox record: %w", err)
		}
		if err := fn(&r.OutboxRecord); err != nil {
			return err
		}
	}
	return nil
}

// NextOutboxDue returns when the earliest record is due, or false if none.
func (tx *ReadTx) NextOutboxDue() (time.Time, bool) {
	k, _ := tx.bucket(bucketOutboxDue).Cursor().First()
	if k == nil {
		return time.Time{}, false
	}
	return keyTime(k), true
}

// RetryDead puts dead records whose key starts with prefix back in the
// queue with a fresh budget, and returns how many.
func (tx *Tx) RetryDead(prefix string, now time.Time) (int, error) {
	var dead []*OutboxRecord
	if err := tx.EachOutbox(prefix, func(r *OutboxRecord) error {
		if r.Dead {
			c := *r
			dead = append(dead, &c)
		}
		return nil
	}); err != nil {
		return 0, err
	}
	for _, r := range dead {
		r.Dead, r.Attempts, r.FirstFailureAt, r.NextAttemptAt, r.LeaseUntil = false, 0, nil, now.UTC(), time.Time{}
		if err := tx.putOutbox(r, nil); err != nil {
			return 0, err
		}
	}
	return len(dead), nil
}

// createOutboxBuckets is migration 2.
func createOutboxBuckets(tx KVTx) error {
	for _, name := range [][]byte{bucketOutbox, bucketOutboxDue, bucketCalendarSync, bucketAgentState} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}
