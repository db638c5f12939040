package postgres

import (
	"encoding/binary"
	"sync/atomic"
	"testing"

	"rdvsync/internal/store/kv"
	"rdvsync/internal/store/postgres/pgtest"
)

// The benchmarks run on a cluster with fsync on (TestMain): a commit costs
// a flush of the write-ahead log, as in production.

// BenchmarkUpdate10Puts is a write transaction of a booking's shape: one
// read, ten writes, commit (two round trips and a WAL flush).
func BenchmarkUpdate10Puts(b *testing.B) {
	for _, parallel := range []bool{false, true} {
		for _, watched := range []bool{false, true} {
			name := "serial"
			if parallel {
				name = "parallel"
			}
			if watched {
				name += "-watched"
			}
			b.Run(name, func(b *testing.B) {
				be := open(b, pgtest.DSN(b))
				if watched {
					be.Watch([][]byte{[]byte("rdvs")}, func() {})
				}
				var n atomic.Uint64
				one := func() {
					id := binary.BigEndian.AppendUint64(nil, n.Add(1))
					err := be.Update(ctx, func(tx kv.Tx) error {
						bk, _ := tx.CreateBucketIfNotExists([]byte("rdvs"))
						if bk.Get(id) != nil {
							return nil
						}
						for i := range 10 {
							if err := bk.Put(append(id, byte(i)), make([]byte, 200)); err != nil {
								return err
							}
						}
						return nil
					})
					if err != nil {
						b.Error(err)
					}
				}
				b.ReportAllocs()
				b.ResetTimer()
				if parallel {
					b.SetParallelism(8)
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							one()
						}
					})
				} else {
					for range b.N {
						one()
					}
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
			})
		}
	}
}

// BenchmarkGet is one Get of a key not read yet in its transaction: one
// round trip (the transaction remembers the keys it read).
func BenchmarkGet(b *testing.B) {
	be := open(b, pgtest.DSN(b))
	const keys = 1000
	update(b, be, func(tx kv.Tx) error {
		bk, _ := tx.CreateBucketIfNotExists([]byte("k"))
		for i := range keys {
			if err := bk.Put(binary.BigEndian.AppendUint32(nil, uint32(i)), make([]byte, 200)); err != nil {
				return err
			}
		}
		return nil
	})
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; {
		view(b, be, func(tx kv.Tx) error {
			bk := tx.Bucket([]byte("k"))
			for i := 0; i < keys && done < b.N; i, done = i+1, done+1 {
				if bk.Get(binary.BigEndian.AppendUint32(nil, uint32(i))) == nil {
					b.Fatal("missing")
				}
			}
			return nil
		})
	}
}

// BenchmarkRawInsertCommit is the floor for a write: one INSERT in its own
// transaction (synchronous_commit on), through the same pool.
func BenchmarkRawInsertCommit(b *testing.B) {
	be := open(b, pgtest.DSN(b))
	b.ResetTimer()
	for i := range b.N {
		_, err := be.pool.Exec(ctx, "INSERT INTO kv (bucket, key, value) VALUES ('raw', $1, '')",
			binary.BigEndian.AppendUint64(nil, uint64(i)))
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tx/s")
}
