package store

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"rdvsync/internal/rdv"
)

func TestIdempotency(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	rec := func(h int, body string) IdempotencyRecord {
		return IdempotencyRecord{BodySHA256: fmt.Sprintf("%064x", h), Status: 201, Response: []byte(body), CreatedAt: at(h, 0)}
	}
	err := s.Update(ctx, func(tx *Tx) error {
		for _, r := range []struct {
			scope, key string
			rec        IdempotencyRecord
		}{
			{"rdvs", "k1", rec(0, `{"id":"r1"}`)},
			{"rdvs", "k2", rec(2, `{"id":"r2"}`)},
			{"webhook:form", "k1", rec(4, `{"id":"r3"}`)},
		} {
			if err := tx.PutIdempotency(r.scope, r.key, r.rec); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	view(t, s, func(tx *ReadTx) {
		got, err := tx.Idempotency("rdvs", "k1")
		if err != nil {
			t.Fatal(err)
		}
		if want := rec(0, `{"id":"r1"}`); !reflect.DeepEqual(*got, want) {
			t.Errorf("Idempotency(rdvs, k1) = %+v, want %+v", *got, want)
		}
		if got, err := tx.Idempotency("webhook:form", "k1"); err != nil || string(got.Response) != `{"id":"r3"}` {
			t.Errorf("same key in another scope = %v, %v", got, err)
		}
		if got, err := tx.Idempotency("rdvs", "k3"); !errors.Is(err, rdv.ErrNotFound) || got != nil {
			t.Errorf("unknown key = %v, %v; want rdv.ErrNotFound", got, err)
		}
		if _, err := tx.Idempotency("bad\x00scope", "k"); err == nil || errors.Is(err, rdv.ErrNotFound) {
			t.Errorf("scope with NUL: %v, want a plain error", err)
		}
	})

	// Replacing k2 with a newer record moves it in the purge order.
	err = s.Update(ctx, func(tx *Tx) error { return tx.PutIdempotency("rdvs", "k2", rec(6, `{"id":"r2b"}`)) })
	if err != nil {
		t.Fatal(err)
	}
	purge := func(before time.Time) int {
		var n int
		err := s.Update(ctx, func(tx *Tx) (err error) {
			n, err = tx.PurgeIdempotency(before)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := purge(at(5, 0)); n != 2 {
		t.Errorf("PurgeIdempotency(before 13:00) = %d, want 2 (k1 at 08:00, form k1 at 12:00)", n)
	}
	view(t, s, func(tx *ReadTx) {
		for _, k := range []struct{ scope, key string }{{"rdvs", "k1"}, {"webhook:form", "k1"}} {
			if _, err := tx.Idempotency(k.scope, k.key); !errors.Is(err, rdv.ErrNotFound) {
				t.Errorf("%s/%s survived the purge: %v", k.scope, k.key, err)
			}
		}
		if got, err := tx.Idempotency("rdvs", "k2"); err != nil || string(got.Response) != `{"id":"r2b"}` {
			t.Errorf("newer k2 = %v, %v; want kept", got, err)
		}
	})
	if n := purge(at(5, 0)); n != 0 {
		t.Errorf("second purge = %d, want 0", n)
	}
	if n := purge(at(24, 0)); n != 1 {
		t.Errorf("final purge = %d, want 1", n)
	}
}
