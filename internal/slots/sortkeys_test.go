package slots

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// sortKeys orders keys as compareKeys does, through its buckets (starts on
// a 5-minute grid and off it, many ties on the start) and through its
// fallbacks (few keys, a span too wide for the buckets).
func TestSortKeysSortsLikeCompareKeys(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC).UnixNano()
	for _, c := range []struct {
		name string
		n    int
		span time.Duration
	}{
		{"few", 100, 24 * time.Hour},
		{"a month", 20_000, 31 * 24 * time.Hour},
		{"one bucket", 2_000, time.Minute},
		{"too wide for buckets", 5_000, 400 * 24 * time.Hour},
	} {
		keys := make([]slotKey, c.n)
		for i := range keys {
			start := base + r.Int64N(int64(c.span))
			if r.IntN(3) > 0 {
				start -= start % int64(5*time.Minute) // most starts on the grid: ties
			}
			keys[i] = slotKey{start: start, motifLieu: uint64(r.IntN(4))<<32 | uint64(r.IntN(3)), agent: uint32(r.IntN(3)), item: uint32(i)}
		}
		s := &searcher{keys: slices.Clone(keys)}
		s.sortKeys()
		if !slices.IsSortedFunc(s.keys, compareKeys) {
			t.Errorf("%s: not sorted", c.name)
		}
		byItem := func(a, b slotKey) int { return cmp.Compare(a.item, b.item) }
		got := slices.SortedFunc(slices.Values(s.keys), byItem)
		if !slices.Equal(got, keys) {
			t.Errorf("%s: keys lost or changed", c.name)
		}
	}
}
