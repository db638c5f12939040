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
	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
	"rdvsync/internal/store"
)

// The département of docs/design.md §8 (40 organisations, 400 agents, 1 200
// plages, 100 000 RDVs over six months from Monday 4 January 2027),
// generated once per process.
var benchData = sync.OnceValue(func() *dataset.Dataset { return dataset.Generate(1, dataset.Params{}) })

// benchSlots returns n distinct bookable slots among the dataset's RDVs:
// for each agent, the free slots of one motif (one motif per agent, so
// booking one slot never shifts the grid of another), sorted by start so
// that concurrent clients book different agents.
func benchSlots(b *testing.B, d *dataset.Dataset, now time.Time, n int) []slots.Slot {
	b.Helper()
	cat := d.Catalog
	var out []slots.Slot
	start := rdv.DateOf(now.In(cat.Organisations[0].Location))
	for week := start; len(out) < n; week = week.AddDays(7) {
		if week > start.AddDays(2*366) {
			b.Fatalf("only %d free slots in two years, want %d", len(out), n)
		}
		var batch []slots.Slot
		for _, a := range cat.Agents {
			if len(a.Plages) == 0 {
				continue
			}
			q := slots.Query{Motif: a.Plages[0].Motifs[0], Agent: a, Caller: a, AgentView: true, Busy: d.Busy,
				From: week, To: week.AddDays(6), Now: now}
			batch = append(batch, slots.Search(cat, q)...)
		}
		slices.SortStableFunc(batch, func(x, y slots.Slot) int { return x.Start.Compare(y.Start) })
		out = append(out, batch...)
	}
	return out[:n]
}

// seedStore writes the dataset's RDVs, with one usager for every three, as
// prescripteurs would have booked them.
func seedStore(b *testing.B, st *store.Store, d *dataset.Dataset, now time.Time) {
	b.Helper()
	const usagers, perTx = 33_000, 5_000
	for lo := 0; lo < len(d.RDVs); lo += perTx {
		err := st.Update(context.Background(), func(tx *store.Tx) error {
			for i := lo; i < min(lo+perTx, len(d.RDVs)); i++ {
				r := d.RDVs[i]
				uid := fmt.Sprintf("seed-usager-%05d", i%usagers)
				if i < usagers {
					u := &rdv.Usager{ID: uid, FirstName: "Usager", LastName: fmt.Sprintf("Seed %05d", i),
						Email: fmt.Sprintf("seed%05d@example.org", i), PhoneNumber: fmt.Sprintf("+3361%07d", i), PhoneMobile: true,
						CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
					if err := tx.PutUsager(u); err != nil {
						return err
					}
				}
				err := tx.PutRDV(&rdv.RDV{ID: fmt.Sprintf("seed-rdv-%06d", i), Status: rdv.StatusUnknown,
					StartsAt: r.Start.UTC(), EndsAt: r.End.UTC(), MotifID: r.MotifID, LieuID: r.LieuID,
					OrganisationID: d.Catalog.Motif(r.MotifID).Organisation.ID, AgentIDs: []string{r.AgentID}, UsagerID: uid,
					CreatedBy: rdv.CreatedBy{Type: rdv.CreatedByPrescripteur, FirstName: "Jean", LastName: "Petit",
						Email: "jean.petit@mediatheque.example.org", PhoneNumber: "+33321000000"},
					CreatedAt: now.UTC(), UpdatedAt: now.UTC(), UsagerToken: fmt.Sprintf("seed-token-%06d", i), Version: 1})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

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
	seedStore(b, s.store, d, now)
	todo := benchSlots(b, d, now, b.N)
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
