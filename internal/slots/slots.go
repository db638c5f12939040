// Package slots computes bookable créneaux: the occurrences of the
// plages d'ouverture that offer a motif, minus public holidays, the agent's
// absences and its busy intervals (booked RDVs, external calendar busy
// times), cut into back-to-back slots of the motif's duration from the start
// of each free range. Wall-clock rules are evaluated in the organisation's
// zone, so a 09:00 plage stays 09:00 across DST changes (see span for the
// night of the change itself). Everything here is pure: the caller passes
// "now" and the busy intervals.
package slots

import (
	"cmp"
	"math"
	"slices"
	"sync"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
	"rdvsync/internal/sector"
)

// MaxWindowDays is the longest date window a search may cover.
const MaxWindowDays = 31

// NextHorizon is how far "next availability" looks when no booking delay
// limits it.
const NextHorizon = 183 * 24 * time.Hour

// Busy supplies the intervals during which an agent is already taken.
type Busy interface {
	// AppendAgentBusy appends to dst the busy intervals of the agent that
	// overlap [from, to), sorted by start.
	AppendAgentBusy(dst []rdv.Interval, agentID string, from, to time.Time) []rdv.Interval
}

// NanoBusy is a Busy that can also append the intervals as Unix
// nanoseconds, what the search computes with: the start and the end of
// each interval overlapping [lo, hi), in any order (the search sorts them
// when needed). The store's in-memory busy times implement it.
type NanoBusy interface {
	Busy
	AppendAgentBusyNanos(dst []int64, agentID string, lo, hi int64) []int64
}

// Slot is one bookable start time. Start and End are in the organisation's
// zone. Agent is nil in public results.
type Slot struct {
	Start, End time.Time
	Motif      *catalog.Motif
	Lieu       *catalog.Lieu // nil when the motif is not received at a lieu
	Agent      *catalog.Agent
}

// Query describes a search. Either Motif is set, or Service and Territory
// ("élargir votre recherche": every motif of the service in the territory
// that is open to prescription).
type Query struct {
	Motif     *catalog.Motif
	Lieu      *catalog.Lieu // optional filter
	Service   *catalog.Service
	Territory *catalog.Territory

	// From and To are inclusive days, read in each organisation's zone.
	From, To rdv.Date
	Now      time.Time

	// Caller is the agent searching, or nil for an anonymous prescripteur
	// or usager. It decides which motifs may be booked.
	Caller *catalog.Agent
	// AgentView gives one slot per free agent, with the agent, and ignores
	// booking delays (agents are not bound by them).
	AgentView bool
	// Agent restricts the search to one agent.
	Agent *catalog.Agent
	// Address applies sectorisation when not empty.
	Address sector.Address

	Busy Busy
}

// MayBook reports whether caller (nil: anonymous) may book motif online:
// agents of its organisation always; agents of another organisation of the
// territory and anonymous prescripteurs when the motif is open to
// prescription. Whether an anonymous usager may book alone (everyone) is
// decided at booking time.
func MayBook(caller *catalog.Agent, m *catalog.Motif) bool {
	if caller != nil && caller.MemberOf(m.Organisation) {
		return true
	}
	if !m.BookableBy.OpenToPrescription() {
		return false
	}
	return caller == nil || caller.InTerritory(m.Organisation.Territory)
}

// Motifs returns the motifs a query covers, in configuration order.
func Motifs(cat *catalog.Catalog, q *Query) []*catalog.Motif {
	if q.Motif != nil {
		if MayBook(q.Caller, q.Motif) {
			return []*catalog.Motif{q.Motif}
		}
		return nil
	}
	if q.Territory == nil || q.Service == nil {
		return nil
	}
	open := openMotifs.of(cat, q.Territory, q.Service)
	out := make([]*catalog.Motif, 0, len(open))
	for _, m := range open {
		if MayBook(q.Caller, m) {
			out = append(out, m)
		}
	}
	return out
}

