package store

import (
	"errors"
	"fmt"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"
)

// appendMostly are the buckets whose new keys sort after the existing ones
// (UUIDv7 ids, time-prefixed index keys): bbolt splits their pages at
// fillAppend instead of half, so pages stay nearly full instead of half
// empty. Buckets of random keys (agent and start time, names) keep bbolt's
// default (0.5), which leaves room for inserts between keys.
var appendMostly = map[string]bool{
	string(bucketRDVs): true, string(bucketUsagers): true, string(bucketReceipts): true,
	string(bucketIdempotencyByTime): true, string(bucketOutboxDue): true,
}

// fillAppend is the fill percent of append-mostly buckets: not 1.0, so
// that a record rewritten a little longer (an RDV cancelled, a usager
// completed) does not split its page at once.
const fillAppend = 0.9

// Compact writes a compacted copy of the store file at path to dst (which
// must not exist): every bucket rewritten in key order into full pages,
// the free pages left behind. The file is held with the daemon's lock
// while copying and until done is called, so that no daemon opens it in
// between; ErrLocked says that a daemon runs on it (stop it first).
// Call done once the copy has replaced path (or was given up).
func Compact(path, dst string) (done func() error, err error) {
	if err := refuseEmpty(path); err != nil {
		return nil, err
	}
	src, err := openBolt(path, &bolt.Options{Timeout: 300 * time.Millisecond, FreelistType: bolt.FreelistMapType})
	if errors.Is(err, bolterrors.ErrTimeout) {
		return nil, fmt.Errorf("store %s is %w: stop rdvsync serve first", path, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", path, err)
	}
	closeSrc := func() error { return guard(path, "close", src.Close) }
	if _, err := os.Stat(dst); err == nil {
		closeSrc()
		return nil, fmt.Errorf("%s exists", dst)
	}
	// The copy is synced once at the end, not at every bounded transaction.
	out, err := bolt.Open(dst, 0o600, &bolt.Options{NoSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		closeSrc()
		return nil, fmt.Errorf("compact: %w", err)
	}
	err = guard(path, "compact", func() error { return bolt.Compact(out, src, 64<<20) })
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		closeSrc()
		return nil, fmt.Errorf("compact %s: %w", path, err)
	}
	return closeSrc, nil
}
