package main

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"rdvsync/internal/store"
	"rdvsync/internal/store/postgres"
	"rdvsync/internal/store/postgres/pgtest"
)

// benchCluster is a PostgreSQL cluster with fsync on (a commit waits for
// its write-ahead log on disk, as in production), holding the dataset's
// 100 000 RDVs in the database "seeded", which each run copies. TestMain
// stops it.
var benchCluster struct {
	once    sync.Once
	cluster *pgtest.Cluster
	err     error
}

func seededPostgres(tb testing.TB) *pgtest.Cluster {
	tb.Helper()
	benchCluster.once.Do(func() {
		seeded, err := seededStore()
		if err != nil {
			benchCluster.err = err
			return
		}
		if benchCluster.cluster, err = pgtest.Start(); err != nil {
			benchCluster.err = err
			return
		}
		benchCluster.err = func() error {
			dsn, err := benchCluster.cluster.NewDatabase("seeded")
			if err != nil {
				return err
			}
			src, err := store.Open(seeded, store.Options{NoSync: true})
			if err != nil {
				return err
			}
			defer src.Close()
			ctx := context.Background()
			dst, err := postgres.Open(ctx, dsn, postgres.Options{})
			if err != nil {
				return err
			}
			defer dst.Close()
			_, err = src.CopyTo(ctx, dst, nil)
			return err
		}()
	})
	if benchCluster.err != nil {
		tb.Fatal(benchCluster.err)
	}
	return benchCluster.cluster
}

// rawInsertRate is PostgreSQL's physical limit for the booking path: one
// INSERT of a 600-byte row per transaction (synchronous_commit on: each
// commit waits for its WAL flush), from clients connections, in rows/s.
func rawInsertRate(tb testing.TB, dsn string, clients, rows int) float64 {
	tb.Helper()
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, dsn+"&pool_max_conns="+fmt.Sprint(clients))
	if err != nil {
		tb.Fatal(err)
	}
	defer pool.Close()
	if _, err := pool.Exec(ctx, "CREATE TABLE IF NOT EXISTS raw_bench (id bigint PRIMARY KEY, v bytea NOT NULL)"); err != nil {
		tb.Fatal(err)
	}
	var base int64
	if err := pool.QueryRow(ctx, "SELECT coalesce(max(id), 0) FROM raw_bench").Scan(&base); err != nil {
		tb.Fatal(err)
	}
	val := make([]byte, 600)
	return concurrentRate(tb, clients, rows, func(n int64) error {
		_, err := pool.Exec(ctx, "INSERT INTO raw_bench VALUES ($1, $2)", base+n, val)
		return err
	})
}

// BenchmarkBookReplicas books distinct free slots as BenchmarkDaemonBook
// does (newDaemon's wiring, every effect, 32 clients over HTTP, fsync on,
// the département's 100 000 RDVs in store), on one daemon on bbolt, one
// daemon on PostgreSQL and three daemons on one PostgreSQL database (the
// requests spread over them as a load balancer does), in one run.
// Reported besides BenchmarkDaemonBook's metrics: for PostgreSQL,
// raw-inserts/s, one INSERT per transaction on the same cluster in the
// same run (mean of a measure before and one after the bookings), and
// raw-ratio, bookings/s over that. Goal for 3 replicas: ≥ 1 000
// bookings/s, p99 < 50 ms.
func BenchmarkBookReplicas(b *testing.B) {
	d := benchDataset()
	const clients = 32
	for _, c := range []struct {
		name     string
		replicas int
	}{{"bbolt-1", 0}, {"postgres-1", 1}, {"postgres-3", 3}} {
		b.Run(c.name, func(b *testing.B) {
			todo, err := d.FreeSlots(time.Now(), b.N, true)
			if err != nil {
				b.Fatal(err)
			}
			var lds []*loadDaemon
			var raw func() float64
			if c.replicas == 0 {
				seeded, err := seededStore()
				if err != nil {
					b.Fatal(err)
				}
				lds = append(lds, startLoadDaemon(b, d, loadOptions{seeded: seeded, fsync: true}))
				// A fresh directory per measure: rawBoltRate makes raw.db in it.
				raw = func() float64 { return rawBoltRate(b, b.TempDir(), clients, 2000) }
			} else {
				dsn := seededPostgres(b).CloneDatabase(b, "seeded")
				for range c.replicas {
					lds = append(lds, startLoadDaemon(b, d, loadOptions{dsn: dsn, fsync: true}))
				}
				raw = func() float64 { return rawInsertRate(b, dsn, clients, 2000) }
			}
			rawBefore := raw()
			b.ReportAllocs()
			b.ResetTimer()
			start := time.Now()
			latencies := bookAcross(b, lds, todo, clients)
			booked := time.Since(start)
			b.StopTimer()
			drained := lds[0].waitDrained(b, 5*time.Minute)
			rate := float64(b.N) / booked.Seconds()
			b.ReportMetric(rate, "bookings/s")
			b.ReportMetric(quantile(latencies, 0.50), "p50-ms")
			b.ReportMetric(quantile(latencies, 0.99), "p99-ms")
			b.ReportMetric(drained.Sub(start.Add(booked)).Seconds(), "drain-s")
			rawRate := (rawBefore + raw()) / 2
			b.ReportMetric(rawRate, "raw-writes/s")
			b.ReportMetric(rate/rawRate, "raw-ratio")
		})
	}
}
