package store

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"rdvsync/internal/rdv"
)

// busyIndex is an in-memory read model of agent_busy for slot searches:
// per agent, the intervals of its active RDVs sorted by start, as
// committed. A slot search reads thousands of plage occurrences, each
// needing its agent's busy times; scanning bbolt for each costs 1.5–2× the
// whole search, reading a sorted slice almost nothing.
//
// It is a cache, never the authority: a booking re-checks its slot in its
// own write transaction (AgentHasOverlap on the file), so a search that
// misses a concurrent booking only offers a slot the booking then refuses,
// as any search made a moment earlier would. What the index guarantees is
// freshness after commit: once Update has returned, every search begun
// afterwards sees its changes. Each write transaction that touches an
// agent's entries registers a commit handler (bbolt runs those after the
// commit is durable and visible to new read transactions) that bumps the
// agent's generation; a reader whose snapshot is of an older generation
// reloads the agent from a read transaction begun after reading the
// generation, so it sees at least every commit that bumped it. Rolled-back
// transactions (a failed function in a group commit) run no handler.
//
// Agents are loaded lazily, on their first search, and only from
// busyHorizon before the load: searches look ahead, and a window reaching
// further back reads the file.
type busyIndex struct {
	mu     sync.RWMutex
	agents map[string]*agentBusy
}

// busyHorizon is how far before now a loaded snapshot starts. Searches
// start at most a day or two before now (Next starts a day early to cover
// every zone); a week keeps them all in memory.
const busyHorizon = 7 * 24 * time.Hour

type agentBusy struct {
	gen  atomic.Uint64 // commits that changed the agent's entries
	snap atomic.Pointer[busySnap]
	load sync.Mutex // one load at a time per agent
}

// busySnap is an agent's entries as of generation gen.
type busySnap struct {
	gen   uint64
	from  int64 // entries ending after from are held (Unix nanoseconds)
	spans []busySpan
	// longest is the longest entry, so a lookup knows how far before its
	// window an overlapping entry may start.
	longest int64
}

// busySpan is one RDV's interval in Unix nanoseconds: 16 bytes an RDV.
type busySpan struct{ start, end int64 }

func newBusyIndex() *busyIndex { return &busyIndex{agents: map[string]*agentBusy{}} }

func (x *busyIndex) agent(id string) *agentBusy {
	x.mu.RLock()
	a := x.agents[id]
	x.mu.RUnlock()
	if a != nil {
		return a
	}
	x.mu.Lock()
	defer x.mu.Unlock()
	if a = x.agents[id]; a == nil {
		a = &agentBusy{}
		x.agents[id] = a
	}
	return a
}

// changed registers, on the write transaction, the invalidation of the
// agent's snapshot once the transaction commits.
func (tx *ReadTx) busyChanged(agentID string) {
	if x := tx.busyIdx; x != nil {
		tx.kv.OnCommit(func() { x.agent(agentID).gen.Add(1) })
	}
}

