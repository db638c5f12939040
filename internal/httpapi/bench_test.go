package httpapi_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rdvsync/internal/dataset"
)

// The département of docs/design.md §8 (40 organisations, 400 agents, 1 200
// plages, 100 000 RDVs over six months from Monday 4 January 2027),
// generated once per process.
var benchData = sync.OnceValue(func() *dataset.Dataset { return dataset.Generate(1, dataset.Params{}) })

// BenchmarkBookHTTP books distinct free slots of the département dataset
// through the real HTTP API on loopback: agent tokens, 16 × GOMAXPROCS
// concurrent clients, a store holding the dataset's 100 000 RDVs, fsync on.
// bookings/s and the p50/p99 latency of one POST /api/v1/rdvs are what
// docs/design.md §8 asks (≥ 1 000/s, p99 < 20 ms). The store alone, for
// comparison: BenchmarkPutRDV and BenchmarkRawBoltPut in internal/store.
func BenchmarkBookHTTP(b *testing.B) {
	d := benchData()
	now := d.Params.Start.At(0, d.Catalog.Organisations[0].Location).Add(7 * time.Hour)
	s := newServer(b, serverOptions{catalog: d.Catalog, fsync: true})
	s.clock.Set(now)
	if err := d.WriteStore(context.Background(), s.store, now); err != nil {
		b.Fatal(err)
	}
	todo, err := d.FreeSlots(now, b.N, true)
	if err != nil {
		b.Fatal(err)
	}
	var (
		seq       atomic.Int64
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, b.N)
	)
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		for pb.Next() {
			n := int(seq.Add(1) - 1)
			sl := todo[n]
			body := map[string]any{
				"motif_id": sl.Motif.ID, "starts_at": sl.Start.Format(time.RFC3339), "agent_id": sl.Agent.ID,
				"usager": map[string]string{"first_name": "Usager", "last_name": fmt.Sprintf("Bench %d", n),
					"email": fmt.Sprintf("bench%d@example.org", n), "phone_number": fmt.Sprintf("06%08d", 12_000_000+n)},
				"context": "Orientation suite à la demande de la médiathèque, besoin d'aide pour les démarches RSA.",
			}
			if sl.Lieu != nil {
				body["lieu_id"] = sl.Lieu.ID
			}
			start := time.Now()
			resp, err := s.try(req{method: "POST", path: "/api/v1/rdvs", auth: "Bearer dataset-token-" + sl.Agent.ID, body: body})
			mine = append(mine, time.Since(start))
			if err != nil {
				b.Error(err)
				return
			}
			if resp.status != http.StatusCreated {
				b.Errorf("booking %s of %s: %d %s", sl.Start.Format(time.RFC3339), sl.Agent.ID, resp.status, resp.body)
				return
			}
		}
		mu.Lock()
		latencies = append(latencies, mine...)
		mu.Unlock()
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "bookings/s")
	if len(latencies) > 0 {
		slices.Sort(latencies)
		at := func(q float64) float64 {
			return float64(latencies[min(len(latencies)-1, int(q*float64(len(latencies))))].Microseconds()) / 1000
		}
		b.ReportMetric(at(0.50), "p50-ms")
		b.ReportMetric(at(0.99), "p99-ms")
	}
}
