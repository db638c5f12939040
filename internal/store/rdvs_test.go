package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"rdvsync/internal/rdv"
)

func TestPutRDVMaintainsIndexes(t *testing.T) {
	cancelled := func(r *rdv.RDV) *rdv.RDV {
		now := at(0, 0)
		r.Status, r.CancelledAt = rdv.StatusRevoked, &now
		return r
	}
	tests := []struct {
		name     string
		before   *rdv.RDV
		after    *rdv.RDV
		wantBusy map[string]string // agent → busy intervals after the change
		wantOrg  map[string]string // organisation → RDV starts after the change
	}{
		{
			name:     "move frees the old slot",
			before:   newRDV("r1", "org", at(1, 0), 45*time.Minute, "a"),
			after:    newRDV("r1", "org", at(3, 0), 45*time.Minute, "a"),
			wantBusy: map[string]string{"a": "11:00-11:45"},
			wantOrg:  map[string]string{"org": "11:00"},
		},
		{
			name:     "longer duration",
			before:   newRDV("r1", "org", at(1, 0), 30*time.Minute, "a"),
			after:    newRDV("r1", "org", at(1, 0), time.Hour, "a"),
			wantBusy: map[string]string{"a": "09:00-10:00"},
			wantOrg:  map[string]string{"org": "09:00"},
		},
		{
			name:     "cancel frees the slot but stays listed",
			before:   newRDV("r1", "org", at(1, 0), 45*time.Minute, "a"),
			after:    cancelled(newRDV("r1", "org", at(1, 0), 45*time.Minute, "a")),
			wantBusy: map[string]string{"a": ""},
			wantOrg:  map[string]string{"org": "09:00"},
		},
		{
			name:     "uncancel takes the slot again",
			before:   cancelled(newRDV("r1", "org", at(1, 0), 45*time.Minute, "a")),
			after:    newRDV("r1", "org", at(1, 0), 45*time.Minute, "a"),
			wantBusy: map[string]string{"a": "09:00-09:45"},
			wantOrg:  map[string]string{"org": "09:00"},
		},
		{
			name:     "change agents",
			before:   newRDV("r1", "org", at(1, 0), time.Hour, "a", "b"),
			after:    newRDV("r1", "org", at(1, 0), time.Hour, "b", "c"),
			wantBusy: map[string]string{"a": "", "b": "09:00-10:00", "c": "09:00-10:00"},
			wantOrg:  map[string]string{"org": "09:00"},
		},
		{
			name:     "change organisation",
			before:   newRDV("r1", "org1", at(1, 0), time.Hour, "a"),
			after:    newRDV("r1", "org2", at(2, 0), time.Hour, "a"),
			wantBusy: map[string]string{"a": "10:00-11:00"},
			wantOrg:  map[string]string{"org1": "", "org2": "10:00"},
		},
		{
			name:   "seen stays busy",
			before: newRDV("r1", "org", at(1, 0), time.Hour, "a"),
			after: func() *rdv.RDV {
				r := newRDV("r1", "org", at(1, 0), time.Hour, "a")
				r.Status = rdv.StatusSeen
				return r
			}(),
			wantBusy: map[string]string{"a": "09:00-10:00"},
			wantOrg:  map[string]string{"org": "09:00"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			other := newRDV("other", "org-other", at(5, 0), time.Hour, "z")
			put(t, s, tt.before, other)
			put(t, s, tt.after)
			for agent, want := range tt.wantBusy {
				if got := busy(t, s, agent); got != want {
					t.Errorf("agent %s busy = %q, want %q", agent, got, want)
				}
			}
			if got := busy(t, s, "z"); got != "13:00-14:00" {
				t.Errorf("unrelated agent z busy = %q", got)
			}
			for org, want := range tt.wantOrg {
				if got := orgStarts(t, s, org, day0, day0.Add(24*time.Hour)); got != want {
					t.Errorf("org %s listing = %q, want %q", org, got, want)
				}
			}
			view(t, s, func(tx *ReadTx) {
				if got, err := tx.RDV("r1"); err != nil || got.StartsAt != tt.after.StartsAt || got.Status != tt.after.Status {
					t.Errorf("RDV(r1) = %+v, %v", got, err)
				}
			})
		})
	}
}

