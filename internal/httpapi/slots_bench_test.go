package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/dataset"
	"rdvsync/internal/httpapi"
	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// slotBench is the daemon's read path over a generated territory: a
// booking.Service on a bbolt store holding the dataset's RDVs (the cached
// file of dataset.CachedStoreFile, built on the first run), and the API's
// routes as serve registers them, searched at 08:00 on the dataset's first
// day. Only the catalogue is kept in memory: the generated RDVs are
// dropped once in the store, as the daemon never holds them.
type slotBench struct {
	cat  *catalog.Catalog
	st   *store.Store
	svc  *booking.Service
	mux  *http.ServeMux
	from rdv.Date
	// motif is the public motif offered by the most plages, lieu its first.
	motif  *catalog.Motif
	caller *catalog.Agent // the first agent of the first organisation
}

func openSlotBench(p dataset.Params) (*slotBench, error) {
	d, err := dataset.New(1, p)
	if err != nil {
		return nil, err
	}
	path, err := d.CachedStoreFile(context.Background())
	if err != nil {
		return nil, err
	}
	st, err := store.Open(path, store.Options{})
	if err != nil {
		return nil, err
	}
	return newSlotBench(d, st), nil
}

// newSlotBench serves the dataset's catalogue from st, which holds its RDVs.
func newSlotBench(d *dataset.Dataset, st *store.Store) *slotBench {
	cat := d.Catalog
	now := d.Params.Start.At(8*60, cat.Organisations[0].Location)
	svc := booking.New(func() *catalog.Catalog { return cat }, st, booking.Options{Now: func() time.Time { return now }})
	api := httpapi.New(httpapi.Options{Booking: svc, Registerer: prometheus.NewRegistry(),
		RatePerMinute: 1 << 30, RateBurst: 1 << 30}) // one client asks everything
	mux := http.NewServeMux()
	api.Register(mux)
	sb := &slotBench{cat: cat, st: st, svc: svc, mux: mux, from: d.Params.Start, caller: cat.Organisations[0].Agents[0]}
	for _, m := range cat.Motifs {
		if m.BookableBy == rdv.BookableByEveryone && len(m.Lieux) > 0 && (sb.motif == nil || len(m.Plages) > len(sb.motif.Plages)) {
			sb.motif = m
		}
	}
	return sb
}

var (
	departementBench = sync.OnceValues(func() (*slotBench, error) { return openSlotBench(dataset.Params{}) })
	// A national-size territory: ten départements' agents and plages in
	// one territory, and a million RDVs.
	nationalBench = sync.OnceValues(func() (*slotBench, error) {
		return openSlotBench(dataset.Params{Organisations: 400, Agents: 4000, Plages: 12_000, RDVs: 1_000_000})
	})
)

// slotCase is one search: as the API receives it, and who asks.
type slotCase struct {
	name  string
	req   booking.SlotsRequest
	agent bool
}

func (sb *slotBench) cases() []slotCase {
	week, month := sb.from.AddDays(6).String(), sb.from.AddDays(27).String()
	elargir := func(to string) booking.SlotsRequest {
		return booking.SlotsRequest{ServiceID: sb.caller.Services[0].ID, TerritoryID: sb.cat.Organisations[0].Territory.ID, From: sb.from.String(), To: to}
	}
	return []slotCase{
		{"motif-lieu-7d", booking.SlotsRequest{MotifID: sb.motif.ID, LieuID: sb.motif.Lieux[0].ID, From: sb.from.String(), To: week}, false},
		{"elargir-7d/public", elargir(week), false},
		{"elargir-7d/agent", elargir(week), true},
		{"elargir-28d/public", elargir(month), false},
		{"elargir-28d/agent", elargir(month), true},
	}
}

func (c slotCase) query() string {
	v := url.Values{}
	for k, s := range map[string]string{"motif_id": c.req.MotifID, "lieu_id": c.req.LieuID, "service_id": c.req.ServiceID,
		"territory": c.req.TerritoryID, "from": c.req.From, "to": c.req.To} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return "/api/v1/slots?" + v.Encode()
}

