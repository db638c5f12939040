package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"rdvsync/internal/rdv"
)

// The invariants below belong to the store's contract, not to a backend
// (docs/design.md §9): on the embedded file its single writer keeps them,
// on PostgreSQL serialisable transactions do, with several writers at
// once. Each test runs many writers concurrently; with replicas, they
// would be in several processes, which the database cannot tell apart
// from several connections of one.

const writers = 30

// parallel runs fn(i) for i in [0, n) at once and waits for all.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			fn(i)
		}()
	}
	close(start)
	wg.Wait()
}

var errTaken = errors.New("slot taken")

func TestConcurrentBookingsOfOneSlotOneWins(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	errs := make([]error, writers)
	parallel(writers, func(i int) {
		r := newRDV(fmt.Sprintf("rdv-%02d", i), "org1", at(9, 0), 30*time.Minute, "agent1")
		errs[i] = s.Update(ctx, func(tx *Tx) error {
			if tx.AgentHasOverlap("agent1", rdv.Interval{Start: r.StartsAt, End: r.EndsAt}, "") {
				return errTaken
			}
			return tx.PutRDV(r)
		})
	})
	booked := 0
	for i, err := range errs {
		switch {
		case err == nil:
			booked++
		case !errors.Is(err, errTaken):
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if booked != 1 {
		t.Fatalf("%d writers booked the same slot, want 1", booked)
	}
	if got := busy(t, s, "agent1"); got != "17:00-17:30" {
		t.Errorf("busy times: %s", got)
	}
}

func TestConcurrentIdempotencyKeyOneWinner(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	created := make([]bool, writers)
	errs := make([]error, writers)
	parallel(writers, func(i int) {
		errs[i] = s.Update(ctx, func(tx *Tx) error {
			created[i] = false
			if _, err := tx.Idempotency("webhook:form", "msg_1"); err == nil {
				return nil // replayed
			} else if !errors.Is(err, rdv.ErrNotFound) {
				return err
			}
			created[i] = true
			r := newRDV(fmt.Sprintf("rdv-%02d", i), "org1", at(8, 0).Add(time.Duration(i)*time.Hour), 30*time.Minute, fmt.Sprintf("agent%d", i))
			if err := tx.PutRDV(r); err != nil {
				return err
			}
			return tx.PutIdempotency("webhook:form", "msg_1", IdempotencyRecord{Status: 201, Response: []byte(r.ID), CreatedAt: day0})
		})
	})
	n := 0
	for i, err := range errs {
		if err != nil {
			t.Errorf("writer %d: %v", i, err)
		}
		if created[i] {
			n++
		}
	}
	var rdvs int
	view(t, s, func(tx *ReadTx) {
		err := tx.EachOrgRDV("org1", day0.Add(-24*time.Hour), day0.Add(48*time.Hour), func(*rdv.RDV) error { rdvs++; return nil })
		if err != nil {
			t.Fatal(err)
		}
	})
	if n != 1 || rdvs != 1 {
		t.Fatalf("one message delivered %d times at once gave %d creations and %d rdvs, want 1 and 1", writers, n, rdvs)
	}
}

func TestConcurrentClaimsTakeEachRecordOnce(t *testing.T) {
	t.Run("ClaimDue", func(t *testing.T) { testClaimsOnce(t, false) })
	// As the dispatcher claims with replicas: keys listed in a snapshot,
	// then claimed by key, some already claimed by another meanwhile.
	t.Run("DueOutboxKeys+ClaimOutbox", func(t *testing.T) { testClaimsOnce(t, true) })
}

func testClaimsOnce(t *testing.T, listed bool) {
	s := openTest(t)
	ctx := context.Background()
	const records = 200
	update(t, s, func(tx *Tx) error {
		for i := range records {
			if err := tx.Enqueue(OutboxRecord{Key: fmt.Sprintf("notification/email/r%03d", i), Kind: "notification"}, day0); err != nil {
				return err
			}
		}
		return nil
	})
	// Claimers as replicas would be: each with its own claims, leases
	// written in the store.
	var mu sync.Mutex
	claimed := map[string]int{}
	parallel(6, func(int) {
		for {
			var recs []OutboxRecord
			var keys []string
			err := s.View(ctx, func(tx *ReadTx) error {
				keys = tx.DueOutboxKeys(day0, 7, nil)
				return nil
			})
			if err == nil {
				err = s.Update(ctx, func(tx *Tx) error {
					var err error
					if listed {
						recs, err = tx.ClaimOutbox(keys, day0, time.Minute)
					} else {
						recs, err = tx.ClaimDue(day0, 7, time.Minute, nil)
					}
					return err
				})
			}
			if err != nil {
				t.Error(err)
				return
			}
			if len(keys) == 0 {
				return
			}
			mu.Lock()
			for _, r := range recs {
				claimed[r.Key]++
			}
			mu.Unlock()
		}
	})
	if len(claimed) != records {
		t.Errorf("%d records claimed, want %d", len(claimed), records)
	}
	for k, n := range claimed {
		if n != 1 {
			t.Errorf("%s claimed %d times while its lease ran", k, n)
		}
	}
	// After the lease, a record nobody completed is due again (its
	// claimer died): another takes it over.
	var again []OutboxRecord
	update(t, s, func(tx *Tx) error {
		var err error
		again, err = tx.ClaimDue(day0.Add(2*time.Minute), records, time.Minute, nil)
		return err
	})
	if len(again) != records {
		t.Errorf("after the lease: %d records due again, want %d", len(again), records)
	}
}

func TestConcurrentReminderTakersSendEachOnce(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	const reminders = 120
	update(t, s, func(tx *Tx) error {
		for i := range reminders {
			start := at(9, 0).Add(time.Duration(i) * time.Minute)
			if err := tx.ScheduleReminder(Reminder{RDVID: fmt.Sprintf("r%03d", i), Due: start.Add(-48 * time.Hour), Start: start, Version: 1}); err != nil {
				return err
			}
		}
		return nil
	})
	var mu sync.Mutex
	taken := map[string]int{}
	parallel(6, func(int) {
		for {
			var due []Reminder
			err := s.Update(ctx, func(tx *Tx) error {
				var err error
				due, err = tx.TakeDueReminders(day0, 10)
				return err
			})
			if err != nil {
				t.Error(err)
				return
			}
			if len(due) == 0 {
				return
			}
			mu.Lock()
			for _, r := range due {
				taken[r.RDVID]++
			}
			mu.Unlock()
		}
	})
	if len(taken) != reminders {
		t.Errorf("%d reminders taken, want %d", len(taken), reminders)
	}
	for id, n := range taken {
		if n != 1 {
			t.Errorf("reminder of %s taken %d times", id, n)
		}
	}
}

func TestConcurrentRDVsGetDistinctIntegerIDs(t *testing.T) {
	s := openTest(t)
	ctx := context.Background()
	ids := make([]int64, writers)
	parallel(writers, func(i int) {
		r := newRDV(fmt.Sprintf("rdv-%02d", i), "org1", at(8, 0).Add(time.Duration(i)*time.Hour), 30*time.Minute, fmt.Sprintf("agent%d", i))
		if err := s.Update(ctx, func(tx *Tx) error { r.RdvsID = 0; return tx.PutRDV(r) }); err != nil {
			t.Error(err)
		}
		ids[i] = r.RdvsID
	})
	seen := map[int64]bool{}
	for _, id := range ids {
		if id <= 0 || seen[id] {
			t.Fatalf("rdvs ids %v: want distinct positive ids", ids)
		}
		seen[id] = true
	}
}
