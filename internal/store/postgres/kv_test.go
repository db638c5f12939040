package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"

	"rdvsync/internal/store/kv"
	"rdvsync/internal/store/postgres/pgtest"
)

var ctx = context.Background()

func update(t testing.TB, b kv.Backend, fn func(kv.Tx) error) {
	t.Helper()
	if err := b.Update(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func view(t testing.TB, b kv.Backend, fn func(kv.Tx) error) {
	t.Helper()
	if err := b.View(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func keysOf(t testing.TB, b kv.Backend, path ...string) []string {
	t.Helper()
	var keys []string
	view(t, b, func(tx kv.Tx) error {
		bk := tx.Bucket([]byte(path[0]))
		for _, p := range path[1:] {
			bk = bk.Bucket([]byte(p))
		}
		return bk.ForEach(func(k, v []byte) error {
			keys = append(keys, string(k))
			return nil
		})
	})
	return keys
}

// Keys come back in bbolt's order: bytewise, a prefix before its
// extensions, 0x00 and 0xff as any other byte.
func TestKeysInByteOrder(t *testing.T) {
	b := open(t, pgtest.DSN(t))
	keys := []string{"b", "a", "ab", "a\x00", "a\xff", "\x00", "\xff", "\xff\xff", "A", "a\x00\x01", "é", "aa"}
	update(t, b, func(tx kv.Tx) error {
		bk, _ := tx.CreateBucketIfNotExists([]byte("k"))
		for i, k := range keys {
			if err := bk.Put([]byte(k), []byte{byte(i)}); err != nil {
				return err
			}
		}
		return nil
	})
	want := slices.Clone(keys)
	slices.Sort(want) // Go compares strings bytewise
	if got := keysOf(t, b, "k"); !slices.Equal(got, want) {
		t.Errorf("order %q, want %q", got, want)
	}
	view(t, b, func(tx kv.Tx) error {
		bk := tx.Bucket([]byte("k"))
		for i, k := range keys {
			if v := bk.Get([]byte(k)); !bytes.Equal(v, []byte{byte(i)}) {
				t.Errorf("Get(%q) = %v", k, v)
			}
		}
		if v := bk.Get([]byte("a\x00\x00")); v != nil {
			t.Errorf("Get of a missing key = %v, want nil", v)
		}
		if n := bk.KeyN(); n != len(keys) {
			t.Errorf("KeyN = %d, want %d", n, len(keys))
		}
		return nil
	})
}

// A nested bucket's keys never show in its parent, nor in a bucket whose
// name looks like the path of the nested one.
func TestNestedBucketsAreSeparate(t *testing.T) {
	b := open(t, pgtest.DSN(t))
	paths := [][]string{{"a"}, {"a", "b"}, {"a\x00b"}, {"a", "b", "c"}, {"a", "b\x00c"}, {"a\x01", "b"}, {"a", "\x01b"}, {"ab"}}
	update(t, b, func(tx kv.Tx) error {
		for i, p := range paths {
			bk, err := tx.CreateBucketIfNotExists([]byte(p[0]))
			if err != nil {
				return err
			}
			for _, name := range p[1:] {
				if bk, err = bk.CreateBucketIfNotExists([]byte(name)); err != nil {
					return err
				}
			}
			if err := bk.Put([]byte("k"), []byte(fmt.Sprint(i))); err != nil {
				return err
			}
			if err := bk.Put(fmt.Appendf(nil, "only%d", i), nil); err != nil {
				return err
			}
		}
		return nil
	})
	for i, p := range paths {
		want := []string{"k", fmt.Sprintf("only%d", i)}
		if got := keysOf(t, b, p...); !slices.Equal(got, want) {
			t.Errorf("bucket %q lists %q, want %q", p, got, want)
		}
	}
	view(t, b, func(tx kv.Tx) error {
		if v := tx.Bucket([]byte("a")).Bucket([]byte("b")).Get([]byte("k")); string(v) != "1" {
			t.Errorf("a/b k = %q", v)
		}
		if bk := tx.Bucket([]byte("never")); bk != nil && bk.Get([]byte("k")) != nil {
			t.Error("a bucket never written holds a key")
		}
		return nil
	})
}

// cursorModel is what a cursor must answer, on a sorted slice.
type cursorModel struct {
	keys []string
	i    int // -1 before the first key, len(keys) after the last
}

func (m *cursorModel) at() string {
	if m.i < 0 || m.i >= len(m.keys) {
		return "<nil>"
	}
	return m.keys[m.i]
}

func show(k []byte) string {
	if k == nil {
		return "<nil>"
	}
	return string(k)
}

// Cursors walk, turn and seek across their prefetch windows (three of
// them here) as over a sorted slice.
func TestCursorMoves(t *testing.T) {
	b := open(t, pgtest.DSN(t))
	var keys []string
	for i := range 2*prefetch + 17 {
		keys = append(keys, fmt.Sprintf("k%04d", i*2)) // odd numbers: gaps to seek into
	}
	update(t, b, func(tx kv.Tx) error {
		bk, _ := tx.CreateBucketIfNotExists([]byte("c"))
		for _, k := range keys {
			if err := bk.Put([]byte(k), []byte("v"+k)); err != nil {
				return err
			}
		}
		// Neighbours that the cursor must not see.
		for _, name := range []string{"b", "d"} {
			other, _ := tx.CreateBucketIfNotExists([]byte(name))
			if err := other.Put([]byte("k0001"), []byte("x")); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, b, func(tx kv.Tx) error {
		c := tx.Bucket([]byte("c")).Cursor()
		var got []string
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if string(v) != "v"+string(k) {
				t.Fatalf("value of %q = %q", k, v)
			}
			got = append(got, string(k))
		}
		if !slices.Equal(got, keys) {
			t.Fatalf("forward walk: %d keys, want %d", len(got), len(keys))
		}
		if k, _ := c.Next(); k != nil {
			t.Errorf("Next past the end = %q", k)
		}
		got = got[:0]
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			got = append(got, string(k))
		}
		slices.Reverse(got)
		if !slices.Equal(got, keys) {
			t.Fatalf("backward walk: %d keys, want %d", len(got), len(keys))
		}

		rng := rand.New(rand.NewPCG(1, 2))
		m := &cursorModel{keys: keys, i: -1} // the backward walk ended before the first key
		for step := range 3000 {
			var k []byte
			var op string
			switch rng.IntN(10) {
			case 0:
				op = "First"
				k, _ = c.First()
				m.i = 0
			case 1:
				op = "Last"
				k, _ = c.Last()
				m.i = len(keys) - 1
			case 2, 3:
				n := rng.IntN(2*len(keys) + 4)
				seek := fmt.Sprintf("k%04d", n)
				if n == 0 {
					seek = ""
				}
				op = "Seek " + seek
				k, _ = c.Seek([]byte(seek))
				m.i, _ = slices.BinarySearch(keys, seek)
			case 4, 5, 6:
				op = "Next"
				k, _ = c.Next()
				m.i = min(m.i+1, len(keys))
			default:
				op = "Prev"
				k, _ = c.Prev()
				m.i = max(m.i-1, -1)
			}
			if show(k) != m.at() {
				t.Fatalf("step %d: %s = %s, want %s", step, op, show(k), m.at())
			}
		}
		return nil
	})
}

func TestCursorOnEmptyBucket(t *testing.T) {
	b := open(t, pgtest.DSN(t))
	view(t, b, func(tx kv.Tx) error {
		c := tx.Bucket([]byte("none")).Cursor()
		for name, move := range map[string]func() ([]byte, []byte){
			"First": c.First, "Last": c.Last, "Next": c.Next, "Prev": c.Prev,
			"Seek": func() ([]byte, []byte) { return c.Seek([]byte("a")) },
		} {
			if k, v := move(); k != nil || v != nil {
				t.Errorf("%s on an empty bucket = %q, %q", name, k, v)
			}
		}
		return nil
	})
}

// A transaction reads its own writes, waiting in its buffer or sent.
func TestReadYourWrites(t *testing.T) {
	b := open(t, pgtest.DSN(t))
	update(t, b, func(tx kv.Tx) error {
		bk, _ := tx.CreateBucketIfNotExists([]byte("w"))
		for i := range 100 {
			bk.Put(fmt.Appendf(nil, "%03d", i), []byte("first"))
		}
		if v := bk.Get([]byte("050")); string(v) != "first" {
			t.Errorf("Get after Put = %q", v)
		}
		bk.Put([]byte("050"), []byte("second"))
		bk.Delete([]byte("051"))
		if v := bk.Get([]byte("050")); string(v) != "second" {
			t.Errorf("Get after a second Put = %q", v)
		}
		if v := bk.Get([]byte("051")); v != nil {
			t.Errorf("Get after Delete = %q", v)
		}
		bk.Put([]byte("051"), []byte("again"))
		n := 0
		bk.ForEach(func(k, v []byte) error {
			n++
			return nil
		})
		if n != 100 {
			t.Errorf("ForEach counts %d keys, want 100", n)
		}
		if n := bk.KeyN(); n != 100 {
			t.Errorf("KeyN in the transaction = %d, want 100", n)
		}
		if k, v := bk.Cursor().Seek([]byte("051")); string(k) != "051" || string(v) != "again" {
			t.Errorf("Seek after Delete and Put = %q, %q", k, v)
		}
		return nil
	})
	view(t, b, func(tx kv.Tx) error {
		bk := tx.Bucket([]byte("w"))
		if v := bk.Get([]byte("050")); string(v) != "second" {
			t.Errorf("after commit, 050 = %q", v)
		}
		if bk.KeyN() != 100 {
			t.Errorf("after commit, KeyN = %d", bk.KeyN())
		}
		return nil
	})
}

func TestRollbackOnError(t *testing.T) {
	b := open(t, pgtest.DSN(t))
	errFn := errors.New("refused")
	committed := false
	err := b.Update(ctx, func(tx kv.Tx) error {
		bk, _ := tx.CreateBucketIfNotExists([]byte("r"))
		bk.Put([]byte("read"), []byte("x"))
		bk.Get([]byte("other")) // the write is sent
		bk.Put([]byte("buffered"), []byte("x"))
		tx.OnCommit(func() { committed = true })
		return errFn
	})
	if err != errFn {
		t.Fatalf("Update = %v, want fn's error unchanged", err)
	}
	if committed {
		t.Error("OnCommit ran after a rollback")
	}
	if keys := keysOf(t, b, "r"); len(keys) != 0 {
		t.Errorf("rolled back writes were kept: %q", keys)
	}
	err = b.View(ctx, func(tx kv.Tx) error {
		return tx.Bucket([]byte("r")).Put([]byte("k"), []byte("v"))
	})
	if err == nil {
		t.Error("Put in a View succeeded")
	}
}

// bbolt keeps a key with an empty value (the store's index entries): Get
// tells it from a missing key with a non-nil empty slice.
func TestEmptyValue(t *testing.T) {
	b := open(t, pgtest.DSN(t))
	update(t, b, func(tx kv.Tx) error {
		bk, _ := tx.CreateBucketIfNotExists([]byte("e"))
		bk.Put([]byte("nil"), nil)
		bk.Put([]byte("empty"), []byte{})
		return nil
	})
	view(t, b, func(tx kv.Tx) error {
		bk := tx.Bucket([]byte("e"))
		for _, k := range []string{"nil", "empty"} {
			if v := bk.Get([]byte(k)); v == nil || len(v) != 0 {
				t.Errorf("Get(%q) = %#v, want an empty non-nil value", k, v)
			}
		}
		return bk.ForEach(func(k, v []byte) error {
			if v == nil {
				t.Errorf("ForEach gives %q a nil value", k)
			}
			return nil
		})
	})
}

func TestSequences(t *testing.T) {
	b := open(t, pgtest.DSN(t))
	var mu sync.Mutex
	seen := map[uint64]bool{}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			for range 5 {
				var n uint64
				err := b.Update(ctx, func(tx kv.Tx) error {
					bk, _ := tx.CreateBucketIfNotExists([]byte("rdvs"))
					var err error
					n, err = bk.NextSequence()
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if seen[n] {
					t.Errorf("number %d given twice", n)
				}
				seen[n] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seen) != 100 {
		t.Errorf("%d distinct numbers, want 100", len(seen))
	}
	errFn := errors.New("rollback")
	b.Update(ctx, func(tx kv.Tx) error {
		tx.Bucket([]byte("rdvs")).NextSequence()
		return errFn
	})
	update(t, b, func(tx kv.Tx) error {
		bk := tx.Bucket([]byte("rdvs"))
		if n, _ := bk.NextSequence(); n != 102 {
			t.Errorf("after a rolled-back number, NextSequence = %d, want 102 (a gap)", n)
		}
		if err := bk.SetSequence(50); err != nil {
			return err
		}
		if s := bk.Sequence(); s != 102 {
			t.Errorf("SetSequence lowered the sequence to %d", s)
		}
		if err := bk.SetSequence(500); err != nil {
			return err
		}
		if s := bk.Sequence(); s != 500 {
			t.Errorf("Sequence after SetSequence(500) = %d", s)
		}
		if s := bk.Bucket([]byte("nested")).Sequence(); s != 0 {
			t.Errorf("a nested bucket shares its parent's sequence: %d", s)
		}
		return nil
	})
}

// The check-then-insert that a booking makes: 30 transactions each look
// for a key in a range and insert one when the range is empty. The database
// aborts all but one of those that overlap, Update runs them again, and
// they then find the winner's key.
// All 30 run at once (MaxWriters), or the barrier below never opens.
func TestSerializableCheckThenInsert(t *testing.T) {
	b, err := Open(ctx, pgtest.DSN(t), Options{MaxConns: 32, MaxWriters: 32})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	update(t, b, func(tx kv.Tx) error {
		bk, _ := tx.CreateBucketIfNotExists([]byte("slots"))
		// Neighbours in the same index pages.
		for i := range 50 {
			bk.Put(fmt.Appendf(nil, "agent-0-%02d", i), nil)
			bk.Put(fmt.Appendf(nil, "agent-2-%02d", i), nil)
		}
		return nil
	})
	var attempts, inserted, commits atomic.Int64
	var wg, read sync.WaitGroup
	read.Add(30)
	for g := range 30 {
		wg.Go(func() {
			first := true
			err := b.Update(ctx, func(tx kv.Tx) error {
				attempts.Add(1)
				bk := tx.Bucket([]byte("slots"))
				k, _ := bk.Cursor().Seek([]byte("agent-1-"))
				free := k == nil || !bytes.HasPrefix(k, []byte("agent-1-"))
				if first {
					// Every transaction has read before any writes.
					first = false
					read.Done()
					read.Wait()
				}
				if free {
					if err := bk.Put(fmt.Appendf(nil, "agent-1-%02d", g), nil); err != nil {
						return err
					}
				}
				tx.OnCommit(func() {
					commits.Add(1)
					if free {
						inserted.Add(1)
					}
				})
				return nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	var taken []string
	for _, k := range keysOf(t, b, "slots") {
		if k[:8] == "agent-1-" {
			taken = append(taken, k)
		}
	}
	if len(taken) != 1 || inserted.Load() != 1 {
		t.Errorf("%d keys inserted (%q), %d commits inserting; want exactly one", len(taken), taken, inserted.Load())
	}
	if commits.Load() != 30 {
		t.Errorf("OnCommit ran %d times for 30 Updates", commits.Load())
	}
	t.Logf("30 Updates ran %d times", attempts.Load())
}

// Views see one snapshot: a commit during a View does not show in it.
func TestViewSnapshot(t *testing.T) {
	b := open(t, pgtest.DSN(t))
	update(t, b, func(tx kv.Tx) error {
		bk, _ := tx.CreateBucketIfNotExists([]byte("s"))
		return bk.Put([]byte("k"), []byte("old"))
	})
	view(t, b, func(tx kv.Tx) error {
		bk := tx.Bucket([]byte("s"))
		if v := bk.Get([]byte("k")); string(v) != "old" {
			t.Errorf("first read = %q", v)
		}
		update(t, b, func(tx kv.Tx) error {
			return tx.Bucket([]byte("s")).Put([]byte("k"), []byte("new"))
		})
		if v := bk.Get([]byte("k")); string(v) != "old" {
			t.Errorf("a View saw a commit made during it: %q", v)
		}
		return nil
	})
}

// ForEachBucket lists the nested buckets made in committed transactions, in
// byte order; KeyN counts the keys of a bucket and of its nested buckets.
func TestNestedBucketListing(t *testing.T) {
	b := open(t, pgtest.DSN(t))
	mk := func(tx kv.Tx, names ...string) error {
		bk, err := tx.CreateBucketIfNotExists([]byte("org_rdvs"))
		if err != nil {
			return err
		}
		for _, name := range names {
			child, err := bk.CreateBucketIfNotExists([]byte(name))
			if err != nil {
				return err
			}
			if err := child.Put([]byte("k"), nil); err != nil {
				return err
			}
		}
		return nil
	}
	list := func() []string {
		var names []string
		view(t, b, func(tx kv.Tx) error {
			return tx.Bucket([]byte("org_rdvs")).ForEachBucket(func(name []byte) error {
				names = append(names, string(name))
				return nil
			})
		})
		return names
	}
	b.Update(ctx, func(tx kv.Tx) error {
		mk(tx, "rolled-back")
		return errors.New("rollback")
	})
	update(t, b, func(tx kv.Tx) error { return mk(tx, "o2", "o1", "o\x00", "o1") })
	update(t, b, func(tx kv.Tx) error { return mk(tx, "o1", "o3") })
	// Made by another process: the first one's memory of made buckets
	// does not hide it.
	other := open(t, b.pool.Config().ConnString())
	update(t, other, func(tx kv.Tx) error { return mk(tx, "o0", "o1") })
	update(t, b, func(tx kv.Tx) error {
		o1, _ := tx.Bucket([]byte("org_rdvs")).CreateBucketIfNotExists([]byte("o1"))
		deeper, err := o1.CreateBucketIfNotExists([]byte("deeper"))
		if err != nil {
			return err
		}
		return deeper.Put([]byte("k2"), []byte("v"))
	})
	if got, want := list(), []string{"o\x00", "o0", "o1", "o2", "o3"}; !slices.Equal(got, want) {
		t.Errorf("ForEachBucket lists %q, want %q", got, want)
	}
	view(t, b, func(tx kv.Tx) error {
		top := tx.Bucket([]byte("org_rdvs"))
		if n := top.KeyN(); n != 6 {
			t.Errorf("KeyN of org_rdvs = %d, want the 6 keys of its nested buckets", n)
		}
		if n := top.Bucket([]byte("o1")).KeyN(); n != 2 {
			t.Errorf("KeyN of org_rdvs/o1 = %d, want 2", n)
		}
		if _, err := top.CreateBucketIfNotExists([]byte("o9")); err == nil {
			t.Error("CreateBucketIfNotExists in a View succeeded")
		}
		return nil
	})
}

// Two writers that each Get a missing key, then Put it, do not conflict
// when their keys are neighbours: a booking checks that its new RDV id
// (time-ordered, UUIDv7) is free, and every booking's id lands at the end
// of the rdvs bucket. Looked up in the B-tree, each Get would lock that
// last page and each insert would touch it, so PostgreSQL would abort all
// but one of the bookings running at once; Get looks keys up in a hash
// index, whose locks cover a hash bucket instead.
func TestGetsOfNewNeighbourKeysDoNotConflict(t *testing.T) {
	b, err := Open(ctx, pgtest.DSN(t), Options{MaxConns: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	update(t, b, func(tx kv.Tx) error {
		bk, _ := tx.CreateBucketIfNotExists([]byte("rdvs"))
		for i := range 5000 {
			bk.Put(fmt.Appendf(nil, "id-%08d", i), make([]byte, 100))
		}
		return nil
	})
	const pairs = 20
	for p := range pairs {
		var read sync.WaitGroup
		read.Add(2)
		var wg sync.WaitGroup
		for w := range 2 {
			first := true
			wg.Go(func() {
				err := b.Update(ctx, func(tx kv.Tx) error {
					bk := tx.Bucket([]byte("rdvs"))
					id := fmt.Appendf(nil, "id-%08d", 5000+2*p+w)
					if bk.Get(id) != nil {
						return errors.New("taken")
					}
					if first {
						first = false
						read.Done()
						read.Wait()
					}
					return bk.Put(id, make([]byte, 100))
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	if r := b.Retries(); r > pairs/4 {
		t.Errorf("%d of %d pairs of writers of new neighbour keys conflicted", r, pairs)
	}
}

// A panic in fn goes up to the caller, and the writes sent before it are
// not committed by the next transaction on the same connection.
func TestPanicInUpdate(t *testing.T) {
	b, err := Open(ctx, pgtest.DSN(t), Options{MaxConns: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	func() {
		defer func() {
			if r := recover(); r != "boom" {
				t.Errorf("recovered %v, want fn's panic", r)
			}
		}()
		b.Update(ctx, func(tx kv.Tx) error {
			bk, _ := tx.CreateBucketIfNotExists([]byte("p"))
			bk.Put([]byte("panicked"), []byte("x"))
			bk.Get([]byte("other")) // the write is sent
			panic("boom")
		})
	}()
	update(t, b, func(tx kv.Tx) error {
		return tx.Bucket([]byte("p")).Put([]byte("after"), []byte("y"))
	})
	if keys := keysOf(t, b, "p"); !slices.Equal(keys, []string{"after"}) {
		t.Errorf("keys after a panic: %q, want only the next transaction's", keys)
	}
}

// roundTrips counts the statements and batches sent: one round trip each.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}
func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}
func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}
func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData)     {}

// What a transaction costs in round trips: BEGIN goes with the first
// statement, writes wait for the next read or the commit, a cursor reads a
// window per round trip, a key read twice is read once.
func TestRoundTrips(t *testing.T) {
	var rt roundTrips
	b, err := Open(ctx, pgtest.DSN(t), Options{MaxConns: 1, tracer: &rt})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cases := []struct {
		name  string
		view  bool
		fn    func(tx kv.Tx) error
		trips int64
	}{
		{"Update: 10 Puts", false, func(tx kv.Tx) error {
			bk, _ := tx.CreateBucketIfNotExists([]byte("b"))
			for i := range 2*prefetch + 10 {
				bk.Put(fmt.Appendf(nil, "%03d", i), nil)
			}
			return nil
		}, 1},
		{"Update: Get, 10 Puts, Get of a written key", false, func(tx kv.Tx) error {
			bk := tx.Bucket([]byte("b"))
			bk.Get([]byte("000"))
			for i := range 10 {
				bk.Put(fmt.Appendf(nil, "n%d", i), nil)
			}
			bk.Get([]byte("n1"))
			bk.Get([]byte("000"))
			return nil
		}, 2},
		{"View: one Get", true, func(tx kv.Tx) error {
			tx.Bucket([]byte("b")).Get([]byte("001"))
			return nil
		}, 2},
		{"View: a walk of 138 keys", true, func(tx kv.Tx) error {
			return tx.Bucket([]byte("b")).ForEach(func(k, v []byte) error { return nil })
		}, 4 + 1}, // windows of 8, 64, 64 and 2 rows, ROLLBACK
		{"View: nothing", true, func(tx kv.Tx) error { return nil }, 0},
	}
	for _, c := range cases {
		// Once to prepare the statements on the connection.
		for _, count := range []bool{false, true} {
			before := rt.n.Load()
			run := b.Update
			if c.view {
				run = b.View
			}
			if err := run(ctx, c.fn); err != nil {
				t.Fatal(err)
			}
			if got := rt.n.Load() - before; count && got != c.trips {
				t.Errorf("%s: %d round trips, want %d", c.name, got, c.trips)
			}
		}
	}
}
