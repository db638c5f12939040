package store

import (
	"bytes"
	"fmt"
	"slices"
	"time"

	"rdvsync/internal/rdv"
)

// Retention and erasure (RGPD): deleting an RDV, or an usager, removes
// every record and index entry that points to it, so that nothing older
// than the retention limits survives in the file. Outbox records belong
// to their sinks (notifications, calendars, webhooks), which remove or
// turn them into deletions in the same transaction (booking.Change with no
// After).

// usagerRDVKey is the key of usager_rdvs: the usager's id, \x00, the
// RDV's id packed (idKey).
func usagerRDVKey(usagerID, rdvID string) []byte {
	return append(joinKey(usagerID, ""), idKey(rdvID)...)
}

// noteUsagerRDV records that rdvID belongs to usagerID (usager_rdvs).
func (tx *Tx) noteUsagerRDV(usagerID, rdvID string) error {
	if usagerID == "" {
		return nil
	}
	if err := tx.bucket(bucketUsagerRDVs).Put(usagerRDVKey(usagerID, rdvID), nil); err != nil {
		return fmt.Errorf("store: usager_rdvs: %w", err)
	}
	return nil
}

// UsagerRDVIDs returns the ids of the usager's RDVs, cancelled ones too.
func (tx *ReadTx) UsagerRDVIDs(usagerID string) []string {
	var ids []string
	prefix := joinKey(usagerID, "")
	c := tx.bucket(bucketUsagerRDVs).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		ids = append(ids, keyID(k[len(prefix):]))
	}
	return ids
}

// UsagerRDVs returns the usager's RDVs, cancelled ones too, by start.
func (tx *ReadTx) UsagerRDVs(usagerID string) ([]*rdv.RDV, error) {
	var out []*rdv.RDV
	for _, id := range tx.UsagerRDVIDs(usagerID) {
		r, err := tx.RDV(id)
		if err != nil {
			return nil, fmt.Errorf("store: usager_rdvs of %s: %w", usagerID, err)
		}
		out = append(out, r)
	}
	slices.SortFunc(out, func(a, b *rdv.RDV) int { return a.StartsAt.Compare(b.StartsAt) })
	return out, nil
}

// RDVsEndedBefore returns up to limit RDVs (cancelled ones too) that ended
// before cutoff, oldest start first within each organisation.
func (tx *ReadTx) RDVsEndedBefore(cutoff time.Time, limit int) ([]*rdv.RDV, error) {
	var out []*rdv.RDV
	end := timeKey(cutoff, "")
	orgs := tx.bucket(bucketOrgRDVs)
	err := orgs.ForEachBucket(func(org []byte) error {
		c := orgs.Bucket(org).Cursor()
		for k, _ := c.First(); k != nil && bytes.Compare(k, end) < 0 && len(out) < limit; k, _ = c.Next() {
			if len(k) <= timeKeyLen {
				continue
			}
			r, err := tx.RDV(keyID(k[timeKeyLen:]))
			if err != nil {
				return fmt.Errorf("store: org_rdvs/%s: %w", org, err)
			}
			if r.EndsAt.Before(cutoff) {
				out = append(out, r)
			}
		}
		return nil
	})
	return out, err
}

