package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"rdvsync/internal/rdv"
)

// Reminder is the reminder of one RDV for one start time (docs/design.md §7:
// exactly one reminder per (RDV, start)).
type Reminder struct {
	RDVID   string
	Due     time.Time // when it should go out
	Start   time.Time // the start of the RDV it reminds of
	Version int       // the RDV version that scheduled it
	// Sent is true once TakeDueReminders has handed it out: scheduling the
	// same start again is then a no-op.
	Sent bool
}

// reminderV1 is format 1 of the value of reminders (without rdv_id and
// due, which are the key) and of reminder_by_rdv (all fields).
type reminderV1 struct {
	V       int        `json:"v"`
	Start   time.Time  `json:"start"`
	Version int        `json:"version"`
	Due     *time.Time `json:"due,omitempty"`
	Sent    bool       `json:"sent,omitempty"`
}

// reminderV2 is format 2 of the same values (cbor.go).
type reminderV2 struct {
	Start   stamp  `cbor:"1,keyasint"`
	Version int    `cbor:"2,keyasint,omitempty"`
	Due     *stamp `cbor:"3,keyasint,omitempty"`
	Sent    bool   `cbor:"4,keyasint,omitempty"`
}

// encodeReminder returns the stored form of r: with its due time and
// whether it was sent for reminder_by_rdv (byRDV), without for reminders.
func encodeReminder(r *Reminder, byRDV bool) ([]byte, error) {
	v := reminderV2{Start: stampOf(r.Start), Version: r.Version}
	if byRDV {
		v.Due, v.Sent = stampPtr(&r.Due), r.Sent
	}
	return marshalV2(&v)
}

// decodeReminder reads a reminder value of either format into r (Due is
// left alone when the value has none).
func decodeReminder(b []byte, r *Reminder) error {
	if isV1(b) {
		var v reminderV1
		if err := json.Unmarshal(b, &v); err != nil {
			return fmt.Errorf("decode: %w", err)
		}
		if v.V != recordV1 {
			return fmt.Errorf("record version %d, want %d", v.V, recordV1)
		}
		r.Start, r.Version, r.Sent = v.Start.UTC(), v.Version, v.Sent
		if v.Due != nil {
			r.Due = v.Due.UTC()
		}
		return nil
	}
	var v reminderV2
	if err := unmarshalV2(b, &v); err != nil {
		return err
	}
	r.Start, r.Version, r.Sent = v.Start.time(), v.Version, v.Sent
	if v.Due != nil {
		r.Due = v.Due.time()
	}
	return nil
}

// reminderKey is the key of a pending reminder: <t due><rdv id>, the id
// packed (idKey).
func reminderKey(due time.Time, rdvID string) []byte {
	return timeKey(due, string(idKey(rdvID)))
}

func (tx *ReadTx) reminderByRDV(rdvID string) (*Reminder, error) {
	b := tx.bucket(bucketReminderByRDV).Get(idKey(rdvID))
	if b == nil {
		return nil, fmt.Errorf("reminder of rdv %s: %w", rdvID, rdv.ErrNotFound)
	}
	r := &Reminder{RDVID: rdvID}
	if err := decodeReminder(b, r); err != nil {
		return nil, fmt.Errorf("store: reminder_by_rdv/%s: %w", rdvID, err)
	}
	if r.Due.IsZero() {
		return nil, fmt.Errorf("store: reminder_by_rdv/%s: no due time", rdvID)
	}
	return r, nil
}

func (tx *Tx) putReminderByRDV(r *Reminder) error {
	b, err := encodeReminder(r, true)
	if err != nil {
		return fmt.Errorf("store: encode reminder: %w", err)
	}
	if err := tx.bucket(bucketReminderByRDV).Put(idKey(r.RDVID), b); err != nil {
		return fmt.Errorf("store: reminder_by_rdv/%s: %w", r.RDVID, err)
	}
	return nil
}

// Reminder returns the reminder of an RDV (pending or sent), or an error
// wrapping rdv.ErrNotFound.
func (tx *ReadTx) Reminder(rdvID string) (Reminder, error) {
	r, err := tx.reminderByRDV(rdvID)
	if err != nil {
		return Reminder{}, err
	}
	return *r, nil
}

