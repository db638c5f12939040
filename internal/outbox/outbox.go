// Package outbox delivers the consequences of RDV changes after their
// transaction commits: calendar pushes (and, later, notifications and
// webhooks). Records are written by the change's own transaction
// (store.Tx.Enqueue); the Dispatcher claims due records — in memory on the
// embedded store (its lock makes this process their only user), with a
// lease written in the store when replicas share it (PostgreSQL) — hands
// each to the sink of its
// kind with bounded concurrency, and persists the outcome: done, retry
// with exponential backoff and jitter, or dead letter (permanent error, or
// retry budget spent) with the error kept. A record in flight when the
// process died is still due at the next start (leases written by earlier
// versions are released then), or, with replicas, when its lease ends and
// another replica takes it, so delivery is at least once; sinks are
// idempotent.
package outbox

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"rdvsync/internal/store"
)

// Sink delivers one kind of record.
type Sink interface {
	Deliver(ctx context.Context, rec store.OutboxRecord) error
}

// ErrPermanent marks a failure that retrying cannot fix: the record goes
// to the dead letter at once.
var ErrPermanent = errors.New("permanent failure")

// RetryAfter is implemented by errors that know when to retry (rate limits).
type RetryAfter interface {
	RetryAfter() time.Duration
}

// Policy is the retry policy.
type Policy struct {
	Base   time.Duration // first retry delay (default 10 s)
	Max    time.Duration // longest delay (default 1 h)
	Budget time.Duration // dead letter after this long failing (default 3 days)
}

func (p Policy) withDefaults() Policy {
	if p.Base <= 0 {
		p.Base = 10 * time.Second
	}
	if p.Max <= 0 {
		p.Max = time.Hour
	}
	if p.Budget <= 0 {
		p.Budget = 72 * time.Hour
	}
	return p
}

// Backoff is the delay before retry number attempts (1-based): Base·2^(n-1)
// capped at Max, with ±25 % jitter so failing records do not retry in step.
func (p Policy) Backoff(attempts int) time.Duration {
	p = p.withDefaults()
	d := p.Base
	for i := 1; i < attempts && d < p.Max; i++ {
		d *= 2
	}
	d = min(d, p.Max)
	jitter := time.Duration((rand.Float64()*0.5 - 0.25) * float64(d))
	return d + jitter
}

// Options configure a Dispatcher.
type Options struct {
	// Concurrency is the parallel deliveries in all (default 160).
	Concurrency int
	// QueueConcurrency caps the parallel deliveries of one queue (the
	// first segment of record keys). Default: 32 for "calendar" and
	// "webhook" (requests to servers elsewhere), Concurrency for the
	// others: a notification written to the spool spends most of its time
	// waiting for the syncs it shares with the others running (the
	// spool's syncfs, the store's commit), so the more run at once, the
	// larger those groups and the more are delivered per sync.
	QueueConcurrency map[string]int
	// LaneConcurrency caps the parallel deliveries of one lane of a queue:
	// the records whose keys share their first two segments
	// ("calendar/<agent>", "webhook/<endpoint>"), by queue (the first
	// segment). Default: 2 for "calendar" (an agent's calendar server,
	// Google's per-user limits), 8 for "webhook" (one receiver),
	// Concurrency for the others (notifications: the spool, or the SMTP
	// connection pool, which has its own size).
	LaneConcurrency map[string]int
	Poll            time.Duration // longest sleep between scans (default 5 s)
	Timeout         time.Duration // per-delivery timeout (default 60 s)
	// Lease is how long a replica sharing the store holds a record it
	// claimed before another may take it (default Timeout + 20 s). Unused
	// on the embedded store, whose claims are in memory.
	Lease      time.Duration
	Policy     Policy
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Dispatcher runs deliveries.
type Dispatcher struct {
	store *store.Store
	sinks map[string]Sink
	opts  Options
	log   *slog.Logger
	kick  chan struct{}

	mu       sync.Mutex
	inflight map[string]bool
	lanes    map[string]int // deliveries in flight by lane
	queues   map[string]int // deliveries in flight by queue

	deliveries *prometheus.CounterVec
}

// New returns a dispatcher for the given sinks, by record kind.
func New(st *store.Store, sinks map[string]Sink, opts Options) *Dispatcher {
	if opts.Concurrency <= 0 {
		opts.Concurrency = 160
	}
	limits := map[string]int{"calendar": 2, "webhook": 8}
	maps.Copy(limits, opts.LaneConcurrency)
	opts.LaneConcurrency = limits
	queueLimits := map[string]int{"calendar": 32, "webhook": 32}
	maps.Copy(queueLimits, opts.QueueConcurrency)
	opts.QueueConcurrency = queueLimits
	if opts.Poll <= 0 {
		opts.Poll = 5 * time.Second
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 60 * time.Second
	}
	if opts.Lease <= 0 {
		opts.Lease = opts.Timeout + 2*persistTimeout
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	opts.Policy = opts.Policy.withDefaults()
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	d := &Dispatcher{store: st, sinks: sinks, opts: opts, log: log.With("component", "outbox"),
		kick: make(chan struct{}, 1), inflight: map[string]bool{}, lanes: map[string]int{}, queues: map[string]int{}}
	d.deliveries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rdvsync_outbox_deliveries_total", Help: "Outbox delivery attempts by kind and result (ok, retry, dead).",
	}, []string{"kind", "result"})
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(d.deliveries, queueCollector{d})
	}
	return d
}

