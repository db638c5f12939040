package store

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"rdvsync/internal/rdv"
)

// traces lists "bucket: key" for every key or value, in every bucket and
// nested bucket, that contains needle.
func traces(t *testing.T, s *Store, needle string) []string {
	t.Helper()
	var out []string
	// Keys and records hold UUIDs as their 16 bytes.
	packed, _ := packUUID(needle)
	var walk func(path string, b KVBucket)
	walk = func(path string, b KVBucket) {
		b.ForEach(func(k, v []byte) error {
			if v == nil && b.Bucket(k) != nil {
				return nil // a nested bucket: walked below
			}
			if bytes.Contains(k, []byte(needle)) || bytes.Contains(v, []byte(needle)) ||
				packed != nil && (bytes.Contains(k, packed) || bytes.Contains(v, packed)) {
				out = append(out, path+": "+string(bytes.ToValidUTF8(k, []byte("?"))))
			}
			return nil
		})
		b.ForEachBucket(func(k []byte) error {
			if bytes.Contains(k, []byte(needle)) {
				out = append(out, path+"/"+string(k)+" (bucket)")
			}
			walk(path+"/"+string(k), b.Bucket(k))
			return nil
		})
	}
	view(t, s, func(tx *ReadTx) {
		for _, name := range topBuckets(t) {
			if b := tx.bucket(name); b != nil {
				walk(string(name), b)
			}
		}
	})
	return out
}

// topBuckets names every top-level bucket, as the migrations make them.
func topBuckets(t *testing.T) [][]byte {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), "buckets.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var names [][]byte
	s.bolt.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, bytes.Clone(name))
			return nil
		})
	})
	return names
}

// TestDeleteRDVLeavesNothing: deleting an RDV (then its usager) removes
// every trace of it from every bucket, and nothing of the others, with
// ids as text and as UUIDs (which keys hold packed).
func TestDeleteRDVLeavesNothing(t *testing.T) {
	t.Run("text ids", func(t *testing.T) {
		deleteRDVLeavesNothing(t, strings.NewReplacer())
	})
	t.Run("uuids", func(t *testing.T) {
		deleteRDVLeavesNothing(t, strings.NewReplacer(
			"rdv-old-aaaa", "019ad6a2-7e3f-7c1a-9b4e-00000000aaaa", "usager-old-bbbb", "019ad6a2-7e3f-7c1a-9b4e-00000000bbbb",
			"rdv-other-cccc", "019ad6a2-7e3f-7c1a-9b4e-00000000cccc", "rdv-keep-dddd", "019ad6a2-7e3f-7c1a-9b4e-00000000dddd",
			"usager-keep-eeee", "019ad6a2-7e3f-7c1a-9b4e-00000000eeee"))
	})
}

func deleteRDVLeavesNothing(t *testing.T, ids *strings.Replacer) {
	s := openTest(t)
	old := newRDV(ids.Replace("rdv-old-aaaa"), "mds-arras", at(1, 0), time.Hour, "camille")
	old.UsagerID = ids.Replace("usager-old-bbbb")
	other := newRDV(ids.Replace("rdv-other-cccc"), "mds-lens", at(3, 0), time.Hour, "sophie")
	other.UsagerID = ids.Replace("usager-old-bbbb")
	keep := newRDV(ids.Replace("rdv-keep-dddd"), "mds-arras", at(5, 0), time.Hour, "camille")
	keep.UsagerID = ids.Replace("usager-keep-eeee")
	putUsagers(t, s, &rdv.Usager{ID: ids.Replace("usager-old-bbbb"), FirstName: "Zélie", LastName: "Quenouille", Email: "zelie@example.org", PhoneNumber: "+33611111111"},
		&rdv.Usager{ID: ids.Replace("usager-keep-eeee"), FirstName: "Léa", LastName: "Dubois"})
	put(t, s, old, other, keep)
	update(t, s, func(tx *Tx) error {
		for _, r := range []*rdv.RDV{old, keep} {
			if err := tx.ScheduleReminder(Reminder{RDVID: r.ID, Due: r.StartsAt.Add(-48 * time.Hour), Start: r.StartsAt, Version: 1}); err != nil {
				return err
			}
			if err := tx.AddReceipt(Receipt{RDVID: r.ID, Channel: "email", Event: "created", Recipient: "usager", Result: "ok", At: day0}); err != nil {
				return err
			}
			// Written with the RDV, as booking does: same clock reading.
			if err := tx.PutIdempotency("prescripteur:x", "key-"+r.ID, IdempotencyRecord{BodySHA256: "h", Status: 201, Response: []byte(r.ID), CreatedAt: r.CreatedAt}); err != nil {
				return err
			}
		}
		return tx.Enqueue(OutboxRecord{Key: "notify/" + old.ID + "/created/v1/usager/email", Kind: "email", RDVID: old.ID}, day0)
	})

	update(t, s, func(tx *Tx) error {
		if _, err := tx.DeleteOutbox("notify/" + old.ID + "/"); err != nil {
			return err
		}
		_, err := tx.DeleteRDV(old.ID)
		return err
	})
	if got := traces(t, s, old.ID); len(got) > 0 {
		t.Errorf("the deleted RDV is still in %v", got)
	}
	view(t, s, func(tx *ReadTx) {
		if tx.UsagerKnownTo(ids.Replace("usager-old-bbbb"), []string{"mds-arras"}) {
			t.Error("the MDS Arras still knows an usager whose only RDV there is deleted")
		}
		if !tx.UsagerKnownTo(ids.Replace("usager-old-bbbb"), []string{"mds-lens"}) {
			t.Error("the MDS Lens forgot an usager that still has an RDV there")
		}
		if _, err := tx.Reminder(keep.ID); err != nil {
			t.Errorf("the kept RDV lost its reminder: %v", err)
		}
		if r, _ := tx.Receipts(keep.ID); len(r) != 1 {
			t.Errorf("the kept RDV has %d receipts, want 1", len(r))
		}
		if _, err := tx.Idempotency("prescripteur:x", "key-"+keep.ID); err != nil {
			t.Errorf("the kept RDV lost its idempotency record: %v", err)
		}
	})

	update(t, s, func(tx *Tx) error {
		if err := tx.DeleteUsager(ids.Replace("usager-old-bbbb")); err == nil {
			t.Error("an usager with an RDV left was deleted")
		}
		if _, err := tx.DeleteRDV(other.ID); err != nil {
			return err
		}
		return tx.DeleteUsager(ids.Replace("usager-old-bbbb"))
	})
	for _, needle := range []string{ids.Replace("usager-old-bbbb"), "quenouille", "Quenouille", "zelie", "33611111111", other.ID} {
		if got := traces(t, s, needle); len(got) > 0 {
			t.Errorf("%q is still in %v", needle, got)
		}
	}
	for _, needle := range []string{keep.ID, ids.Replace("usager-keep-eeee"), "dubois"} {
		if got := traces(t, s, needle); len(got) == 0 {
			t.Errorf("%q, which was not deleted, is gone", needle)
		}
	}
}

