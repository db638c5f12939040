package slots

import (
	"slices"

	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
)

// Opening is one occurrence of a plage d'ouverture.
type Opening struct {
	Plage *catalog.Plage
	rdv.Interval
}

// Openings returns the occurrences of agent a's plages d'ouverture on the
// days from..to (inclusive, in each plage's organisation zone) for which
// keep is true, holidays of the organisation's territory excepted, sorted
// by start. They are what the agenda shows, before absences and RDVs.
func Openings(cat *catalog.Catalog, a *catalog.Agent, from, to rdv.Date, keep func(*catalog.Plage) bool) []Opening {
	var out []Opening
	for _, p := range a.Plages {
		if !keep(p) {
			continue
		}
		for d := from; d <= to; d++ {
			if !p.Recurrence.Occurs(p.FirstDay, d) || cat.IsHoliday(p.Organisation.Territory, d) {
				continue
			}
			if iv := span(d, p.Start, p.End, p.Organisation.Location); iv.Start.Before(iv.End) {
				out = append(out, Opening{Plage: p, Interval: iv})
			}
		}
	}
	slices.SortFunc(out, func(x, y Opening) int { return x.Start.Compare(y.Start) })
	return out
}

// Absences returns the occurrences of agent a's absences that overlap the
// days from..to (in the zone of its first organisation, as its absences
// are written), each once, sorted by start.
func Absences(a *catalog.Agent, from, to rdv.Date) []rdv.Interval {
	loc := a.Organisations[0].Location
	var out []rdv.Interval
	for d := from; d <= to; d++ {
		day := span(d, 0, 24*60, loc)
		eachAbsence(a, d, loc, func(iv rdv.Interval) {
			if iv.Overlaps(day) {
				out = append(out, iv)
			}
		})
	}
	slices.SortFunc(out, func(x, y rdv.Interval) int {
		if c := x.Start.Compare(y.Start); c != 0 {
			return c
		}
		return x.End.Compare(y.End)
	})
	return slices.CompactFunc(out, func(x, y rdv.Interval) bool { return x.Start.Equal(y.Start) && x.End.Equal(y.End) })
}
