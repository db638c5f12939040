package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"rdvsync/internal/rdv"
)

func TestRDVAndUsagerIntegerIDs(t *testing.T) {
	fileOnly(t)
	path := filepath.Join(t.TempDir(), "rdvsync.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	a, b := newRDV("a", "org", at(1, 0), time.Hour, "x"), newRDV("b", "org", at(2, 0), time.Hour, "x")
	put(t, s, a, b)
	u := &rdv.Usager{ID: "u1", FirstName: "Léa", LastName: "Dubois"}
	putUsagers(t, s, u)
	if a.RdvsID != 1 || b.RdvsID != 2 || u.RdvsID != 1 {
		t.Fatalf("ids given: rdvs %d %d, usager %d; want 1 2 and 1", a.RdvsID, b.RdvsID, u.RdvsID)
	}
	// A new version written without its id (a caller that forgot it, or
	// one written from an older copy) keeps the stored one.
	moved := *a
	moved.RdvsID, moved.StartsAt, moved.EndsAt = 0, at(3, 0), at(4, 0)
	put(t, s, &moved)
	if moved.RdvsID != 1 {
		t.Errorf("a moved RDV got id %d, want its own 1", moved.RdvsID)
	}
	u2 := *u
	u2.RdvsID, u2.Email = 99, "lea@example.org"
	putUsagers(t, s, &u2)
	if u2.RdvsID != 1 {
		t.Errorf("a changed usager got id %d, want its own 1", u2.RdvsID)
	}
	// Deleting a record does not free its id: the sequence only grows.
	if err := s.kv.Update(context.Background(), func(tx KVTx) error { return tx.Bucket(bucketRDVs).Delete([]byte("b")) }); err != nil {
		t.Fatal(err)
	}
	s = reopenMigrated(t, s, path)
	defer s.Close()
	c := newRDV("c", "org", at(5, 0), time.Hour, "x")
	put(t, s, c)
	if c.RdvsID != 3 {
		t.Errorf("after a restart and a deletion, the next RDV got id %d, want 3", c.RdvsID)
	}
	view(t, s, func(tx *ReadTx) {
		if r, err := tx.RDV("a"); err != nil || r.RdvsID != 1 {
			t.Errorf("stored RDV a: %+v, %v", r, err)
		}
	})
}

func TestConfigRdvsIDsAreKept(t *testing.T) {
	fileOnly(t)
	path := filepath.Join(t.TempDir(), "rdvsync.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	assign := func(s *Store, explicit map[string]int64, ids ...string) map[string]int64 {
		t.Helper()
		var out map[string]int64
		err := s.Update(context.Background(), func(tx *Tx) error {
			var err error
			out, err = tx.ConfigRdvsIDs(KindMotif, explicit, ids)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	// "rsa" is known to the receiver as 40; the others get ids above it.
	got := assign(s, map[string]int64{"rsa": 40}, "rsa", "pmi", "caf")
	if got["rsa"] != 40 || got["pmi"] != 41 || got["caf"] != 42 {
		t.Fatalf("first assignment: %v", got)
	}
	s = reopenMigrated(t, s, path)
	defer s.Close()
	// After a restart, in another order, with a new motif: the same ids,
	// and the new one after the highest ever given.
	got = assign(s, map[string]int64{"rsa": 40}, "caf", "new", "pmi", "rsa")
	if got["rsa"] != 40 || got["pmi"] != 41 || got["caf"] != 42 || got["new"] != 43 {
		t.Fatalf("after a restart: %v", got)
	}
	view(t, s, func(tx *ReadTx) {
		if a := tx.AllocatedRdvsIDs(KindMotif); len(a) != 3 || a["pmi"] != 41 || a["rsa"] != 0 {
			t.Errorf("allocated: %v", a)
		}
		if a := tx.AllocatedRdvsIDs(KindLieu); len(a) != 0 {
			t.Errorf("allocated lieux: %v", a)
		}
	})
}

func TestMigration5NumbersStoredRecordsInCreationOrder(t *testing.T) {
	fileOnly(t)
	path := filepath.Join(t.TempDir(), "v4.db")
	s, err := open(path, Options{NoSync: true}, migrations[:4])
	if err != nil {
		t.Fatal(err)
	}
	older, newer := newRDV("zz-older", "org", at(1, 0), time.Hour, "a"), newRDV("aa-newer", "org", at(2, 0), time.Hour, "a")
	older.CreatedAt, newer.CreatedAt = day0.Add(-72*time.Hour), day0.Add(-24*time.Hour)
	putAsOlderVersion(t, s, older)
	putAsOlderVersion(t, s, newer)
	v, err := encodeUsagerV1(&rdv.Usager{ID: "u1", FirstName: "Léa", LastName: "Dubois", CreatedAt: day0})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.kv.Update(context.Background(), func(tx KVTx) error { return tx.Bucket(bucketUsagers).Put([]byte("u1"), v) }); err != nil {
		t.Fatal(err)
	}
	s = reopenMigrated(t, s, path)
	defer s.Close()
	view(t, s, func(tx *ReadTx) {
		o, _ := tx.RDV("zz-older")
		n, _ := tx.RDV("aa-newer")
		u, _ := tx.Usager("u1")
		if o.RdvsID != 1 || n.RdvsID != 2 || u.RdvsID != 1 {
			t.Errorf("after migration 5: older %d, newer %d, usager %d; want 1, 2, 1", o.RdvsID, n.RdvsID, u.RdvsID)
		}
	})
	r := newRDV("new", "org", at(3, 0), time.Hour, "a")
	put(t, s, r)
	if r.RdvsID != 3 {
		t.Errorf("first RDV after the migration got %d, want 3", r.RdvsID)
	}
}