// QueueOf is the queue of a record key: what precedes its first "/"
// ("calendar", "webhook", "notify").
func QueueOf(key string) string {
	q, _, _ := strings.Cut(key, "/")
	return q
}

var (
	pendingDesc = prometheus.NewDesc("rdvsync_outbox_pending", "Outbox records waiting for delivery (not dead).", nil, nil)
	deadDesc    = prometheus.NewDesc("rdvsync_outbox_dead",
		"Dead letters by queue (calendar, email, sms, webhook): given up, kept with their error until re-queued.", []string{"kind"}, nil)
	backlogDesc = prometheus.NewDesc("rdvsync_outbox_backlog",
		"Records waiting for delivery (not dead) by queue (calendar, email, sms, webhook).", []string{"kind"}, nil)
	oldestDesc = prometheus.NewDesc("rdvsync_outbox_oldest_pending_age_seconds",
		"Age of the oldest record waiting for delivery (not dead) by queue: how late the queue is.", []string{"kind"}, nil)
)

// queueCollector reads the outbox once per scrape for every gauge.
type queueCollector struct{ d *Dispatcher }

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- pendingDesc
	ch <- deadDesc
	ch <- backlogDesc
	ch <- oldestDesc
}

func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	q := c.d.scan()
	ch <- prometheus.MustNewConstMetric(pendingDesc, prometheus.GaugeValue, float64(q.pending))
	now := c.d.opts.Now()
	for kind, n := range q.dead {
		ch <- prometheus.MustNewConstMetric(deadDesc, prometheus.GaugeValue, float64(n), kind)
		ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(q.backlog[kind]), kind)
		age := 0.0
		if o, ok := q.oldest[kind]; ok {
			age = max(0, now.Sub(o).Seconds())
		}
		ch <- prometheus.MustNewConstMetric(oldestDesc, prometheus.GaugeValue, age, kind)
	}
}

// queueState is the outbox at one scrape.
type queueState struct {
	pending int
	dead    map[string]int       // dead letters by kind
	backlog map[string]int       // waiting records by kind
	oldest  map[string]time.Time // creation of the oldest waiting record, by kind
}

// scan counts the records waiting and the dead letters, by kind; every
// sink's kind is present, so an alert can compare against 0.
func (d *Dispatcher) scan() queueState {
	q := queueState{dead: map[string]int{}, backlog: map[string]int{}, oldest: map[string]time.Time{}}
	for kind := range d.sinks {
		q.dead[kind] = 0
	}
	d.store.View(context.Background(), func(tx *store.ReadTx) error {
		return tx.EachOutbox("", func(r *store.OutboxRecord) error {
			if _, ok := q.dead[r.Kind]; !ok {
				q.dead[r.Kind] = 0
			}
			if r.Dead {
				q.dead[r.Kind]++
				return nil
			}
			q.pending++
			q.backlog[r.Kind]++
			if o, ok := q.oldest[r.Kind]; !ok || r.CreatedAt.Before(o) {
				q.oldest[r.Kind] = r.CreatedAt
			}
			return nil
		})
	})
	return q
}

// Kick wakes the dispatcher after a commit that enqueued records.
func (d *Dispatcher) Kick() {
	select {
	case d.kick <- struct{}{}:
	default:
	}
}

