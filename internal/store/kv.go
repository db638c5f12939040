package store

import "rdvsync/internal/store/kv"

// The store's domain methods run on the ordered key-value model of package
// kv; these names keep them short here.
type (
	Backend  = kv.Backend
	KVTx     = kv.Tx
	KVBucket = kv.Bucket
	KVCursor = kv.Cursor
)

// ErrUnavailable wraps a backend error that is not the request's fault:
// the database cannot be reached, or a transaction kept failing.
var ErrUnavailable = kv.ErrUnavailable
