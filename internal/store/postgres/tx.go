package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"rdvsync/internal/store/kv"
)

var (
	_ kv.Tx     = (*txn)(nil)
	_ kv.Bucket = (*bucket)(nil)
	_ kv.Cursor = (*cursor)(nil)
)

// failure is the panic value of a read that the database could not answer
// (the KV interfaces return no error on reads); View and Update recover it.
type failure struct{ err error }

// txn is one transaction on one pool connection. Round trips are what a
// transaction costs (a booking makes about 30 key-value operations), so
// BEGIN waits for the first statement, writes wait in pending for the next
// read or the commit, and each of those sends everything waiting in one
// pipelined batch: a read sees the transaction's own writes, and a
// transaction that reads once and writes ten keys costs two round trips.
type txn struct {
	b        *Backend
	ctx      context.Context
	conn     *pgxpool.Conn
	writable bool
	alone    bool // holds writersLock exclusively (backend.go)
	begun    bool // BEGIN was sent
	pending  []write
	notify   map[string]bool // watched top-level buckets written (notice.go)
	onCommit []func()
	// known holds the keys this transaction read with Get or wrote (nil:
	// missing): its snapshot changes only by its own writes, so a second
	// Get of a key costs no round trip.
	known map[pathKey][]byte
	// made: the paths of the nested buckets this transaction registered.
	made map[string]bool
}

type pathKey struct{ path, key string }

type write struct {
	op                 int
	bucket, key, value []byte
}

// Kinds of write.
const (
	opPut      = iota
	opDelete   // of key in bucket
	opMkBucket // the nested bucket key in bucket, listed by ForEachBucket
)

var errReadOnly = errors.New("write in a read-only transaction")

func (t *txn) Writable() bool     { return t.writable }
func (t *txn) OnCommit(fn func()) { t.onCommit = append(t.onCommit, fn) }

func (t *txn) Bucket(name []byte) kv.Bucket {
	if len(name) == 0 {
		return nil
	}
	return &bucket{t: t, top: string(name), path: escapeName(nil, name)}
}

func (t *txn) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	if err := t.canCreate(name); err != nil {
		return nil, err
	}
	return t.Bucket(name), nil
}

func (t *txn) canCreate(name []byte) error {
	if !t.writable {
		return errReadOnly
	}
	if len(name) == 0 {
		return errors.New("store: a bucket name is required")
	}
	return nil
}

func (t *txn) beginSQL() string {
	if t.writable {
		return "BEGIN ISOLATION LEVEL SERIALIZABLE"
	}
	return "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
}

// exchange sends, in one batch, BEGIN if not sent yet, the pending writes,
// then what queue adds; read reads the results of the latter.
func (t *txn) exchange(queue func(*pgx.Batch), read func(pgx.BatchResults) error) error {
	var batch pgx.Batch
	if !t.begun {
		batch.Queue(t.beginSQL())
		if t.writable && !t.alone {
			// Held to the transaction's end: a writer running alone
			// (backend.go, abortsBeforeAlone) waits for it.
			batch.Queue("SELECT pg_advisory_xact_lock_shared($1)", int64(writersLock))
		}
	}
	for _, w := range t.pending {
		switch w.op {
		case opPut:
			batch.Queue(`INSERT INTO kv (bucket, key, value) VALUES ($1, $2, $3)
				ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value`, w.bucket, w.key, w.value)
		case opDelete:
			batch.Queue("DELETE FROM kv WHERE bucket = $1 AND key = $2", w.bucket, w.key)
		case opMkBucket:
			batch.Queue(`INSERT INTO kv_bucket (parent, name) VALUES ($1, $2)
				ON CONFLICT DO NOTHING`, w.bucket, w.key)
		}
	}
	prefix := batch.Len()
	queue(&batch)
	// Whatever happens now, the transaction may have begun: the caller
	// rolls back on error.
	t.begun = true
	t.pending = t.pending[:0]
	br := t.conn.SendBatch(t.ctx, &batch)
	for range prefix {
		if _, err := br.Exec(); err != nil {
			br.Close()
			return err
		}
	}
	if read != nil {
		if err := read(br); err != nil {
			br.Close()
			return err
		}
	}
	return br.Close()
}