// openMotifs caches, for the latest catalogue searched, the motifs of
// each territory and service that are open to prescription, in
// configuration order: what "élargir" covers before the caller's rights.
// Finding them walks every motif of the territory, 12 000 in a national
// one, scattered in memory: that walk took a tenth of the search.
var openMotifs motifCache

type motifCache struct {
	mu  sync.Mutex
	cat *catalog.Catalog
	by  map[territoryService][]*catalog.Motif
}

type territoryService struct {
	t *catalog.Territory
	s *catalog.Service
}

func (c *motifCache) of(cat *catalog.Catalog, t *catalog.Territory, s *catalog.Service) []*catalog.Motif {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cat != cat {
		// A catalogue is never changed, only replaced (a reload): the
		// previous one's entries are dropped with it.
		c.cat, c.by = cat, map[territoryService][]*catalog.Motif{}
	}
	k := territoryService{t, s}
	ms, ok := c.by[k]
	if !ok {
		for _, o := range t.Organisations {
			for _, m := range o.Motifs {
				if m.Service == s && m.BookableBy.OpenToPrescription() {
					ms = append(ms, m)
				}
			}
		}
		c.by[k] = ms
	}
	return ms
}

// Search returns the slots of the query sorted by start, then motif, lieu
// and agent. Public results (no AgentView) hold one slot per (motif, lieu,
// start).
func Search(cat *catalog.Catalog, q Query) []Slot {
	s := newSearcher(cat, &q)
	defer s.release()
	s.collect(Motifs(cat, &q), q.From, q.To)
	return s.finish(q.AgentView)
}

// Next returns the first slot from now within NextHorizon (or the motif's
// max booking delay for non-agents), searching week by week. Like Search, a
// public result has no agent.
func Next(cat *catalog.Catalog, q Query) (Slot, bool) {
	motifs := Motifs(cat, &q)
	if len(motifs) == 0 {
		return Slot{}, false
	}
	s := newSearcher(cat, &q)
	defer s.release()
	horizon := q.Now.Add(NextHorizon)
	if !q.AgentView {
		latest := q.Now
		for _, m := range motifs {
			if t := q.Now.Add(m.MaxBookingDelay); t.After(latest) {
				latest = t
			}
		}
		horizon = latest
	}
	// Days are read in each organisation's zone; start a day early so no
	// zone's "today" is missed.
	from := rdv.DateOf(q.Now.UTC()).AddDays(-1)
	last := rdv.DateOf(horizon.UTC()).AddDays(1)
	for d := from; d <= last; d = d.AddDays(7) {
		to := min(d.AddDays(6), last)
		s.keys, s.refs = s.keys[:0], s.refs[:0]
		s.collect(motifs, d, to)
		if len(s.keys) == 0 {
			continue
		}
		// Windows are local days: an organisation further east may start a
		// later day before this one ends. Zones are less than two days
		// apart, so two more days settle which slot comes first.
		if to < last {
			s.collect(motifs, to.AddDays(1), min(to.AddDays(2), last))
		}
		best := s.slot(slices.MinFunc(s.keys, compareKeys), true)
		if best.Start.After(horizon) {
			break
		}
		if !q.AgentView {
			best.Agent = nil
		}
		return best, true
	}
	return Slot{}, false
}

// slotKey is a candidate slot as the search sorts it: its start and the
// ranks of its motif, lieu and agent (catalog ids in byte order, 0 for
// none), and where its motif and plage are in searcher.refs. Sorting these
// 24-byte keys, free of pointers, instead of Slot values is what keeps a
// territory-wide search cheap: the sort compares integers and moves no
// pointer the garbage collector must hear about.
type slotKey struct {
	start       int64 // Unix nanoseconds
	motifLieu   uint64
	agent, item uint32
}

// slotRef is what a key stands for.
type slotRef struct {
	// What a slot shows, copied here so that materialising tens of
	// thousands of slots reads this slice rather than chasing pointers
	// across the catalogue.
	motif    *catalog.Motif
	lieu     *catalog.Lieu
	agent    *catalog.Agent
	loc      *time.Location
	duration time.Duration
}

