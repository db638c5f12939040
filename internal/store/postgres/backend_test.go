package postgres

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"rdvsync/internal/store/kv"
	"rdvsync/internal/store/postgres/pgtest"
)

// Replicas starting together apply the migrations once.
func TestMigrationsAppliedOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			b, err := Open(ctx, dsn, Options{})
			if err != nil {
				t.Error(err)
				return
			}
			b.Close()
		})
	}
	wg.Wait()
	b := open(t, dsn)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	var rows, highest int
	if err := b.pool.QueryRow(ctx, "SELECT count(*), max(version) FROM schema_migrations").Scan(&rows, &highest); err != nil {
		t.Fatal(err)
	}
	if rows != len(ms) || highest != len(ms) {
		t.Errorf("schema_migrations holds %d rows up to %d, want %d", rows, highest, len(ms))
	}
}

// Watch tells a process about another's commits to the watched buckets,
// not about its own, nor about other buckets.
func TestWatchAcrossProcesses(t *testing.T) {
	dsn := pgtest.DSN(t)
	b1, b2 := open(t, dsn), open(t, dsn)
	seen1, seen2 := make(chan struct{}, 10), make(chan struct{}, 10)
	watched := [][]byte{[]byte("outbox")}
	b1.Watch(watched, func() { seen1 <- struct{}{} })
	b2.Watch(watched, func() { seen2 <- struct{}{} })

	put := func(b *Backend, path ...string) {
		update(t, b, func(tx kv.Tx) error {
			bk, _ := tx.CreateBucketIfNotExists([]byte(path[0]))
			for _, p := range path[1:] {
				bk, _ = bk.CreateBucketIfNotExists([]byte(p))
			}
			return bk.Put([]byte("k"), []byte("v"))
		})
	}
	expect := func(ch chan struct{}, want bool, what string) {
		t.Helper()
		wait := 200 * time.Millisecond
		if want {
			wait = 5 * time.Second
		}
		select {
		case <-ch:
			if !want {
				t.Errorf("%s: notified", what)
			}
		case <-time.After(wait):
			if want {
				t.Errorf("%s: not notified within %v", what, wait)
			}
		}
	}
	put(b1, "outbox")
	expect(seen2, true, "b2 after b1 wrote to outbox")
	expect(seen1, false, "b1 after its own write")
	put(b2, "outbox", "nested")
	expect(seen1, true, "b1 after b2 wrote to a bucket nested in outbox")
	put(b1, "rdvs")
	expect(seen2, false, "b2 after b1 wrote to an unwatched bucket")
	// A process that watches nothing (a command) announces its writes to
	// the buckets the others watch.
	command := open(t, dsn)
	put(command, "outbox")
	expect(seen1, true, "b1 after a command wrote to outbox")
	expect(seen2, true, "b2 after a command wrote to outbox")
	command.Close()
	// A rolled-back transaction announces nothing.
	b1.Update(ctx, func(tx kv.Tx) error {
		tx.Bucket([]byte("outbox")).Put([]byte("k"), []byte("v"))
		return errors.New("rollback")
	})
	expect(seen2, false, "b2 after b1 rolled back")
}

// When the server stops, Health and transactions fail with
// kv.ErrUnavailable; they work again once it is back.
func TestUnavailable(t *testing.T) {
	c, err := pgtest.Start(pgtest.NoFsync())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	const password = "s3cret-Pa55"
	dsn := strings.Replace(c.DSN(t), "postgres@", "postgres:"+password+"@", 1)
	b := open(t, dsn)
	if strings.Contains(b.Name(), password) || strings.Contains(b.Name(), "postgres@") {
		t.Errorf("Name() = %q shows credentials", b.Name())
	}
	update(t, b, func(tx kv.Tx) error {
		bk, _ := tx.CreateBucketIfNotExists([]byte("a"))
		return bk.Put([]byte("k"), []byte("v"))
	})
	noticed := make(chan struct{}, 10)
	b.Watch([][]byte{[]byte("a")}, func() { noticed <- struct{}{} })

	c.StopServer()
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, kv.ErrUnavailable) {
			t.Errorf("%s with the server stopped = %v, want ErrUnavailable", what, err)
		}
		if err != nil && strings.Contains(err.Error(), password) {
			t.Errorf("%s: the error shows the password: %v", what, err)
		}
	}
	check("Health", b.Health(ctx))
	check("Update", b.Update(ctx, func(tx kv.Tx) error {
		return tx.Bucket([]byte("a")).Put([]byte("k2"), []byte("v"))
	}))
	check("View", b.View(ctx, func(tx kv.Tx) error {
		tx.Bucket([]byte("a")).Get([]byte("k"))
		return nil
	}))
	check("NextSequence", b.Update(ctx, func(tx kv.Tx) error {
		_, err := tx.Bucket([]byte("a")).NextSequence()
		return err
	}))
	_, err = Open(ctx, dsn, Options{})
	check("Open", err)
	_, err = Open(ctx, strings.Replace(dsn, "127.0.0.1:", "127.0.0.1:x", 1), Options{})
	if err == nil || strings.Contains(err.Error(), password) {
		t.Errorf("Open of a malformed DSN = %v, with the password or no error", err)
	}

	if err := c.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := b.Health(ctx); err != nil {
		t.Errorf("Health once the server is back: %v", err)
	}
	view(t, b, func(tx kv.Tx) error {
		if v := tx.Bucket([]byte("a")).Get([]byte("k")); string(v) != "v" {
			t.Errorf("after the restart, k = %q", v)
		}
		return nil
	})
	// The listener reconnected; notices may have been missed meanwhile,
	// so the watches ran.
	select {
	case <-noticed:
	case <-time.After(15 * time.Second):
		t.Error("the watch did not run after the listener reconnected")
	}
}

