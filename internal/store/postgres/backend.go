package postgres

import (
	"context"
	crand "crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"rdvsync/internal/store/kv"
)

var _ kv.Backend = (*Backend)(nil)

// Options tune a Backend; the zero value is usable.
type Options struct {
	// Logger receives operators' messages (English, no personal data, no
	// password); nil discards them.
	Logger *slog.Logger
	// MaxConns is the size of the transactions' pool; 0 keeps the DSN's
	// pool_max_conns or pgx's default (the larger of 4 and the CPUs).
	MaxConns int32
	// MaxWriters bounds the read-write transactions this process runs at
	// once (defaultMaxWriters when 0); the others wait their turn in the
	// process, while View keeps the whole pool.
	MaxWriters int

	// tracer sees the transactions' statements (tests count round trips).
	tracer pgx.QueryTracer
}

// Backend is the store's key-value model on a PostgreSQL database, shared
// by any number of processes.
type Backend struct {
	pool *pgxpool.Pool
	// side runs the statements made outside transactions (sequences,
	// change notices): a pool of its own, so that transactions holding
	// every connection of pool never wait for one to take a number.
	side   *pgxpool.Pool
	name   string
	log    *slog.Logger
	id     string // this process, in its change notices
	listen *pgx.ConnConfig

	// buckets: the paths of nested buckets known to be in kv_bucket.
	buckets sync.Map
	retries atomic.Uint64
	// writers holds a token per read-write transaction running
	// (Options.MaxWriters).
	writers chan struct{}

	notices notices
}

// Open connects to the database at dsn (a URL or key=value string, as
// libpq takes) and brings its schema up to date.
func Open(ctx context.Context, dsn string, opts Options) (*Backend, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx's message quotes the DSN with its password masked.
		return nil, fmt.Errorf("store: postgres: %w", err)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	if opts.tracer != nil {
		cfg.ConnConfig.Tracer = opts.tracer
	}
	// Without a connect_timeout in the DSN, a database host that drops
	// packets would hold each request until its own deadline.
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = 5 * time.Second
	}
	// A process that dies inside a transaction (its connection not yet
	// seen closed) must not hold its locks for long: transactions never
	// wait on anything but the database.
	if _, ok := cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		cfg.ConnConfig.RuntimeParams["idle_in_transaction_session_timeout"] = "60s"
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	id := make([]byte, 8)
	crand.Read(id)
	if opts.MaxWriters <= 0 {
		opts.MaxWriters = defaultMaxWriters
	}
	b := &Backend{
		writers: make(chan struct{}, opts.MaxWriters),
		name:    "postgres://" + cfg.ConnConfig.Host + portSuffix(cfg.ConnConfig.Port) + "/" + cfg.ConnConfig.Database,
		id:      hex.EncodeToString(id),
		listen:  cfg.ConnConfig.Copy(),
	}
	b.log = log.With("component", "store", "store", b.name)
	sideCfg := cfg.Copy()
	sideCfg.MaxConns = 4
	sideCfg.MinConns = 0
	// A number taken by a transaction that commits is durable with that
	// commit, which comes later in the write-ahead log; one that no commit
	// used may be given again after a crash, harmlessly. A change notice
	// is a wake-up, not data.
	sideCfg.ConnConfig.RuntimeParams["synchronous_commit"] = "off"
	if b.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, unavailable(err)
	}
	if b.side, err = pgxpool.NewWithConfig(ctx, sideCfg); err != nil {
		b.pool.Close()
		return nil, unavailable(err)
	}
	n, err := migrate(ctx, b.pool)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("store: %s: schema: %w", b.name, unavailable(err))
	}
	if n > 0 {
		b.log.Info("schema migrated", "migrations", n)
	}
	if err := b.startNotices(ctx); err != nil {
		b.Close()
		return nil, fmt.Errorf("store: %s: %w", b.name, unavailable(err))
	}
	return b, nil
}

func portSuffix(p uint16) string {
	if p == 0 || p == 5432 {
		return ""
	}
	return fmt.Sprintf(":%d", p)
}