// DeleteRDV deletes an RDV and what points to it in the store: its
// indexes, its usager's link to it (and to its organisation when no other
// RDV of the usager is there), its reminder, its notification receipts and
// the idempotency records that answer with it. It returns the deleted RDV.
func (tx *Tx) DeleteRDV(id string) (*rdv.RDV, error) {
	r, err := tx.RDV(id)
	if err != nil {
		return nil, err
	}
	if err := tx.unindexRDV(r); err != nil {
		return nil, fmt.Errorf("store: delete rdv %s: %w", id, err)
	}
	if err := tx.bucket(bucketRDVs).Delete([]byte(id)); err != nil {
		return nil, fmt.Errorf("store: delete rdv %s: %w", id, err)
	}
	if r.UsagerID != "" {
		if err := tx.bucket(bucketUsagerRDVs).Delete(usagerRDVKey(r.UsagerID, id)); err != nil {
			return nil, fmt.Errorf("store: delete rdv %s: usager_rdvs: %w", id, err)
		}
		stillThere := false
		for _, other := range tx.UsagerRDVIDs(r.UsagerID) {
			o, err := tx.RDV(other)
			if err != nil {
				return nil, fmt.Errorf("store: delete rdv %s: %w", id, err)
			}
			if o.OrganisationID == r.OrganisationID && !o.ContactOnly {
				stillThere = true
				break
			}
		}
		if !stillThere && !r.ContactOnly {
			if err := tx.bucket(bucketUsagerOrgs).Delete(joinKey(r.UsagerID, r.OrganisationID)); err != nil {
				return nil, fmt.Errorf("store: delete rdv %s: usager_orgs: %w", id, err)
			}
		}
	}
	if err := tx.forgetReminder(id); err != nil {
		return nil, err
	}
	if err := deletePrefix(tx.bucket(bucketReceipts), receiptPrefix(id)); err != nil {
		return nil, fmt.Errorf("store: delete rdv %s: receipts: %w", id, err)
	}
	if err := tx.deleteIdempotencyFor(r); err != nil {
		return nil, err
	}
	return r, nil
}

// forgetReminder removes the reminder of an RDV, pending or sent.
func (tx *Tx) forgetReminder(rdvID string) error {
	prev, err := tx.reminderByRDV(rdvID)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !prev.Sent {
		if err := tx.bucket(bucketReminders).Delete(reminderKey(prev.Due, rdvID)); err != nil {
			return fmt.Errorf("store: reminders: %w", err)
		}
	}
	if err := tx.bucket(bucketReminderByRDV).Delete(idKey(rdvID)); err != nil {
		return fmt.Errorf("store: reminder_by_rdv/%s: %w", rdvID, err)
	}
	return nil
}

// deleteIdempotencyFor removes the idempotency records whose response is
// the RDV r. Such a record is written in the transaction that creates the
// RDV, with the RDV's own creation time, so only the records made around
// r.CreatedAt are looked at (idempotency_by_time), not the whole bucket.
func (tx *Tx) deleteIdempotencyFor(r *rdv.RDV) error {
	recs, byTime := tx.bucket(bucketIdempotency), tx.bucket(bucketIdempotencyByTime)
	end := timeKey(r.CreatedAt.Add(idempotencyWindow), "")
	var index [][]byte
	c := byTime.Cursor()
	for k, _ := c.Seek(timeKey(r.CreatedAt.Add(-idempotencyWindow), "")); k != nil && bytes.Compare(k, end) < 0; k, _ = c.Next() {
		v := recs.Get(k[timeKeyLen:])
		if v == nil {
			continue
		}
		rec, err := decodeIdempotency(v)
		if err != nil {
			return fmt.Errorf("store: idempotency record: %w", err)
		}
		if string(rec.Response) == r.ID {
			index = append(index, bytes.Clone(k))
		}
	}
	for _, k := range index {
		if err := recs.Delete(k[timeKeyLen:]); err != nil {
			return fmt.Errorf("store: idempotency: %w", err)
		}
		if err := byTime.Delete(k); err != nil {
			return fmt.Errorf("store: %s: %w", bucketIdempotencyByTime, err)
		}
	}
	return nil
}

// idempotencyWindow is how far from an RDV's creation time its
// idempotency records are looked for (they share one clock reading).
const idempotencyWindow = time.Second

