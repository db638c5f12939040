package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"rdvsync/internal/dataset"
	"rdvsync/internal/store"
	"rdvsync/internal/store/postgres"
	"rdvsync/internal/store/postgres/pgtest"
)

// pgCluster is a throwaway PostgreSQL cluster (fsync on, as in
// production) started by the first benchmark that needs it; TestMain
// stops it.
var pgCluster struct {
	once    sync.Once
	cluster *pgtest.Cluster
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pgCluster.cluster != nil {
		pgCluster.cluster.Stop()
	}
	os.Exit(code)
}

// postgresDepartement is the département's dataset with its 100 000 RDVs
// copied from the cached store file into a PostgreSQL database, as
// `rdvsync migrate-store` does.
var postgresDepartement = sync.OnceValues(func() (*slotBench, error) {
	pgCluster.once.Do(func() { pgCluster.cluster, pgCluster.err = pgtest.Start() })
	if pgCluster.err != nil {
		return nil, pgCluster.err
	}
	d, err := dataset.New(1, dataset.Params{})
	if err != nil {
		return nil, err
	}
	path, err := d.CachedStoreFile(context.Background())
	if err != nil {
		return nil, err
	}
	src, err := store.Open(path, store.Options{})
	if err != nil {
		return nil, err
	}
	defer src.Close()
	ctx := context.Background()
	dsn, err := pgCluster.cluster.NewDatabase("slots")
	if err != nil {
		return nil, err
	}
	be, err := postgres.Open(ctx, dsn, postgres.Options{})
	if err != nil {
		return nil, err
	}
	if _, err := src.CopyTo(ctx, be, nil); err != nil {
		be.Close()
		return nil, err
	}
	st, err := store.New(ctx, be, nil)
	if err != nil {
		be.Close()
		return nil, err
	}
	return newSlotBench(d, st), nil
})

// BenchmarkSlotSearchPostgres is the search of one motif and lieu over 7
// days through GET /api/v1/slots (JSON included) on PostgreSQL with the
// département's 100 000 RDVs: busy times are read from the database at
// each search (replicas keep no copy of their own). Reported: p50 and p99
// of one request (goal: p50 < 2 ms), besides the mean.
func BenchmarkSlotSearchPostgres(b *testing.B) {
	sb, err := postgresDepartement()
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range sb.cases()[:2] { // motif-lieu-7d, elargir-7d/public
		b.Run("http/"+c.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", c.query(), nil)
			var lat []time.Duration
			measure(b, func() {
				start := time.Now()
				w := httptest.NewRecorder()
				sb.mux.ServeHTTP(w, r)
				lat = append(lat, time.Since(start))
				if w.Code != http.StatusOK {
					b.Fatalf("%d %.200s", w.Code, w.Body.String())
				}
			})
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