func compareKeys(a, b slotKey) int {
	if c := cmp.Compare(a.start, b.start); c != 0 {
		return c
	}
	if c := cmp.Compare(a.motifLieu, b.motifLieu); c != 0 {
		return c
	}
	return cmp.Compare(a.agent, b.agent)
}

// sameSlot reports whether two sorted keys are one result slot.
func sameSlot(a, b slotKey) bool {
	return a.start == b.start && a.motifLieu == b.motifLieu && a.agent == b.agent
}

// slot materialises a key; the agent is left out unless agentView.
func (s *searcher) slot(k slotKey, agentView bool) Slot {
	r := &s.refs[k.item]
	start := time.Unix(0, k.start).In(r.loc)
	sl := Slot{Start: start, End: start.Add(r.duration), Motif: r.motif, Lieu: r.lieu}
	if agentView {
		sl.Agent = r.agent
	}
	return sl
}

// finish sorts the candidates and removes duplicates: in the public view,
// the same start offered by several agents (or plages) is one slot.
func (s *searcher) finish(agentView bool) []Slot {
	if !agentView {
		for i := range s.keys {
			s.keys[i].agent = 0
		}
	}
	if len(s.keys) == 0 {
		return nil
	}
	if out, ok := s.finishPacked(agentView); ok {
		return out
	}
	s.sortKeys()
	s.keys = slices.CompactFunc(s.keys, sameSlot)
	out := make([]Slot, len(s.keys))
	for i, k := range s.keys {
		out[i] = s.slot(k, agentView)
	}
	return out
}

// sortKeys sorts s.keys as slices.SortFunc(s.keys, compareKeys) would,
// in about linear time: a counting pass distributes the keys into buckets
// of bucketWidth by start, and only each bucket, a handful of keys, is then
// compared. A month of a national territory's élargir is some 60 000
// keys; a comparison sort of those alone took longer than the search's
// target.
func (s *searcher) sortKeys() {
	const (
		bucketWidth = int64(5 * time.Minute)
		maxBuckets  = 1 << 16 // 227 days of 5 minutes: any window (31 days) and Next (9)
	)
	keys := s.keys
	if len(keys) < 256 {
		slices.SortFunc(keys, compareKeys)
		return
	}
	lo, hi := keys[0].start, keys[0].start
	for _, k := range keys {
		lo, hi = min(lo, k.start), max(hi, k.start)
	}
	n := (hi-lo)/bucketWidth + 1
	if n > maxBuckets {
		slices.SortFunc(keys, compareKeys)
		return
	}
	// ends[b+1] counts bucket b, then the prefix sums make ends[b] the
	// offset of bucket b; placing the keys moves it to the bucket's end.
	ends := slices.Grow(s.ends[:0], int(n)+1)[:n+1]
	clear(ends)
	for _, k := range keys {
		ends[(k.start-lo)/bucketWidth+1]++
	}
	for b := 1; b <= int(n); b++ {
		ends[b] += ends[b-1]
	}
	sorted := slices.Grow(s.spare[:0], len(keys))[:len(keys)]
	for _, k := range keys {
		b := (k.start - lo) / bucketWidth
		sorted[ends[b]] = k
		ends[b]++
	}
	start := int32(0)
	for _, end := range ends[:n] {
		switch bucket := sorted[start:end]; {
		case len(bucket) > 48:
			slices.SortFunc(bucket, compareKeys)
		case len(bucket) > 1:
			insertionSort(bucket)
		}
		start = end
	}
	s.keys, s.spare, s.ends = sorted, keys, ends
}

// insertionSort sorts a bucket's few keys, with the comparison inlined:
// they share the start's 5 minutes and mostly the start itself.
func insertionSort(keys []slotKey) {
	for i := 1; i < len(keys); i++ {
		k := keys[i]
		j := i
		for ; j > 0 && keyLess(k, keys[j-1]); j-- {
			keys[j] = keys[j-1]
		}
		keys[j] = k
	}
}

