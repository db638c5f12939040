package outbox

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"rdvsync/internal/store"
)

type fakeSink struct {
	mu        sync.Mutex
	calls     map[string]int
	gens      map[string][]int
	fail      func(rec store.OutboxRecord, n int) error
	block     chan struct{} // when set, Deliver waits for it
	inFlight  int
	maxFlight int
}

func (f *fakeSink) Deliver(ctx context.Context, rec store.OutboxRecord) error {
	f.mu.Lock()
	f.calls[rec.Key]++
	f.gens[rec.Key] = append(f.gens[rec.Key], rec.Gen)
	n := f.calls[rec.Key]
	f.inFlight++
	f.maxFlight = max(f.maxFlight, f.inFlight)
	f.mu.Unlock()
	defer func() { f.mu.Lock(); f.inFlight--; f.mu.Unlock() }()
	if f.block != nil {
		select {
		case <-f.block:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if f.fail != nil {
		return f.fail(rec, n)
	}
	return nil
}

func (f *fakeSink) count(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[key]
}

func newSink() *fakeSink { return &fakeSink{calls: map[string]int{}, gens: map[string][]int{}} }

func openStore(t *testing.T, path string) *store.Store {
	t.Helper()
	s, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func enqueue(t *testing.T, s *store.Store, keys ...string) {
	t.Helper()
	err := s.Update(context.Background(), func(tx *store.Tx) error {
		for _, k := range keys {
			if err := tx.Enqueue(store.OutboxRecord{Key: k, Kind: "test"}, time.Now()); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func records(t *testing.T, s *store.Store) map[string]store.OutboxRecord {
	t.Helper()
	out := map[string]store.OutboxRecord{}
	s.View(context.Background(), func(tx *store.ReadTx) error {
		return tx.EachOutbox("", func(r *store.OutboxRecord) error { out[r.Key] = *r; return nil })
	})
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func start(t *testing.T, s *store.Store, sink Sink, opts Options) (*Dispatcher, func()) {
	t.Helper()
	if opts.Poll == 0 {
		opts.Poll = 20 * time.Millisecond
	}
	d := New(s, map[string]Sink{"test": sink}, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx); close(done) }()
	return d, func() { cancel(); <-done }
}

func TestDeliversAndForgets(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	sink := newSink()
	d, stop := start(t, s, sink, Options{Concurrency: 2})
	defer stop()
	enqueue(t, s, "a", "b", "c")
	d.Kick()
	waitFor(t, "three deliveries", func() bool { return len(records(t, s)) == 0 })
	for _, k := range []string{"a", "b", "c"} {
		if n := sink.count(k); n != 1 {
			t.Errorf("%s delivered %d times, want 1", k, n)
		}
	}
	if sink.maxFlight > 2 {
		t.Errorf("%d deliveries at once, concurrency is 2", sink.maxFlight)
	}
}

func TestRetriesWithBackoffThenSucceeds(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	sink := newSink()
	sink.fail = func(rec store.OutboxRecord, n int) error {
		if n < 3 {
			return fmt.Errorf("server unavailable (attempt %d)", n)
		}
		return nil
	}
	_, stop := start(t, s, sink, Options{Policy: Policy{Base: 10 * time.Millisecond, Max: 40 * time.Millisecond}})
	defer stop()
	enqueue(t, s, "a")
	waitFor(t, "a failing record", func() bool { r, ok := records(t, s)["a"]; return ok && r.Attempts >= 1 })
	r := records(t, s)["a"]
	if r.LastError == "" || r.FirstFailureAt == nil || r.Dead {
		t.Errorf("failure not recorded: %+v", r)
	}
	waitFor(t, "delivery", func() bool { return len(records(t, s)) == 0 })
	if n := sink.count("a"); n != 3 {
		t.Errorf("delivered after %d attempts, want 3", n)
	}
}

func TestPermanentErrorsAndBudgetDeadLetter(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	sink := newSink()
	sink.fail = func(rec store.OutboxRecord, n int) error {
		if rec.Key == "perm" {
			return fmt.Errorf("%w: 401 Unauthorized", ErrPermanent)
		}
		return errors.New("503 Service Unavailable")
	}
	reg := prometheus.NewRegistry()
	_, stop := start(t, s, sink, Options{Registerer: reg, Policy: Policy{Base: 5 * time.Millisecond, Max: 10 * time.Millisecond, Budget: 50 * time.Millisecond}})
	defer stop()
	enqueue(t, s, "perm", "budget")
	waitFor(t, "two dead letters", func() bool {
		rs := records(t, s)
		return rs["perm"].Dead && rs["budget"].Dead
	})
	// The operator's alert: dead letters per queue, pending apart.
	want := `
# HELP rdvsync_outbox_dead Dead letters by queue (calendar, email, sms, webhook): given up, kept with their error until re-queued.
# TYPE rdvsync_outbox_dead gauge
rdvsync_outbox_dead{kind="test"} 2
# HELP rdvsync_outbox_pending Outbox records waiting for delivery (not dead).
# TYPE rdvsync_outbox_pending gauge
rdvsync_outbox_pending 0
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "rdvsync_outbox_dead", "rdvsync_outbox_pending"); err != nil {
		t.Error(err)
	}
	rs := records(t, s)
	if sink.count("perm") != 1 || rs["perm"].LastError != "permanent failure: 401 Unauthorized" {
		t.Errorf("permanent: %d calls, %+v", sink.count("perm"), rs["perm"])
	}
	if sink.count("budget") < 2 || rs["budget"].LastError != "503 Service Unavailable" {
		t.Errorf("budget: %d calls, %+v", sink.count("budget"), rs["budget"])
	}
	// A new change revives a dead record with a fresh budget.
	sink.mu.Lock()
	sink.fail = nil
	sink.mu.Unlock()
	enqueue(t, s, "budget")
	waitFor(t, "revived delivery", func() bool { _, ok := records(t, s)["budget"]; return !ok })
	// RetryDead re-queues what is left.
	var n int
	s.Update(context.Background(), func(tx *store.Tx) error { var err error; n, err = tx.RetryDead("", time.Now()); return err })
	if n != 1 {
		t.Errorf("RetryDead re-queued %d, want 1", n)
	}
	waitFor(t, "retried dead letter", func() bool { return len(records(t, s)) == 0 })
}

func TestCollapsesPendingChangesAndRedeliversChangesDuringFlight(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	enqueue(t, s, "a")
	enqueue(t, s, "a")
	enqueue(t, s, "a")
	if rs := records(t, s); len(rs) != 1 || rs["a"].Gen != 3 {
		t.Fatalf("three changes should collapse into one record of gen 3: %+v", rs)
	}
	sink := newSink()
	sink.block = make(chan struct{})
	d, stop := start(t, s, sink, Options{})
	defer stop()
	d.Kick()
	waitFor(t, "delivery in flight", func() bool { return sink.count("a") == 1 })
	enqueue(t, s, "a") // a change while the push is in flight
	d.Kick()
	time.Sleep(50 * time.Millisecond)
	if n := sink.count("a"); n != 1 {
		t.Fatalf("a second delivery of the same key started while one was in flight (%d)", n)
	}
	close(sink.block)
	waitFor(t, "redelivery of the newer change", func() bool { return len(records(t, s)) == 0 })
	sink.mu.Lock()
	defer sink.mu.Unlock()
	if got := fmt.Sprint(sink.gens["a"]); got != "[3 4]" {
		t.Errorf("generations delivered %s, want [3 4]", got)
	}
}

func TestResumesRecordsInFlightWhenTheProcessDied(t *testing.T) {
	path := filepath.Join(t.TempDir(), "db")
	s := openStore(t, path)
	enqueue(t, s, "a")
	// A dispatcher claims the record, then the process dies before the outcome is written.
	err := s.Update(context.Background(), func(tx *store.Tx) error {
		recs, err := tx.ClaimDue(time.Now(), 10, 100*time.Millisecond, nil)
		if len(recs) != 1 {
			t.Errorf("claimed %d records", len(recs))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = openStore(t, path)
	defer s.Close()
	sink := newSink()
	_, stop := start(t, s, sink, Options{})
	defer stop()
	waitFor(t, "the record to be delivered after its lease expired", func() bool { return len(records(t, s)) == 0 })
	if n := sink.count("a"); n != 1 {
		t.Errorf("delivered %d times, want 1", n)
	}
}

func TestBackoffGrowsAndIsCapped(t *testing.T) {
	p := Policy{Base: time.Second, Max: 8 * time.Second}
	for attempts, want := range map[int]time.Duration{1: time.Second, 2: 2 * time.Second, 3: 4 * time.Second, 4: 8 * time.Second, 10: 8 * time.Second} {
		got := p.Backoff(attempts)
		if got < want*3/4 || got > want*5/4 {
			t.Errorf("Backoff(%d) = %v, want %v ± 25%%", attempts, got, want)
		}
	}
}

// A queue's cap bounds its deliveries running at once, while another queue
// uses the rest of the dispatcher's concurrency: by default the calendar
// and webhook queues run at most 32 each, notifications up to the
// dispatcher's 160.
func TestQueueConcurrency(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "db"))
	defer s.Close()
	sink := newSink()
	sink.block = make(chan struct{})
	byQueue := map[string]int{}
	maxByQueue := map[string]int{}
	var mu sync.Mutex
	counting := sinkFunc(func(ctx context.Context, rec store.OutboxRecord) error {
		q := QueueOf(rec.Key)
		mu.Lock()
		byQueue[q]++
		maxByQueue[q] = max(maxByQueue[q], byQueue[q])
		mu.Unlock()
		defer func() { mu.Lock(); byQueue[q]--; mu.Unlock() }()
		return sink.Deliver(ctx, rec)
	})
	d, stop := start(t, s, counting, Options{})
	defer stop()
	var keys []string
	for i := range 60 {
		// One lane per record: only the queues' caps apply.
		keys = append(keys, fmt.Sprintf("calendar/agent%d/rdv", i), fmt.Sprintf("notify/rdv%d/email", i))
	}
	enqueue(t, s, keys...)
	d.Kick()
	waitFor(t, "the calendar queue at its cap and every notification running", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return byQueue["calendar"] == 32 && byQueue["notify"] == 60
	})
	time.Sleep(50 * time.Millisecond) // a claim past the cap would show now
	close(sink.block)
	waitFor(t, "every delivery", func() bool { return len(records(t, s)) == 0 })
	if maxByQueue["calendar"] != 32 {
		t.Errorf("%d calendar deliveries at once, the queue's cap is 32", maxByQueue["calendar"])
	}
	if maxByQueue["notify"] != 60 {
		t.Errorf("at most %d notifications at once, want the 60 queued", maxByQueue["notify"])
	}
}

type sinkFunc func(ctx context.Context, rec store.OutboxRecord) error

func (f sinkFunc) Deliver(ctx context.Context, rec store.OutboxRecord) error { return f(ctx, rec) }
