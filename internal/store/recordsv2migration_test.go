package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"rdvsync/internal/rdv"
)

// TestMigration8RewritesRecordsInFormat2: a file of schema version 7
// holds RDVs, usagers, reminders and receipts in format 1 (JSON); after migration 8
// every one is in format 2, the RDV ids in the keys of reminders,
// receipts, usager_rdvs, org_rdvs and agent_busy are packed, and every record reads back identical, over
// several chunks of the rewrite.
func TestMigration8RewritesRecordsInFormat2(t *testing.T) {
	defer func(n int) { rewriteChunk = n }(rewriteChunk)
	rewriteChunk = 7

	path := filepath.Join(t.TempDir(), "v7.db")
	s, err := open(path, Options{NoSync: true}, migrations[:7])
	if err != nil {
		t.Fatal(err)
	}
	var (
		rdvs     []*rdv.RDV
		usagers  []*rdv.Usager
		receipts []Receipt
		reminds  []Reminder
	)
	created := day0.Add(-48*time.Hour + 123456789)
	for i := range 30 {
		u := &rdv.Usager{ID: fmt.Sprintf("019ad6a2-7e3f-7c1a-9b4e-2f6d8c0a%04x", i), RdvsID: int64(i + 1),
			FirstName: "Léa", LastName: fmt.Sprintf("Dubois %d", i), Email: fmt.Sprintf("lea%d@example.org", i),
			PhoneNumber: "+33612345678", PhoneMobile: i%2 == 0, CreatedAt: created, UpdatedAt: created.Add(time.Duration(i) * time.Minute)}
		r := newRDV(fmt.Sprintf("019ad6a2-7e3f-7c1a-9b4e-2f6d8c0b%04x", i), "mds-arras", at(i, 0), time.Hour, "a")
		r.RdvsID, r.UsagerID, r.UsagerToken, r.Version = int64(i+1), u.ID, "k3Yb9xQw2LmN8pRt5vZa7cDe4fGh6jKs", 1
		r.CreatedAt, r.UpdatedAt, r.Contact = created, created, rdv.ContactOf(u)
		r.Context = "Première ligne\nseconde"
		if i%3 == 0 {
			cancelled := created.Add(time.Hour)
			r.Status, r.CancelledAt, r.CancelReason = rdv.StatusExcused, &cancelled, "Empêché"
		}
		rdvs, usagers = append(rdvs, r), append(usagers, u)
		reminds = append(reminds, Reminder{RDVID: r.ID, Due: r.StartsAt.Add(-48 * time.Hour), Start: r.StartsAt, Version: i, Sent: i%4 == 0})
		receipts = append(receipts,
			Receipt{RDVID: r.ID, Channel: "email", Transport: "spool", Event: "created", Recipient: "usager",
				MessageID: r.ID + ".created.0.usager", Attempt: 1, Result: "ok", At: created.Add(time.Second)},
			Receipt{RDVID: r.ID, Channel: "sms", Transport: "http", Event: "created", Recipient: "usager",
				MessageID: r.ID + ".created.0.usager", Attempt: 1, Result: "failed", Error: "délai dépassé", At: created.Add(2 * time.Second)})
	}
	err = s.kv.Update(context.Background(), func(tx KVTx) error {
		for _, r := range rdvs {
			v, err := encodeRDVV1(r)
			if err == nil {
				err = tx.Bucket(bucketRDVs).Put([]byte(r.ID), v)
			}
			if err != nil {
				return err
			}
		}
		// The index keys of format 1: the RDV id as text.
		org, err := tx.Bucket(bucketOrgRDVs).CreateBucketIfNotExists([]byte("mds-arras"))
		if err != nil {
			return err
		}
		busy, err := tx.Bucket(bucketAgentBusy).CreateBucketIfNotExists([]byte("a"))
		if err != nil {
			return err
		}
		for _, r := range rdvs {
			if err := tx.Bucket(bucketUsagerRDVs).Put(joinKey(r.UsagerID, r.ID), nil); err != nil {
				return err
			}
			if err := org.Put(timeKey(r.StartsAt, r.ID), nil); err != nil {
				return err
			}
			if r.Active() {
				if err := busy.Put(timeKey(r.StartsAt, r.ID), uint64Bytes(keyNanos(r.EndsAt))); err != nil {
					return err
				}
			}
		}
		for _, u := range usagers {
			v, err := encodeUsagerV1(u)
			if err == nil {
				err = tx.Bucket(bucketUsagers).Put([]byte(u.ID), v)
			}
			if err != nil {
				return err
			}
		}
		for _, r := range reminds {
			due := r.Due
			v, err := json.Marshal(reminderV1{V: recordV1, Start: r.Start, Version: r.Version, Due: &due, Sent: r.Sent})
			if err == nil {
				err = tx.Bucket(bucketReminderByRDV).Put([]byte(r.RDVID), v)
			}
			if err == nil && !r.Sent {
				v, err = json.Marshal(reminderV1{V: recordV1, Start: r.Start, Version: r.Version})
				if err == nil {
					err = tx.Bucket(bucketReminders).Put(timeKey(r.Due, r.RDVID), v)
				}
			}
			if err != nil {
				return err
			}
		}
		for i, r := range receipts {
			v, err := json.Marshal(receiptV1{V: recordV1, Receipt: r})
			if err == nil {
				// The key of format 1: the RDV id as text.
				k := binary.BigEndian.AppendUint64(append(joinKey(r.RDVID, ""), timeKey(r.At, "")...), uint64(i+1))
				err = tx.Bucket(bucketReceipts).Put(k, v)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s = reopenMigrated(t, s, path)
	defer s.Close()
	view(t, s, func(tx *ReadTx) {
		if v, _ := schemaVersion(tx.kv); v != 8 {
			t.Errorf("schema version %d, want 8", v)
		}
		for _, name := range [][]byte{bucketRDVs, bucketUsagers, bucketReceipts, bucketReminders, bucketReminderByRDV, bucketUsagerRDVs} {
			n := 0
			tx.kv.Bucket(name).ForEach(func(k, v []byte) error {
				n++
				if !bytes.Equal(name, bucketUsagerRDVs) && (len(v) == 0 || v[0] != recordV2) {
					t.Errorf("%s/%s is still %q", name, k, v)
				}
				if !bytes.Equal(name, bucketRDVs) && bytes.Contains(k, []byte("2f6d8c0b")) {
					t.Errorf("%s/%s: the key holds the RDV id as text", name, k)
				}
				return nil
			})
			if n == 0 {
				t.Errorf("%s is empty", name)
			}
		}
		for _, want := range rdvs {
			if got, err := tx.RDV(want.ID); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("rdv after migration 8: %v\n got %+v\nwant %+v", err, got, want)
			}
		}
		for _, name := range [][]byte{bucketOrgRDVs, bucketAgentBusy} {
			tx.kv.Bucket(name).ForEachBucket(func(sub []byte) error {
				return tx.kv.Bucket(name).Bucket(sub).ForEach(func(k, _ []byte) error {
					if bytes.Contains(k, []byte("2f6d8c0b")) {
						t.Errorf("%s/%s/%q: the key holds the RDV id as text", name, sub, k)
					}
					return nil
				})
			})
		}
		var listed []*rdv.RDV
		tx.EachOrgRDV("mds-arras", day0.Add(-time.Hour), day0.Add(1000*time.Hour), func(r *rdv.RDV) error { listed = append(listed, r); return nil })
		if !reflect.DeepEqual(listed, rdvs) {
			t.Errorf("org_rdvs after migration 8 lists %d rdvs, want %d", len(listed), len(rdvs))
		}
		for _, r := range rdvs {
			if tx.AgentHasOverlap("a", r.Interval(), "") != r.Active() || tx.AgentHasOverlap("a", r.Interval(), r.ID) {
				t.Errorf("agent_busy after migration 8 does not hold %s (active: %v) alone", r.ID, r.Active())
			}
		}
		for i, u := range usagers {
			if got := tx.UsagerRDVIDs(u.ID); len(got) != 1 || got[0] != rdvs[i].ID {
				t.Errorf("rdvs of usager %s after migration 8: %v", u.ID, got)
			}
		}
		for _, want := range usagers {
			if got, err := tx.Usager(want.ID); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("usager after migration 8: %v\n got %+v\nwant %+v", err, got, want)
			}
		}
		for _, want := range reminds {
			if got, err := tx.Reminder(want.RDVID); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("reminder after migration 8: %v\n got %+v\nwant %+v", err, got, want)
			}
		}
		var got []Receipt
		tx.EachReceipt(func(r Receipt) error { got = append(got, r); return nil })
		if !reflect.DeepEqual(got, receipts) {
			t.Errorf("receipts after migration 8:\n got %+v\nwant %+v", got, receipts)
		}
	})
	// The pending reminders are handed out from their format 2 values.
	var due []Reminder
	update(t, s, func(tx *Tx) (err error) {
		due, err = tx.TakeDueReminders(day0.Add(1000*time.Hour), 100)
		return err
	})
	for _, r := range reminds {
		if !r.Sent {
			r.Sent = true
			if !slices.ContainsFunc(due, func(d Reminder) bool { return reflect.DeepEqual(d, r) }) {
				t.Errorf("reminder %+v not handed out: %+v", r, due)
			}
		}
	}
}
