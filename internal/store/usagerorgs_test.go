package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"rdvsync/internal/rdv"
)

func TestMigration4KnowsUsagersOfStoredRDVs(t *testing.T) {
	fileOnly(t)
	path := filepath.Join(t.TempDir(), "v3.db")
	s, err := open(path, Options{NoSync: true}, migrations[:3])
	if err != nil {
		t.Fatal(err)
	}
	r := newRDV("r1", "mds-arras", at(1, 0), time.Hour, "a")
	r.UsagerID = "u1"
	putAsOlderVersion(t, s, r)
	s = reopenMigrated(t, s, path)
	defer s.Close()
	view(t, s, func(tx *ReadTx) {
		if !tx.UsagerKnownTo("u1", []string{"ccas-lens", "mds-arras"}) {
			t.Error("the usager of a stored RDV is not known to its organisation after migration 4")
		}
		if tx.UsagerKnownTo("u1", []string{"ccas-lens"}) {
			t.Error("the usager is known to an organisation where it has no RDV")
		}
	})
	// New RDVs keep the index up to date.
	r2 := newRDV("r2", "ccas-lens", at(3, 0), time.Hour, "b")
	r2.UsagerID = "u1"
	put(t, s, r2)
	view(t, s, func(tx *ReadTx) {
		if !tx.UsagerKnownTo("u1", []string{"ccas-lens"}) {
			t.Error("a new RDV did not make its usager known to its organisation")
		}
	})
}

// putAsOlderVersion writes r as a file of an older schema holds it: the
// record alone (the indexes that schema had are not needed by the
// migration tests), without today's PutRDV, which writes buckets a newer
// schema created.
// reopenMigrated closes a store written with older migrations and opens
// it again as the daemon would, with every migration.
func reopenMigrated(t *testing.T, s *Store, path string) *Store {
	t.Helper()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func putAsOlderVersion(t *testing.T, s *Store, r *rdv.RDV) {
	t.Helper()
	v, err := encodeRDVV1(r)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.kv.Update(context.Background(), func(tx KVTx) error { return tx.Bucket(bucketRDVs).Put([]byte(r.ID), v) }); err != nil {
		t.Fatal(err)
	}
}

func TestUsagerKnownInTheTransactionThatBooks(t *testing.T) {
	s := openTest(t)
	err := s.Update(context.Background(), func(tx *Tx) error {
		r := newRDV("r1", "mds-arras", at(1, 0), time.Hour, "a")
		if err := tx.PutRDV(r); err != nil {
			return err
		}
		if !tx.UsagerKnownTo(r.UsagerID, []string{"mds-arras"}) {
			t.Error("the usager is not known to the organisation in the transaction that booked it")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// An RDV booked from another organisation for one of its usagers
// (ContactOnly, "élargir") never makes its own organisation know the
// usager: not when written, not when changed, and its deletion does not
// make an organisation forget an usager it knows by an RDV of its own.
func TestContactOnlyRDVsTeachNothing(t *testing.T) {
	s := openTest(t)
	deleteRDV := func(id string) {
		update(t, s, func(tx *Tx) error { _, err := tx.DeleteRDV(id); return err })
	}
	elargi := newRDV("r1", "mds-lens", at(1, 0), time.Hour, "a")
	elargi.ContactOnly = true
	put(t, s, elargi)
	moved := *elargi
	moved.StartsAt, moved.EndsAt, moved.Version = at(2, 0), at(3, 0), 2
	put(t, s, &moved)
	view(t, s, func(tx *ReadTx) {
		if tx.UsagerKnownTo("u1", []string{"mds-lens"}) {
			t.Error("an élargir RDV made its organisation know the usager")
		}
	})
	own := newRDV("r2", "mds-lens", at(5, 0), time.Hour, "a")
	put(t, s, own)
	deleteRDV(elargi.ID)
	view(t, s, func(tx *ReadTx) {
		if !tx.UsagerKnownTo("u1", []string{"mds-lens"}) {
			t.Error("deleting an élargir RDV made its organisation forget an usager it knows by its own RDV")
		}
	})
	again := newRDV("r3", "mds-lens", at(7, 0), time.Hour, "a")
	again.ContactOnly = true
	put(t, s, again)
	deleteRDV(own.ID)
	view(t, s, func(tx *ReadTx) {
		if tx.UsagerKnownTo("u1", []string{"mds-lens"}) {
			t.Error("an élargir RDV kept its organisation knowing the usager after its own RDV was deleted")
		}
	})
}