func keyLess(a, b slotKey) bool {
	if a.start != b.start {
		return a.start < b.start
	}
	if a.motifLieu != b.motifLieu {
		return a.motifLieu < b.motifLieu
	}
	return a.agent < b.agent
}

// nanoSpan is a half-open interval in Unix nanoseconds.
type nanoSpan struct{ start, end int64 }

// searcher carries one search: its sectorisation match, the plan of each
// motif it covers, and the candidate slots. Its buffers are reused from
// search to search (searchers).
type searcher struct {
	cat    *catalog.Catalog
	q      *Query
	sector sector.Match
	// now is q.Now; a range that has already begun starts at nowUp,
	// now rounded up to the next 5 minutes.
	now, nowUp int64
	// plans holds the motifs being searched; planOf[m.Rank] is the index
	// in plans of motif m, plus one (0: not searched).
	plans  []motifPlan
	planOf []int32
	// seen marks the plages already walked by collect.
	seen   map[*catalog.Plage]bool
	offers []plageOffer
	spans  []nanoSpan
	busy   []nanoSpan
	keys   []slotKey
	refs   []slotRef
	// spare and ends are sortKeys' buffers.
	spare []slotKey
	ends  []int32
	// packed, packedSpare and counts are the radix sort's buffers (radix.go).
	packed, packedSpare []packedKey
	counts              []int32
	// busyTimes holds the busy times of the agents walked (agentsBusy).
	busyTimes agentsBusy
	// zones holds each zone's local midnights (zoneDays).
	zones zoneCache
}

// motifPlan is one motif of the search: the days it may have slots on, and
// its cutter (booking delays).
type motifPlan struct {
	motif    *catalog.Motif
	from, to rdv.Date
	cut      cutter
}

// plageOffer is a searched motif of the plage being walked, and the item
// (refs index) of its slots there, -1 before the first.
type plageOffer struct {
	plan, item int32
}

var searchers = sync.Pool{New: func() any { return &searcher{seen: map[*catalog.Plage]bool{}} }}

func newSearcher(cat *catalog.Catalog, q *Query) *searcher {
	s := searchers.Get().(*searcher)
	s.cat, s.q, s.sector = cat, q, sector.Locate(cat, q.Address)
	s.now, s.nowUp = q.Now.UnixNano(), roundUp(q.Now, 5*time.Minute).UnixNano()
	return s
}

// release returns the searcher to the pool. Results never point into its
// buffers. Buffers grown by an exceptionally large search are dropped
// rather than kept for ever.
func (s *searcher) release() {
	const keep = 1 << 18
	if cap(s.keys) > keep || cap(s.spare) > keep || cap(s.packed) > keep || cap(s.packedSpare) > keep {
		return
	}
	s.cat, s.q, s.sector = nil, nil, sector.Match{}
	clear(s.plans)
	s.plans = s.plans[:0]
	clear(s.seen)
	s.spans, s.busy = s.spans[:0], s.busy[:0]
	s.busyTimes.reset()
	s.zones.reset()
	s.keys = s.keys[:0]
	clear(s.refs)
	s.refs = s.refs[:0]
	searchers.Put(s)
}

// collect appends the candidate slots of motifs on days from..to. It walks
// each plage once, however many of the motifs it offers ("élargir" covers
// a service's motifs, most plages offer several): its occurrences and free
// ranges are computed once and cut for each motif.
func (s *searcher) collect(motifs []*catalog.Motif, from, to rdv.Date) {
	s.plans = s.plans[:0]
	if n := len(s.cat.Motifs) + 1; cap(s.planOf) < n {
		s.planOf = make([]int32, n)
	} else {
		s.planOf = s.planOf[:n]
		clear(s.planOf)
	}
	for _, m := range motifs {
		if p, ok := s.plan(m, from, to); ok {
			s.plans = append(s.plans, p)
			s.planOf[m.Rank] = int32(len(s.plans))
		}
	}
	s.busyTimes.setWindow(from, to)
	clear(s.seen)
	for _, m := range motifs {
		if s.planOf[m.Rank] == 0 {
			continue
		}
		for _, p := range m.Plages {
			if !s.seen[p] {
				s.seen[p] = true
				s.plage(p)
			}
		}
	}
}

