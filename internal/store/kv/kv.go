// Package kv is the ordered key-value model the store's domain methods run
// on, and that each backend implements. It imports nothing of rdvsync, so
// that backends (package postgres) do not import the store, and the
// store's own tests can run on every backend.
package kv

import (
	"context"
	"errors"
)

// The store's domain methods (PutRDV, AgentHasOverlap, Enqueue, …) are
// written once, on an ordered key-value model: named buckets of byte keys
// kept in byte order, buckets nested in buckets, a sequence per bucket.
// A Backend gives that model its durability and its transactions. Two
// exist: bbolt (bolt.go, the embedded default: one process, one file) and
// PostgreSQL (package postgres: several replicas on one database). Nothing
// above this file knows which one runs (docs/design.md §9).

// ErrUnavailable wraps a backend error that is not the request's fault:
// the database cannot be reached, or a transaction kept failing. Requests
// get 503 and may be retried; nothing acknowledged is lost.
var ErrUnavailable = errors.New("the store is unavailable")

// Backend runs transactions on the key-value model.
type Backend interface {
	// View runs fn in a read-only transaction on a consistent snapshot.
	View(ctx context.Context, fn func(Tx) error) error
	// Update runs fn in a read-write transaction and commits it when fn
	// returns nil; an error rolls back and is returned unchanged. fn may
	// run more than once (a group commit retried without a failed member,
	// a serialisation failure retried): it must have no effect outside
	// the transaction. Two Updates never both commit after reading what
	// the other wrote (serialisable), so a check made in fn holds at
	// commit.
	Update(ctx context.Context, fn func(Tx) error) error
	// Exclusive is true when this process is the backend's only user (a
	// bbolt file lock): in-memory claims and caches are then authoritative,
	// and leases found at start are those of a dead process.
	Exclusive() bool
	// Watch calls fn (from another goroutine) after another process
	// committed a transaction that wrote to one of buckets. A backend with
	// Exclusive() true never calls it.
	Watch(buckets [][]byte, fn func())
	// Health is nil while the backend can serve transactions.
	Health(ctx context.Context) error
	// Name says where the data is, for logs and errors ("data/rdvsync.db",
	// "postgres://host/db"); it never holds a password.
	Name() string
	Close() error
}

// Tx is one transaction. Reads see the transaction's own writes.
type Tx interface {
	// Bucket returns the top-level bucket name, or nil if it does not
	// exist (a backend may instead return an empty bucket: callers treat
	// both alike).
	Bucket(name []byte) Bucket
	CreateBucketIfNotExists(name []byte) (Bucket, error)
	Writable() bool
	// OnCommit registers fn to run after the transaction committed (not
	// after a rollback).
	OnCommit(fn func())
}

// Bucket is a bucket of keys in byte order. Values returned by Get and
// cursors are valid until the transaction ends; a backend that cannot
// read (a lost connection) panics with a value wrapping ErrUnavailable,
// which its View or Update recover and return.
type Bucket interface {
	Get(key []byte) []byte
	Put(key, value []byte) error
	Delete(key []byte) error
	Cursor() Cursor
	// ForEach calls fn for every key in order; a nested bucket's value
	// is nil.
	ForEach(fn func(k, v []byte) error) error
	// ForEachBucket calls fn with the name of every nested bucket, in
	// order.
	ForEachBucket(fn func(name []byte) error) error
	// Bucket returns the nested bucket name, or nil (or an empty bucket).
	Bucket(name []byte) Bucket
	CreateBucketIfNotExists(name []byte) (Bucket, error)
	// NextSequence returns the bucket's next integer (from 1). A backend
	// shared by several processes may leave gaps (a rolled-back
	// transaction's number is not given again), never repeats.
	NextSequence() (uint64, error)
	Sequence() uint64
	// SetSequence raises the sequence to v (never lowers it on a shared
	// backend).
	SetSequence(v uint64) error
	// KeyN counts the keys (for statistics).
	KeyN() int
}

// Cursor walks a bucket in key order. Each move returns nil keys past
// either end. Writes made through the bucket during a walk are allowed; a
// walk then may or may not see them.
type Cursor interface {
	First() (k, v []byte)
	Last() (k, v []byte)
	Next() (k, v []byte)
	Prev() (k, v []byte)
	Seek(seek []byte) (k, v []byte)
}
