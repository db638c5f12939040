package store

import (
	"context"

	bolt "go.etcd.io/bbolt"
)

// boltBackend is the embedded Backend: one bbolt file, locked by one
// process, written by group commit (commit.go). Its panics on a damaged
// file become ErrDamaged (damage.go).
type boltBackend struct {
	db     *bolt.DB
	commit *committer
	path   string
}

func newBoltBackend(db *bolt.DB, path string) *boltBackend {
	return &boltBackend{db: db, commit: &committer{db: db, path: path}, path: path}
}

func (b *boltBackend) View(ctx context.Context, fn func(KVTx) error) error {
	return guard(b.path, "read", func() error {
		return b.db.View(func(btx *bolt.Tx) error { return fn(boltTx{btx}) })
	})
}

func (b *boltBackend) Update(ctx context.Context, fn func(KVTx) error) error {
	return guard(b.path, "write", func() error {
		return b.commit.update(ctx, func(btx *bolt.Tx) error { return fn(boltTx{btx}) })
	})
}

// updateAlone runs fn in a transaction of its own, outside group commit
// (migrations).
func (b *boltBackend) updateAlone(fn func(KVTx) error) error {
	return guard(b.path, "write", func() error {
		return b.db.Update(func(btx *bolt.Tx) error { return fn(boltTx{btx}) })
	})
}

// Exclusive: the file lock makes this process the file's only user.
func (b *boltBackend) Exclusive() bool { return true }

// Watch never calls fn: no other process writes the file.
func (b *boltBackend) Watch([][]byte, func()) {}

// Health reads the first record of every bucket.
func (b *boltBackend) Health(ctx context.Context) error {
	return b.View(ctx, func(t KVTx) error {
		return t.(boltTx).btx.ForEach(func(_ []byte, bk *bolt.Bucket) error {
			bk.Cursor().First()
			return nil
		})
	})
}

func (b *boltBackend) Name() string { return b.path }

func (b *boltBackend) Close() error { return b.db.Close() }

// boltTx, boltBucket and boltCursor hold one pointer each, so turning them
// into interfaces allocates nothing.
type boltTx struct{ btx *bolt.Tx }

func (t boltTx) Bucket(name []byte) KVBucket {
	b := t.btx.Bucket(name)
	if b == nil {
		return nil
	}
	if appendMostly[string(name)] {
		b.FillPercent = fillAppend
	}
	return boltBucket{b}
}

func (t boltTx) CreateBucketIfNotExists(name []byte) (KVBucket, error) {
	b, err := t.btx.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	return boltBucket{b}, nil
}

func (t boltTx) Writable() bool     { return t.btx.Writable() }
func (t boltTx) OnCommit(fn func()) { t.btx.OnCommit(fn) }

type boltBucket struct{ b *bolt.Bucket }

func (b boltBucket) Get(k []byte) []byte                       { return b.b.Get(k) }
func (b boltBucket) Put(k, v []byte) error                     { return b.b.Put(k, v) }
func (b boltBucket) Delete(k []byte) error                     { return b.b.Delete(k) }
func (b boltBucket) Cursor() KVCursor                          { return boltCursor{b.b.Cursor()} }
func (b boltBucket) ForEach(fn func(k, v []byte) error) error  { return b.b.ForEach(fn) }
func (b boltBucket) NextSequence() (uint64, error)             { return b.b.NextSequence() }
func (b boltBucket) Sequence() uint64                          { return b.b.Sequence() }
func (b boltBucket) SetSequence(v uint64) error                { return b.b.SetSequence(v) }
func (b boltBucket) ForEachBucket(fn func([]byte) error) error { return b.b.ForEachBucket(fn) }
func (b boltBucket) KeyN() int                                 { return b.b.Stats().KeyN }

func (b boltBucket) Bucket(name []byte) KVBucket {
	c := b.b.Bucket(name)
	if c == nil {
		return nil
	}
	return boltBucket{c}
}

func (b boltBucket) CreateBucketIfNotExists(name []byte) (KVBucket, error) {
	c, err := b.b.CreateBucketIfNotExists(name)
	if err != nil {
		return nil, err
	}
	return boltBucket{c}, nil
}

type boltCursor struct{ c *bolt.Cursor }

func (c boltCursor) First() ([]byte, []byte)        { return c.c.First() }
func (c boltCursor) Last() ([]byte, []byte)         { return c.c.Last() }
func (c boltCursor) Next() ([]byte, []byte)         { return c.c.Next() }
func (c boltCursor) Prev() ([]byte, []byte)         { return c.c.Prev() }
func (c boltCursor) Seek(k []byte) ([]byte, []byte) { return c.c.Seek(k) }
