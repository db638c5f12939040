package store

import (
	"bytes"
	"fmt"
	"slices"
)

// recordsToV2 (migration 9) rewrites the RDVs, usagers, reminders and
// receipts stored in format 1 (JSON) in format 2 (recordv2.go), which
// takes a third to a fifth of the bytes, and packs the RDV ids in the
// keys of reminders, receipts, usager_rdvs, org_rdvs and agent_busy
// (idKey). The scan works in chunks because a
// cursor cannot walk a bucket being written. Rewritten values keep their
// key, and packed keys sort after every text key of the same prefix, in
// the order of the text ones: bbolt never inserts in the middle of a
// page it has filled in this transaction.
func recordsToV2(tx KVTx) error {
	for _, m := range []struct {
		bucket []byte
		recode func(k, v []byte) (nk, nv []byte, err error)
	}{
		{bucketRDVs, func(k, v []byte) ([]byte, []byte, error) {
			if !isV1(v) {
				return nil, nil, nil
			}
			r, err := decodeRDV(k, v)
			if err != nil {
				return nil, nil, err
			}
			nv, err := encodeRDV(r)
			return k, nv, err
		}},
		{bucketUsagers, func(k, v []byte) ([]byte, []byte, error) {
			if !isV1(v) {
				return nil, nil, nil
			}
			u, err := decodeUsager(k, v)
			if err != nil {
				return nil, nil, err
			}
			nv, err := encodeUsager(u)
			return k, nv, err
		}},
		{bucketReminders, func(k, v []byte) ([]byte, []byte, error) {
			if len(k) <= timeKeyLen {
				return nil, nil, fmt.Errorf("key of %d bytes", len(k))
			}
			nk := append(slices.Clip(k[:timeKeyLen]), idKey(keyID(k[timeKeyLen:]))...)
			return recodeReminder(k, nk, v, false)
		}},
		{bucketReminderByRDV, func(k, v []byte) ([]byte, []byte, error) {
			return recodeReminder(k, idKey(keyID(k)), v, true)
		}},
		{bucketUsagerRDVs, func(k, _ []byte) ([]byte, []byte, error) {
			usager, id, ok := bytes.Cut(k, []byte{0})
			if !ok {
				return nil, nil, fmt.Errorf("key without NUL")
			}
			nk := usagerRDVKey(string(usager), keyID(id))
			if bytes.Equal(nk, k) {
				return nil, nil, nil
			}
			return nk, nil, nil
		}},
		{bucketReceipts, func(k, v []byte) ([]byte, []byte, error) {
			rdvID, _, err := splitReceiptKey(k)
			if err != nil {
				return nil, nil, err
			}
			nk := append(receiptPrefix(rdvID), k[len(k)-receiptKeyLen+1:]...)
			if !isV1(v) && bytes.Equal(nk, k) {
				return nil, nil, nil
			}
			r, err := decodeReceipt(k, v)
			if err != nil {
				return nil, nil, err
			}
			nv, err := encodeReceipt(nk, r)
			return nk, nv, err
		}},
	} {
		if err := rewrite(tx.Bucket(m.bucket), m.recode); err != nil {
			return fmt.Errorf("%s: %w", m.bucket, err)
		}
	}
	// The index keys <t start><rdv id> of each organisation and agent.
	for _, name := range [][]byte{bucketOrgRDVs, bucketAgentBusy} {
		parent := tx.Bucket(name)
		if parent == nil {
			continue
		}
		err := parent.ForEachBucket(func(sub []byte) error {
			err := rewrite(parent.Bucket(sub), func(k, v []byte) ([]byte, []byte, error) {
				if len(k) <= timeKeyLen {
					return nil, nil, fmt.Errorf("key of %d bytes", len(k))
				}
				nk := append(slices.Clip(k[:timeKeyLen]), idKey(keyID(k[timeKeyLen:]))...)
				if bytes.Equal(nk, k) {
					return nil, nil, nil
				}
				return nk, bytes.Clone(v), nil
			})
			if err != nil {
				return fmt.Errorf("%s/%s: %w", name, printable(sub), err)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// recodeReminder gives a reminder value stored under k the key nk and
// format 2.
func recodeReminder(k, nk, v []byte, byRDV bool) ([]byte, []byte, error) {
	if !isV1(v) && bytes.Equal(nk, k) {
		return nil, nil, nil
	}
	var r Reminder
	if err := decodeReminder(v, &r); err != nil {
		return nil, nil, err
	}
	nv, err := encodeReminder(&r, byRDV)
	return nk, nv, err
}

// rewriteChunk is the number of records rewrite reads before writing
// them (a variable for tests).
var rewriteChunk = 10_000

// rewrite replaces each record of b for which recode returns a key (nil:
// leave it) by the value recode returns, under that key.
func rewrite(b KVBucket, recode func(k, v []byte) (nk, nv []byte, err error)) error {
	if b == nil {
		return nil
	}
	var from []byte
	for {
		var olds, keys, vals [][]byte
		c := b.Cursor()
		k, v := c.First()
		if from != nil {
			k, v = c.Seek(from)
		}
		for ; k != nil && len(keys) < rewriteChunk; k, v = c.Next() {
			if v == nil && b.Bucket(k) != nil {
				continue
			}
			nk, nv, err := recode(k, v)
			if err != nil {
				return fmt.Errorf("%s: %w", printable(k), err)
			}
			if nk != nil {
				olds, keys, vals = append(olds, bytes.Clone(k)), append(keys, bytes.Clone(nk)), append(vals, nv)
			}
		}
		// k is the first key not looked at: copy it before writing.
		from = bytes.Clone(k)
		for i, key := range keys {
			if !bytes.Equal(olds[i], key) {
				if err := b.Delete(olds[i]); err != nil {
					return err
				}
			}
			if err := b.Put(key, vals[i]); err != nil {
				return err
			}
		}
		if k == nil {
			return nil
		}
	}
}