// run measures each case through booking.Service.Slots ("service") and
// through GET /api/v1/slots on the registered routes, JSON encoding
// included ("http").
func (sb *slotBench) run(b *testing.B) {
	ctx := context.Background()
	for _, c := range sb.cases() {
		caller := booking.Caller{}
		if c.agent {
			caller.Agent = sb.caller
		}
		b.Run("service/"+c.name, func(b *testing.B) {
			n := 0
			measure(b, func() {
				found, err := sb.svc.Slots(ctx, caller, c.req)
				if err != nil {
					b.Fatal(err)
				}
				n = len(found)
			})
			if n == 0 {
				b.Fatal("no slot found: the benchmark measures nothing")
			}
			b.ReportMetric(float64(n), "slots/op")
		})
		b.Run("http/"+c.name, func(b *testing.B) {
			r := httptest.NewRequest("GET", c.query(), nil)
			if c.agent {
				r.Header.Set("Authorization", "Bearer dataset-token-"+sb.caller.ID)
			}
			size := 0
			measure(b, func() {
				w := httptest.NewRecorder()
				sb.mux.ServeHTTP(w, r)
				if w.Code != http.StatusOK || !bytes.HasPrefix(w.Body.Bytes(), []byte(`{"slots":[{`)) {
					b.Fatalf("%d %.200s", w.Code, w.Body.String())
				}
				size = w.Body.Len()
			})
			b.ReportMetric(float64(size)/1000, "kB/resp")
		})
	}
	b.Run("memory", sb.memory)
}

// measure runs op once untimed (the first search of an agent loads its
// busy times into the read model; a running daemon has them), then b.N
// times. Besides the wall time per op it reports the process's CPU time
// per op (user + system, GC included): on a machine shared with other
// work, wall time also counts the waits for a core, CPU time only the
// work done.
func measure(b *testing.B, op func()) {
	op()
	b.ReportAllocs()
	var before, after syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &before)
	n := 0
	for b.Loop() {
		op()
		n++
	}
	syscall.Getrusage(syscall.RUSAGE_SELF, &after)
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	b.ReportMetric(float64(cpu.Microseconds())/float64(n)/1000, "cpu-ms/op")
}

// memory runs the slot load — élargir over 28 days for every service,
// public and agent view, so every agent's busy times are in the read
// model — then reports the live heap after a collection and the process's
// resident memory: RssAnon (heap, stacks) and RssFile (the mapped store
// pages read).
func (sb *slotBench) memory(b *testing.B) {
	ctx := context.Background()
	to := sb.from.AddDays(27).String()
	for b.Loop() {
		for _, s := range sb.cat.Services {
			for _, caller := range []booking.Caller{{}, {Agent: sb.caller}} {
				req := booking.SlotsRequest{ServiceID: s.ID, TerritoryID: sb.cat.Organisations[0].Territory.ID, From: sb.from.String(), To: to}
				if _, err := sb.svc.Slots(ctx, caller, req); err != nil {
					b.Fatal(err)
				}
			}
		}
	}
	b.StopTimer()
	runtime.GC()
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(sample)
	b.ReportMetric(float64(sample[0].Value.Uint64())/1e6, "heap-live-MB")
	anon, file, err := rss()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(anon)/1e6, "rss-anon-MB")
	b.ReportMetric(float64(file)/1e6, "rss-file-MB")
}

// rss reads RssAnon and RssFile (bytes) from /proc/self/status.
func rss() (anon, file int64, err error) {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var name string
		var kb int64
		if n, _ := fmt.Sscanf(sc.Text(), "%s %d kB", &name, &kb); n != 2 {
			continue
		}
		switch name {
		case "RssAnon:":
			anon = kb * 1024
		case "RssFile:":
			file = kb * 1024
		}
	}
	if anon == 0 || file == 0 {
		return 0, 0, fmt.Errorf("no RssAnon/RssFile in /proc/self/status")
	}
	return anon, file, sc.Err()
}

// BenchmarkSlotSearch is the daemon's slot search over the département
// (40 organisations, 400 agents, 1 200 plages, 100 000 RDVs in bbolt).
func BenchmarkSlotSearch(b *testing.B) {
	sb, err := departementBench()
	if err != nil {
		b.Fatal(err)
	}
	sb.run(b)
}

// BenchmarkSlotSearchNational is the same over a national-size territory
// (400 organisations, 4 000 agents, 12 000 plages, 1 000 000 RDVs). Its
// store file takes minutes to build the first time (then it is reused from
// the temp directory); -short skips it.
func BenchmarkSlotSearchNational(b *testing.B) {
	if testing.Short() {
		b.Skip("the national store takes minutes to build: run without -short")
	}
	sb, err := nationalBench()
	if err != nil {
		b.Fatal(err)
	}
	sb.run(b)
}
