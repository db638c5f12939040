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
	"slices"
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
	var out []*catalog.Motif
	if q.Territory == nil || q.Service == nil {
		return nil
	}
	for _, o := range q.Territory.Organisations {
		for _, m := range o.Motifs {
			if m.Service == q.Service && m.BookableBy.OpenToPrescription() && MayBook(q.Caller, m) {
				out = append(out, m)
			}
		}
	}
	return out
}

// Search returns the slots of the query sorted by start, then motif, lieu
// and agent. Public results (no AgentView) hold one slot per (motif, lieu,
// start).
func Search(cat *catalog.Catalog, q Query) []Slot {
	s := newSearcher(cat, &q)
	var out []Slot
	for _, m := range Motifs(cat, &q) {
		out = s.motif(out, m, q.From, q.To)
	}
	return finish(out, q.AgentView)
}

// Next returns the first slot from now within NextHorizon (or the motif's
// max booking delay for non-agents), searching week by week. Like Search, a
// public result has no agent.
func Next(cat *catalog.Catalog, q Query) (Slot, bool) {
	s := newSearcher(cat, &q)
	motifs := Motifs(cat, &q)
	if len(motifs) == 0 {
		return Slot{}, false
	}
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
	var buf []Slot
	for d := from; d <= last; d = d.AddDays(7) {
		to := min(d.AddDays(6), last)
		buf = buf[:0]
		for _, m := range motifs {
			buf = s.motif(buf, m, d, to)
		}
		if len(buf) == 0 {
			continue
		}
		// Windows are local days: an organisation further east may start a
		// later day before this one ends. Zones are less than two days
		// apart, so two more days settle which slot comes first.
		if to < last {
			for _, m := range motifs {
				buf = s.motif(buf, m, to.AddDays(1), min(to.AddDays(2), last))
			}
		}
		best := slices.MinFunc(buf, compareSlots)
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

func compareSlots(a, b Slot) int {
	if c := a.Start.Compare(b.Start); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Motif.ID, b.Motif.ID); c != 0 {
		return c
	}
	if c := cmp.Compare(lieuID(a.Lieu), lieuID(b.Lieu)); c != 0 {
		return c
	}
	return cmp.Compare(agentID(a.Agent), agentID(b.Agent))
}

func lieuID(l *catalog.Lieu) string {
	if l == nil {
		return ""
	}
	return l.ID
}

func agentID(a *catalog.Agent) string {
	if a == nil {
		return ""
	}
	return a.ID
}

// finish sorts and removes duplicates: in the public view, the same start
// offered by several agents (or plages) is one slot.
func finish(out []Slot, agentView bool) []Slot {
	if !agentView {
		for i := range out {
			out[i].Agent = nil
		}
	}
	slices.SortFunc(out, compareSlots)
	return slices.CompactFunc(out, func(a, b Slot) bool { return compareSlots(a, b) == 0 })
}

// occurrence identifies one day of one plage.
type occurrence struct {
	plage *catalog.Plage
	day   rdv.Date
}

// searcher carries what one search computes once: the sectorisation match
// and the free ranges of each plage occurrence, shared by every motif the
// plage offers.
type searcher struct {
	cat    *catalog.Catalog
	q      *Query
	sector sector.Match
	free   map[occurrence][]rdv.Interval
	busy   []rdv.Interval
}

func newSearcher(cat *catalog.Catalog, q *Query) *searcher {
	return &searcher{cat: cat, q: q, sector: sector.Locate(cat, q.Address), free: map[occurrence][]rdv.Interval{}}
}

func (s *searcher) motif(out []Slot, m *catalog.Motif, from, to rdv.Date) []Slot {
	q := s.q
	if !s.sector.AllowsMotif(m) {
		return out
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
	if !latest.IsZero() {
		if d := rdv.DateOf(latest.In(loc)); d < to {
			to = d
		}
	}
	for _, p := range m.Plages {
		if (q.Lieu != nil && p.Lieu != q.Lieu) || (q.Agent != nil && p.Agent != q.Agent) {
			continue
		}
		if !s.sector.AllowsAgent(m, p.Agent) {
			continue
		}
		for d := from; d <= to; d++ {
			if !p.Recurrence.Occurs(p.FirstDay, d) {
				continue
			}
			for _, r := range s.freeRanges(p, d) {
				out = cut(out, r, m, p, q.Now, earliest, latest)
			}
		}
	}
	return out
}

// cut appends the back-to-back slots of m in the free range r. A range that
// starts before now starts at now rounded up to the next 5 minutes. Slots
// are in the organisation's zone whatever zone now and the busy intervals
// (which may end a range) are given in.
func cut(out []Slot, r rdv.Interval, m *catalog.Motif, p *catalog.Plage, now, earliest, latest time.Time) []Slot {
	start := r.Start
	if start.Before(now) {
		start = roundUp(now, 5*time.Minute)
	}
	start = start.In(p.Organisation.Location)
	for t := start; !t.Add(m.Duration).After(r.End); t = t.Add(m.Duration) {
		if t.Before(earliest) {
			continue
		}
		if !latest.IsZero() && t.After(latest) {
			break
		}
		out = append(out, Slot{Start: t, End: t.Add(m.Duration), Motif: m, Lieu: p.Lieu, Agent: p.Agent})
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
// is neither absent nor busy; none on a holiday.
func (s *searcher) freeRanges(p *catalog.Plage, d rdv.Date) []rdv.Interval {
	key := occurrence{p, d}
	if r, ok := s.free[key]; ok {
		return r
	}
	var free []rdv.Interval
	loc := p.Organisation.Location
	open := span(d, p.Start, p.End, loc)
	if open.Start.Before(open.End) && !s.cat.IsHoliday(p.Organisation.Territory, d) {
		busy := s.busy[:0]
		busy = appendAbsences(busy, p.Agent, d, loc, open)
		if s.q.Busy != nil {
			busy = s.q.Busy.AppendAgentBusy(busy, p.Agent.ID, open.Start, open.End)
		}
		free = subtract(open, busy)
		s.busy = busy
	}
	s.free[key] = free
	return free
}

// appendAbsences appends the absences of agent that overlap open. An
// absence occurrence starting on day x spans from x at its start time to
// x+Days at its end time.
func appendAbsences(dst []rdv.Interval, agent *catalog.Agent, d rdv.Date, loc *time.Location, open rdv.Interval) []rdv.Interval {
	for _, a := range agent.Absences {
		for k := 0; k <= a.Days; k++ {
			x := d.AddDays(-k)
			if !a.Recurrence.Occurs(a.FirstDay, x) {
				continue
			}
			iv := rdv.Interval{Start: wallClock(x, a.Start, loc, false), End: wallClock(x.AddDays(a.Days), a.End, loc, true)}
			if iv.Overlaps(open) {
				dst = append(dst, iv)
			}
		}
	}
	return dst
}

// subtract returns open minus the union of busy (in any order).
func subtract(open rdv.Interval, busy []rdv.Interval) []rdv.Interval {
	if len(busy) == 0 {
		return []rdv.Interval{open}
	}
	slices.SortFunc(busy, func(a, b rdv.Interval) int { return a.Start.Compare(b.Start) })
	var free []rdv.Interval
	cur := open.Start
	for _, b := range busy {
		if !b.End.After(cur) {
			continue
		}
		if b.Start.After(cur) {
			end := b.Start
			if end.After(open.End) {
				end = open.End
			}
			if end.After(cur) {
				free = append(free, rdv.Interval{Start: cur, End: end})
			}
		}
		if b.End.After(cur) {
			cur = b.End
		}
		if !cur.Before(open.End) {
			return free
		}
	}
	return append(free, rdv.Interval{Start: cur, End: open.End})
}