// plan prepares motif m for days from..to; false when it can have no slot
// (sectorisation, booking delays).
func (s *searcher) plan(m *catalog.Motif, from, to rdv.Date) (motifPlan, bool) {
	q := s.q
	if !s.sector.AllowsMotif(m) {
		return motifPlan{}, false
	}
	earliest, latest := q.Now, time.Time{}
	if !q.AgentView {
		earliest, latest = q.Now.Add(m.MinBookingDelay), q.Now.Add(m.MaxBookingDelay)
	}
	loc := m.Organisation.Location
	// Skip days that cannot hold a slot, before expanding recurrences.
	if d := rdv.DateOf(earliest.In(loc)); d > from {
		from = d
	}
	latestNanos := int64(math.MaxInt64)
	if !latest.IsZero() {
		if d := rdv.DateOf(latest.In(loc)); d < to {
			to = d
		}
		latestNanos = latest.UnixNano()
	}
	return motifPlan{motif: m, from: from, to: to, cut: cutter{now: s.now, nowUp: s.nowUp, earliest: earliest.UnixNano(),
		latest: latestNanos, dur: int64(m.Duration), motifLieu: uint64(uint32(m.Rank)) << 32}}, from <= to
}

// plage appends the candidate slots of plage p for every searched motif it
// offers.
func (s *searcher) plage(p *catalog.Plage) {
	q := s.q
	if (q.Lieu != nil && p.Lieu != q.Lieu) || (q.Agent != nil && p.Agent != q.Agent) {
		return
	}
	offers := s.offers[:0]
	var from, to rdv.Date
	for _, m := range p.Motifs {
		i := s.planOf[m.Rank]
		if i == 0 || !s.sector.AllowsAgent(m, p.Agent) {
			continue
		}
		pl := &s.plans[i-1]
		if len(offers) == 0 || pl.from < from {
			from = pl.from
		}
		if len(offers) == 0 || pl.to > to {
			to = pl.to
		}
		offers = append(offers, plageOffer{plan: i - 1, item: -1})
	}
	s.offers = offers
	if len(offers) == 0 {
		return
	}
	lieu, agent := uint64(lieuRank(p.Lieu)), uint32(p.Agent.Rank)
	days := s.zones.of(p.Organisation.Location)
	var busy *agentBusy // read at the first occurrence that needs it
	rec := p.Recurrence
	for d := from; d <= to; d++ {
		// Most days are not among the plage's weekdays: they are passed
		// over here, without a call.
		if (rec != nil && !rec.On[d.Weekday()]) || !rec.Occurs(p.FirstDay, d) {
			continue
		}
		free := s.freeRanges(p, d, days, &busy)
		if len(free) == 0 {
			continue
		}
		for k := range offers {
			o := &offers[k]
			pl := &s.plans[o.plan]
			if d < pl.from || d > pl.to {
				continue
			}
			c := pl.cut
			c.motifLieu |= lieu
			c.agent = agent
			item := o.item
			if item < 0 {
				item = int32(len(s.refs)) // recorded below once a slot refers to it
			}
			n := len(s.keys)
			for _, r := range free {
				s.keys = c.cut(s.keys, r, uint32(item))
			}
			if o.item < 0 && len(s.keys) > n {
				o.item = item
				s.refs = append(s.refs, slotRef{motif: pl.motif, lieu: p.Lieu, agent: p.Agent,
					loc: p.Organisation.Location, duration: pl.motif.Duration})
			}
		}
	}
}

func lieuRank(l *catalog.Lieu) uint32 {
	if l == nil {
		return 0
	}
	return uint32(l.Rank)
}

// cutter cuts the free ranges of one plage into the slots of one motif.
type cutter struct {
	now, nowUp, earliest, latest, dur int64
	motifLieu                         uint64
	agent                             uint32
}

