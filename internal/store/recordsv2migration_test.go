package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"rdvsync/internal/rdv"
)

// TestMigration9RewritesRecordsInFormat2: a store of schema version 8
// (a file, or a PostgreSQL database copied from one) holds RDVs, usagers,
// reminders and receipts in format 1 (JSON); after migration 9 every one
// is in format 2, the RDV ids in the keys of reminders, receipts,
// usager_rdvs, org_rdvs and agent_busy are packed, and every record
// reads back identical, over several chunks of the rewrite.
//
// Interrupted: the process stops after a few of the batches' transactions
// (a crash, a full disk); the next start finishes the migration.
func TestMigration9RewritesRecordsInFormat2(t *testing.T) {
	defer func(n int) { rewriteChunk = n }(rewriteChunk)
	rewriteChunk = 7
	for _, stopAfter := range []int{-1, 1, 4, 9} {
		name := "whole"
		if stopAfter >= 0 {
			name = fmt.Sprintf("interrupted after %d batches", stopAfter)
		}
		t.Run(name, func(t *testing.T) {
			s, migrate := openAtVersion(t, 8)
			v8 := newV8Records(30, 1)
			v8.put(t, s)
			if stopAfter >= 0 {
				errStop := errors.New("stopped")
				n := 0
				err := recordsToV2Batches(func(fn func(KVTx) error) error {
					if n++; n > stopAfter {
						return errStop
					}
					return s.kv.Update(context.Background(), fn)
				})
				if !errors.Is(err, errStop) {
					t.Fatalf("batches: %v, want the stop", err)
				}
			}
			s = migrate()
			defer s.Close()
			checkMigration9(t, s, v8)
		})
	}
}

// checkMigration9 checks that s holds v8's records after migration 9.
func checkMigration9(t *testing.T, s *Store, v8 *v8Records) {
	t.Helper()
	rdvs, usagers, receipts, reminds := v8.rdvs, v8.usagers, v8.receipts, v8.reminds
	view(t, s, func(tx *ReadTx) {
		if v, _ := schemaVersion(tx.kv); v != 9 {
			t.Errorf("schema version %d, want 9", v)
		}
		for _, name := range [][]byte{bucketRDVs, bucketUsagers, bucketReceipts, bucketReminders, bucketReminderByRDV, bucketUsagerRDVs} {
			n := 0
			tx.kv.Bucket(name).ForEach(func(k, v []byte) error {
				n++
				if !bytes.Equal(name, bucketUsagerRDVs) && (len(v) == 0 || v[0] != recordV2) {
					t.Errorf("%s/%s is still %q", name, k, v)
				}
				if !bytes.Equal(name, bucketRDVs) && bytes.Contains(k, []byte("9b4e-b0")) {
					t.Errorf("%s/%s: the key holds the RDV id as text", name, k)
				}
				return nil
			})
			if n == 0 {
				t.Errorf("%s is empty", name)
			}
		}
		for _, want := range rdvs {
			if got, err := tx.RDV(want.ID); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("rdv after migration 9: %v\n got %+v\nwant %+v", err, got, want)
			}
		}
		for _, name := range [][]byte{bucketOrgRDVs, bucketAgentBusy} {
			tx.kv.Bucket(name).ForEachBucket(func(sub []byte) error {
				return tx.kv.Bucket(name).Bucket(sub).ForEach(func(k, _ []byte) error {
					if bytes.Contains(k, []byte("9b4e-b0")) {
						t.Errorf("%s/%s/%q: the key holds the RDV id as text", name, sub, k)
					}
					return nil
				})
			})
		}
		var listed []*rdv.RDV
		tx.EachOrgRDV("mds-arras", day0.Add(-time.Hour), day0.Add(1000*time.Hour), func(r *rdv.RDV) error { listed = append(listed, r); return nil })
		if !reflect.DeepEqual(listed, rdvs) {
			t.Errorf("org_rdvs after migration 9 lists %d rdvs, want %d", len(listed), len(rdvs))
		}
		for _, r := range rdvs {
			if tx.AgentHasOverlap("agent-0", r.Interval(), "") != r.Active() || tx.AgentHasOverlap("agent-0", r.Interval(), r.ID) {
				t.Errorf("agent_busy after migration 9 does not hold %s (active: %v) alone", r.ID, r.Active())
			}
		}
		for i, u := range usagers {
			if got := tx.UsagerRDVIDs(u.ID); len(got) != 1 || got[0] != rdvs[i].ID {
				t.Errorf("rdvs of usager %s after migration 9: %v", u.ID, got)
			}
		}
		for _, want := range usagers {
			if got, err := tx.Usager(want.ID); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("usager after migration 9: %v\n got %+v\nwant %+v", err, got, want)
			}
		}
		for _, want := range reminds {
			if got, err := tx.Reminder(want.RDVID); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("reminder after migration 9: %v\n got %+v\nwant %+v", err, got, want)
			}
		}
		var got []Receipt
		tx.EachReceipt(func(r Receipt) error { got = append(got, r); return nil })
		if !reflect.DeepEqual(got, receipts) {
			t.Errorf("receipts after migration 9:\n got %+v\nwant %+v", got, receipts)
		}
	})
	// The pending reminders are handed out from their format 2 values.
	var due []Reminder
	update(t, s, func(tx *Tx) (err error) {
		due, err = tx.TakeDueReminders(day0.Add(1000*time.Hour), 100)
		return err
	})
	for _, r := range reminds {
		if !r.Sent {
			r.Sent = true
			if !slices.ContainsFunc(due, func(d Reminder) bool { return reflect.DeepEqual(d, r) }) {
				t.Errorf("reminder %+v not handed out: %+v", r, due)
			}
		}
	}
}