// query runs one read after the pending writes; a database error panics
// (see failure).
func (t *txn) query(sql string, args []any, scan func(pgx.Rows) error) {
	err := t.exchange(func(b *pgx.Batch) { b.Queue(sql, args...) }, func(br pgx.BatchResults) error {
		rows, err := br.Query()
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			if err := scan(rows); err != nil {
				return err
			}
		}
		return rows.Err()
	})
	if err != nil {
		panic(failure{err})
	}
}

// commit sends the pending writes and COMMIT together.
func (t *txn) commit() error {
	if !t.begun && len(t.pending) == 0 {
		return nil
	}
	return t.exchange(func(b *pgx.Batch) { b.Queue("COMMIT") }, func(br pgx.BatchResults) error {
		_, err := br.Exec()
		return err
	})
}

// end rolls back the transaction if it is still open: a read-only one, or
// one that will not commit.
func (t *txn) end() error {
	if !t.begun || t.conn.Conn().PgConn().TxStatus() == 'I' {
		return nil
	}
	_, err := t.conn.Exec(t.ctx, "ROLLBACK")
	return err
}

// escapeName appends a bucket name to its parent's path so that no two
// paths are equal unless they name the same bucket: 0x00 separates names,
// and inside a name 0x00 and 0x01 become 0x01 0x01 and 0x01 0x02. A
// bucket's keys are the rows with its exact path, never a range of paths,
// so a nested bucket's keys never show in its parent's listing; only KeyN
// takes a range: the paths that extend one with 0x00, its nested buckets.
func escapeName(parent, name []byte) []byte {
	p := make([]byte, 0, len(parent)+1+len(name))
	p = append(p, parent...)
	if parent != nil {
		p = append(p, 0)
	}
	for _, c := range name {
		switch c {
		case 0:
			p = append(p, 1, 1)
		case 1:
			p = append(p, 1, 2)
		default:
			p = append(p, c)
		}
	}
	return p
}

// bucket is a handle on a path: it exists as soon as a key is put in it,
// so Bucket never returns nil for a name (an empty bucket instead), and
// CreateBucketIfNotExists writes nothing.
type bucket struct {
	t    *txn
	top  string // the top-level bucket's name, for Watch
	path []byte
}

func (b *bucket) Get(key []byte) []byte {
	pk := pathKey{string(b.path), string(key)}
	if v, ok := b.t.known[pk]; ok {
		return v
	}
	var v []byte
	found := false
	// The expression of the hash index kv_point (migrations/0001_kv.sql).
	point := append(append(append(make([]byte, 0, len(b.path)+2+len(key)), b.path...), 0, 0), key...)
	b.t.query("SELECT value FROM kv WHERE (bucket || '\\x0000'::bytea || key) = $1", []any{point}, func(r pgx.Rows) error {
		found = true
		return r.Scan(&v)
	})
	if found && v == nil {
		v = []byte{}
	}
	b.t.remember(pk, v)
	return v
}

func (t *txn) remember(pk pathKey, v []byte) {
	if t.known == nil {
		t.known = map[pathKey][]byte{}
	}
	t.known[pk] = v
}

func (b *bucket) Put(key, value []byte) error {
	if !b.t.writable {
		return errReadOnly
	}
	if len(key) == 0 {
		return errors.New("store: a key is required")
	}
	// Copied: the caller may reuse its slices before the batch is sent.
	v := append(make([]byte, 0, len(value)), value...)
	b.t.pending = append(b.t.pending, write{op: opPut, bucket: b.path, key: append([]byte(nil), key...), value: v})
	b.t.remember(pathKey{string(b.path), string(key)}, v)
	b.t.wrote(b.top)
	return nil
}

func (b *bucket) Delete(key []byte) error {
	if !b.t.writable {
		return errReadOnly
	}
	b.t.pending = append(b.t.pending, write{op: opDelete, bucket: b.path, key: append([]byte(nil), key...)})
	b.t.remember(pathKey{string(b.path), string(key)}, nil)
	b.t.wrote(b.top)
	return nil
}

func (t *txn) wrote(top string) {
	if t.b.watched(top) {
		if t.notify == nil {
			t.notify = map[string]bool{}
		}
		t.notify[top] = true
	}
}

