package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// ErrLocked is returned by Open when another process holds the file lock.
var ErrLocked = errors.New("locked by another process")

// ErrSchemaTooNew is returned by Open for a file written by a newer rdvsync.
var ErrSchemaTooNew = errors.New("schema version newer than this rdvsync supports")

// DefaultLockTimeout is how long Open waits for the file lock by default.
const DefaultLockTimeout = time.Second

// Options tunes Open. The zero value is ready to use.
type Options struct {
	// LockTimeout is how long to wait for another process to release the
	// file lock before failing with ErrLocked (default DefaultLockTimeout).
	LockTimeout time.Duration
	// NoSync skips fsync on commit: faster, but a crash may lose
	// acknowledged writes or corrupt the file. For tests only.
	NoSync bool
	// Logger receives open and migration events (default: discarded).
	Logger *slog.Logger
}

// Store is an open rdvsync database. It is safe for concurrent use.
type Store struct {
	kv Backend
	// bolt is kv when it is the embedded backend (nil otherwise): backups,
	// sizes and checks are the file's.
	bolt   *boltBackend
	path   string // kv.Name()
	logger *slog.Logger
	// damage is the first ErrDamaged a transaction met, for Health.
	damage atomic.Pointer[error]
	// busy is the in-memory read model of agent_busy (busyindex.go); nil
	// when other processes write the store too (it could not hear them).
	busy *busyIndex
}

// Open opens or creates the database at path, creating its parent directory,
// and brings its schema up to date. A file locked by another process fails
// after opts.LockTimeout with an error wrapping ErrLocked.
func Open(path string, opts Options) (*Store, error) {
	return open(path, opts, migrations)
}

func open(path string, opts Options, migs []migration) (*Store, error) {
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	logger = logger.With("component", "store")
	timeout := opts.LockTimeout
	if timeout <= 0 {
		timeout = DefaultLockTimeout
	}
	// The file holds personal data: only the daemon's user may read it.
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store %s: create directory: %w", path, err)
	}
	if err := refuseEmpty(path); err != nil {
		return nil, err
	}
	db, err := openBolt(path, &bolt.Options{
		Timeout:      timeout,
		NoSync:       opts.NoSync,
		FreelistType: bolt.FreelistMapType,
	})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store %s is %w (is another rdvsync running on it?)", path, ErrLocked)
	}
	if errors.Is(err, ErrDamaged) {
		return nil, err
	}
	if errors.Is(err, bolterrors.ErrInvalid) || errors.Is(err, bolterrors.ErrChecksum) || errors.Is(err, bolterrors.ErrVersionMismatch) {
		// bbolt's own checks of the meta pages refuse a damaged file, or
		// one that is not a store.
		return nil, fmt.Errorf("store %s: %w (%v): %s", path, ErrDamaged, err, wayOut(path))
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: open: %w", path, err)
	}
	bb := newBoltBackend(db, path)
	s := &Store{kv: bb, bolt: bb, path: path, logger: logger, busy: newBusyIndex()}
	from, to, err := s.migrate(context.Background(), migs)
	if err == nil {
		// Read every page once now: a damaged file is refused at start
		// rather than found by the first request that reads the page
		// (100 000 RDVs: 170 MB, under 0.1 s when cached).
		err = db.View(func(tx *bolt.Tx) error { return readEveryPage(tx, path) })
	}
	if err != nil {
		_ = guard(path, "close", db.Close)
		return nil, err
	}
	logger.Info("store opened", "path", path, "schema_version", to, "migrated_from", from)
	return s, nil
}

// New opens a store on a backend other than the embedded file (the
// PostgreSQL one: package postgres) and brings its schema up to date. The
// store closes the backend when it is closed.
func New(ctx context.Context, kv Backend, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	s := &Store{kv: kv, path: kv.Name(), logger: logger.With("component", "store")}
	if kv.Exclusive() {
		s.busy = newBusyIndex()
	}
	from, to, err := s.migrate(ctx, migrations)
	if err != nil {
		return nil, err
	}
	s.logger.Info("store opened", "store", s.path, "schema_version", to, "migrated_from", from)
	return s, nil
}

// Exclusive is true when this process is the store's only user (the
// embedded file): claims kept in memory are then authoritative, and
// leases found at start are those of a process that died.
func (s *Store) Exclusive() bool { return s.kv.Exclusive() }

// WatchOutbox calls fn after another process committed writes to the outbox
// (never for the embedded file, which no other process writes).
func (s *Store) WatchOutbox(fn func()) { s.kv.Watch([][]byte{bucketOutbox}, fn) }

