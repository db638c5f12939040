package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"rdvsync/internal/rdv"
)

// filledStore writes n RDVs (3 agents, 45 minutes each, back to back)
// into a new store file and closes it.
func filledStore(t *testing.T, n int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rdvsync.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < n; i += 500 {
		var batch []*rdv.RDV
		for j := i; j < min(n, i+500); j++ {
			r := newRDV(fmt.Sprintf("rdv-%05d", j), fmt.Sprintf("org-%d", j%4), day0.Add(time.Duration(j/3)*45*time.Minute), 45*time.Minute,
				fmt.Sprintf("agent-%d", j%3))
			r.Context = strings.Repeat("contexte ", 20)
			batch = append(batch, r)
		}
		put(t, s, batch...)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// readAll reads every RDV through the organisation index, as GET /rdvs
// does, and returns the count.
func readAll(s *Store) (int, error) {
	n := 0
	err := s.View(context.Background(), func(tx *ReadTx) error {
		for o := range 4 {
			if err := tx.EachOrgRDV(fmt.Sprintf("org-%d", o), time.Time{}, day0.AddDate(10, 0, 0), func(*rdv.RDV) error {
				n++
				return nil
			}); err != nil {
				return err
			}
		}
		return nil
	})
	return n, err
}

func wantDamaged(t *testing.T, err error, path string) {
	t.Helper()
	if err == nil {
		t.Fatal("no error")
	}
	msg := err.Error()
	if !strings.Contains(msg, path) || !strings.Contains(msg, "backup") {
		t.Errorf("the error must name the file and the way out: %v", err)
	}
}

// TestOpenRefusesEmptyFile: a zero-byte file was silently made a new
// store (every RDV gone, booked slots shown free).
func TestOpenRefusesEmptyFile(t *testing.T) {
	fileOnly(t)
	path := filepath.Join(t.TempDir(), "rdvsync.db")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err == nil {
		s.Close()
		t.Fatal("an empty file opened as a new store")
	}
	if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), "empty") {
		t.Errorf("error %v, want ErrDamaged saying the file is empty", err)
	}
	wantDamaged(t, err, path)
	if fi, _ := os.Stat(path); fi.Size() != 0 {
		t.Errorf("the empty file was written: %d bytes", fi.Size())
	}
	rep, err := Check(path)
	if err != nil || rep.OK() {
		t.Errorf("check-store on an empty file: %v, %+v", err, rep)
	}
}

// TestOpenTruncatedFile: a store cut to half its size panicked at start
// with a 45-line trace.
func TestOpenTruncatedFile(t *testing.T) {
	fileOnly(t)
	path := filledStore(t, 3000)
	fi, _ := os.Stat(path)
	if err := os.Truncate(path, fi.Size()/2); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{NoSync: true})
	if err == nil {
		// bbolt may map the missing half without noticing: then the
		// first read of a page past the end must fail, not kill.
		_, err = readAll(s)
		s.Close()
	}
	wantDamaged(t, err, path)
	rep, err := Check(path)
	if err != nil || rep.OK() {
		t.Errorf("check-store on a truncated file: %v, %+v", err, rep)
	}
}

// middlePage returns the offset of the page that holds the record of the
// RDV in the middle of a filledStore of n RDVs. The middle of the file is
// not always live data: bbolt's map freelist hands out pages in no fixed
// order, so it may be a free page, which no read ever meets. The file
// also holds stale copies of records in free pages: the live one is on a
// page bbolt calls a leaf.
func middlePage(t *testing.T, path string, n int) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// A leaf holds each key followed by its value: the RDV's key, then
	// the format byte of its record.
	record := fmt.Appendf(nil, "rdv-%05d%c", n/2, recordV2)
	var off int64 = -1
	db.View(func(tx *bolt.Tx) error {
		for from := 0; off < 0; {
			i := bytes.Index(data[from:], record)
			if i < 0 {
				break
			}
			page := (from + i) / 4096
			if info, err := tx.Page(page); err == nil && info != nil && info.Type == "leaf" {
				off = int64(page) * 4096
			}
			from += i + len(record)
		}
		return nil
	})
	if off < 0 {
		t.Fatalf("no live page holds rdv-%05d", n/2)
	}
	return off
}

// scramble writes 4 KiB of random bytes (from seed) at offset, a page
// boundary, through its own file descriptor.
func scramble(t *testing.T, path string, offset int64, seed uint64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	rnd := rand.New(rand.NewPCG(seed, 42))
	for i := range buf {
		buf[i] = byte(rnd.Uint32())
	}
	if _, err := f.WriteAt(buf, offset); err != nil {
		t.Fatal(err)
	}
}