// ForEach lists the bucket's keys. Unlike bbolt it does not list the names
// of nested buckets (with a nil value): the store never mixes keys and
// nested buckets in one bucket.
func (b *bucket) ForEach(fn func(k, v []byte) error) error {
	c := b.Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

func (b *bucket) Bucket(name []byte) kv.Bucket {
	if len(name) == 0 {
		return nil
	}
	return &bucket{t: b.t, top: b.top, path: escapeName(b.path, name)}
}

// CreateBucketIfNotExists registers the nested bucket for ForEachBucket,
// once per process: buckets are never deleted.
func (b *bucket) CreateBucketIfNotExists(name []byte) (kv.Bucket, error) {
	if err := b.t.canCreate(name); err != nil {
		return nil, err
	}
	child := &bucket{t: b.t, top: b.top, path: escapeName(b.path, name)}
	if p := string(child.path); !b.t.made[p] && !b.t.b.bucketKnown(p) {
		if b.t.made == nil {
			b.t.made = map[string]bool{}
		}
		b.t.made[p] = true
		b.t.pending = append(b.t.pending, write{op: opMkBucket, bucket: b.path, key: append([]byte(nil), name...)})
	}
	return child, nil
}

// ForEachBucket calls fn with the names of the nested buckets made by
// CreateBucketIfNotExists, in byte order.
func (b *bucket) ForEachBucket(fn func(name []byte) error) error {
	var names [][]byte
	// All read first: fn may read the bucket, on the same connection.
	b.t.query("SELECT name FROM kv_bucket WHERE parent = $1 ORDER BY name", []any{b.path}, func(r pgx.Rows) error {
		var name []byte
		if err := r.Scan(&name); err != nil {
			return err
		}
		names = append(names, name)
		return nil
	})
	for _, name := range names {
		if err := fn(name); err != nil {
			return err
		}
	}
	return nil
}

// NextSequence takes the bucket's next number in an autonomous statement on
// the sequence pool, as PostgreSQL's own sequences do: concurrent
// transactions never wait for one another's commit to get a number, and a
// rolled-back transaction leaves a gap.
func (b *bucket) NextSequence() (uint64, error) {
	if !b.t.writable {
		return 0, errReadOnly
	}
	var n int64
	err := b.t.b.side.QueryRow(b.t.ctx, `INSERT INTO kv_seq (bucket, seq) VALUES ($1, 1)
		ON CONFLICT (bucket) DO UPDATE SET seq = kv_seq.seq + 1 RETURNING seq`, b.path).Scan(&n)
	if err != nil {
		return 0, unavailable(err)
	}
	return uint64(n), nil
}

func (b *bucket) Sequence() uint64 {
	var n int64
	err := b.t.b.side.QueryRow(b.t.ctx, "SELECT seq FROM kv_seq WHERE bucket = $1", b.path).Scan(&n)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		panic(failure{err})
	}
	return uint64(n)
}

// SetSequence raises the sequence to v, never lowers it: another process
// may have taken numbers above v meanwhile.
func (b *bucket) SetSequence(v uint64) error {
	if !b.t.writable {
		return errReadOnly
	}
	if v > 1<<63-1 {
		return fmt.Errorf("store: sequence %d out of range", v)
	}
	_, err := b.t.b.side.Exec(b.t.ctx, `INSERT INTO kv_seq (bucket, seq) VALUES ($1, $2)
		ON CONFLICT (bucket) DO UPDATE SET seq = GREATEST(kv_seq.seq, excluded.seq)`, b.path, int64(v))
	if err != nil {
		return unavailable(err)
	}
	return nil
}

// KeyN counts the keys of the bucket and of the buckets nested in it, whose
// paths are those that extend the bucket's with 0x00 (escapeName).
func (b *bucket) KeyN() int {
	var n int
	nested := append(append([]byte(nil), b.path...), 0)
	past := append(append([]byte(nil), b.path...), 1)
	b.t.query("SELECT count(*) FROM kv WHERE bucket = $1 OR (bucket >= $2 AND bucket < $3)",
		[]any{b.path, nested, past}, func(r pgx.Rows) error {
			return r.Scan(&n)
		})
	return n
}

// A cursor reads firstWindow rows when placed (First, Last, Seek), then
// prefetch rows per round trip. Most walks check a few keys (an agent's
// RDVs around a time, the usagers with one email), and a serialisable
// transaction locks every index page it reads: a window of 64 rows crosses
// into the next page about half the time, where other writers then
// conflict with it.
const (
	firstWindow = 8
	prefetch    = 64
)

