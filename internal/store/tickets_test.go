package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"
)

func putTicket(t *testing.T, s *Store, kind, id, value string, expires time.Time) {
	t.Helper()
	update(t, s, func(tx *Tx) error { return tx.PutTicket(kind, id, []byte(value), expires) })
}

func ticket(t *testing.T, s *Store, kind, id string, now time.Time) (string, bool) {
	t.Helper()
	var v []byte
	var ok bool
	view(t, s, func(tx *ReadTx) { v, ok = tx.Ticket(kind, id, now) })
	return string(v), ok
}

func TestTickets(t *testing.T) {
	s := openTest(t)
	const id = "7T1u9rUeYg4l0cJm2Yb6Q8XfPZsKd3nVwHqAaLoEiRt"
	expires := day0.Add(8 * time.Hour)
	putTicket(t, s, "session", id, "camille-martin", expires)

	for _, c := range []struct {
		name, kind, id string
		now            time.Time
		want           string
	}{
		{"live", "session", id, day0, "camille-martin"},
		{"a nanosecond before expiry", "session", id, expires.Add(-time.Nanosecond), "camille-martin"},
		{"at expiry", "session", id, expires, ""},
		{"another kind", "link", id, day0, ""},
		{"another id", "session", id[1:] + "x", day0, ""},
		{"no id", "session", "", day0, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			if v, ok := ticket(t, s, c.kind, c.id, c.now); v != c.want || ok != (c.want != "") {
				t.Errorf("Ticket = %q, %v; want %q", v, ok, c.want)
			}
		})
	}

	// Putting again replaces the value and the expiry.
	putTicket(t, s, "session", id, "thomas-leroy", day0.Add(time.Hour))
	if v, ok := ticket(t, s, "session", id, day0); v != "thomas-leroy" || !ok {
		t.Errorf("replaced ticket = %q, %v", v, ok)
	}
	view(t, s, func(tx *ReadTx) {
		if n := tx.LiveTickets("session", day0, 10); n != 1 {
			t.Errorf("%d live sessions after a replacement, want 1", n)
		}
	})

	update(t, s, func(tx *Tx) error { return tx.DeleteTicket("session", id) })
	if _, ok := ticket(t, s, "session", id, day0); ok {
		t.Error("a deleted ticket is still there")
	}
	view(t, s, func(tx *ReadTx) {
		if n := tx.bucket(bucketTicketExpiry).KeyN(); n != 0 {
			t.Errorf("%d expiry entries left after the delete", n)
		}
	})
	update(t, s, func(tx *Tx) error { return tx.DeleteTicket("session", id) })

	update(t, s, func(tx *Tx) error {
		if err := tx.PutTicket("", id, nil, expires); err == nil {
			t.Error("a ticket without a kind was stored")
		}
		if err := tx.PutTicket("a\x00b", id, nil, expires); err == nil {
			t.Error("a ticket whose kind holds NUL was stored")
		}
		return nil
	})
}

func TestConcurrentTakersOfOneTicketOneWins(t *testing.T) {
	s := openTest(t)
	putTicket(t, s, "link", "L", "camille-martin", day0.Add(15*time.Minute))
	// Replicas answering one sign-in link at once: one signs in.
	took := make([]bool, writers)
	parallel(writers, func(i int) {
		err := s.Update(context.Background(), func(tx *Tx) error {
			v, ok, err := tx.TakeTicket("link", "L", day0)
			if ok && string(v) != "camille-martin" {
				t.Errorf("taken value %q", v)
			}
			took[i] = ok
			return err
		})
		if err != nil {
			t.Errorf("taker %d: %v", i, err)
		}
	})
	won := 0
	for _, ok := range took {
		if ok {
			won++
		}
	}
	if won != 1 {
		t.Errorf("%d takers got the ticket, want 1", won)
	}
	// An expired ticket is not handed out, and is gone once taken.
	putTicket(t, s, "link", "old", "x", day0)
	update(t, s, func(tx *Tx) error {
		if _, ok, err := tx.TakeTicket("link", "old", day0); ok || err != nil {
			t.Errorf("took an expired ticket: %v, %v", ok, err)
		}
		return nil
	})
	view(t, s, func(tx *ReadTx) {
		if n := tx.bucket(bucketTickets).KeyN() + tx.bucket(bucketTicketExpiry).KeyN(); n != 0 {
			t.Errorf("%d keys left after taking every ticket", n)
		}
	})
}

