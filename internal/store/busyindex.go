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
	if r.s.busy == nil {
		// Other processes write the store too (replicas): memory could
		// not hear their commits, the database is read.
		r.err = r.s.View(context.Background(), func(tx *ReadTx) error {
			dst = tx.AppendAgentBusy(dst, agentID, from, to)
			return nil
		})
		return dst
	}
	sn, err := r.s.busy.snapshot(r.s, agentID)
	if err != nil {
		r.err = err
		return dst
	}
	lo, hi := from.UnixNano(), to.UnixNano()
	if lo <= sn.from {
		// The window reaches before what memory holds: read the file.
		r.err = r.s.View(context.Background(), func(tx *ReadTx) error {
			dst = tx.AppendAgentBusy(dst, agentID, from, to)
			return nil
		})
		return dst
	}
	spans := sn.spans
	i := sort.Search(len(spans), func(i int) bool { return spans[i].start >= lo-sn.longest })
	for ; i < len(spans) && spans[i].start < hi; i++ {
		if spans[i].end > lo {
			dst = append(dst, rdv.Interval{Start: time.Unix(0, spans[i].start).UTC(), End: time.Unix(0, spans[i].end).UTC()})
		}
	}
	return dst
}
