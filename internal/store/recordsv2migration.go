package store

import (
	"bytes"
	"fmt"
	"slices"
)

// Migration 9 rewrites the RDVs, usagers, reminders and receipts stored
// in format 1 (JSON) in format 2 (recordv2.go), which takes a third to a
// fifth of the bytes, and packs the RDV ids in the keys of reminders,
// receipts, usager_rdvs, org_rdvs and agent_busy (idKey).
//
// One transaction rewriting a whole store holds every page it touched in
// memory until it commits (about 8 kB per RDV): recordsToV2Batches does
// the work beforehand in transactions of rewriteChunk records, and
// recordsToV2, in the transaction that records the version, only checks
// that nothing is left. Every step leaves a store the next step (or this
// rdvsync, reopening it after a crash) continues: a record is rewritten
// at most once, and every reader of this version reads both formats. A
// store left between the two by a crash is for this rdvsync (or later)
// only: restore the backup to go back to an older one.
//
// Rewritten values keep their key; packed keys sort after every text key
// of the same prefix, in the order of the text ones, so bbolt appends
// them to pages instead of splitting pages in the middle.

// recodeFunc returns the key and value that replace the record k, v, or
// a nil key to leave it as it is (already in format 2).
type recodeFunc func(k, v []byte) (nk, nv []byte, err error)

// rewriteTarget is a bucket (path: its name, then nested names) and how
// its records are rewritten.
type rewriteTarget struct {
	path   [][]byte
	recode recodeFunc
}

func (t rewriteTarget) bucket(tx KVTx) KVBucket {
	b := tx.Bucket(t.path[0])
	for _, name := range t.path[1:] {
		if b == nil {
			return nil
		}
		b = b.Bucket(name)
	}
	return b
}

func (t rewriteTarget) String() string { return printable(bytes.Join(t.path, []byte("/"))) }

// recordsToV2Targets lists what migration 9 rewrites in tx's store.
func recordsToV2Targets(tx KVTx) ([]rewriteTarget, error) {
	targets := []rewriteTarget{
		{[][]byte{bucketRDVs}, func(k, v []byte) ([]byte, []byte, error) {
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
		{[][]byte{bucketUsagers}, func(k, v []byte) ([]byte, []byte, error) {
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
		{[][]byte{bucketReminders}, func(k, v []byte) ([]byte, []byte, error) {
			nk, err := repackIndexKey(k)
			if err != nil {
				return nil, nil, err
			}
			return recodeReminder(k, nk, v, false)
		}},
		{[][]byte{bucketReminderByRDV}, func(k, v []byte) ([]byte, []byte, error) {
			return recodeReminder(k, idKey(keyID(k)), v, true)
		}},
		{[][]byte{bucketUsagerRDVs}, func(k, _ []byte) ([]byte, []byte, error) {
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
		{[][]byte{bucketReceipts}, func(k, v []byte) ([]byte, []byte, error) {
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
	}
	// The index keys <t start><rdv id> of each organisation and agent.
	index := func(k, v []byte) ([]byte, []byte, error) {
		nk, err := repackIndexKey(k)
		if err != nil || bytes.Equal(nk, k) {
			return nil, nil, err
		}
		return nk, bytes.Clone(v), nil
	}
	for _, name := range [][]byte{bucketOrgRDVs, bucketAgentBusy} {
		parent := tx.Bucket(name)
		if parent == nil {
			continue
		}
		err := parent.ForEachBucket(func(sub []byte) error {
			targets = append(targets, rewriteTarget{[][]byte{name, bytes.Clone(sub)}, index})
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return targets, nil
}

// repackIndexKey returns the key <t><rdv id> with the id packed.
func repackIndexKey(k []byte) ([]byte, error) {
	if len(k) <= timeKeyLen {
		return nil, fmt.Errorf("key of %d bytes", len(k))
	}
	return append(slices.Clip(k[:timeKeyLen]), idKey(keyID(k[timeKeyLen:]))...), nil
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

// recordsToV2Batches is the bulk of migration 9, one transaction per
// rewriteChunk records.
func recordsToV2Batches(update func(func(KVTx) error) error) error {
	var targets []rewriteTarget
	err := update(func(tx KVTx) (err error) {
		targets, err = recordsToV2Targets(tx)
		return err
	})
	if err != nil {
		return err
	}
	for _, t := range targets {
		var from []byte
		for first := true; first || from != nil; first = false {
			var next []byte
			err := update(func(tx KVTx) (err error) {
				next, err = rewriteStep(t.bucket(tx), t.recode, from)
				return err
			})
			if err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
			from = next
		}
	}
	return nil
}

// recordsToV2 is migration 9 in the transaction that records it: what
// recordsToV2Batches left (nothing, unless another process wrote in
// between).
func recordsToV2(tx KVTx) error {
	targets, err := recordsToV2Targets(tx)
	if err != nil {
		return err
	}
	for _, t := range targets {
		b := t.bucket(tx)
		for from, first := []byte(nil), true; first || from != nil; first = false {
			if from, err = rewriteStep(b, t.recode, from); err != nil {
				return fmt.Errorf("%s: %w", t, err)
			}
		}
	}
	return nil
}

// rewriteChunk is the number of records rewriteStep reads (a variable for
// tests).
var rewriteChunk = 10_000

// rewriteStep rewrites the records of b that recode changes, reading up
// to rewriteChunk records from the key from (nil: the first), and returns
// the key to start the next step at (nil: b is done). It reads before it
// writes: a cursor cannot walk a bucket being written.
func rewriteStep(b KVBucket, recode recodeFunc, from []byte) (next []byte, err error) {
	if b == nil {
		return nil, nil
	}
	var olds, keys, vals [][]byte
	c := b.Cursor()
	k, v := c.First()
	if from != nil {
		k, v = c.Seek(from)
	}
	for n := 0; k != nil && n < rewriteChunk; k, v = c.Next() {
		n++
		if v == nil && b.Bucket(k) != nil {
			continue
		}
		nk, nv, err := recode(k, v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", printable(k), err)
		}
		if nk != nil {
			olds, keys, vals = append(olds, bytes.Clone(k)), append(keys, bytes.Clone(nk)), append(vals, nv)
		}
	}
	next = bytes.Clone(k)
	for i, key := range keys {
		if !bytes.Equal(olds[i], key) {
			if err := b.Delete(olds[i]); err != nil {
				return nil, err
			}
		}
		if err := b.Put(key, vals[i]); err != nil {
			return nil, err
		}
	}
	return next, nil
}
