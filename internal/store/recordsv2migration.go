package store

import (
	"bytes"
	"fmt"
)

// recordsToV2 (migration 8) rewrites the RDVs, usagers, reminders and
// receipts stored in format 1 (JSON) in format 2 (recordv2.go), which
// takes a third to a fifth of the bytes. Values of existing keys are replaced, no key is
// inserted, so bbolt rewrites pages without splitting them; the scan
// works in chunks because a cursor cannot walk a bucket being written.
func recordsToV2(tx KVTx) error {
	for _, m := range []struct {
		bucket []byte
		recode func(k, v []byte) ([]byte, error)
	}{
		{bucketRDVs, func(k, v []byte) ([]byte, error) {
			r, err := decodeRDV(k, v)
			if err != nil {
				return nil, err
			}
			return encodeRDV(r)
		}},
		{bucketUsagers, func(k, v []byte) ([]byte, error) {
			u, err := decodeUsager(k, v)
			if err != nil {
				return nil, err
			}
			return encodeUsager(u)
		}},
		{bucketReminders, func(k, v []byte) ([]byte, error) {
			var r Reminder
			if err := decodeReminder(v, &r); err != nil {
				return nil, err
			}
			return encodeReminder(&r, false)
		}},
		{bucketReminderByRDV, func(k, v []byte) ([]byte, error) {
			var r Reminder
			if err := decodeReminder(v, &r); err != nil {
				return nil, err
			}
			return encodeReminder(&r, true)
		}},
		{bucketReceipts, func(k, v []byte) ([]byte, error) {
			r, err := decodeReceipt(k, v)
			if err != nil {
				return nil, err
			}
			return encodeReceipt(k, r)
		}},
	} {
		if err := rewriteV1(tx.Bucket(m.bucket), m.recode); err != nil {
			return fmt.Errorf("%s: %w", m.bucket, err)
		}
	}
	return nil
}

// rewriteChunk is the number of records rewriteV1 reads before writing
// them (a variable for tests).
var rewriteChunk = 10_000

// rewriteV1 replaces every format 1 value of b by recode's.
func rewriteV1(b KVBucket, recode func(k, v []byte) ([]byte, error)) error {
	if b == nil {
		return nil
	}
	var from []byte
	for {
		var keys, vals [][]byte
		c := b.Cursor()
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
		}
		for ; k != nil && len(keys) < rewriteChunk; k, v = c.Next() {
			if !isV1(v) {
				continue
			}
			nv, err := recode(k, v)
			if err != nil {
				return fmt.Errorf("%s: %w", printable(k), err)
			}
			keys, vals = append(keys, bytes.Clone(k)), append(vals, nv)
		}
		// k is the first key not looked at: copy it before writing.
		from = bytes.Clone(k)
		for i, key := range keys {
			if err := b.Put(key, vals[i]); err != nil {
				return err
			}
		}
		if k == nil {
			return nil
		}
	}
}
