package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"rdvsync/internal/rdv"
)

// busyFromMemory and busyFromFile read the same window through the read
// model and through a read transaction.
func busyFromMemory(t *testing.T, s *Store, agent string, from, to time.Time) []rdv.Interval {
	t.Helper()
	r := s.Busy()
	out := r.AppendAgentBusy(nil, agent, from, to)
	if err := r.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func busyFromFile(t *testing.T, s *Store, agent string, from, to time.Time) []rdv.Interval {
	t.Helper()
	var out []rdv.Interval
	if err := s.View(context.Background(), func(tx *ReadTx) error {
		out = tx.AppendAgentBusy(nil, agent, from, to)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func wantBusy(t *testing.T, s *Store, agent string, want ...rdv.Interval) {
	t.Helper()
	from, to := at(0, 0), at(24, 0)
	got := busyFromMemory(t, s, agent, from, to)
	if !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
		t.Fatalf("busy of %s from memory = %v, want %v", agent, got, want)
	}
	if file := busyFromFile(t, s, agent, from, to); !slices.Equal(got, file) {
		t.Fatalf("busy of %s from memory = %v, from the file %v", agent, got, file)
	}
}

// The read model follows a booking, a move, a change of agent and a
// cancellation as soon as each Update returns, having been loaded before
// each (so each step is an invalidation, not a first load).
func TestBusyIndexFollowsCommits(t *testing.T) {
	fileOnly(t)
	s := openTest(t)
	wantBusy(t, s, "camille", nil...)

	r := newRDV("r1", "mds", at(9, 0), 30*time.Minute, "camille")
	put(t, s, r)
	wantBusy(t, s, "camille", rdv.Interval{Start: at(9, 0), End: at(9, 30)})

	moved := *r
	moved.StartsAt, moved.EndsAt = at(14, 0), at(14, 45)
	put(t, s, &moved)
	wantBusy(t, s, "camille", rdv.Interval{Start: at(14, 0), End: at(14, 45)})

	other := moved
	other.AgentIDs = []string{"hugo"}
	wantBusy(t, s, "hugo", nil...)
	put(t, s, &other)
	wantBusy(t, s, "camille", nil...)
	wantBusy(t, s, "hugo", rdv.Interval{Start: at(14, 0), End: at(14, 45)})

	cancelled := other
	cancelled.Status = rdv.StatusExcused
	put(t, s, &cancelled)
	wantBusy(t, s, "hugo", nil...)
}

// A transaction that fails leaves the read model as the file: no phantom
// busy time.
func TestBusyIndexIgnoresRollback(t *testing.T) {
	fileOnly(t)
	s := openTest(t)
	wantBusy(t, s, "camille", nil...)
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(tx *Tx) error {
		if err := tx.PutRDV(newRDV("r1", "mds", at(9, 0), 30*time.Minute, "camille")); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update = %v, want boom", err)
	}
	wantBusy(t, s, "camille", nil...)
}

// A window older than what memory holds is read from the file.
func TestBusyIndexReadsOldWindowsFromFile(t *testing.T) {
	fileOnly(t)
	s := openTest(t)
	old := time.Now().Add(-30 * 24 * time.Hour).Truncate(time.Hour).UTC()
	put(t, s, newRDV("old", "mds", old, time.Hour, "camille"))
	got := busyFromMemory(t, s, "camille", old.Add(-time.Hour), old.Add(2*time.Hour))
	if want := []rdv.Interval{{Start: old, End: old.Add(time.Hour)}}; !slices.Equal(got, want) {
		t.Fatalf("busy = %v, want %v", got, want)
	}
}

// Concurrent group-committed bookings and searches: every booking is seen
// by a search begun after its Update returned (run with -race).
func TestBusyIndexFreshAfterConcurrentCommits(t *testing.T) {
	fileOnly(t)
	s := openTest(t)
	const writers, each = 8, 25
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				start := at(0, 0).Add(time.Duration(w*each+i) * 20 * time.Minute)
				put(t, s, newRDV(fmt.Sprintf("r-%d-%d", w, i), "mds", start, 15*time.Minute, "camille"))
				found := false
				for _, iv := range busyFromMemory(t, s, "camille", start, start.Add(time.Minute)) {
					found = found || iv.Start.Equal(start)
				}
				if !found {
					t.Errorf("booking at %s not seen after its commit", start)
					return
				}
			}
		})
	}
	wg.Wait()
	from, to := at(0, 0), at(0, 0).Add(writers*each*20*time.Minute)
	if got, file := busyFromMemory(t, s, "camille", from, to), busyFromFile(t, s, "camille", from, to); len(got) != writers*each || !slices.Equal(got, file) {
		t.Fatalf("memory holds %d intervals, the file %d, want %d", len(got), len(file), writers*each)
	}
}