// cut appends the back-to-back slots in the free range r. A range that
// starts before now starts at now rounded up to the next 5 minutes. Slots
// before earliest are skipped, those after latest cut off.
func (c *cutter) cut(out []slotKey, r nanoSpan, item uint32) []slotKey {
	start := r.start
	if start < c.now {
		start = c.nowUp
	}
	if start < c.earliest {
		// Jump to the first slot at or after earliest on this range's grid.
		start += (c.earliest - start + c.dur - 1) / c.dur * c.dur
	}
	for t := start; t+c.dur <= r.end && t <= c.latest; t += c.dur {
		out = append(out, slotKey{start: t, motifLieu: c.motifLieu, agent: c.agent, item: item})
	}
	return out
}

func roundUp(t time.Time, step time.Duration) time.Time {
	r := t.Truncate(step)
	if r.Before(t) {
		r = r.Add(step)
	}
	return r
}

// freeRanges returns the parts of plage p on day d during which its agent
// is neither absent nor busy; none on a holiday. days is the plage's zone,
// busy the agent's busy times, read here the first time they are needed.
// The result is valid until the next call.
func (s *searcher) freeRanges(p *catalog.Plage, d rdv.Date, days *zoneDays, busy **agentBusy) []nanoSpan {
	s.spans = s.spans[:0]
	loc := p.Organisation.Location
	lo, hi := days.wallClock(d, p.Start, loc, false), days.wallClock(d, p.End, loc, true)
	if lo >= hi || s.cat.IsHoliday(p.Organisation.Territory, d) {
		return s.spans
	}
	taken := appendAbsences(s.busy[:0], p.Agent, d, loc, lo, hi)
	sorted := len(taken) == 0
	switch b := s.q.Busy.(type) {
	case nil:
	case NanoBusy:
		// Busy times in memory: read the agent's whole window once.
		if *busy == nil {
			*busy = s.busyTimes.of(b, p.Agent)
		}
		taken = (*busy).appendOverlapping(taken, lo, hi)
	default:
		// Another source, such as a write transaction checking a
		// booking: read this occurrence only, as narrow a read as the
		// check needs (a serialisable database conflicts on what a
		// transaction read).
		s.busyTimes.ivs = b.AppendAgentBusy(s.busyTimes.ivs[:0], p.Agent.ID, time.Unix(0, lo), time.Unix(0, hi))
		for _, iv := range s.busyTimes.ivs {
			taken = append(taken, nanoSpan{iv.Start.UnixNano(), iv.End.UnixNano()})
		}
		sorted = false
	}
	if !sorted {
		// Absences and busy times from several sources come in any order.
		slices.SortFunc(taken, compareSpans)
	}
	s.spans = subtract(s.spans, lo, hi, taken)
	s.busy = taken
	return s.spans
}

// appendAbsences appends the absences of agent that overlap [lo, hi).
func appendAbsences(dst []nanoSpan, agent *catalog.Agent, d rdv.Date, loc *time.Location, lo, hi int64) []nanoSpan {
	eachAbsence(agent, d, loc, func(iv rdv.Interval) {
		if sp := (nanoSpan{iv.Start.UnixNano(), iv.End.UnixNano()}); sp.start < hi && lo < sp.end {
			dst = append(dst, sp)
		}
	})
	return dst
}

// eachAbsence calls fn with each occurrence of agent's absences that may
// cover part of day d. An absence occurrence starting on day x spans from
// x at its start time to x+Days at its end time.
func eachAbsence(agent *catalog.Agent, d rdv.Date, loc *time.Location, fn func(rdv.Interval)) {
	for _, a := range agent.Absences {
		for k := 0; k <= a.Days; k++ {
			x := d.AddDays(-k)
			if a.Recurrence.Occurs(a.FirstDay, x) {
				fn(rdv.Interval{Start: wallClock(x, a.Start, loc, false), End: wallClock(x.AddDays(a.Days), a.End, loc, true)})
			}
		}
	}
}

