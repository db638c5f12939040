package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"runtime"
	"runtime/debug"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// ErrDamaged is returned when the store file is damaged: bbolt found a
// page it cannot read (it panics on those, or the memory map faults), or
// the file is empty. The daemon stops serving from such a file rather than
// serve a partial or empty database as if it were whole.
var ErrDamaged = errors.New("the store file is damaged")

// wayOut tells the operator what to do with a damaged file at path.
func wayOut(path string) string {
	return fmt.Sprintf("stop rdvsync, keep a copy of the file, then restore the last backup (rdvsync backup) or run "+
		"`rdvsync check-store -store %s` for a report", path)
}

// damaged builds the error for a damaged file at path, found doing op.
func damaged(path, op string, cause any) error {
	return fmt.Errorf("store %s: %s: %w (%v): %s", path, op, ErrDamaged, cause, wayOut(path))
}

// refuseEmpty refuses an existing empty file: bbolt would silently make
// a new store of it, and the daemon would serve every booked slot as free.
// A new store is only created where no file exists.
func refuseEmpty(path string) error {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Size() > 0 {
		return nil // absent (created by bbolt), or bbolt says what is wrong
	}
	return fmt.Errorf("store %s: %w: the file is empty (0 bytes), so every RDV would be gone; "+
		"restore the last backup, or delete the file to start with an empty store", path, ErrDamaged)
}

// guard runs fn with memory faults turned into panics (the file is
// memory-mapped: a damaged page can point outside the mapping) and turns
// a panic raised by bbolt into an error wrapping ErrDamaged. Panics of
// rdvsync's own code go on unchanged: they are bugs, not damage.
func guard(path, op string, fn func() error) (err error) {
	defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
	defer func() {
		if p := recover(); p != nil {
			if !raisedByBbolt() {
				panic(p)
			}
			err = damaged(path, op, p)
		}
	}()
	return fn()
}

// raisedByBbolt reports whether the panic being recovered was raised in
// bbolt's code: the first frame below the runtime's panic machinery is
// bbolt's. Called from the deferred function that recovers.
func raisedByBbolt() bool {
	pc := make([]uintptr, 64)
	frames := runtime.CallersFrames(pc[:runtime.Callers(2, pc)])
	panicking := false
	for {
		f, more := frames.Next()
		switch {
		case f.Function == "runtime.gopanic":
			panicking = true
		case panicking && !strings.HasPrefix(f.Function, "runtime."):
			return strings.HasPrefix(f.Function, "go.etcd.io/bbolt.") || strings.HasPrefix(f.Function, "go.etcd.io/bbolt/")
		}
		if !more {
			return false
		}
	}
}

// openBolt opens path with bbolt, turning its panics on a damaged file into
// ErrDamaged. A panic leaves bbolt's file open and locked; the file is
// closed here so that the lock goes with it (check-store and tests go on
// in the same process).
func openBolt(path string, opts *bolt.Options) (*bolt.DB, error) {
	if err := refuseTruncated(path); err != nil {
		return nil, err
	}
	var file *os.File
	o := *opts
	o.OpenFile = func(name string, flag int, mode os.FileMode) (*os.File, error) {
		f, err := os.OpenFile(name, flag, mode)
		file = f
		return f, err
	}
	var db *bolt.DB
	err := guard(path, "open", func() (err error) {
		db, err = bolt.Open(path, 0o600, &o)
		return err
	})
	if errors.Is(err, ErrDamaged) && file != nil {
		file.Close()
	}
	return db, err
}

// refuseTruncated refuses a file shorter than its own header says: bbolt
// would map the missing pages and fault on them (a store cut by a full
// disk or a partial copy). It reads bbolt's two meta pages (page header,
// then magic, version, page size, flags, root, freelist, high-water page
// id, txid, checksum: FNV-64a of what precedes it) and trusts the valid
// one with the highest txid, as bbolt does. A file without a valid meta
// page is left to bbolt, which refuses it with its own error.
func refuseTruncated(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return nil // bbolt creates it or says why not
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	const pageHeader, magic = 16, 0xED0CDAED
	meta := func(off int64) (pageSize, pgid, txid uint64, ok bool) {
		buf := make([]byte, pageHeader+64)
		if _, err := f.ReadAt(buf, off); err != nil {
			return 0, 0, 0, false
		}
		m := buf[pageHeader:]
		h := fnv.New64a()
		h.Write(m[:56])
		e := binary.NativeEndian
		if e.Uint32(m[0:]) != magic || e.Uint64(m[56:]) != h.Sum64() {
			return 0, 0, 0, false
		}
		return uint64(e.Uint32(m[8:])), e.Uint64(m[40:]), e.Uint64(m[48:]), true
	}
	size0, pgid, txid, ok0 := meta(0)
	second := int64(size0)
	if !ok0 {
		second = int64(os.Getpagesize())
	}
	if size1, pgid1, txid1, ok1 := meta(second); ok1 && (!ok0 || txid1 > txid) {
		size0, pgid, ok0 = size1, pgid1, true
	}
	if !ok0 {
		return nil
	}
	if want := pgid * size0; uint64(fi.Size()) < want {
		return fmt.Errorf("store %s: %w: the file is truncated (%d bytes, its header says %d): %s",
			path, ErrDamaged, fi.Size(), want, wayOut(path))
	}
	return nil
}