// Close releases the file and its lock (or the database connections).
// Transactions still running are waited for.
func (s *Store) Close() error {
	if err := s.kv.Close(); err != nil {
		return fmt.Errorf("store %s: close: %w", s.path, err)
	}
	return nil
}

// Path returns the file path given to Open (or where the backend's data
// is, without any password).
func (s *Store) Path() string { return s.path }

// View runs fn in a read-only transaction, which sees a consistent snapshot.
// Values fn receives stay valid after it returns.
func (s *Store) View(ctx context.Context, fn func(*ReadTx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var fnErr error
	err := s.kv.View(ctx, func(t KVTx) error {
		fnErr = fn(&ReadTx{kv: t})
		return fnErr
	})
	return s.txError("view", err, fnErr)
}

// Update runs fn in a read-write transaction and commits it (with fsync
// unless Options.NoSync) when fn returns nil; any error rolls everything
// back and is returned unchanged.
//
// Concurrent calls share one commit (group commit, see committer), which is
// what makes many concurrent bookings per second possible with fsync on. The
// price: fn may run more than once — when another function of its group
// fails, the group is retried without it — so fn must have no side effects
// outside the transaction (no network, no channel sends, and results
// captured in outer variables must be reset at the start of fn). Each run
// sees every write committed or grouped before it, so a check made in fn
// (such as AgentHasOverlap) still holds when its writes commit.
//
// A ctx that ends before fn has run makes Update return ctx.Err() without
// writing; once fn has run, Update waits for the commit.
func (s *Store) Update(ctx context.Context, fn func(*Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var fnErr error
	err := s.kv.Update(ctx, func(t KVTx) error {
		fnErr = fn(&Tx{ReadTx: ReadTx{kv: t, busyIdx: s.busy}})
		return fnErr
	})
	if ctxErr := ctx.Err(); ctxErr != nil && err == ctxErr {
		return err
	}
	return s.txError("update", err, fnErr)
}

// txError returns fn's own error unchanged and wraps bbolt's (begin, commit,
// fsync) with the store's context.
func (s *Store) txError(op string, err, fnErr error) error {
	if err == nil || (fnErr != nil && err == fnErr) {
		return err
	}
	if errors.Is(err, ErrDamaged) {
		s.damage.CompareAndSwap(nil, &err)
		return err
	}
	return fmt.Errorf("store %s: %s: %w", s.path, op, err)
}

// Health is nil while the store can be read: it fails once any
// transaction found the file damaged (the error stays until the daemon
// restarts on a repaired file), or when a read of the schema version and
// of the first record of every bucket fails now. It is what /readyz asks.
func (s *Store) Health(ctx context.Context) error {
	if err := s.damage.Load(); err != nil {
		return *err
	}
	if err := s.kv.Health(ctx); err != nil {
		return s.txError("health", err, nil)
	}
	return s.View(ctx, func(tx *ReadTx) error {
		_, err := schemaVersion(tx.kv)
		return err
	})
}

// SchemaVersion is the schema version this rdvsync writes: a file of an
// older version is migrated when opened.
func SchemaVersion() int { return len(migrations) }

// Stats are counts for readiness checks and logs.
type Stats struct {
	RDVs      int
	Usagers   int
	SizeBytes int64
}

// Stats counts the stored RDVs and usagers and measures the file.
func (s *Store) Stats(ctx context.Context) (Stats, error) {
	var st Stats
	err := s.View(ctx, func(tx *ReadTx) error {
		st = Stats{
			RDVs:    tx.bucket(bucketRDVs).KeyN(),
			Usagers: tx.bucket(bucketUsagers).KeyN(),
		}
		if bt, ok := tx.kv.(boltTx); ok {
			st.SizeBytes = bt.btx.Size()
		}
		return nil
	})
	return st, err
}

// ReadTx is a read-only transaction. It is only valid inside the function
// given to View or Update.
type ReadTx struct {
	kv KVTx
	// maxDur caches meta/max_rdv_duration once loaded is set.
	maxDur time.Duration
	loaded bool
	// busyIdx hears, in write transactions, which agents' busy times
	// change (nil in migrations, which run before anything reads it).
	busyIdx *busyIndex
}

// Tx is a read-write transaction. It is only valid inside the function given
// to Update.
type Tx struct {
	ReadTx
	// usagers records the usagers PutUsager wrote: id → created.
	usagers map[string]bool
}

// UsagerWritten reports whether PutUsager wrote the usager in this
// transaction, and whether it created it (effects tell receivers).
func (tx *Tx) UsagerWritten(id string) (written, created bool) {
	created, written = tx.usagers[id]
	return written, created
}

func (tx *ReadTx) bucket(name []byte) KVBucket {
	// Every top-level bucket is created by a migration and never dropped.
	return tx.kv.Bucket(name)
}
