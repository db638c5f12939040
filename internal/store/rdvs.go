package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"rdvsync/internal/rdv"
)

// RDV returns the RDV with the given id, or an error wrapping rdv.ErrNotFound.
func (tx *ReadTx) RDV(id string) (*rdv.RDV, error) {
	b := tx.bucket(bucketRDVs).Get([]byte(id))
	if b == nil {
		return nil, fmt.Errorf("rdv %s: %w", id, rdv.ErrNotFound)
	}
	r, err := decodeRDV([]byte(id), b)
	if err != nil {
		return nil, fmt.Errorf("store: rdvs/%s: %w", id, err)
	}
	return r, nil
}

// maxRDVDuration is the longest RDV ever stored: interval queries on
// agent_busy, which is keyed by start, must look that far before their window.
func (tx *ReadTx) maxRDVDuration() time.Duration {
	if !tx.loaded {
		if v := tx.bucket(bucketMeta).Get(keyMaxRDVDuration); len(v) == 8 {
			tx.maxDur = time.Duration(binary.BigEndian.Uint64(v))
		}
		tx.loaded = true
	}
	return tx.maxDur
}

// eachBusy calls fn for every active RDV of the agent that overlaps
// [from, to), in start order, until fn returns false.
func (tx *ReadTx) eachBusy(agentID string, from, to time.Time, fn func(iv rdv.Interval, rdvID []byte) bool) {
	b := tx.bucket(bucketAgentBusy).Bucket([]byte(agentID))
	if b == nil || !from.Before(to) {
		return
	}
	end := keyNanos(to)
	fromNanos := keyNanos(from)
	c := b.Cursor()
	for k, v := c.Seek(timeKey(from.Add(-tx.maxRDVDuration()), "")); k != nil; k, v = c.Next() {
		if len(k) < timeKeyLen || len(v) != timeKeyLen {
			continue
		}
		if binary.BigEndian.Uint64(k) >= end {
			return
		}
		if binary.BigEndian.Uint64(v) <= fromNanos {
			continue // over before the window starts
		}
		if !fn(rdv.Interval{Start: keyTime(k), End: keyTime(v)}, k[timeKeyLen:]) {
			return
		}
	}
}

// AppendAgentBusy appends to dst the intervals of the agent's active
// (non-cancelled) RDVs that overlap [from, to), sorted by start, and returns
// the extended slice. Intervals are in UTC and are not clipped to the window.
func (tx *ReadTx) AppendAgentBusy(dst []rdv.Interval, agentID string, from, to time.Time) []rdv.Interval {
	return tx.AppendAgentBusyExcept(dst, agentID, from, to, "")
}

// AppendAgentBusyExcept is AppendAgentBusy leaving out the RDV ignoreRDVID
// (the RDV being moved, or ""), so that it does not collide with itself.
func (tx *ReadTx) AppendAgentBusyExcept(dst []rdv.Interval, agentID string, from, to time.Time, ignoreRDVID string) []rdv.Interval {
	ignore := idKey(ignoreRDVID)
	tx.eachBusy(agentID, from, to, func(iv rdv.Interval, id []byte) bool {
		if ignoreRDVID == "" || !bytes.Equal(id, ignore) {
			dst = append(dst, iv)
		}
		return true
	})
	return dst
}

// AgentHasOverlap reports whether an active RDV of the agent, other than
// ignoreRDVID (the RDV being moved, or ""), shares an instant with iv.
// Touching intervals (one ends when the other starts) do not overlap.
func (tx *ReadTx) AgentHasOverlap(agentID string, iv rdv.Interval, ignoreRDVID string) bool {
	found := false
	ignore := idKey(ignoreRDVID)
	tx.eachBusy(agentID, iv.Start, iv.End, func(_ rdv.Interval, id []byte) bool {
		found = !bytes.Equal(id, ignore)
		return !found
	})
	return found
}

// CountAgentRDVs counts the agent's active RDVs that start in [from, to).
func (tx *ReadTx) CountAgentRDVs(agentID string, from, to time.Time) int {
	b := tx.bucket(bucketAgentBusy).Bucket([]byte(agentID))
	if b == nil {
		return 0
	}
	return countRange(b.Cursor(), from, to)
}

// countRange counts the keys of a time-prefixed bucket in [from, to).
func countRange(c KVCursor, from, to time.Time) int {
	end := timeKey(to, "")
	n := 0
	for k, _ := c.Seek(timeKey(from, "")); k != nil && bytes.Compare(k, end) < 0; k, _ = c.Next() {
		n++
	}
	return n
}

