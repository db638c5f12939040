package store

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"rdvsync/internal/rdv"
)

func idempotencyKey(scope, key string) ([]byte, error) {
	if scope == "" || strings.IndexByte(scope, 0) >= 0 {
		return nil, fmt.Errorf("idempotency scope %q: empty or contains NUL", scope)
	}
	if key == "" {
		return nil, fmt.Errorf("idempotency key in scope %s: empty", scope)
	}
	return joinKey(scope, key), nil
}

// Idempotency returns the record stored for key in scope (for instance
// "rdvs" for Idempotency-Key headers, or a webhook source id for
// webhook-id), or an error wrapping rdv.ErrNotFound.
func (tx *ReadTx) Idempotency(scope, key string) (*IdempotencyRecord, error) {
	k, err := idempotencyKey(scope, key)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	v := tx.bucket(bucketIdempotency).Get(k)
	if v == nil {
		return nil, fmt.Errorf("idempotency record in scope %s: %w", scope, rdv.ErrNotFound)
	}
	rec, err := decodeIdempotency(v)
	if err != nil {
		return nil, fmt.Errorf("store: idempotency record in scope %s: %w", scope, err)
	}
	return rec, nil
}

// PutIdempotency stores rec for key in scope, replacing any previous record.
func (tx *Tx) PutIdempotency(scope, key string, rec IdempotencyRecord) error {
	k, err := idempotencyKey(scope, key)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	recs := tx.bucket(bucketIdempotency)
	byTime := tx.bucket(bucketIdempotencyByTime)
	if old := recs.Get(k); old != nil {
		prev, err := decodeIdempotency(old)
		if err != nil {
			return fmt.Errorf("store: idempotency record in scope %s: previous version: %w", scope, err)
		}
		if err := byTime.Delete(timeKey(prev.CreatedAt, string(k))); err != nil {
			return fmt.Errorf("store: %s: %w", bucketIdempotencyByTime, err)
		}
	}
	val, err := encodeIdempotency(rec)
	if err != nil {
		return fmt.Errorf("store: idempotency record in scope %s: encode: %w", scope, err)
	}
	if err := recs.Put(k, val); err != nil {
		return fmt.Errorf("store: idempotency record in scope %s: %w", scope, err)
	}
	if err := byTime.Put(timeKey(rec.CreatedAt, string(k)), nil); err != nil {
		return fmt.Errorf("store: %s: %w", bucketIdempotencyByTime, err)
	}
	return nil
}

// PurgeIdempotency deletes the records created before olderThan and returns
// how many it deleted.
func (tx *Tx) PurgeIdempotency(olderThan time.Time) (int, error) {
	recs := tx.bucket(bucketIdempotency)
	byTime := tx.bucket(bucketIdempotencyByTime)
	end := timeKey(olderThan, "")
	// Collect first: deleting under a bbolt cursor can skip the next key.
	var old [][]byte
	c := byTime.Cursor()
	for k, _ := c.First(); k != nil && bytes.Compare(k, end) < 0; k, _ = c.Next() {
		old = append(old, bytes.Clone(k))
	}
	for _, k := range old {
		if err := byTime.Delete(k); err != nil {
			return 0, fmt.Errorf("store: purge idempotency: %w", err)
		}
		if len(k) > timeKeyLen {
			if err := recs.Delete(k[timeKeyLen:]); err != nil {
				return 0, fmt.Errorf("store: purge idempotency: %w", err)
			}
		}
	}
	return len(old), nil
}