func orgStarts(t testing.TB, s *Store, org string, from, to time.Time) string {
	t.Helper()
	var starts []string
	view(t, s, func(tx *ReadTx) {
		err := tx.EachOrgRDV(org, from, to, func(r *rdv.RDV) error {
			starts = append(starts, r.StartsAt.Format("15:04"))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	return strings.Join(starts, " ")
}

func TestAgentHasOverlap(t *testing.T) {
	s := openTest(t)
	put(t, s,
		newRDV("r1", "org", at(1, 0), 45*time.Minute, "a"),     // 09:00–09:45
		newRDV("r2", "org", at(3, 0), time.Hour, "a", "b"),     // 11:00–12:00
		newRDV("night", "org", at(-10, 0), 26*time.Hour, "n"),  // 22:00 the day before – 00:00 the day after
		newRDV("other", "org", at(1, 0), 45*time.Minute, "zz"), // another agent
	)
	tests := []struct {
		name   string
		agent  string
		from   time.Time
		to     time.Time
		ignore string
		want   bool
	}{
		{"same slot", "a", at(1, 0), at(1, 45), "", true},
		{"inside", "a", at(1, 10), at(1, 20), "", true},
		{"around", "a", at(0, 30), at(2, 0), "", true},
		{"overlaps start", "a", at(0, 30), at(1, 1), "", true},
		{"overlaps end", "a", at(1, 44), at(2, 30), "", true},
		{"touches end", "a", at(1, 45), at(2, 30), "", false},
		{"touches start", "a", at(0, 15), at(1, 0), "", false},
		{"between", "a", at(1, 45), at(3, 0), "", false},
		{"ignoring itself", "a", at(1, 15), at(2, 0), "r1", false},
		{"ignoring another", "a", at(1, 15), at(2, 0), "r2", true},
		{"second agent of an rdv", "b", at(3, 30), at(4, 0), "", true},
		{"unknown agent", "nobody", at(1, 0), at(2, 0), "", false},
		{"empty interval", "a", at(1, 10), at(1, 10), "", false},
		{"long rdv begun a day before", "n", at(10, 0), at(10, 30), "", true},
		{"after long rdv", "n", at(16, 0), at(17, 0), "", false},
	}
	view(t, s, func(tx *ReadTx) {
		for _, tt := range tests {
			if got := tx.AgentHasOverlap(tt.agent, rdv.Interval{Start: tt.from, End: tt.to}, tt.ignore); got != tt.want {
				t.Errorf("%s: AgentHasOverlap(%s, %s–%s, ignore %q) = %v, want %v",
					tt.name, tt.agent, tt.from.Format("15:04"), tt.to.Format("15:04"), tt.ignore, got, tt.want)
			}
		}
	})
}

func TestAppendAgentBusy(t *testing.T) {
	s := openTest(t)
	put(t, s,
		newRDV("r3", "org", at(5, 0), time.Hour, "a"),           // 13:00–14:00
		newRDV("r1", "org", at(-1, 0), 2*time.Hour, "a"),        // 07:00–09:00
		newRDV("r2", "org", at(1, 0), 30*time.Minute, "a"),      // 09:00–09:30
		newRDV("r4", "org", at(8, 0), 30*time.Minute, "a"),      // 16:00–16:30
		newRDV("next", "org", at(24, 0), 30*time.Minute, "a"),   // next day
		newRDV("prev", "org", at(-24, 0), 30*time.Minute, "a"),  // previous day
		newRDV("other", "org", at(1, 0), 30*time.Minute, "zzz"), // another agent
	)
	tests := []struct {
		name     string
		from, to time.Time
		want     string
	}{
		{"whole day", at(-8, 0), at(16, 0), "07:00-09:00 09:00-09:30 13:00-14:00 16:00-16:30"},
		{"from inside an rdv", at(0, 30), at(5, 0), "07:00-09:00 09:00-09:30"},
		{"to is exclusive", at(1, 30), at(5, 0), ""},
		{"from at an end", at(1, 0), at(1, 1), "09:00-09:30"},
		{"empty window", at(5, 0), at(5, 0), ""},
	}
	view(t, s, func(tx *ReadTx) {
		for _, tt := range tests {
			dst := []rdv.Interval{{Start: at(-100, 0), End: at(-99, 0)}}
			got := tx.AppendAgentBusy(dst, "a", tt.from, tt.to)
			if !got[0].Start.Equal(at(-100, 0)) {
				t.Errorf("%s: AppendAgentBusy overwrote dst", tt.name)
			}
			if s := formatIntervals(got[1:]); s != tt.want {
				t.Errorf("%s: AppendAgentBusy(%s–%s) = %q, want %q", tt.name, tt.from.Format("15:04"), tt.to.Format("15:04"), s, tt.want)
			}
		}
		for _, iv := range tx.AppendAgentBusy(nil, "a", at(-8, 0), at(16, 0)) {
			if iv.Start.Location() != time.UTC {
				t.Errorf("interval in %v, want UTC", iv.Start.Location())
			}
		}
	})
}

func TestCountAgentRDVs(t *testing.T) {
	s := openTest(t)
	c := newRDV("cancelled", "org", at(2, 0), time.Hour, "a")
	c.Status = rdv.StatusExcused
	put(t, s,
		newRDV("r1", "org", at(-1, 0), 2*time.Hour, "a"),
		newRDV("r2", "org", at(1, 0), time.Hour, "a"),
		newRDV("r3", "org", at(5, 0), time.Hour, "a", "b"),
		newRDV("r4", "org", at(24, 0), time.Hour, "a"),
		c,
	)
	tests := []struct {
		agent    string
		from, to time.Time
		want     int
	}{
		{"a", at(-8, 0), at(16, 0), 3},
		{"a", at(0, 0), at(16, 0), 2}, // r1 started before from
		{"a", at(1, 0), at(5, 0), 1},  // to is exclusive
		{"a", at(-8, 0), at(40, 0), 4},
		{"b", at(-8, 0), at(16, 0), 1},
		{"nobody", at(-8, 0), at(16, 0), 0},
	}
	view(t, s, func(tx *ReadTx) {
		for _, tt := range tests {
			if got := tx.CountAgentRDVs(tt.agent, tt.from, tt.to); got != tt.want {
				t.Errorf("CountAgentRDVs(%s, %v, %v) = %d, want %d", tt.agent, tt.from, tt.to, got, tt.want)
			}
		}
	})
}

func TestEachOrgRDV(t *testing.T) {
	s := openTest(t)
	c := newRDV("cancelled", "org", at(2, 0), time.Hour, "a")
	c.Status = rdv.StatusRevoked
	put(t, s,
		newRDV("r3", "org", at(5, 0), time.Hour, "b"),
		newRDV("r1", "org", at(1, 0), time.Hour, "a"),
		c,
		newRDV("late", "org", at(24, 0), time.Hour, "a"),
		newRDV("early", "org", at(-24, 0), time.Hour, "a"),
		newRDV("same-start", "org", at(1, 0), time.Hour, "b"),
		newRDV("elsewhere", "org2", at(1, 0), time.Hour, "a"),
	)
	var ids []string
	view(t, s, func(tx *ReadTx) {
		err := tx.EachOrgRDV("org", day0, at(16, 0), func(r *rdv.RDV) error {
			ids = append(ids, r.ID)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
	if got, want := strings.Join(ids, " "), "r1 same-start cancelled r3"; got != want {
		t.Errorf("EachOrgRDV = %q, want %q (start order, cancelled included, window [from,to))", got, want)
	}
	if got := orgStarts(t, s, "org", at(1, 0), at(2, 0)); got != "09:00 09:00" {
		t.Errorf("window [09:00,10:00) = %q", got)
	}
	if got := orgStarts(t, s, "unknown", day0, at(16, 0)); got != "" {
		t.Errorf("unknown organisation = %q", got)
	}

	errStop := errors.New("stop")
	n := 0
	err := s.View(context.Background(), func(tx *ReadTx) error {
		return tx.EachOrgRDV("org", day0, at(16, 0), func(*rdv.RDV) error { n++; return errStop })
	})
	if err != errStop || n != 1 {
		t.Errorf("EachOrgRDV with a failing fn: err %v after %d calls, want fn's error after 1", err, n)
	}
}

// TestConcurrentBookingsOneWins is the double-booking guarantee: however
// many requests race for one slot, exactly one RDV is written.
func TestConcurrentBookingsOneWins(t *testing.T) {
	s := openTest(t)
	const n = 50
	slot := rdv.Interval{Start: at(1, 0), End: at(1, 45)}
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			// Each booking is a little shifted so that even partial overlaps count.
			start := slot.Start.Add(time.Duration(i%3) * 10 * time.Minute)
			r := newRDV(fmt.Sprintf("r%02d", i), "org", start, 45*time.Minute, "a")
			errs[i] = s.Update(context.Background(), func(tx *Tx) error {
				if tx.AgentHasOverlap("a", r.Interval(), "") {
					return rdv.ErrSlotUnavailable
				}
				return tx.PutRDV(r)
			})
		})
	}
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, rdv.ErrSlotUnavailable):
			t.Errorf("booking %d: %v", i, err)
		}
	}
	if won != 1 {
		t.Errorf("%d bookings succeeded, want exactly 1", won)
	}
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.RDVs != 1 {
		t.Errorf("%d RDVs stored, want 1", st.RDVs)
	}
	view(t, s, func(tx *ReadTx) {
		if got := tx.AppendAgentBusy(nil, "a", day0, at(16, 0)); len(got) != 1 {
			t.Errorf("agent busy = %v, want one interval", got)
		}
	})
}

// TestConcurrentUpdatesAllCommit checks group commit: concurrent writers
// that do not conflict all succeed, and each RDV is stored once.
func TestConcurrentUpdatesAllCommit(t *testing.T) {
	s := openTest(t)
	const n = 100
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			r := newRDV(fmt.Sprintf("r%03d", i), "org", at(i%10, 0), 45*time.Minute, fmt.Sprintf("agent-%d", i/10))
			errs[i] = s.Update(context.Background(), func(tx *Tx) error {
				if i%7 == 0 {
					// Failures in the middle of a group must not lose the others.
					return rdv.ErrConflict
				}
				return tx.PutRDV(r)
			})
		})
	}
	wg.Wait()
	want := 0
	for i, err := range errs {
		if i%7 == 0 {
			if !errors.Is(err, rdv.ErrConflict) {
				t.Errorf("update %d: err %v, want its own error", i, err)
			}
			continue
		}
		want++
		if err != nil {
			t.Errorf("update %d: %v", i, err)
		}
	}
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.RDVs != want {
		t.Errorf("%d RDVs stored, want %d", st.RDVs, want)
	}
	if got := orgStarts(t, s, "org", day0.Add(-time.Hour), at(12, 0)); len(strings.Fields(got)) != want {
		t.Errorf("org listing has %d entries, want %d", len(strings.Fields(got)), want)
	}
}
