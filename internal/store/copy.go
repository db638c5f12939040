package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// ErrTargetNotEmpty is returned by CopyTo when the target already holds
// records: a copy never merges two stores.
var ErrTargetNotEmpty = errors.New("the target store is not empty")

// CopyCount is how many keys one top-level bucket holds in the source and,
// after the copy, in the target.
type CopyCount struct {
	Bucket         string
	Source, Target int
}

// copyBatch is how many keys one transaction of the target receives: big
// enough to amortise commits, small enough for a PostgreSQL transaction.
const copyBatch = 2000

// CopyTo copies every record of this store (an embedded file, opened with
// Open, so already at the current schema) into dst, a backend that holds
// nothing yet: RDVs, usagers, indexes, idempotency keys, the outbox,
// receipts, secrets, calendar state and the schema version, with each
// bucket's sequence. It refuses a target that holds any key. progress, if
// not nil, hears each top-level bucket once copied. The counts compare
// both sides, read back from dst after the copy.
func (s *Store) CopyTo(ctx context.Context, dst Backend, progress func(CopyCount)) ([]CopyCount, error) {
	if s.bolt == nil {
		return nil, fmt.Errorf("copy: the source must be a store file")
	}
	var names [][]byte
	err := s.bolt.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			names = append(names, bytes.Clone(name))
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("copy: list buckets of %s: %w", s.path, err)
	}
	if err := dst.View(ctx, func(tx KVTx) error {
		for _, name := range names {
			if b := tx.Bucket(name); b != nil && b.KeyN() > 0 {
				return fmt.Errorf("%w: %s holds %d keys in %s", ErrTargetNotEmpty, dst.Name(), b.KeyN(), name)
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	var counts []CopyCount
	for _, name := range names {
		c := CopyCount{Bucket: string(name)}
		err := guard(s.path, "copy", func() error {
			return s.bolt.db.View(func(tx *bolt.Tx) error {
				w := &copyWriter{ctx: ctx, dst: dst}
				n, err := w.bucket(tx.Bucket(name), [][]byte{name})
				if err == nil {
					err = w.flush()
				}
				c.Source = n
				return err
			})
		})
		if err != nil {
			return counts, fmt.Errorf("copy bucket %s: %w", name, err)
		}
		if err := dst.View(ctx, func(tx KVTx) error {
			c.Target = countKeys(tx.Bucket(name))
			return nil
		}); err != nil {
			return counts, fmt.Errorf("count bucket %s in the target: %w", name, err)
		}
		counts = append(counts, c)
		if progress != nil {
			progress(c)
		}
	}
	return counts, nil
}

// countKeys counts the keys of b and of its nested buckets (not the
// nested buckets themselves, which bbolt lists among the keys).
func countKeys(b KVBucket) int {
	if b == nil {
		return 0
	}
	n := 0
	b.ForEach(func(k, v []byte) error {
		if v != nil || b.Bucket(k) == nil {
			n++
		}
		return nil
	})
	var children [][]byte
	b.ForEachBucket(func(name []byte) error {
		children = append(children, bytes.Clone(name))
		return nil
	})
	for _, c := range children {
		n += countKeys(b.Bucket(c))
	}
	return n
}

// copyWriter sends the keys it is given to dst in transactions of
// copyBatch keys.
type copyWriter struct {
	ctx     context.Context
	dst     Backend
	pending []copyOp
}

type copyOp struct {
	path [][]byte // bucket path, top-level first
	key  []byte   // nil: make the bucket, and set its sequence to seq if > 0
	val  []byte
	seq  uint64
}

// bucket queues the keys of b (at path) and its nested buckets, and
// returns how many keys it holds (nested ones included, as bbolt counts).
func (w *copyWriter) bucket(b *bolt.Bucket, path [][]byte) (int, error) {
	n := 0
	// The bucket is made even when empty (some are read before any key
	// is written), with its sequence.
	w.pending = append(w.pending, copyOp{path: path, seq: b.Sequence()})
	err := b.ForEach(func(k, v []byte) error {
		if v == nil {
			if child := b.Bucket(k); child != nil {
				m, err := w.bucket(child, append(slices.Clip(path), bytes.Clone(k)))
				n += m
				return err
			}
		}
		n++
		w.pending = append(w.pending, copyOp{path: path, key: bytes.Clone(k), val: bytes.Clone(v)})
		if len(w.pending) >= copyBatch {
			return w.flush()
		}
		return nil
	})
	return n, err
}

func (w *copyWriter) flush() error {
	if len(w.pending) == 0 {
		return nil
	}
	ops := w.pending
	err := w.dst.Update(w.ctx, func(tx KVTx) error {
		for _, op := range ops {
			b, err := tx.CreateBucketIfNotExists(op.path[0])
			for _, p := range op.path[1:] {
				if err != nil {
					break
				}
				b, err = b.CreateBucketIfNotExists(p)
			}
			if err != nil {
				return err
			}
			switch {
			case op.key == nil && op.seq > 0:
				err = b.SetSequence(op.seq)
			case op.key != nil:
				err = b.Put(op.key, op.val)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	w.pending = w.pending[:0:0]
	return err
}