// unavailable wraps a database error in kv.ErrUnavailable.
func unavailable(err error) error {
	if errors.Is(err, kv.ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %w", kv.ErrUnavailable, err)
}

// retryable is a serialisation failure or a deadlock: the database aborted
// this transaction so that another could commit, and running it again
// will see what that one wrote.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// An Update aborted by the database runs again after a random pause of up
// to 1 ms, doubling at each abort up to maxPause, for retryFor: PostgreSQL
// lets at least one of the transactions in conflict commit, so each round
// makes progress, and the pauses spread a burst of writers of the same keys
// (the first bookings on an empty database) that would otherwise collide
// again. Past retryFor the database is considered too contended to serve
// the request.
const (
	maxPause = 100 * time.Millisecond
	retryFor = 10 * time.Second
)

// An Update aborted abortsBeforeAlone times runs alone: it waits for the
// exclusive advisory lock writersLock, while every other Update holds it
// shared from its first statement to its end, so it runs while no other
// read-write transaction does and nothing can abort it. PostgreSQL queues
// a new shared request behind a waiting exclusive one, so the lone writer
// waits only for the transactions already running. Without it, the
// database promises only that one of the writers in conflict commits, not
// which: a transaction that loses every round (a booking among many
// writers of the same agent's range) could fail after retryFor with
// nothing wrong but load.
const (
	abortsBeforeAlone = 3
	writersLock       = 0x72647673796e6377 // "rdvsyncw"; migrationLock is another key
)

// defaultMaxWriters is Options.MaxWriters' default. Serialisable writers
// that run together abort one another (page-level predicate locks: two
// bookings of neighbouring slots of one agent), and each abort wastes the
// round trips made so far; writers that wait their turn in the process
// waste nothing. With BenchmarkBookReplicas (BENCHMARKS.md, "Scale-out:
// PostgreSQL"), three daemons booked fastest with 1 or 2 writers each and
// slower with every writer more; 2 rather than 1 keeps a lane while a
// long write runs, and a daemon far from its database (a round trip of a
// millisecond) from being bound to one transaction's latency.
const defaultMaxWriters = 2

// View runs fn in a read-only transaction on one snapshot (REPEATABLE READ).
func (b *Backend) View(ctx context.Context, fn func(kv.Tx) error) error {
	return b.run(ctx, false, fn)
}

// Update runs fn in a SERIALIZABLE transaction: of two transactions that
// each read what the other writes, PostgreSQL aborts one (at a statement or
// at commit), and Update runs it again from the start after a short random
// pause (see retryFor).
func (b *Backend) Update(ctx context.Context, fn func(kv.Tx) error) error {
	return b.run(ctx, true, fn)
}

func (b *Backend) run(ctx context.Context, writable bool, fn func(kv.Tx) error) error {
	if writable {
		select {
		case b.writers <- struct{}{}:
		case <-ctx.Done():
			return unavailable(ctx.Err())
		}
		defer func() { <-b.writers }()
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		err, retry := b.attempt(ctx, writable, writable && attempt > abortsBeforeAlone, fn)
		if !retry {
			return err
		}
		b.retries.Add(1)
		if time.Since(start) > retryFor {
			return fmt.Errorf("%w: %d serialisation failures in a row, the last: %w", kv.ErrUnavailable, attempt, err)
		}
		pause := time.Duration(rand.Int64N(int64(min(time.Millisecond<<min(attempt, 10), maxPause))))
		select {
		case <-ctx.Done():
			return unavailable(ctx.Err())
		case <-time.After(pause):
		}
	}
}

// attempt runs fn once, alone among the writers if alone; retry says that
// the database aborted it.
func (b *Backend) attempt(ctx context.Context, writable, alone bool, fn func(kv.Tx) error) (err error, retry bool) {
	conn, err := b.pool.Acquire(ctx)
	if err != nil {
		return unavailable(err), false
	}
	// A connection left inside a transaction (a panic of fn) is closed
	// by the pool rather than reused.
	defer conn.Release()
	if alone {
		// Taken before BEGIN, for the session, so that the transaction's
		// snapshot (taken at its first statement) follows the commits of
		// every writer that ran before it: with the lock taken inside
		// the transaction, the snapshot would be older than they are, and
		// the transaction in conflict with them again.
		if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", int64(writersLock)); err != nil {
			return unavailable(err), false
		}
		defer func() {
			if _, err := conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", int64(writersLock)); err != nil {
				// Closing the connection releases the lock with it.
				conn.Conn().Close(context.WithoutCancel(ctx))
			}
		}()
	}
	t := &txn{b: b, ctx: ctx, conn: conn, writable: writable, alone: alone}
	fnErr, dbErr := t.call(fn)
	if dbErr == nil && fnErr == nil && writable {
		dbErr = t.commit()
	}
	// After a failed commit, the transaction may still be open (a write
	// failed before COMMIT ran).
	if endErr := t.end(); dbErr == nil && fnErr == nil {
		dbErr = endErr
	}
	if dbErr != nil {
		if retryable(dbErr) {
			return dbErr, true
		}
		return unavailable(dbErr), false
	}
	if fnErr != nil {
		return fnErr, false
	}
	if writable {
		for p := range t.made {
			b.buckets.Store(p, true)
		}
		b.announce(t.notify)
		for _, f := range t.onCommit {
			f()
		}
	}
	return nil, false
}

// call runs fn, turning a read's failure panic into dbErr.
func (t *txn) call(fn func(kv.Tx) error) (fnErr, dbErr error) {
	defer func() {
		if r := recover(); r != nil {
			f, ok := r.(failure)
			if !ok {
				panic(r)
			}
			dbErr = f.err
		}
	}()
	return fn(t), nil
}

// Retries counts the transactions that the database aborted and Update ran
// again, since Open: contention between writers, for a metric.
func (b *Backend) Retries() uint64 { return b.retries.Load() }

// Exclusive is false: other processes share the database.
func (b *Backend) Exclusive() bool { return false }

// Name is "postgres://host[:port]/database", without user nor password.
func (b *Backend) Name() string { return b.name }

// Health runs one query, on the side pool: transactions holding every
// connection of the main pool is load, not a failure.
func (b *Backend) Health(ctx context.Context) error {
	if _, err := b.side.Exec(ctx, "SELECT 1"); err != nil {
		return unavailable(err)
	}
	return nil
}

// Close sends the change notices not sent yet, stops listening and closes
// the connections.
func (b *Backend) Close() error {
	b.stopNotices()
	b.pool.Close()
	b.side.Close()
	return nil
}

func (b *Backend) bucketKnown(path string) bool {
	_, ok := b.buckets.Load(path)
	return ok
}