func TestAnonymiseReceipts(t *testing.T) {
	s := openTest(t)
	update(t, s, func(tx *Tx) error {
		for i, at := range []time.Time{day0.AddDate(0, -7, 0), day0.AddDate(0, -5, 0)} {
			if err := tx.AddReceipt(Receipt{RDVID: "r1", Channel: "email", Event: "created", Recipient: "agent", AgentID: "camille",
				Result: "failed", Error: "550 mailbox [adresse] unknown", Attempt: i + 1, At: at}); err != nil {
				return err
			}
		}
		return nil
	})
	// One receipt per call: the scan resumes where the previous call ended.
	n, from, calls := 0, "", 0
	for {
		var next string
		update(t, s, func(tx *Tx) error {
			c, nx, err := tx.AnonymiseReceipts(day0.AddDate(0, -6, 0), from, 1)
			n, next = n+c, nx
			return err
		})
		if calls++; next == "" || calls > 5 {
			break
		}
		from = next
	}
	view(t, s, func(tx *ReadTx) {
		got, err := tx.Receipts("r1")
		if err != nil || len(got) != 2 || n != 1 {
			t.Fatalf("%d anonymised, receipts %+v, %v", n, got, err)
		}
		if o := got[0]; !o.Anonymised || o.Error != "" || o.AgentID != "" || o.Channel != "email" || o.Result != "failed" {
			t.Errorf("old receipt: %+v", o)
		}
		if y := got[1]; y.Anonymised || y.Error == "" || y.AgentID != "camille" {
			t.Errorf("young receipt touched: %+v", y)
		}
	})
}

func TestMigration7GivesEachRDVItsUsagersContact(t *testing.T) {
	fileOnly(t)
	path := filepath.Join(t.TempDir(), "v6.db")
	s, err := open(path, Options{NoSync: true}, migrations[:6])
	if err != nil {
		t.Fatal(err)
	}
	r := newRDV("r1", "mds-arras", at(1, 0), time.Hour, "a")
	putAsOlderVersion(t, s, r)
	u, _ := encodeUsagerV1(&rdv.Usager{ID: "u1", FirstName: "Léa", LastName: "Dubois", Email: "lea@example.org", PhoneNumber: "+33612345678", PhoneMobile: true})
	if err := s.kv.Update(context.Background(), func(tx KVTx) error { return tx.Bucket(bucketUsagers).Put([]byte("u1"), u) }); err != nil {
		t.Fatal(err)
	}
	s = reopenMigrated(t, s, path)
	defer s.Close()
	view(t, s, func(tx *ReadTx) {
		got, err := tx.RDV("r1")
		if err != nil {
			t.Fatal(err)
		}
		if want := (rdv.Contact{FirstName: "Léa", LastName: "Dubois", Email: "lea@example.org", PhoneNumber: "+33612345678", PhoneMobile: true}); got.Contact != want {
			t.Errorf("contact after migration 7: %+v", got.Contact)
		}
		if ids := tx.UsagerRDVIDs("u1"); len(ids) != 1 || ids[0] != "r1" {
			t.Errorf("usager_rdvs after migration 7: %v", ids)
		}
	})
}