func TestConcurrentPutsKeepTheBoundOfLiveTickets(t *testing.T) {
	// Sign-in links asked at once on several replicas: no more than the
	// bound are stored.
	s := openTest(t)
	const bound = 10
	errFull := errors.New("full")
	parallel(writers, func(i int) {
		err := s.Update(context.Background(), func(tx *Tx) error {
			if tx.LiveTickets("link", day0, bound) >= bound {
				return errFull
			}
			return tx.PutTicket("link", fmt.Sprintf("L%02d", i), nil, day0.Add(time.Minute))
		})
		if err != nil && !errors.Is(err, errFull) {
			t.Errorf("writer %d: %v", i, err)
		}
	})
	view(t, s, func(tx *ReadTx) {
		if n := tx.LiveTickets("link", day0, writers); n != bound {
			t.Errorf("%d live tickets, want the bound %d", n, bound)
		}
	})
}

func TestLiveAndPurgeTickets(t *testing.T) {
	s := openTest(t)
	for _, tk := range []struct {
		kind, id string
		expires  time.Time
	}{
		{"a", "a1", day0.Add(-time.Hour)},
		{"a", "a2", day0},
		{"a", "a3", day0.Add(time.Minute)},
		{"a", "a4", day0.Add(time.Hour)},
		{"b", "b1", day0.Add(-time.Minute)},
		// A kind whose name starts with another's.
		{"ab", "ab1", day0.Add(-time.Minute)},
		{"ab", "ab2", day0.Add(time.Minute)},
	} {
		putTicket(t, s, tk.kind, tk.id, "v-"+tk.id, tk.expires)
	}
	view(t, s, func(tx *ReadTx) {
		for _, c := range []struct {
			kind  string
			limit int
			want  int
		}{{"a", 10, 2}, {"a", 1, 1}, {"b", 10, 0}, {"ab", 10, 1}, {"c", 10, 0}} {
			if n := tx.LiveTickets(c.kind, day0, c.limit); n != c.want {
				t.Errorf("LiveTickets(%s, limit %d) = %d, want %d", c.kind, c.limit, n, c.want)
			}
		}
	})
	var n int
	update(t, s, func(tx *Tx) error {
		var err error
		n, err = tx.PurgeTickets(day0)
		return err
	})
	if n != 4 {
		t.Errorf("%d tickets purged, want 4", n)
	}
	view(t, s, func(tx *ReadTx) {
		var keys []string
		tx.bucket(bucketTickets).ForEach(func(k, v []byte) error {
			keys = append(keys, string(v[timeKeyLen:]))
			return nil
		})
		if len(keys) != 3 || tx.bucket(bucketTicketExpiry).KeyN() != 3 {
			t.Errorf("left after the purge: %q and %d expiry entries", keys, tx.bucket(bucketTicketExpiry).KeyN())
		}
		for _, id := range []string{"a3", "a4"} {
			if v, ok := tx.Ticket("a", id, day0); !ok || string(v) != "v-"+id {
				t.Errorf("live ticket %s after the purge: %q, %v", id, v, ok)
			}
		}
	})
}

// TestTicketIDsNotStored: a copy of the store holds no id a thief could
// present as a live session.
func TestTicketIDsNotStored(t *testing.T) {
	s := openTest(t)
	const id = "Q2hlcmNoZXogbGEgY2zDqSwgZWxsZSBuJ3kgZXN0IHBhcw"
	putTicket(t, s, "session", id, "camille-martin", day0.Add(time.Hour))
	view(t, s, func(tx *ReadTx) {
		for _, name := range [][]byte{bucketTickets, bucketTicketExpiry} {
			tx.bucket(name).ForEach(func(k, v []byte) error {
				if bytes.Contains(k, []byte(id)) || bytes.Contains(v, []byte(id)) {
					t.Errorf("%s holds the ticket id", name)
				}
				return nil
			})
		}
	})
}

func TestMigration8CreatesTicketBuckets(t *testing.T) {
	fileOnly(t)
	path := filepath.Join(t.TempDir(), "v7.db")
	s, err := open(path, Options{NoSync: true}, migrations[:7])
	if err != nil {
		t.Fatal(err)
	}
	put(t, s, newRDV("r1", "org", at(1, 0), time.Hour, "a"))
	s = reopenMigrated(t, s, path)
	defer s.Close()
	putTicket(t, s, "session", "S", "camille-martin", day0.Add(time.Hour))
	if v, ok := ticket(t, s, "session", "S", day0); !ok || v != "camille-martin" {
		t.Errorf("ticket after migration 8: %q, %v", v, ok)
	}
	view(t, s, func(tx *ReadTx) {
		if _, err := tx.RDV("r1"); err != nil {
			t.Errorf("rdv after migration 8: %v", err)
		}
	})
}