// subtract appends to dst [lo, hi) minus the union of busy, sorted by
// start.
func subtract(dst []nanoSpan, lo, hi int64, busy []nanoSpan) []nanoSpan {
	cur := lo
	for _, b := range busy {
		if b.end <= cur {
			continue
		}
		if end := min(b.start, hi); end > cur {
			dst = append(dst, nanoSpan{cur, end})
		}
		cur = b.end
		if cur >= hi {
			return dst
		}
	}
	return append(dst, nanoSpan{cur, hi})
}

// agentsBusy holds the busy times of the agents a search walks, over the
// whole search (window), each agent's read with one NanoBusy call when one
// of its plages first needs them, instead of one call per plage
// occurrence: a national "élargir" walks some 10 000 occurrences of 800
// agents' plages.
type agentsBusy struct {
	// window is [lo, hi) in Unix nanoseconds: every occurrence the search
	// may walk lies within it.
	lo, hi int64
	// byRank[a.Rank] is the index in read of agent a's busy times, plus
	// one (0: not read). Slices, not maps: a small search after a large
	// one must not pay to clear the large one's entries.
	byRank []int32
	read   []agentBusy
	ivs    []rdv.Interval
	nanos  []int64
}

// agentBusy is one agent's busy times.
type agentBusy struct {
	rank  int32
	spans []nanoSpan // sorted by start
	// longest is the longest span, so a lookup knows how far before its
	// range an overlapping span may start.
	longest int64
}

// setWindow forgets the agents read and sets the window of the next
// reads: the days from..to in any zone (zones are less than a day from
// UTC).
func (b *agentsBusy) setWindow(from, to rdv.Date) {
	b.reset()
	b.lo = from.AddDays(-1).At(0, time.UTC).UnixNano()
	b.hi = to.AddDays(2).At(0, time.UTC).UnixNano()
}

// of returns agent a's busy times in the window, read from busy the first
// time.
func (b *agentsBusy) of(busy NanoBusy, a *catalog.Agent) *agentBusy {
	if int(a.Rank) >= len(b.byRank) {
		b.byRank = slices.Grow(b.byRank, int(a.Rank)+1-len(b.byRank))[:a.Rank+1]
	}
	if i := b.byRank[a.Rank]; i > 0 {
		return &b.read[i-1]
	}
	if len(b.read) < cap(b.read) {
		b.read = b.read[:len(b.read)+1] // reuses the spans of an earlier search
	} else {
		b.read = append(b.read, agentBusy{})
	}
	b.byRank[a.Rank] = int32(len(b.read))
	x := &b.read[len(b.read)-1]
	x.rank = a.Rank
	b.nanos = busy.AppendAgentBusyNanos(b.nanos[:0], a.ID, b.lo, b.hi)
	x.spans, x.longest = x.spans[:0], 0
	for i := 0; i+1 < len(b.nanos); i += 2 {
		sp := nanoSpan{b.nanos[i], b.nanos[i+1]}
		x.spans = append(x.spans, sp)
		x.longest = max(x.longest, sp.end-sp.start)
	}
	// Each source sorts its own; booked RDVs and external busy times come
	// one after the other.
	if !slices.IsSortedFunc(x.spans, compareSpans) {
		slices.SortFunc(x.spans, compareSpans)
	}
	return x
}

func compareSpans(a, b nanoSpan) int { return cmp.Compare(a.start, b.start) }

// appendOverlapping appends the spans that overlap [lo, hi), sorted by
// start.
func (x *agentBusy) appendOverlapping(dst []nanoSpan, lo, hi int64) []nanoSpan {
	spans := x.spans
	i, _ := slices.BinarySearchFunc(spans, lo-x.longest, func(sp nanoSpan, t int64) int { return cmp.Compare(sp.start, t) })
	for ; i < len(spans) && spans[i].start < hi; i++ {
		if spans[i].end > lo {
			dst = append(dst, spans[i])
		}
	}
	return dst
}

func (b *agentsBusy) reset() {
	for _, x := range b.read {
		b.byRank[x.rank] = 0
	}
	b.read = b.read[:0]
	clear(b.ivs) // they point to zones
	b.ivs = b.ivs[:0]
}