// A database made by an earlier version gets the migrations it lacks.
func TestMigrationsUpgrade(t *testing.T) {
	dsn := pgtest.DSN(t)
	ms, err := migrations()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, sql := range []string{
		"CREATE TABLE schema_migrations (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())",
		ms[0].sql,
		"INSERT INTO schema_migrations (version) VALUES (1)",
		"INSERT INTO kv (bucket, key, value) VALUES ('rdvs', 'kept', 'v')",
	} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	b := open(t, dsn)
	var versions int
	var hasPoint bool
	conn.QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&versions)
	conn.QueryRow(ctx, "SELECT EXISTS (SELECT FROM pg_indexes WHERE indexname = 'kv_point')").Scan(&hasPoint)
	if versions != len(ms) || !hasPoint {
		t.Errorf("after the upgrade: %d versions (want %d), kv_point made: %v", versions, len(ms), hasPoint)
	}
	view(t, b, func(tx kv.Tx) error {
		if v := tx.Bucket([]byte("rdvs")).Get([]byte("kept")); string(v) != "v" {
			t.Errorf("a key of the earlier version reads %q", v)
		}
		return nil
	})
}

// Writers that each read a whole range and write into it conflict with all
// the others: the database aborts all but one of those running at once, in
// every round, and without a fallback a writer could lose round after
// round until kv.ErrUnavailable. An Update aborted abortsBeforeAlone times
// runs alone and commits, so none runs fn more than abortsBeforeAlone+1
// times; and the writers still commit in some serial order (each counted
// the keys of the writers before it).
func TestConflictingWritersAllCommit(t *testing.T) {
	dsn := pgtest.DSN(t)
	var replicas []*Backend
	for range 3 {
		b, err := Open(ctx, dsn, Options{MaxConns: 4, MaxWriters: 4})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		replicas = append(replicas, b)
	}
	const writers, each = 18, 3
	start := time.Now()
	var wg sync.WaitGroup
	var mu sync.Mutex
	mostRuns := 0
	for w := range writers {
		b := replicas[w%len(replicas)]
		wg.Go(func() {
			for i := range each {
				runs := 0
				err := b.Update(ctx, func(tx kv.Tx) error {
					runs++
					bk, err := tx.CreateBucketIfNotExists([]byte("hot"))
					if err != nil {
						return err
					}
					n := 0
					bk.ForEach(func(k, v []byte) error { n++; return nil })
					time.Sleep(2 * time.Millisecond)
					return bk.Put(fmt.Appendf(nil, "w%02d-%d", w, i), fmt.Appendf(nil, "%d", n))
				})
				if err != nil {
					t.Errorf("writer %d: %v", w, err)
				}
				mu.Lock()
				mostRuns = max(mostRuns, runs)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	if mostRuns > abortsBeforeAlone+1 {
		t.Errorf("an Update ran %d times, want at most %d", mostRuns, abortsBeforeAlone+1)
	}
	if elapsed > 30*time.Second {
		t.Errorf("%d conflicting writes took %v", writers*each, elapsed)
	}
	seen := map[string]bool{}
	if err := replicas[0].View(ctx, func(tx kv.Tx) error {
		return tx.Bucket([]byte("hot")).ForEach(func(k, v []byte) error {
			seen[string(v)] = true
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	for i := range writers * each {
		if !seen[strconv.Itoa(i)] {
			t.Errorf("no writer counted %d keys before its own (%d keys): not serialisable", i, len(seen))
		}
	}
	t.Logf("%d writes in %v, %d retries, at most %d runs of an Update", writers*each, elapsed,
		replicas[0].Retries()+replicas[1].Retries()+replicas[2].Retries(), mostRuns)
}

// A process runs at most MaxWriters read-write transactions at once; the
// others wait their turn, and View is not bounded by it.
func TestMaxWriters(t *testing.T) {
	b, err := Open(ctx, pgtest.DSN(t), Options{MaxConns: 4, MaxWriters: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var mu sync.Mutex
	running, most := 0, 0
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			err := b.Update(ctx, func(tx kv.Tx) error {
				mu.Lock()
				running++
				most = max(most, running)
				mu.Unlock()
				bk, _ := tx.CreateBucketIfNotExists([]byte("w"))
				err := bk.Put(fmt.Appendf(nil, "k%d", i), []byte("v"))
				time.Sleep(5 * time.Millisecond)
				mu.Lock()
				running--
				mu.Unlock()
				return err
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	// A View runs while the writers queue.
	if err := b.View(ctx, func(kv.Tx) error { return nil }); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	if most != 1 {
		t.Errorf("%d writers ran at once, want 1", most)
	}
}
