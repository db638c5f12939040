package slots_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/dataset"
	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
)

// The benchmarks run on the default generated département (see
// internal/dataset and BENCHMARKS.md), generated once per process, at 08:00
// on its first day (Monday 4 January 2027) with its 100 000 RDVs busy.
var (
	benchOnce sync.Once
	benchData *dataset.Dataset
)

func benchDataset() *dataset.Dataset {
	benchOnce.Do(func() { benchData = dataset.Generate(1, dataset.Params{}) })
	return benchData
}

func benchNow(d *dataset.Dataset) time.Time {
	return d.Params.Start.At(8*60, d.Catalog.Organisations[0].Location)
}

// busiestPublicMotif is the motif open to everyone offered by the most
// plages, so a search for it walks the most occurrences and busy times.
func busiestPublicMotif(cat *catalog.Catalog) *catalog.Motif {
	var best *catalog.Motif
	for _, m := range cat.Motifs {
		if m.BookableBy == rdv.BookableByEveryone && len(m.Lieux) > 0 && (best == nil || len(m.Plages) > len(best.Plages)) {
			best = m
		}
	}
	return best
}

func runSearch(b *testing.B, cat *catalog.Catalog, q slots.Query) {
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n = len(slots.Search(cat, q))
	}
	if n == 0 {
		b.Fatal("the search found no slot: the benchmark measures nothing")
	}
	b.ReportMetric(float64(n), "slots/op")
}

// (a) A prescripteur looks at one motif in one lieu for a week.
func BenchmarkSearchMotifLieuWeek(b *testing.B) {
	d := benchDataset()
	m := busiestPublicMotif(d.Catalog)
	runSearch(b, d.Catalog, slots.Query{Motif: m, Lieu: m.Lieux[0], From: d.Params.Start, To: d.Params.Start.AddDays(6), Now: benchNow(d), Busy: d.Busy})
}

// (b) "Élargir votre recherche": every prescription-open motif of one
// service in the whole territory for a week and for 28 days, as an agent
// sees it (one slot per free agent) and as the public sees it.
func BenchmarkSearchElargir(b *testing.B) {
	d := benchDataset()
	cat := d.Catalog
	caller := cat.Organisations[0].Agents[0]
	for _, days := range []int{7, 28} {
		q := slots.Query{Service: caller.Services[0], Territory: cat.Organisations[0].Territory, Caller: caller,
			From: d.Params.Start, To: d.Params.Start.AddDays(days - 1), Now: benchNow(d), Busy: d.Busy}
		b.Run(fmt.Sprintf("%dd/agent", days), func(b *testing.B) {
			q := q
			q.AgentView = true
			runSearch(b, cat, q)
		})
		b.Run(fmt.Sprintf("%dd/public", days), func(b *testing.B) {
			q := q
			q.Caller = nil
			runSearch(b, cat, q)
		})
	}
}

// (c) Next availability of a motif open one morning a month whose next two
// mornings are fully booked: the answer is ten weeks ahead.
func BenchmarkNextSparse(b *testing.B) {
	d := benchDataset()
	q := slots.Query{Motif: d.Catalog.Motif(d.SparseMotif), Now: benchNow(d), Busy: d.Busy}
	b.ReportAllocs()
	var s slots.Slot
	for b.Loop() {
		var ok bool
		if s, ok = slots.Next(d.Catalog, q); !ok {
			b.Fatal("no next slot")
		}
	}
	if days := s.Start.Sub(q.Now).Hours() / 24; days < 60 {
		b.Fatalf("next slot %s is only %.0f days ahead", s.Start, days)
	}
}

// (d) Reading the département's YAML into a catalogue, as a reload does.
func BenchmarkCatalogBuild(b *testing.B) {
	yaml := benchDataset().YAML()
	b.ReportAllocs()
	b.SetBytes(int64(len(yaml)))
	for b.Loop() {
		f, err := config.Parse("dataset.yaml", yaml)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := catalog.Build(f); err != nil {
			b.Fatal(err)
		}
	}
}
