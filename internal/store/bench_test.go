package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"rdvsync/internal/rdv"
)

// benchParallelism × GOMAXPROCS goroutines write at once, standing for
// concurrent booking requests.
const benchParallelism = 16

// BenchmarkPutRDV is a booking transaction (overlap check + PutRDV with all
// its indexes, ~600-byte value) through Update, fsync on, from concurrent
// goroutines. p50-ms and p99-ms are the latencies of one Update.
func BenchmarkPutRDV(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	var seq atomic.Int64
	tmpl := newRDV("", "mds-arras", day0, 45*time.Minute, "camille-martin")
	tmpl.CreatedBy = rdv.CreatedBy{Type: rdv.CreatedByPrescripteur, FirstName: "Jean", LastName: "Petit",
		Email: "jean.petit@mediatheque.example.org", PhoneNumber: "+33321000000"}
	tmpl.Context = "Orientation suite à la demande de la médiathèque, besoin d'aide pour les démarches RSA."
	tmpl.UsagerToken = "k3Yb9xQw2LmN8pRt5vZa7cDe4fGh6jKs"
	if v, _ := encodeRDV(tmpl); len(v) < 200 {
		b.Fatalf("benchmark RDV is %d bytes, want a realistic ~250", len(v))
	}
	var (
		mu        sync.Mutex
		latencies []time.Duration
	)
	b.ReportAllocs()
	b.SetParallelism(benchParallelism)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			n := seq.Add(1)
			r := *tmpl
			r.ID = fmt.Sprintf("0f8c%028d", n)
			r.AgentIDs = []string{fmt.Sprintf("agent-%03d", n%400)}
			r.StartsAt = day0.Add(time.Duration(n) * time.Hour)
			r.EndsAt = r.StartsAt.Add(45 * time.Minute)
			start := time.Now()
			err := s.Update(ctx, func(tx *Tx) error {
				if tx.AgentHasOverlap(r.AgentIDs[0], r.Interval(), "") {
					return rdv.ErrSlotUnavailable
				}
				return tx.PutRDV(&r)
			})
			mine = append(mine, time.Since(start))
			if err != nil {
				b.Error(err)
				return
			}
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
	reportLatencies(b, latencies)
}

func reportLatencies(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	slices.Sort(ds)
	ms := func(q float64) float64 { return float64(ds[int(q*float64(len(ds)-1))]) / 1e6 }
	b.ReportMetric(ms(0.50), "p50-ms")
	b.ReportMetric(ms(0.99), "p99-ms")
}

// BenchmarkRawBoltPut is the floor PutRDV is compared with: one ~600-byte
// value per transaction function, fsync on, same concurrency, no indexes,
// through bbolt's DB.Batch (which waits up to 10 ms to fill a batch) and
// through one DB.Update per put.
func BenchmarkRawBoltPut(b *testing.B) {
	for _, mode := range []string{"batch", "update"} {
		b.Run(mode, func(b *testing.B) {
			db, err := bolt.Open(filepath.Join(b.TempDir(), "raw.db"), 0o600, &bolt.Options{FreelistType: bolt.FreelistMapType})
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			write := db.Batch
			if mode == "update" {
				write = db.Update
			}
			name := []byte("raw")
			if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket(name); return err }); err != nil {
				b.Fatal(err)
			}
			value := bytes.Repeat([]byte("x"), 600)
			var seq atomic.Uint64
			b.ReportAllocs()
			b.SetParallelism(benchParallelism)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					key := binary.BigEndian.AppendUint64(nil, seq.Add(1))
					if err := write(func(tx *bolt.Tx) error { return tx.Bucket(name).Put(key, value) }); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "puts/s")
		})
	}
}

// BenchmarkAppendAgentBusy reads one agent's busy times for a 7-day slot
// search, the agent having a year of RDVs (250, as with 100 000 RDVs over
// 400 agents).
func BenchmarkAppendAgentBusy(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	err = s.Update(context.Background(), func(tx *Tx) error {
		for i := range 250 {
			start := day0.Add(time.Duration(i) * 35 * time.Hour)
			if err := tx.PutRDV(newRDV(fmt.Sprintf("r%03d", i), "org", start, 45*time.Minute, "camille-martin")); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	from := day0.Add(180 * 24 * time.Hour)
	var buf []rdv.Interval
	b.ReportAllocs()
	for b.Loop() {
		err := s.View(context.Background(), func(tx *ReadTx) error {
			buf = tx.AppendAgentBusy(buf[:0], "camille-martin", from, from.Add(7*24*time.Hour))
			return nil
		})
		if err != nil || len(buf) == 0 {
			b.Fatal(err, len(buf))
		}
	}
}

// BenchmarkSearchUsagers searches 100 000 usagers for a last name and a
// first name, as an agent does before a prescription interne.
func BenchmarkSearchUsagers(b *testing.B) {
	s, err := Open(filepath.Join(b.TempDir(), "bench.db"), Options{NoSync: true})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	firsts := []string{"Léa", "Hugo", "Chloé", "Noé", "Inès", "Théo", "Zoé", "Jérôme", "Anaëlle", "Maël"}
	lasts := []string{"Dubois", "Lefèvre", "Martin", "Petit", "Durand", "Leroy", "Moreau", "Fournier", "Girard", "Bonnet"}
	// bbolt splits nodes only at commit: one huge transaction of inserts in
	// the middle of a bucket is quadratic, so load in chunks.
	for chunk := 0; chunk < 100_000; chunk += 1000 {
		err = s.Update(context.Background(), func(tx *Tx) error {
			for i := chunk; i < chunk+1000; i++ {
				u := &rdv.Usager{
					ID:          fmt.Sprintf("u%06d", i),
					FirstName:   firsts[i%len(firsts)],
					LastName:    fmt.Sprintf("%s%d", lasts[(i/10)%len(lasts)], i/100),
					Email:       fmt.Sprintf("usager%06d@example.org", i),
					PhoneNumber: fmt.Sprintf("+336%08d", i),
				}
				if err := tx.PutUsager(u); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		var found []*rdv.Usager
		err := s.View(context.Background(), func(tx *ReadTx) (err error) {
			found, err = tx.SearchUsagers("lefevre42 lea", 20)
			return err
		})
		if err != nil || len(found) == 0 {
			b.Fatal(err, len(found))
		}
	}
}
