package slots

import (
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
