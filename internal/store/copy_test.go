package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"rdvsync/internal/rdv"
)

// rawBoltBackend is an empty file with no schema: what a target of CopyTo
// is before the copy.
func rawBoltBackend(t *testing.T) Backend {
	t.Helper()
	path := filepath.Join(t.TempDir(), "target.db")
	db, err := openBolt(path, &bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return newBoltBackend(db, path)
}

// fillForCopy writes one record of every kind the copy must carry.
func fillForCopy(t *testing.T, s *Store, nRDVs int) (secret []byte) {
	t.Helper()
	now := day0
	var rs []*rdv.RDV
	for i := range nRDVs {
		rs = append(rs, newRDV(fmt.Sprintf("r%04d", i), fmt.Sprintf("org%d", i%3), at(8, 0).Add(time.Duration(i)*time.Hour), 30*time.Minute, fmt.Sprintf("a%d", i%7)))
	}
	put(t, s, rs...)
	putUsagers(t, s, &rdv.Usager{ID: "u1", FirstName: "Camille", LastName: "Martin", Email: "camille@example.org", CreatedAt: now, UpdatedAt: now})
	update(t, s, func(tx *Tx) error {
		var err error
		if secret, err = tx.DaemonSecret("forms", 32); err != nil {
			return err
		}
		if err := tx.Enqueue(OutboxRecord{Key: "calendar/a1/r0001", Kind: "calendar", AgentID: "a1", RDVID: "r0001"}, now); err != nil {
			return err
		}
		if err := tx.AddReceipt(Receipt{RDVID: "r0001", Channel: "email", Transport: "spool", Event: "created", Recipient: "usager", MessageID: "m1", Attempt: 1, Result: "ok", At: now}); err != nil {
			return err
		}
		return tx.PutIdempotency("api", "k1", IdempotencyRecord{BodySHA256: "ab", Status: 201, Response: []byte(`{}`), CreatedAt: now})
	})
	return secret
}

func TestCopyTo(t *testing.T) {
	// The source is always a file; the target is the backend under test,
	// empty and without schema.
	src, err := Open(filepath.Join(t.TempDir(), "source.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	secret := fillForCopy(t, src, 2*copyBatch+10)
	var dst Backend
	if onPostgres {
		dst = rawPostgresBackend(t)
	} else {
		dst = rawBoltBackend(t)
	}
	counts, err := src.CopyTo(context.Background(), dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for _, c := range counts {
		if c.Source != c.Target {
			t.Errorf("bucket %s: %d keys copied, %d in the target", c.Bucket, c.Source, c.Target)
		}
		if c.Bucket == string(bucketRDVs) && c.Source != 2*copyBatch+10 {
			t.Errorf("rdvs: %d copied, want %d", c.Source, 2*copyBatch+10)
		}
		total += c.Source
	}
	if total < 4*copyBatch {
		t.Errorf("%d keys copied in all: indexes missing?", total)
	}

	// A second copy into the same target is refused, leaving it as it is.
	if _, err := src.CopyTo(context.Background(), dst, nil); !errors.Is(err, ErrTargetNotEmpty) {
		t.Fatalf("second copy: %v, want ErrTargetNotEmpty", err)
	}

	got, err := New(context.Background(), dst, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	view(t, src, func(want *ReadTx) {
		view(t, got, func(tx *ReadTx) {
			for _, id := range []string{"r0000", "r0001", fmt.Sprintf("r%04d", 2*copyBatch+9)} {
				a, errA := want.RDV(id)
				b, errB := tx.RDV(id)
				if errA != nil || errB != nil || !reflect.DeepEqual(a, b) {
					t.Errorf("rdv %s: copied %+v (%v), want %+v (%v)", id, b, errB, a, errA)
				}
			}
			if u, err := tx.Usager("u1"); err != nil || u.Email != "camille@example.org" {
				t.Errorf("usager: %+v, %v", u, err)
			}
			if rs, err := tx.Receipts("r0001"); err != nil || len(rs) != 1 {
				t.Errorf("receipts: %+v, %v", rs, err)
			}
			if r, err := tx.Idempotency("api", "k1"); err != nil || r.Status != 201 {
				t.Errorf("idempotency: %+v, %v", r, err)
			}
			due, err := tx.DueOutbox(day0, 10, nil)
			if err != nil || len(due) != 1 || due[0].Key != "calendar/a1/r0001" {
				t.Errorf("outbox: %+v, %v", due, err)
			}
			if a, b := want.AppendAgentBusy(nil, "a1", day0, day0.Add(30*24*time.Hour)), tx.AppendAgentBusy(nil, "a1", day0, day0.Add(30*24*time.Hour)); !reflect.DeepEqual(a, b) {
				t.Errorf("busy times of a1: %d copied, want %d", len(b), len(a))
			}
		})
	})
	update(t, got, func(tx *Tx) error {
		s, err := tx.DaemonSecret("forms", 32)
		if err == nil && !bytes.Equal(s, secret) {
			err = errors.New("the copied store made a new form secret")
		}
		return err
	})
	// Sequences came along: a new RDV gets an integer id above the copied ones.
	r := newRDV("new", "org0", at(6, 0), 30*time.Minute, "a9")
	put(t, got, r)
	if r.RdvsID <= 2*copyBatch+10 {
		t.Errorf("new rdv got rdvs id %d: the sequence was not copied", r.RdvsID)
	}
}
