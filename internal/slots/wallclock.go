package slots

import (
	"math"
	"time"

	"rdvsync/internal/rdv"
)

// maxShift bounds the size of a clock change: no zone in use moves its clock
// by more than this at once.
const maxShift = 3 * time.Hour

// span turns the wall-clock range [start, end) of day d in loc into
// instants. A plage (or an absence) runs from the first moment the clock
// shows its start to the last moment it shows its end, so on the night the
// clocks go back a plage 01:00–04:00 lasts four hours and offers the repeated
// hour twice (once at +02:00, once at +01:00 in Europe/Paris), and on the
// night they go forward a bound that the clock never shows becomes the
// moment of the jump: 01:00–04:00 lasts two hours and 02:00–02:30 is empty.
// time.Date alone would move a missing time an hour later and pick either
// of two repeated times.
func span(d rdv.Date, start, end rdv.TimeOfDay, loc *time.Location) rdv.Interval {
	return rdv.Interval{Start: wallClock(d, start, loc, false), End: wallClock(d, end, loc, true)}
}

// wallClock returns the earliest (last=false) or the latest (last=true)
// instant at which the clock of loc shows tod on day d, or the moment of the
// jump when it never does.
func wallClock(d rdv.Date, tod rdv.TimeOfDay, loc *time.Location, last bool) time.Time {
	t := d.At(tod, loc)
	zs, ze := t.ZoneBounds()
	if (zs.IsZero() || t.Sub(zs) >= maxShift) && (ze.IsZero() || ze.Sub(t) >= maxShift) {
		return t // no clock change nearby: the common case
	}
	y, m, day := d.YMD()
	wall := time.Date(y, m, day, 0, int(tod), 0, 0, time.UTC).Unix()
	_, before := t.Add(-maxShift).Zone()
	_, at := t.Zone()
	_, after := t.Add(maxShift).Zone()
	var best time.Time
	for _, off := range [...]int{before, at, after} {
		c := time.Unix(wall-int64(off), 0).In(loc)
		if _, o := c.Zone(); o != off {
			continue // the clock does not show tod while this offset is in force
		}
		if best.IsZero() || (last && c.After(best)) || (!last && c.Before(best)) {
			best = c
		}
	}
	if !best.IsZero() {
		return best
	}
	// In a spring-forward gap: read with the offset in force before the
	// jump, tod falls after it, in the zone period that the jump opens.
	jump, _ := time.Unix(wall-int64(min(before, after)), 0).In(loc).ZoneBounds()
	return jump
}

// zoneDays caches the local midnights of the days a search walks in one
// zone: for a day whose clock does not change within maxShift of it,
// wallClock(d, tod) is that midnight plus tod, an addition instead of a
// time.Date and a zone lookup for each plage occurrence.
type zoneDays struct {
	base rdv.Date
	// midnights[d-base] is day d's local midnight in Unix nanoseconds,
	// unknownDay before it is computed, irregularDay when the clock
	// changes near the day (wallClock decides).
	midnights []int64
}

const (
	unknownDay   = math.MinInt64
	irregularDay = math.MinInt64 + 1
	// maxCachedDays bounds a zone's table: a window (31 days) or Next's
	// horizon (about 190 days) fit.
	maxCachedDays = 400
)

// wallClock returns wallClock(d, tod, loc, last) in Unix nanoseconds; loc
// is the zone of the table.
func (z *zoneDays) wallClock(d rdv.Date, tod rdv.TimeOfDay, loc *time.Location, last bool) int64 {
	if tod >= 0 && tod <= 24*60 {
		if m := z.midnight(d, loc); m != irregularDay {
			return m + int64(tod)*int64(time.Minute)
		}
	}
	return wallClock(d, tod, loc, last).UnixNano()
}

func (z *zoneDays) midnight(d rdv.Date, loc *time.Location) int64 {
	i := int(d) - int(z.base)
	if len(z.midnights) == 0 || i < 0 {
		z.base, z.midnights, i = d, z.midnights[:0], 0
	}
	if i >= maxCachedDays {
		return regularMidnight(d, loc)
	}
	for len(z.midnights) <= i {
		z.midnights = append(z.midnights, unknownDay)
	}
	m := z.midnights[i]
	if m == unknownDay {
		m = regularMidnight(d, loc)
		z.midnights[i] = m
	}
	return m
}

// regularMidnight is day d's local midnight in Unix nanoseconds when no
// clock change falls within maxShift of the day (from midnight to the next,
// 24 h later), irregularDay otherwise. On such a day every time of day
// 00:00–24:00 is midnight plus that time, and wallClock takes its common
// path.
func regularMidnight(d rdv.Date, loc *time.Location) int64 {
	m := d.At(0, loc)
	zs, ze := m.ZoneBounds()
	if (zs.IsZero() || m.Sub(zs) >= maxShift) && (ze.IsZero() || ze.Sub(m) >= 24*time.Hour+maxShift) {
		return m.UnixNano()
	}
	return irregularDay
}

// zoneCache holds a search's zoneDays by zone. The catalogue loads each
// organisation's zone on its own, so 400 organisations in Europe/Paris are
// 400 *time.Location of the same name and rules: the table is shared by
// name (the tz database's name identifies the rules) and found by pointer.
type zoneCache struct {
	byLoc  map[*time.Location]*zoneDays
	byName map[string]*zoneDays
	locs   []*time.Location // the keys of byLoc, to delete them one by one
	free   []*zoneDays      // tables of earlier searches, reused
}

func (c *zoneCache) of(loc *time.Location) *zoneDays {
	if z := c.byLoc[loc]; z != nil {
		return z
	}
	if c.byLoc == nil {
		c.byLoc, c.byName = map[*time.Location]*zoneDays{}, map[string]*zoneDays{}
	}
	z := c.byName[loc.String()]
	if z == nil {
		if n := len(c.free); n > 0 {
			z, c.free = c.free[n-1], c.free[:n-1]
			z.midnights = z.midnights[:0]
		} else {
			z = &zoneDays{}
		}
		c.byName[loc.String()] = z
	}
	c.byLoc[loc] = z
	c.locs = append(c.locs, loc)
	return z
}

// reset forgets the zones: the next search may run on another catalogue.
// The entries are deleted one by one: clearing a map costs its capacity,
// which a large search grew, at every small search after it.
func (c *zoneCache) reset() {
	for _, loc := range c.locs {
		if z := c.byName[loc.String()]; z != nil {
			c.free = append(c.free, z)
			delete(c.byName, loc.String())
		}
		delete(c.byLoc, loc)
	}
	clear(c.locs) // they point to zones
	c.locs = c.locs[:0]
}
