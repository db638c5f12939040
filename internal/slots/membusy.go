package slots

import (
	"slices"
	"sort"
	"time"

	"rdvsync/internal/rdv"
)

// MemBusy is an in-memory Busy: per agent, intervals sorted by start. It
// serves tests, benchmarks and cached external calendar busy times.
type MemBusy struct {
	byAgent map[string][]rdv.Interval
	// longest is the longest interval held, so a lookup knows how far
	// before "from" an overlapping interval may start.
	longest time.Duration
}

// NewMemBusy returns an empty index.
func NewMemBusy() *MemBusy { return &MemBusy{byAgent: map[string][]rdv.Interval{}} }

// Add records a busy interval of an agent. Call Sort once after adding.
func (m *MemBusy) Add(agentID string, iv rdv.Interval) {
	m.byAgent[agentID] = append(m.byAgent[agentID], iv)
	if d := iv.End.Sub(iv.Start); d > m.longest {
		m.longest = d
	}
}

// Sort orders every agent's intervals by start.
func (m *MemBusy) Sort() {
	for _, ivs := range m.byAgent {
		slices.SortFunc(ivs, func(a, b rdv.Interval) int { return a.Start.Compare(b.Start) })
	}
}

// AppendAgentBusy implements Busy.
func (m *MemBusy) AppendAgentBusy(dst []rdv.Interval, agentID string, from, to time.Time) []rdv.Interval {
	ivs := m.byAgent[agentID]
	lo := from.Add(-m.longest)
	i := sort.Search(len(ivs), func(i int) bool { return !ivs[i].Start.Before(lo) })
	for ; i < len(ivs) && ivs[i].Start.Before(to); i++ {
		if ivs[i].End.After(from) {
			dst = append(dst, ivs[i])
		}
	}
	return dst
}

// AppendAgentBusyNanos implements NanoBusy.
func (m *MemBusy) AppendAgentBusyNanos(dst []int64, agentID string, lo, hi int64) []int64 {
	ivs := m.byAgent[agentID]
	from := time.Unix(0, lo)
	i := sort.Search(len(ivs), func(i int) bool { return !ivs[i].Start.Before(from.Add(-m.longest)) })
	for ; i < len(ivs) && ivs[i].Start.UnixNano() < hi; i++ {
		if ivs[i].End.UnixNano() > lo {
			dst = append(dst, ivs[i].Start.UnixNano(), ivs[i].End.UnixNano())
		}
	}
	return dst
}

var _ NanoBusy = (*MemBusy)(nil)