// snapshot returns the agent's entries, at least as fresh as the last
// commit made before the call.
func (x *busyIndex) snapshot(s *Store, agentID string) (*busySnap, error) {
	a := x.agent(agentID)
	g := a.gen.Load()
	if sn := a.snap.Load(); sn != nil && sn.gen >= g {
		return sn, nil
	}
	a.load.Lock()
	defer a.load.Unlock()
	g = a.gen.Load()
	if sn := a.snap.Load(); sn != nil && sn.gen >= g {
		return sn, nil // loaded meanwhile by another search
	}
	from := time.Now().Add(-busyHorizon)
	sn := &busySnap{gen: g, from: from.UnixNano()}
	// The read transaction begins after g was read: it sees every commit
	// whose handler raised the generation to g.
	err := s.View(context.Background(), func(tx *ReadTx) error {
		sn.spans = sn.spans[:0]
		tx.eachBusy(agentID, from, maxKeyTime, func(iv rdv.Interval, _ []byte) bool {
			sp := busySpan{iv.Start.UnixNano(), iv.End.UnixNano()}
			sn.spans = append(sn.spans, sp)
			sn.longest = max(sn.longest, sp.end-sp.start)
			return true
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sn.spans = sn.spans[:len(sn.spans):len(sn.spans)]
	a.snap.Store(sn)
	return sn, nil
}

// BusyReader reads the agents' busy times (active RDVs) as committed, from
// memory. It has the method set of slots.Busy. Slot searches outside a
// write transaction use it; a check that must hold when its writes commit
// reads the transaction (ReadTx.AgentHasOverlap, AppendAgentBusyExcept).
type BusyReader struct {
	s   *Store
	err error
}

// Busy returns a reader for one search.
func (s *Store) Busy() *BusyReader { return &BusyReader{s: s} }

// Err is the first error a read met (the file could not be read), nil
// otherwise. The intervals appended after an error may be missing some.
func (r *BusyReader) Err() error { return r.err }

// AppendAgentBusy appends to dst the intervals of the agent's active RDVs
// that overlap [from, to), sorted by start, in UTC, as
// ReadTx.AppendAgentBusy does.
func (r *BusyReader) AppendAgentBusy(dst []rdv.Interval, agentID string, from, to time.Time) []rdv.Interval {
	if r.err != nil || !from.Before(to) {
		return dst
	}
	spans, inMemory := r.lookup(agentID, from.UnixNano(), to.UnixNano())
	if !inMemory {
		return r.appendFromFile(dst, agentID, from, to)
	}
	lo := from.UnixNano()
	for _, sp := range spans {
		if sp.end > lo {
			dst = append(dst, rdv.Interval{Start: time.Unix(0, sp.start).UTC(), End: time.Unix(0, sp.end).UTC()})
		}
	}
	return dst
}

// AppendAgentBusyNanos is AppendAgentBusy with instants in Unix
// nanoseconds: it appends the start and the end of each interval
// overlapping [lo, hi) to dst. A slot search reads thousands of intervals;
// this spares it two time.Time conversions for each.
func (r *BusyReader) AppendAgentBusyNanos(dst []int64, agentID string, lo, hi int64) []int64 {
	if r.err != nil || lo >= hi {
		return dst
	}
	spans, inMemory := r.lookup(agentID, lo, hi)
	if !inMemory {
		for _, iv := range r.appendFromFile(nil, agentID, time.Unix(0, lo), time.Unix(0, hi)) {
			dst = append(dst, iv.Start.UnixNano(), iv.End.UnixNano())
		}
		return dst
	}
	for _, sp := range spans {
		if sp.end > lo {
			dst = append(dst, sp.start, sp.end)
		}
	}
	return dst
}

// lookup returns the agent's spans that may overlap [lo, hi): those
// starting before hi, from the first that may still be running at lo (the
// caller drops those ending by lo). False when the store must be read:
// other processes write it too (replicas: memory could not hear their
// commits), or the window reaches before what memory holds.
func (r *BusyReader) lookup(agentID string, lo, hi int64) ([]busySpan, bool) {
	if r.s.busy == nil {
		return nil, false
	}
	sn, err := r.s.busy.snapshot(r.s, agentID)
	if err != nil {
		r.err = err
		return nil, true
	}
	if lo <= sn.from {
		return nil, false
	}
	spans := sn.spans
	i := sort.Search(len(spans), func(i int) bool { return spans[i].start >= lo-sn.longest })
	j := i + sort.Search(len(spans)-i, func(j int) bool { return spans[i+j].start >= hi })
	return spans[i:j], true
}

// appendFromFile is AppendAgentBusy read from the store. It is a function
// of its own so that dst, captured by the transaction's closure, is moved
// to the heap only on this path: in AppendAgentBusy itself that cost an
// allocation per call, about one per plage occurrence of a search.
func (r *BusyReader) appendFromFile(dst []rdv.Interval, agentID string, from, to time.Time) []rdv.Interval {
	r.err = r.s.View(context.Background(), func(tx *ReadTx) error {
		dst = tx.AppendAgentBusy(dst, agentID, from, to)
		return nil
	})
	return dst
}