// openAtVersion returns a store of schema version n, and a function
// that brings it to the latest version (reopening the file).
func openAtVersion(t *testing.T, n int) (*Store, func() *Store) {
	t.Helper()
	if onPostgres {
		be := rawPostgresBackend(t)
		s := &Store{kv: be, path: be.Name(), logger: slog.New(slog.DiscardHandler)}
		if _, _, err := s.migrate(context.Background(), migrations[:n]); err != nil {
			be.Close()
			t.Fatal(err)
		}
		return s, func() *Store {
			if _, _, err := s.migrate(context.Background(), migrations); err != nil {
				t.Fatal(err)
			}
			return s
		}
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("v%d.db", n))
	s, err := open(path, Options{NoSync: true}, migrations[:n])
	if err != nil {
		t.Fatal(err)
	}
	return s, func() *Store { return reopenMigrated(t, s, path) }
}

// v8Records are what a file of schema version 8 holds for some RDVs,
// each with its usager, reminder, two receipts and index entries.
type v8Records struct {
	rdvs     []*rdv.RDV
	usagers  []*rdv.Usager
	receipts []Receipt
	reminds  []Reminder
}

// newV8Records makes n RDVs of agents agent-0 … agent-<agents−1>, one an
// hour, with UUIDs for ids.
func newV8Records(n, agents int) *v8Records {
	var v8 v8Records
	created := day0.Add(-48*time.Hour + 123456789)
	for i := range n {
		u := &rdv.Usager{ID: fmt.Sprintf("019ad6a2-7e3f-7c1a-9b4e-a0%010x", i), RdvsID: int64(i + 1),
			FirstName: "Léa", LastName: fmt.Sprintf("Dubois %d", i), Email: fmt.Sprintf("lea%d@example.org", i),
			PhoneNumber: "+33612345678", PhoneMobile: i%2 == 0, CreatedAt: created, UpdatedAt: created.Add(time.Duration(i) * time.Minute)}
		r := newRDV(fmt.Sprintf("019ad6a2-7e3f-7c1a-9b4e-b0%010x", i), "mds-arras", at(i, 0), time.Hour, fmt.Sprintf("agent-%d", i%agents))
		r.RdvsID, r.UsagerID, r.UsagerToken, r.Version = int64(i+1), u.ID, "k3Yb9xQw2LmN8pRt5vZa7cDe4fGh6jKs", 1
		r.CreatedAt, r.UpdatedAt, r.Contact = created, created, rdv.ContactOf(u)
		r.Context = "Première ligne\nseconde"
		if i%3 == 0 {
			cancelled := created.Add(time.Hour)
			r.Status, r.CancelledAt, r.CancelReason = rdv.StatusExcused, &cancelled, "Empêché"
		}
		v8.rdvs, v8.usagers = append(v8.rdvs, r), append(v8.usagers, u)
		v8.reminds = append(v8.reminds, Reminder{RDVID: r.ID, Due: r.StartsAt.Add(-48 * time.Hour), Start: r.StartsAt, Version: i, Sent: i%4 == 0})
		v8.receipts = append(v8.receipts,
			Receipt{RDVID: r.ID, Channel: "email", Transport: "spool", Event: "created", Recipient: "usager",
				MessageID: r.ID + ".created.0.usager", Attempt: 1, Result: "ok", At: created.Add(time.Second)},
			Receipt{RDVID: r.ID, Channel: "sms", Transport: "http", Event: "created", Recipient: "usager",
				MessageID: r.ID + ".created.0.usager", Attempt: 1, Result: "failed", Error: "délai dépassé", At: created.Add(2 * time.Second)})
	}
	return &v8
}

// put writes the records in format 1 with the RDV ids as text in keys,
// 1 000 RDVs per transaction (bbolt splits pages only at commit).
func (v8 *v8Records) put(tb testing.TB, s *Store) {
	tb.Helper()
	const chunk = 1000
	for from := 0; from < len(v8.rdvs); from += chunk {
		to := min(from+chunk, len(v8.rdvs))
		err := s.kv.Update(context.Background(), func(tx KVTx) error {
			return v8.putChunk(tx, from, to)
		})
		if err != nil {
			tb.Fatal(err)
		}
	}
}

