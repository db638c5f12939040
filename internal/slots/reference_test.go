package slots_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
	"rdvsync/internal/sector"
	"rdvsync/internal/slots"
)

// referenceSearch is slots.Search written the straightforward way: motif
// by motif, plage by plage, day by day, busy times read for each
// occurrence, slots built as values, then sorted by start, motif, lieu and
// agent ids and deduplicated. It is what the engine's shortcuts (plages
// walked once for all their motifs, busy times read once per plage, local
// midnights cached per zone, packed keys radix-sorted) must reproduce.
func referenceSearch(cat *catalog.Catalog, q slots.Query) []slots.Slot {
	match := sector.Locate(cat, q.Address)
	var out []slots.Slot
	for _, m := range slots.Motifs(cat, &q) {
		if !match.AllowsMotif(m) {
			continue
		}
		earliest, latest := q.Now, time.Time{}
		if !q.AgentView {
			earliest, latest = q.Now.Add(m.MinBookingDelay), q.Now.Add(m.MaxBookingDelay)
		}
		for _, p := range m.Plages {
			if (q.Lieu != nil && p.Lieu != q.Lieu) || (q.Agent != nil && p.Agent != q.Agent) || !match.AllowsAgent(m, p.Agent) {
				continue
			}
			loc := p.Organisation.Location
			for d := q.From; d <= q.To; d++ {
				if !p.Recurrence.Occurs(p.FirstDay, d) || cat.IsHoliday(p.Organisation.Territory, d) {
					continue
				}
				open := rdv.Interval{Start: slots.WallClock(d, p.Start, loc, false), End: slots.WallClock(d, p.End, loc, true)}
				if !open.Start.Before(open.End) {
					continue
				}
				var busy []rdv.Interval
				for _, a := range slots.Absences(p.Agent, d.AddDays(-1), d.AddDays(1)) {
					if a.Overlaps(open) {
						busy = append(busy, a)
					}
				}
				if q.Busy != nil {
					busy = q.Busy.AppendAgentBusy(busy, p.Agent.ID, open.Start, open.End)
				}
				for _, free := range referenceFree(open, busy) {
					start := free.Start
					if start.Before(q.Now) {
						start = q.Now.Truncate(5 * time.Minute)
						if start.Before(q.Now) {
							start = start.Add(5 * time.Minute)
						}
					}
					for t := start; !t.Add(m.Duration).After(free.End); t = t.Add(m.Duration) {
						if t.Before(earliest) {
							continue
						}
						if !latest.IsZero() && t.After(latest) {
							break
						}
						s := slots.Slot{Start: t.In(loc), End: t.Add(m.Duration).In(loc), Motif: m, Lieu: p.Lieu}
						if q.AgentView {
							s.Agent = p.Agent
						}
						out = append(out, s)
					}
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b slots.Slot) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		if c := strings.Compare(a.Motif.ID, b.Motif.ID); c != 0 {
			return c
		}
		if c := strings.Compare(lieuID(a.Lieu), lieuID(b.Lieu)); c != 0 {
			return c
		}
		return strings.Compare(agentID(a.Agent), agentID(b.Agent))
	})
	return slices.CompactFunc(out, func(a, b slots.Slot) bool {
		return a.Start.Equal(b.Start) && a.Motif == b.Motif && a.Lieu == b.Lieu && a.Agent == b.Agent
	})
}

// referenceFree is open minus the union of busy.
func referenceFree(open rdv.Interval, busy []rdv.Interval) []rdv.Interval {
	slices.SortFunc(busy, func(a, b rdv.Interval) int { return a.Start.Compare(b.Start) })
	var free []rdv.Interval
	cur := open.Start
	for _, b := range busy {
		if b.Start.After(cur) {
			free = append(free, rdv.Interval{Start: cur, End: minTime(b.Start, open.End)})
		}
		if b.End.After(cur) {
			cur = b.End
		}
	}
	if cur.Before(open.End) {
		free = append(free, rdv.Interval{Start: cur, End: open.End})
	}
	return slices.DeleteFunc(free, func(iv rdv.Interval) bool { return !iv.Start.Before(iv.End) })
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// lieuID and agentID order "none" first, as ranks 0 do.
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

// splitBusy serves an agent's RDVs from two sources, one after the other,
// as the daemon joins booked RDVs and external calendar busy times: the
// intervals it appends are not sorted as a whole.
type splitBusy struct{ a, b *slots.MemBusy }

func (s splitBusy) AppendAgentBusy(dst []rdv.Interval, agentID string, from, to time.Time) []rdv.Interval {
	return s.b.AppendAgentBusy(s.a.AppendAgentBusy(dst, agentID, from, to), agentID, from, to)
}

// nanoBusy is splitBusy through slots.NanoBusy, as the daemon's store
// serves busy times.
type nanoBusy struct{ splitBusy }

func (n nanoBusy) AppendAgentBusyNanos(dst []int64, agentID string, lo, hi int64) []int64 {
	for _, iv := range n.AppendAgentBusy(nil, agentID, time.Unix(0, lo), time.Unix(0, hi)) {
		dst = append(dst, iv.Start.UnixNano(), iv.End.UnixNano())
	}
	return dst
}

// The engine's élargir, motif and agent searches give exactly what the
// straightforward computation gives, slot for slot (times, zones, motif,
// lieu, agent), on the generated département with its 100 000 RDVs as busy
// times (split over two sources), over windows of 1 to 31 days, one across
// the spring clock change, public and agent view, with lieu, agent and
// address filters.
func TestSearchMatchesReference(t *testing.T) {
	d := benchDataset()
	cat := d.Catalog
	split := splitBusy{slots.NewMemBusy(), slots.NewMemBusy()}
	for i, r := range d.RDVs {
		half := split.a
		if i%2 == 1 {
			half = split.b
		}
		half.Add(r.AgentID, rdv.Interval{Start: r.Start, End: r.End})
	}
	split.a.Sort()
	split.b.Sort()
	caller := cat.Organisations[0].Agents[0]
	var address sector.Address
	for _, s := range cat.Sectors {
		if len(s.Zones) > 0 && s.Zones[0].CityCode != "" {
			address.CityCode = s.Zones[0].CityCode
			break
		}
	}
	if address.CityCode == "" {
		t.Fatal("the dataset has no sector zone with a city code")
	}
	start := d.Params.Start
	spring := rdv.NewDate(2027, time.March, 22) // the clocks go forward on the 28th
	busiest := busiestPublicMotif(cat)
	type window struct {
		from   rdv.Date
		days   int
		nowMin rdv.TimeOfDay // "now" on the first day, minutes
	}
	windows := []window{{start, 1, 8*60 + 7}, {start, 7, 8 * 60}, {start, 28, 8 * 60}, {spring, 14, 10*60 + 31}, {start.AddDays(40), 31, 14 * 60}}
	total := 0
	for _, w := range windows {
		now := w.from.At(w.nowMin, cat.Organisations[0].Location)
		base := slots.Query{From: w.from, To: w.from.AddDays(w.days - 1), Now: now, Busy: split}
		queries := map[string]slots.Query{}
		for _, s := range cat.Services {
			q := base
			q.Service, q.Territory = s, cat.Organisations[0].Territory
			queries["élargir "+s.ID+" public"] = q
			q.Caller, q.AgentView = caller, true
			queries["élargir "+s.ID+" agent"] = q
		}
		q := base
		q.Service, q.Territory, q.Address = caller.Services[0], cat.Organisations[0].Territory, address
		queries["élargir with an address"] = q
		q = base
		q.Motif, q.Lieu = busiest, busiest.Lieux[0]
		queries["motif and lieu"] = q
		q.Lieu, q.Agent, q.Caller, q.AgentView = nil, busiest.Plages[0].Agent, caller, true
		queries["motif and agent"] = q
		for name, q := range queries {
			want := referenceSearch(cat, q)
			total += len(want)
			for _, b := range []slots.Busy{split, nanoBusy{split}} {
				q.Busy = b
				if diff := firstDifference(slots.Search(cat, q), want); diff != "" {
					t.Errorf("%s (busy %T), %s + %d days: reference %d slots; %s", name, b, w.from, w.days, len(want), diff)
				}
			}
		}
	}
	if total < 100_000 {
		t.Errorf("only %d slots compared: the test checks too little", total)
	}
}

func firstDifference(got, want []slots.Slot) string {
	for i := range min(len(got), len(want)) {
		g, w := got[i], want[i]
		if !g.Start.Equal(w.Start) || !g.End.Equal(w.End) || g.Start.Location() != w.Start.Location() ||
			g.End.Location() != w.End.Location() || g.Motif != w.Motif || g.Lieu != w.Lieu || g.Agent != w.Agent {
			return fmt.Sprintf("slot %d: got %s, want %s", i, describeSlot(g), describeSlot(w))
		}
	}
	if len(got) != len(want) {
		return fmt.Sprintf("got %d slots, the first %d as the reference", len(got), min(len(got), len(want)))
	}
	return ""
}