// Run delivers until ctx is done, then waits for deliveries in flight.
// It first takes back the deliveries a previous process left in flight.
func (d *Dispatcher) Run(ctx context.Context) {
	if d.store.Exclusive() {
		var released int
		err := d.store.Update(ctx, func(tx *store.Tx) error {
			var err error
			released, err = tx.ReleaseLeases(d.opts.Now())
			return err
		})
		if err != nil && ctx.Err() == nil {
			d.log.Error("releasing leases of a previous run", slog.Any("error", err))
		} else if released > 0 {
			d.log.Info("resuming deliveries left in flight by the previous run", "count", released)
		}
	} else {
		// Other replicas hold live leases: a dead one's expire and are
		// due again. Their commits wake this dispatcher.
		d.store.WatchOutbox(d.Kick)
	}
	sem := make(chan struct{}, d.opts.Concurrency)
	var wg sync.WaitGroup
	defer wg.Wait()
	// Claim in batches: after a delivery ends, wait for a quarter of the
	// slots to be free (or every delivery to end) rather than write a claim
	// transaction per record.
	batch := max(1, d.opts.Concurrency/4)
	for {
		free := d.opts.Concurrency - len(sem)
		var recs []store.OutboxRecord
		if free >= batch || (free > 0 && len(sem) == 0) {
			var err error
			recs, err = d.claim(ctx, free)
			if err != nil && ctx.Err() == nil {
				d.log.Error("claiming outbox records", slog.Any("error", err))
			}
		}
		for _, rec := range recs {
			sem <- struct{}{}
			wg.Add(1)
			go func() {
				defer func() { <-sem; wg.Done(); d.Kick() }()
				d.deliver(ctx, rec)
			}()
		}
		wait := d.opts.Poll
		if len(recs) == 0 {
			d.store.View(ctx, func(tx *store.ReadTx) error {
				if next, ok := tx.NextOutboxDueExcept(d.isInflight); ok {
					wait = min(wait, max(time.Until(next), 10*time.Millisecond))
				}
				return nil
			})
		} else {
			wait = 0
		}
		if wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-d.kick:
				t.Stop()
			case <-t.C:
			}
		} else if ctx.Err() != nil {
			return
		}
	}
}

func (d *Dispatcher) claim(ctx context.Context, limit int) ([]store.OutboxRecord, error) {
	var recs []store.OutboxRecord
	now := d.opts.Now()
	// skip says which due records this process does not take now: those
	// it is delivering, and those of a lane or a queue at its limit
	// (counts include the records this scan takes). Called under d.mu.
	skip := func() func(key string) bool {
		taken, takenQ := map[string]int{}, map[string]int{}
		return func(key string) bool {
			l, q := laneOf(key), QueueOf(key)
			if d.inflight[key] || d.lanes[l]+taken[l] >= d.laneLimit(key) || d.queues[q]+takenQ[q] >= d.queueLimit(q) {
				return true
			}
			taken[l]++
			takenQ[q]++
			return false
		}
	}
	var err error
	if d.store.Exclusive() {
		// Claims are kept in memory (inflight), not written: the store's
		// lock makes this process its only user, and a record claimed
		// when the process dies is still due at the next start.
		//
		// The lock is taken before the read begins: a delivery leaves
		// inflight (under the lock) only after its outcome committed, so
		// every record missing from inflight now was completed before
		// this snapshot, which cannot show it due again. (With the lock
		// taken inside the read, a snapshot begun just before a
		// completion met a key already gone from inflight, and the
		// message went out twice.)
		d.mu.Lock()
		err = d.store.View(ctx, func(tx *store.ReadTx) error {
			var err error
			recs, err = tx.DueOutbox(now, limit, skip())
			return err
		})
		d.mu.Unlock()
	} else {
		// Replicas share the outbox: a claim is a lease written in a
		// serialisable transaction, so of two replicas claiming one
		// record, one commits and the other, retried, finds it leased
		// (due only when the lease ends: a replica that dies
		// mid-delivery hands its records over then).
		// The due keys are listed in a snapshot, and the claim reads
		// only those records: a range read of the due index in the
		// claiming transaction would conflict with every booking
		// enqueuing a delivery meanwhile.
		var keys []string
		err = d.store.View(ctx, func(tx *store.ReadTx) error {
			d.mu.Lock()
			defer d.mu.Unlock()
			keys = tx.DueOutboxKeys(now, limit, skip())
			return nil
		})
		if err == nil && len(keys) > 0 {
			err = d.store.Update(ctx, func(tx *store.Tx) error {
				var err error
				recs, err = tx.ClaimOutbox(keys, now, d.opts.Lease)
				return err
			})
		}
	}
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	for _, r := range recs {
		d.inflight[r.Key] = true
		d.lanes[laneOf(r.Key)]++
		d.queues[QueueOf(r.Key)]++
	}
	d.mu.Unlock()
	return recs, nil
}

func (d *Dispatcher) isInflight(key string) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.inflight[key]
}

// laneOf is the first two segments of a record key.
func laneOf(key string) string {
	q, rest, _ := strings.Cut(key, "/")
	sub, _, _ := strings.Cut(rest, "/")
	return q + "/" + sub
}

func (d *Dispatcher) queueLimit(q string) int {
	if n, ok := d.opts.QueueConcurrency[q]; ok && n > 0 {
		return n
	}
	return d.opts.Concurrency
}