// TestRandomBytesInTheMiddle: 4 KiB of random bytes in the middle let the
// daemon start and report ready, then GET /rdvs panicked. Now Open reads
// every page and refuses the file; damage that appears while the store is
// open (the file is mapped: a disk error, another program) makes reads
// fail with ErrDamaged and Health report it, without a panic.
func TestRandomBytesInTheMiddle(t *testing.T) {
	fileOnly(t)
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			path := filledStore(t, 3000)
			page := middlePage(t, path, 3000)
			s, err := Open(path, Options{NoSync: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Health(context.Background()); err != nil {
				t.Fatalf("a sound store is unhealthy: %v", err)
			}
			scramble(t, path, page, seed)
			n, err := readAll(s)
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("read %d RDVs: %v, want ErrDamaged", n, err)
			}
			wantDamaged(t, err, path)
			if s.Health(context.Background()) == nil {
				t.Error("Health is nil after a read met a damaged page")
			}
			s.Close()

			s, err = Open(path, Options{NoSync: true})
			if err == nil {
				s.Close()
				t.Fatal("a damaged file opened")
			}
			if !errors.Is(err, ErrDamaged) {
				t.Errorf("open: %v, want ErrDamaged", err)
			}
			wantDamaged(t, err, path)
			rep, err := Check(path)
			if err != nil || rep.OK() {
				t.Errorf("check-store: %v, %+v", err, rep)
			}
		})
	}
}

// TestBackupWhileWriting: a backup taken while bookings are written opens
// as a valid store holding every RDV committed before it began.
func TestBackupWhileWriting(t *testing.T) {
	fileOnly(t)
	s := openTest(t)
	for i := range 200 {
		put(t, s, newRDV(fmt.Sprintf("before-%03d", i), "org", day0.Add(time.Duration(i)*time.Hour), time.Hour, "a"))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			put(t, s, newRDV(fmt.Sprintf("during-%05d", i), "org", day0.AddDate(1, 0, 0).Add(time.Duration(i)*time.Hour), time.Hour, "b"))
		}
	}()
	var buf bytes.Buffer
	n, err := s.Backup(context.Background(), &buf)
	close(stop)
	wg.Wait()
	if err != nil || n != int64(buf.Len()) {
		t.Fatalf("backup: %d bytes, %v", n, err)
	}
	path := filepath.Join(t.TempDir(), "backup.db")
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	rep, err := Check(path)
	if err != nil || !rep.OK() || rep.RDVs < 200 {
		t.Fatalf("the backup: %v, %+v", err, rep)
	}
	b, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	view(t, b, func(tx *ReadTx) {
		for i := range 200 {
			if _, err := tx.RDV(fmt.Sprintf("before-%03d", i)); err != nil {
				t.Fatal(err)
			}
		}
	})
	b.Close()
	// Offline, with no daemon: the file itself, read-only.
	var off bytes.Buffer
	if _, err := BackupFile(path, &off); err != nil || off.Len() == 0 {
		t.Errorf("offline backup: %v", err)
	}
}

// TestCheckFindsBrokenIndexes: check-store reports an RDV missing from an
// index, an index entry without its RDV and two live RDVs of one agent
// that overlap.
func TestCheckFindsBrokenIndexes(t *testing.T) {
	fileOnly(t)
	path := filledStore(t, 30)
	rep, err := Check(path)
	if err != nil || !rep.OK() || rep.RDVs != 30 || rep.SchemaVersion != len(migrations) {
		t.Fatalf("a sound store: %v, %+v", err, rep)
	}
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	err = s.Update(context.Background(), func(tx *Tx) error {
		r, _ := tx.RDV("rdv-00003")
		if err := tx.bucket(bucketAgentBusy).Bucket([]byte("agent-0")).Delete(timeKey(r.StartsAt, r.ID)); err != nil {
			return err
		}
		if err := tx.bucket(bucketOrgRDVs).Bucket([]byte("org-0")).Put(timeKey(day0, "ghost"), nil); err != nil {
			return err
		}
		if err := tx.bucket(bucketUsagerRDVs).Put(joinKey("u1", "ghost"), nil); err != nil {
			return err
		}
		// An RDV written past the index code: overlaps rdv-00000.
		o := newRDV("overlap", "org-0", day0.Add(15*time.Minute), time.Hour, "agent-0")
		data, err := encodeRDV(o)
		if err != nil {
			return err
		}
		if err := tx.bucket(bucketRDVs).Put([]byte(o.ID), data); err != nil {
			return err
		}
		if err := tx.bucket(bucketOrgRDVs).Bucket([]byte("org-0")).Put(timeKey(o.StartsAt, o.ID), nil); err != nil {
			return err
		}
		return tx.bucket(bucketAgentBusy).Bucket([]byte("agent-0")).Put(timeKey(o.StartsAt, o.ID), uint64Bytes(keyNanos(o.EndsAt)))
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	rep, err = Check(path)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(rep.Problems, "\n")
	for _, want := range []string{
		"rdv rdv-00003: live but missing from agent_busy/agent-0",
		"org_rdvs/org-0/ghost: no such rdv",
		"agent agent-0: live rdvs rdv-00000 and overlap overlap",
		"rdv overlap: missing from usager_rdvs",
		"usager_rdvs/u1/ghost: no such rdv",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q:\n%s", want, got)
		}
	}
}

// TestOpenRefusesForeignFile: a file that is not a store (both meta pages
// unreadable) is refused as damaged, never initialised.
func TestOpenRefusesForeignFile(t *testing.T) {
	fileOnly(t)
	path := filepath.Join(t.TempDir(), "rdvsync.db")
	if err := os.WriteFile(path, bytes.Repeat([]byte("not a store\n"), 2000), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{})
	if err == nil {
		s.Close()
		t.Fatal("a text file opened as a store")
	}
	if !errors.Is(err, ErrDamaged) {
		t.Errorf("error %v, want ErrDamaged", err)
	}
	wantDamaged(t, err, path)
}