// ScheduleReminder makes r the reminder of its RDV, replacing a pending
// reminder of another start (the RDV moved). A reminder already sent for
// the same start stays sent: the usager is reminded once per start.
func (tx *Tx) ScheduleReminder(r Reminder) error {
	if r.RDVID == "" {
		return fmt.Errorf("store: schedule reminder: empty rdv id")
	}
	prev, err := tx.reminderByRDV(r.RDVID)
	switch {
	case err == nil:
		if prev.Start.Equal(r.Start) && prev.Sent {
			return nil
		}
		if !prev.Sent {
			if err := tx.bucket(bucketReminders).Delete(reminderKey(prev.Due, prev.RDVID)); err != nil {
				return fmt.Errorf("store: reminders: %w", err)
			}
		}
	case !IsNotFound(err):
		return err
	}
	r.Sent = false
	b, err := encodeReminder(&r, false)
	if err != nil {
		return fmt.Errorf("store: encode reminder: %w", err)
	}
	if err := tx.bucket(bucketReminders).Put(reminderKey(r.Due, r.RDVID), b); err != nil {
		return fmt.Errorf("store: reminders: %w", err)
	}
	return tx.putReminderByRDV(&r)
}

// CancelReminder removes the pending reminder of an RDV, if any. The trace
// of a reminder already sent is kept, so that reopening the RDV at the same
// start does not remind the usager twice.
func (tx *Tx) CancelReminder(rdvID string) error {
	prev, err := tx.reminderByRDV(rdvID)
	if IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if prev.Sent {
		return nil
	}
	if err := tx.bucket(bucketReminders).Delete(reminderKey(prev.Due, rdvID)); err != nil {
		return fmt.Errorf("store: reminders: %w", err)
	}
	if err := tx.bucket(bucketReminderByRDV).Delete(idKey(rdvID)); err != nil {
		return fmt.Errorf("store: reminder_by_rdv/%s: %w", rdvID, err)
	}
	return nil
}

// TakeDueReminders returns up to limit pending reminders due at or before
// now, earliest first, and marks them sent: each is handed out once, even
// one that fell due long ago while the daemon was stopped.
func (tx *Tx) TakeDueReminders(now time.Time, limit int) ([]Reminder, error) {
	end := keyNanos(now)
	var keys, vals [][]byte
	c := tx.bucket(bucketReminders).Cursor()
	for k, v := c.First(); k != nil && len(keys) < limit; k, v = c.Next() {
		if len(k) <= timeKeyLen || keyNanos(keyTime(k)) > end {
			break
		}
		// Collect first: deleting under a bbolt cursor can skip the next key.
		keys, vals = append(keys, bytes.Clone(k)), append(vals, bytes.Clone(v))
	}
	out := make([]Reminder, 0, len(keys))
	for i, k := range keys {
		r := Reminder{RDVID: keyID(k[timeKeyLen:]), Due: keyTime(k)}
		if err := decodeReminder(vals[i], &r); err != nil {
			return nil, fmt.Errorf("store: reminders: %w", err)
		}
		r.Sent = true
		if err := tx.bucket(bucketReminders).Delete(k); err != nil {
			return nil, fmt.Errorf("store: reminders: %w", err)
		}
		if err := tx.putReminderByRDV(&r); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}

// PurgeReminders forgets the reminders (sent or not) of RDVs that start
// before the cutoff, and returns how many. For the retention job: once an
// RDV is over, the trace of its reminder is no longer needed.
func (tx *Tx) PurgeReminders(startBefore time.Time) (int, error) {
	var old []Reminder
	c := tx.bucket(bucketReminderByRDV).Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		r, err := tx.reminderByRDV(keyID(k))
		if err != nil {
			return 0, err
		}
		if r.Start.Before(startBefore) {
			old = append(old, *r)
		}
	}
	for _, r := range old {
		if !r.Sent {
			if err := tx.bucket(bucketReminders).Delete(reminderKey(r.Due, r.RDVID)); err != nil {
				return 0, fmt.Errorf("store: purge reminders: %w", err)
			}
		}
		if err := tx.bucket(bucketReminderByRDV).Delete(idKey(r.RDVID)); err != nil {
			return 0, fmt.Errorf("store: purge reminders: %w", err)
		}
	}
	return len(old), nil
}

// createNotificationBuckets is migration 3.
func createNotificationBuckets(tx KVTx) error {
	for _, name := range [][]byte{bucketReminders, bucketReminderByRDV, bucketReceipts} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}