// DeleteUsager deletes an usager, its lookup and search entries and the
// organisations that know it. Its RDVs must have been deleted first.
func (tx *Tx) DeleteUsager(id string) error {
	if ids := tx.UsagerRDVIDs(id); len(ids) > 0 {
		return fmt.Errorf("store: delete usager %s: %d rdv(s) still point to it", id, len(ids))
	}
	u, err := tx.Usager(id)
	if err != nil {
		return err
	}
	for _, e := range usagerIndexEntries(u) {
		if err := tx.bucket(e.bucket).Delete(e.key); err != nil {
			return fmt.Errorf("store: delete usager %s: %s: %w", id, e.bucket, err)
		}
	}
	if err := tx.ForgetUsager(id); err != nil {
		return err
	}
	if err := tx.bucket(bucketUsagers).Delete([]byte(id)); err != nil {
		return fmt.Errorf("store: delete usager %s: %w", id, err)
	}
	return nil
}

// ForgetUsager removes the usager from every organisation's view (search,
// pick by id, export) while its records wait for deletion.
func (tx *Tx) ForgetUsager(id string) error {
	if err := deletePrefix(tx.bucket(bucketUsagerOrgs), joinKey(id, "")); err != nil {
		return fmt.Errorf("store: forget usager %s: usager_orgs: %w", id, err)
	}
	return nil
}

// UsagersWithoutRDV returns up to limit usagers that no RDV points to,
// in id order, after the id after ("" for the first).
func (tx *ReadTx) UsagersWithoutRDV(after string, limit int) []string {
	var out []string
	links := tx.bucket(bucketUsagerRDVs).Cursor()
	c := tx.bucket(bucketUsagers).Cursor()
	k, _ := c.Seek([]byte(after))
	if k != nil && after != "" && string(k) == after {
		k, _ = c.Next()
	}
	for ; k != nil && len(out) < limit; k, _ = c.Next() {
		prefix := joinKey(string(k), "")
		if l, _ := links.Seek(prefix); l == nil || !bytes.HasPrefix(l, prefix) {
			out = append(out, string(k))
		}
	}
	return out
}

// DeleteOutbox deletes the outbox records whose key starts with prefix,
// pending or dead, and returns how many.
func (tx *Tx) DeleteOutbox(prefix string) (int, error) {
	var recs []*OutboxRecord
	if err := tx.EachOutbox(prefix, func(r *OutboxRecord) error {
		c := *r
		recs = append(recs, &c)
		return nil
	}); err != nil {
		return 0, err
	}
	for _, r := range recs {
		if !r.Dead {
			if err := tx.bucket(bucketOutboxDue).Delete(timeKey(r.dueAt(), r.Key)); err != nil {
				return 0, fmt.Errorf("store: outbox due index: %w", err)
			}
		}
		if err := tx.bucket(bucketOutbox).Delete([]byte(r.Key)); err != nil {
			return 0, fmt.Errorf("store: outbox: %w", err)
		}
	}
	return len(recs), nil
}

// HasPendingOutbox reports whether a record whose key starts with prefix
// still waits for delivery (dead records do not count).
func (tx *ReadTx) HasPendingOutbox(prefix string) (bool, error) {
	pending := false
	err := tx.EachOutbox(prefix, func(r *OutboxRecord) error {
		pending = pending || !r.Dead
		return nil
	})
	return pending, err
}

// AnonymiseReceipts removes what may identify someone — the remote
// server's words about a failure (already redacted, but free text) and
// the agent — from the receipts made before cutoff, scanning at most
// limit receipts from the position from ("" for the start). It returns
// how many it changed and where the next call starts ("" when the scan is
// over). Channel, event, recipient kind, result and time stay, for
// statistics.
func (tx *Tx) AnonymiseReceipts(cutoff time.Time, from string, limit int) (changed int, next string, err error) {
	b := tx.bucket(bucketReceipts)
	var keys [][]byte
	var vals []Receipt
	c := b.Cursor()
	k, v := c.Seek([]byte(from))
	for scanned := 0; k != nil && scanned < limit; k, v = c.Next() {
		scanned++
		// The key holds the time: <rdv id>\x00<t at><seq>.
		if _, at, err := splitReceiptKey(k); err != nil || !at.Before(cutoff) {
			continue
		}
		r, err := decodeReceipt(k, v)
		if err != nil {
			return 0, "", fmt.Errorf("store: receipt: %w", err)
		}
		if r.Anonymised {
			continue
		}
		keys, vals = append(keys, bytes.Clone(k)), append(vals, r)
	}
	if k != nil {
		next = string(k)
	}
	for i, k := range keys {
		r := vals[i]
		r.Error, r.AgentID, r.Anonymised = "", "", true
		v, err := encodeReceipt(k, r)
		if err != nil {
			return 0, "", fmt.Errorf("store: encode receipt: %w", err)
		}
		if err := b.Put(k, v); err != nil {
			return 0, "", fmt.Errorf("store: receipts: %w", err)
		}
	}
	return len(keys), next, nil
}