func (d *Dispatcher) laneLimit(key string) int {
	if n, ok := d.opts.LaneConcurrency[QueueOf(key)]; ok && n > 0 {
		return n
	}
	return d.opts.Concurrency
}

// deliver runs one delivery of rec and records its outcome.
func (d *Dispatcher) deliver(ctx context.Context, rec store.OutboxRecord) {
	defer func() {
		d.mu.Lock()
		delete(d.inflight, rec.Key)
		d.lanes[laneOf(rec.Key)]--
		d.queues[QueueOf(rec.Key)]--
		d.mu.Unlock()
	}()
	sink := d.sinks[rec.Kind]
	var err error
	writes := &deferred{}
	if sink == nil {
		err = fmt.Errorf("%w: no sink for kind %q", ErrPermanent, rec.Kind)
	} else {
		dctx, cancel := context.WithTimeout(context.WithValue(ctx, deferredKey{}, writes), d.opts.Timeout)
		err = safeDeliver(dctx, sink, rec)
		cancel()
	}
	if ctx.Err() != nil && err != nil {
		return // shutting down: the lease expires and the record is retried
	}
	now := d.opts.Now()
	log := d.log.With("kind", rec.Kind, "key", rec.Key, "attempt", rec.Attempts+1)
	if err == nil {
		d.deliveries.WithLabelValues(rec.Kind, "ok").Inc()
		d.persist(writes, func(tx *store.Tx) error { return tx.CompleteOutbox(rec.Key, rec.Gen, now) })
		log.Debug("delivered")
		return
	}
	first := now
	if rec.FirstFailureAt != nil {
		first = *rec.FirstFailureAt
	}
	delay := d.opts.Policy.Backoff(rec.Attempts + 1)
	var ra RetryAfter
	if errors.As(err, &ra) && ra.RetryAfter() > delay {
		delay = ra.RetryAfter()
	}
	dead := errors.Is(err, ErrPermanent) || now.Add(delay).Sub(first) > d.opts.Policy.Budget
	if dead {
		d.deliveries.WithLabelValues(rec.Kind, "dead").Inc()
		log.Warn("delivery failed for good: dead letter", slog.Any("error", err))
	} else {
		d.deliveries.WithLabelValues(rec.Kind, "retry").Inc()
		log.Info("delivery failed: will retry", "retry_in", delay.Round(time.Second).String(), slog.Any("error", err))
	}
	d.persist(writes, func(tx *store.Tx) error {
		return tx.FailOutbox(rec.Key, rec.Gen, now, err.Error(), now.Add(delay), dead)
	})
}

func safeDeliver(ctx context.Context, sink Sink, rec store.OutboxRecord) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("sink panicked: %v", p)
		}
	}()
	return sink.Deliver(ctx, rec)
}

// persist writes an outcome, after the sink's own writes (Persist), in
// one transaction, even while shutting down.
func (d *Dispatcher) persist(writes *deferred, fn func(tx *store.Tx) error) {
	ctx, cancel := context.WithTimeout(context.Background(), persistTimeout)
	defer cancel()
	err := d.store.Update(ctx, func(tx *store.Tx) error {
		if err := writes.run(tx); err != nil {
			return err
		}
		return fn(tx)
	})
	if err != nil {
		d.log.Error("recording delivery outcome", slog.Any("error", err))
	}
}

// persistTimeout bounds the write of an outcome.
const persistTimeout = 10 * time.Second

type deferredKey struct{}

// deferred are the writes a sink asked for during one delivery.
type deferred struct {
	mu  sync.Mutex
	fns []func(*store.Tx) error
}

func (w *deferred) run(tx *store.Tx) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, fn := range w.fns {
		if err := fn(tx); err != nil {
			return err
		}
	}
	return nil
}

// Persist is how a sink writes what a delivery leaves behind (a receipt,
// the calendar event's ETag, a webhook's delivery log). Called with the
// context of a delivery, fn runs later, in the transaction that records
// the delivery's outcome in the outbox: one commit per delivery instead of
// two or three, and the sink's record and the outcome are committed
// together or not at all (a crash in between delivers again, as before).
// Called elsewhere, fn runs now in a transaction of its own, even if ctx
// is canceled.
func Persist(ctx context.Context, st *store.Store, fn func(*store.Tx) error) error {
	if w, ok := ctx.Value(deferredKey{}).(*deferred); ok {
		w.mu.Lock()
		w.fns = append(w.fns, fn)
		w.mu.Unlock()
		return nil
	}
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), persistTimeout)
	defer cancel()
	return st.Update(uctx, fn)
}
