package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// Backup writes a consistent copy of the store to w while it keeps serving:
// a read transaction's snapshot (bbolt Tx.WriteTo), which writers do not
// wait for. The copy is a store file of its own, to be opened in place of
// a damaged or lost one.
func (s *Store) Backup(ctx context.Context, w io.Writer) (n int64, err error) {
	err = s.View(ctx, func(tx *ReadTx) error {
		bt, ok := tx.kv.(boltTx)
		if !ok {
			return fmt.Errorf("backup: %s is not a store file: back PostgreSQL up with pg_dump", s.path)
		}
		n, err = bt.btx.WriteTo(w)
		return err
	})
	return n, err
}

// BackupFile writes a copy of the store file at path to w without running
// rdvsync serve: the file is opened read-only, and ErrLocked says that a
// daemon holds it (then ask the daemon for its Backup).
func BackupFile(path string, w io.Writer) (n int64, err error) {
	if err := refuseEmpty(path); err != nil {
		return 0, err
	}
	db, err := openReadOnly(path)
	if errors.Is(err, ErrLocked) || errors.Is(err, ErrDamaged) {
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("store %s: %w", path, err)
	}
	defer guard(path, "close", db.Close)
	err = guard(path, "backup", func() error {
		return db.View(func(tx *bolt.Tx) error {
			n, err = tx.WriteTo(w)
			return err
		})
	})
	return n, err
}

// openReadOnly opens path for reading only, sharing the lock with other
// readers: a running daemon's exclusive lock makes it fail at once.
func openReadOnly(path string) (*bolt.DB, error) {
	db, err := openBolt(path, &bolt.Options{ReadOnly: true, PreLoadFreelist: true, Timeout: 300 * time.Millisecond})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store %s is %w: rdvsync serve holds it", path, ErrLocked)
	}
	return db, err
}