// MarkErasure records that the usager's data is to be erased once what
// is still owed about its RDVs (cancellation notices) has gone out, and
// hides it from every organisation meanwhile.
func (tx *Tx) MarkErasure(usagerID string, at time.Time) error {
	if err := tx.bucket(bucketErasures).Put([]byte(usagerID), uint64Bytes(keyNanos(at))); err != nil {
		return fmt.Errorf("store: erasures: %w", err)
	}
	return tx.ForgetUsager(usagerID)
}

// ErasurePending reports whether the usager waits for erasure.
func (tx *ReadTx) ErasurePending(usagerID string) bool {
	return tx.bucket(bucketErasures).Get([]byte(usagerID)) != nil
}

// Erasures returns the usagers waiting for erasure.
func (tx *ReadTx) Erasures() []string {
	var ids []string
	tx.bucket(bucketErasures).ForEach(func(k, _ []byte) error {
		ids = append(ids, string(k))
		return nil
	})
	return ids
}

// EndErasure forgets the erasure of an usager (once it is deleted).
func (tx *Tx) EndErasure(usagerID string) error {
	if err := tx.bucket(bucketErasures).Delete([]byte(usagerID)); err != nil {
		return fmt.Errorf("store: erasures: %w", err)
	}
	return nil
}

// deletePrefix deletes the keys of b that start with prefix.
func deletePrefix(b KVBucket, prefix []byte) error {
	var keys [][]byte
	c := b.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, bytes.Clone(k))
	}
	for _, k := range keys {
		if err := b.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// contactsAndUsagerRDVs is migration 7: every RDV gets the contact of its
// usager as it is now (the best knowledge of what its author gave), and
// usager_rdvs links usagers to their RDVs.
func contactsAndUsagerRDVs(tx KVTx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketErasures); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketErasures, err)
	}
	links, err := tx.CreateBucketIfNotExists(bucketUsagerRDVs)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketUsagerRDVs, err)
	}
	rdvs, usagers := tx.Bucket(bucketRDVs), tx.Bucket(bucketUsagers)
	var keys, ids [][]byte
	var vals [][]byte
	err = rdvs.ForEach(func(k, v []byte) error {
		r, err := decodeRDV(k, v)
		if err != nil {
			return fmt.Errorf("rdv %s: %w", k, err)
		}
		if r.UsagerID == "" {
			return nil
		}
		keys = append(keys, usagerRDVKey(r.UsagerID, r.ID))
		if r.Contact != (rdv.Contact{}) {
			return nil
		}
		if uv := usagers.Get([]byte(r.UsagerID)); uv != nil {
			u, err := decodeUsager([]byte(r.UsagerID), uv)
			if err != nil {
				return fmt.Errorf("usager %s: %w", r.UsagerID, err)
			}
			r.Contact = rdv.ContactOf(u)
			nv, err := encodeRDV(r)
			if err != nil {
				return fmt.Errorf("rdv %s: %w", k, err)
			}
			ids, vals = append(ids, bytes.Clone(k)), append(vals, nv)
		}
		return nil
	})
	if err != nil {
		return err
	}
	for i, k := range ids {
		if err := rdvs.Put(k, vals[i]); err != nil {
			return err
		}
	}
	slices.SortFunc(keys, bytes.Compare)
	for _, k := range keys {
		if err := links.Put(k, nil); err != nil {
			return err
		}
	}
	return nil
}