// EachOrgRDV calls fn, in start order, for every RDV of the organisation —
// cancelled ones included — that starts in [from, to). An error from fn
// stops the scan and is returned unchanged.
func (tx *ReadTx) EachOrgRDV(orgID string, from, to time.Time, fn func(*rdv.RDV) error) error {
	b := tx.bucket(bucketOrgRDVs).Bucket([]byte(orgID))
	if b == nil {
		return nil
	}
	end := timeKey(to, "")
	c := b.Cursor()
	for k, _ := c.Seek(timeKey(from, "")); k != nil && bytes.Compare(k, end) < 0; k, _ = c.Next() {
		if len(k) < timeKeyLen {
			continue
		}
		r, err := tx.RDV(keyID(k[timeKeyLen:]))
		if err != nil {
			return fmt.Errorf("store: org_rdvs/%s: %w", orgID, err)
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// PutRDV inserts r or replaces the stored RDV with the same id, and brings
// every index up to date: the entries of the previous version are removed,
// so a moved or cancelled RDV frees its old slot at once, and a cancelled
// RDV leaves agent_busy. It sets r.RdvsID: a new RDV gets the next integer
// id, a stored one keeps its own. PutRDV does not check availability; the caller
// checks AgentHasOverlap in the same transaction.
func (tx *Tx) PutRDV(r *rdv.RDV) error {
	if err := checkRDV(r); err != nil {
		return fmt.Errorf("store: put rdv %s: %w", r.ID, err)
	}
	rdvs := tx.bucket(bucketRDVs)
	var prevID *int64
	if old := rdvs.Get([]byte(r.ID)); old != nil {
		prev, err := decodeRDV([]byte(r.ID), old)
		if err != nil {
			return fmt.Errorf("store: put rdv %s: previous version: %w", r.ID, err)
		}
		if err := tx.unindexRDV(prev); err != nil {
			return fmt.Errorf("store: put rdv %s: %w", r.ID, err)
		}
		if prev.UsagerID != r.UsagerID && prev.UsagerID != "" {
			if err := tx.bucket(bucketUsagerRDVs).Delete(usagerRDVKey(prev.UsagerID, r.ID)); err != nil {
				return fmt.Errorf("store: put rdv %s: usager_rdvs: %w", r.ID, err)
			}
		}
		prevID = &prev.RdvsID
	}
	if err := keepRdvsID(rdvs, prevID, &r.RdvsID); err != nil {
		return fmt.Errorf("store: put rdv %s: %w", r.ID, err)
	}
	val, err := encodeRDV(r)
	if err != nil {
		return fmt.Errorf("store: put rdv %s: encode: %w", r.ID, err)
	}
	if err := rdvs.Put([]byte(r.ID), val); err != nil {
		return fmt.Errorf("store: put rdv %s: %w", r.ID, err)
	}
	if err := tx.indexRDV(r); err != nil {
		return fmt.Errorf("store: put rdv %s: %w", r.ID, err)
	}
	if err := tx.noteUsagerRDV(r.UsagerID, r.ID); err != nil {
		return err
	}
	if tx.ErasurePending(r.UsagerID) {
		return nil // no organisation may find it again
	}
	if r.ContactOnly {
		return nil // booked from another organisation: the usager stays theirs
	}
	return tx.noteUsagerOrg(r.UsagerID, r.OrganisationID)
}

func checkRDV(r *rdv.RDV) error {
	switch {
	case r.ID == "":
		return fmt.Errorf("empty id")
	case r.OrganisationID == "":
		return fmt.Errorf("empty organisation_id")
	case !r.StartsAt.Before(r.EndsAt):
		return fmt.Errorf("ends_at %s is not after starts_at %s", r.EndsAt.Format(time.RFC3339), r.StartsAt.Format(time.RFC3339))
	case r.StartsAt.Before(minKeyTime) || r.EndsAt.After(maxKeyTime):
		return fmt.Errorf("times out of range (1970–2262)")
	case slices.Contains(r.AgentIDs, ""):
		return fmt.Errorf("empty agent id")
	}
	return nil
}

// rdvIndexKey is the key of an RDV in org_rdvs and agent_busy: its start
// and its id packed (idKey).
func rdvIndexKey(r *rdv.RDV) []byte { return timeKey(r.StartsAt, string(idKey(r.ID))) }

func (tx *Tx) indexRDV(r *rdv.RDV) error {
	key := rdvIndexKey(r)
	org, err := tx.bucket(bucketOrgRDVs).CreateBucketIfNotExists([]byte(r.OrganisationID))
	if err != nil {
		return fmt.Errorf("org_rdvs/%s: %w", r.OrganisationID, err)
	}
	if err := org.Put(key, nil); err != nil {
		return fmt.Errorf("org_rdvs/%s: %w", r.OrganisationID, err)
	}
	if !r.Active() {
		return nil
	}
	if err := tx.raiseMaxRDVDuration(r.EndsAt.Sub(r.StartsAt)); err != nil {
		return err
	}
	end := uint64Bytes(keyNanos(r.EndsAt))
	for _, agentID := range r.AgentIDs {
		busy, err := tx.bucket(bucketAgentBusy).CreateBucketIfNotExists([]byte(agentID))
		if err != nil {
			return fmt.Errorf("agent_busy/%s: %w", agentID, err)
		}
		if err := busy.Put(key, end); err != nil {
			return fmt.Errorf("agent_busy/%s: %w", agentID, err)
		}
		tx.busyChanged(agentID)
	}
	return nil
}

func (tx *Tx) unindexRDV(r *rdv.RDV) error {
	key := rdvIndexKey(r)
	if org := tx.bucket(bucketOrgRDVs).Bucket([]byte(r.OrganisationID)); org != nil {
		if err := org.Delete(key); err != nil {
			return fmt.Errorf("org_rdvs/%s: %w", r.OrganisationID, err)
		}
	}
	// Cancelled versions have no agent_busy entries; deleting is a no-op then.
	for _, agentID := range r.AgentIDs {
		if busy := tx.bucket(bucketAgentBusy).Bucket([]byte(agentID)); busy != nil {
			if err := busy.Delete(key); err != nil {
				return fmt.Errorf("agent_busy/%s: %w", agentID, err)
			}
			tx.busyChanged(agentID)
		}
	}
	return nil
}

func (tx *Tx) raiseMaxRDVDuration(d time.Duration) error {
	if d <= tx.maxRDVDuration() {
		return nil
	}
	if err := tx.bucket(bucketMeta).Put(keyMaxRDVDuration, uint64Bytes(uint64(d))); err != nil {
		return fmt.Errorf("meta/%s: %w", keyMaxRDVDuration, err)
	}
	tx.maxDur = d
	return nil
}