func (v8 *v8Records) putChunk(tx KVTx, from, to int) error {
	org, err := tx.Bucket(bucketOrgRDVs).CreateBucketIfNotExists([]byte("mds-arras"))
	if err != nil {
		return err
	}
	for i := from; i < to; i++ {
		r, u, rem := v8.rdvs[i], v8.usagers[i], v8.reminds[i]
		v, err := encodeRDVV1(r)
		if err != nil {
			return err
		}
		if err := tx.Bucket(bucketRDVs).Put([]byte(r.ID), v); err != nil {
			return err
		}
		if err := tx.Bucket(bucketUsagerRDVs).Put(joinKey(r.UsagerID, r.ID), nil); err != nil {
			return err
		}
		if err := org.Put(timeKey(r.StartsAt, r.ID), nil); err != nil {
			return err
		}
		if r.Active() {
			busy, err := tx.Bucket(bucketAgentBusy).CreateBucketIfNotExists([]byte(r.AgentIDs[0]))
			if err != nil {
				return err
			}
			if err := busy.Put(timeKey(r.StartsAt, r.ID), uint64Bytes(keyNanos(r.EndsAt))); err != nil {
				return err
			}
		}
		if v, err = encodeUsagerV1(u); err != nil {
			return err
		}
		if err := tx.Bucket(bucketUsagers).Put([]byte(u.ID), v); err != nil {
			return err
		}
		due := rem.Due
		if v, err = json.Marshal(reminderV1{V: recordV1, Start: rem.Start, Version: rem.Version, Due: &due, Sent: rem.Sent}); err != nil {
			return err
		}
		if err := tx.Bucket(bucketReminderByRDV).Put([]byte(rem.RDVID), v); err != nil {
			return err
		}
		if !rem.Sent {
			if v, err = json.Marshal(reminderV1{V: recordV1, Start: rem.Start, Version: rem.Version}); err != nil {
				return err
			}
			if err := tx.Bucket(bucketReminders).Put(timeKey(rem.Due, rem.RDVID), v); err != nil {
				return err
			}
		}
		for j := 2 * i; j < 2*i+2; j++ {
			rc := v8.receipts[j]
			if v, err = json.Marshal(receiptV1{V: recordV1, Receipt: rc}); err != nil {
				return err
			}
			k := binary.BigEndian.AppendUint64(append(joinKey(rc.RDVID, ""), timeKey(rc.At, "")...), uint64(j+1))
			if err := tx.Bucket(bucketReceipts).Put(k, v); err != nil {
				return err
			}
		}
	}
	return nil
}

// BenchmarkMigration9 opens a file of schema version 8 holding b.N RDVs
// of 400 agents (each with its usager, reminder, two receipts and index
// entries, as a booking through the API leaves them) and reports how
// long migration 9 takes, the peak of the Go heap while it runs, and the
// file's pages in use before and after (compacted): in batches, as Open
// runs it, and in the one transaction that records the version, for
// comparison. Run it with -benchtime 100000x.
func BenchmarkMigration9(b *testing.B) {
	fileOnly(b)
	oneTx := slices.Clone(migrations)
	oneTx[8].batches = nil
	for _, bm := range []struct {
		name string
		migs []migration
	}{{"batches", migrations}, {"one-transaction", oneTx}} {
		b.Run(bm.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), "v8.db")
			s, err := open(path, Options{NoSync: true}, migrations[:8])
			if err != nil {
				b.Fatal(err)
			}
			newV8Records(b.N, 400).put(b, s)
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			before := compactedPages(b, path)
			runtime.GC()
			base := heapInUse()
			peak, stop := base, make(chan struct{})
			done := make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
						peak = max(peak, heapInUse())
					}
				}
			}()
			b.ResetTimer()
			start := time.Now()
			s, err = open(path, Options{}, bm.migs)
			took := time.Since(start)
			b.StopTimer()
			close(stop)
			<-done
			if err != nil {
				b.Fatal(err)
			}
			if err := s.Close(); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(took.Seconds(), "migrate-s")
			b.ReportMetric(float64(peak-base)/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(before)/float64(b.N), "pages-before-B/rdv")
			b.ReportMetric(float64(compactedPages(b, path))/float64(b.N), "pages-after-B/rdv")
		})
	}
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// compactedPages is the bytes of the pages in use of a compacted copy of
// the store file at path.
func compactedPages(tb testing.TB, path string) int64 {
	tb.Helper()
	dst := path + ".compact"
	os.Remove(dst)
	done, err := Compact(path, dst)
	if err != nil {
		tb.Fatal(err)
	}
	defer done()
	db, err := bolt.Open(dst, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	var pages int64
	db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error {
			s := b.Stats()
			pages += int64(s.BranchAlloc + s.LeafAlloc)
			return nil
		})
	})
	return pages
}