type kvRow struct{ k, v []byte }

// Where a cursor stands.
const (
	unmoved = iota
	onRow
	beforeFirst
	afterLast
)

// cursor keeps a window of the bucket's rows, in ascending order, and reads
// the next window in the direction of a move that leaves it. A move past
// either end stands there: Next from before the first key is First, Prev
// from after the last is Last.
type cursor struct {
	b     *bucket
	state int
	rows  []kvRow
	i     int // the current row when state is onRow
	// the bucket may hold keys below rows[0], above rows[len-1]
	moreBelow, moreAbove bool
}

func (b *bucket) Cursor() kv.Cursor { return &cursor{b: b} }

// fetch reads up to limit rows beyond bound (nil: from either end of the
// bucket), going down when desc, including bound when inclusive; the rows
// come back in ascending order.
func (c *cursor) fetch(bound []byte, inclusive, desc bool, limit int) []kvRow {
	var sql strings.Builder
	sql.WriteString("SELECT key, value FROM kv WHERE bucket = $1")
	args := []any{c.b.path}
	if bound != nil {
		op := map[[2]bool]string{{false, false}: ">", {true, false}: ">=", {false, true}: "<", {true, true}: "<="}[[2]bool{inclusive, desc}]
		sql.WriteString(" AND key " + op + " $2")
		args = append(args, bound)
	}
	if desc {
		sql.WriteString(" ORDER BY key DESC")
	} else {
		sql.WriteString(" ORDER BY key")
	}
	fmt.Fprintf(&sql, " LIMIT %d", limit)
	rows := make([]kvRow, 0, limit)
	c.b.t.query(sql.String(), args, func(r pgx.Rows) error {
		var row kvRow
		if err := r.Scan(&row.k, &row.v); err != nil {
			return err
		}
		if row.v == nil {
			row.v = []byte{}
		}
		rows = append(rows, row)
		return nil
	})
	if desc {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	return rows
}

// up reads the window above bound and stands on its first row.
func (c *cursor) up(bound []byte, inclusive bool, limit int) ([]byte, []byte) {
	c.rows = c.fetch(bound, inclusive, false, limit)
	c.moreBelow, c.moreAbove = bound != nil, len(c.rows) == limit
	c.i = 0
	return c.stand(afterLast)
}

// down reads the window below bound and stands on its last row.
func (c *cursor) down(bound []byte, limit int) ([]byte, []byte) {
	c.rows = c.fetch(bound, false, true, limit)
	c.moreBelow, c.moreAbove = len(c.rows) == limit, bound != nil
	c.i = len(c.rows) - 1
	return c.stand(beforeFirst)
}

// stand returns the row at i, or stands at end when the window is empty.
func (c *cursor) stand(end int) ([]byte, []byte) {
	if len(c.rows) == 0 {
		c.state = end
		return nil, nil
	}
	c.state = onRow
	return c.rows[c.i].k, c.rows[c.i].v
}

func (c *cursor) First() ([]byte, []byte) { return c.up(nil, true, firstWindow) }
func (c *cursor) Last() ([]byte, []byte)  { return c.down(nil, firstWindow) }

func (c *cursor) Seek(seek []byte) ([]byte, []byte) {
	return c.up(append([]byte{}, seek...), true, firstWindow)
}

func (c *cursor) Next() ([]byte, []byte) {
	switch c.state {
	case unmoved, beforeFirst:
		return c.First()
	case afterLast:
		return nil, nil
	}
	switch {
	case c.i+1 < len(c.rows):
		c.i++
		return c.stand(afterLast)
	case c.moreAbove:
		return c.up(c.rows[c.i].k, false, prefetch)
	}
	c.state = afterLast
	return nil, nil
}

func (c *cursor) Prev() ([]byte, []byte) {
	switch c.state {
	case unmoved, afterLast:
		return c.Last()
	case beforeFirst:
		return nil, nil
	}
	switch {
	case c.i > 0:
		c.i--
		return c.stand(beforeFirst)
	case c.moreBelow:
		return c.down(c.rows[c.i].k, prefetch)
	}
	c.state = beforeFirst
	return nil, nil
}
