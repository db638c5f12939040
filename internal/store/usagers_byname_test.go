package store

import (
	"context"
	"errors"
	"testing"

	"rdvsync/internal/rdv"
)

func TestFindUsagerByNameEmailKeepsFamiliesApart(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	parent := &rdv.Usager{ID: "u1", FirstName: "Léa", LastName: "Dubois", Email: "famille@example.org"}
	child := &rdv.Usager{ID: "u2", FirstName: "Tom", LastName: "Dubois", Email: "famille@example.org"}
	if err := s.Update(ctx, func(tx *Tx) error {
		if err := tx.PutUsager(parent); err != nil {
			return err
		}
		return tx.PutUsager(child)
	}); err != nil {
		t.Fatal(err)
	}
	s.View(ctx, func(tx *ReadTx) error {
		if u, err := tx.FindUsagerByNameEmail("tom", "DUBOIS", "Famille@example.org"); err != nil || u.ID != "u2" {
			t.Errorf("child: got %v, %v", u, err)
		}
		if u, err := tx.FindUsagerByNameEmail("Lea", "Dubois", "famille@example.org"); err != nil || u.ID != "u1" {
			t.Errorf("parent (accents ignored): got %v, %v", u, err)
		}
		if _, err := tx.FindUsagerByNameEmail("Zoé", "Dubois", "famille@example.org"); !errors.Is(err, rdv.ErrNotFound) {
			t.Errorf("unknown member: got %v", err)
		}
		return nil
	})
}
