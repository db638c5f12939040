package catalog

import "rdvsync/internal/rdv"

// firstMonday is 1970-01-05, the first Monday of the Date epoch: weeks are
// counted Monday to Sunday, as French calendars do.
const firstMonday rdv.Date = 4

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// Occurs reports whether a rule starting on first (a nil rule: that day
// only) has an occurrence on day d.
func (r *Recurrence) Occurs(first, d rdv.Date) bool {
	if d < first {
		return false
	}
	if r == nil {
		return d == first
	}
	if r.HasUntil && d > r.Until {
		return false
	}
	if !r.On[d.Weekday()] {
		return false
	}
	if !r.Monthly {
		weeks := floorDiv(int(d-firstMonday), 7) - floorDiv(int(first-firstMonday), 7)
		return weeks%r.Interval == 0
	}
	fy, fm, _ := first.YMD()
	y, m, day := d.YMD()
	if months := (y-fy)*12 + int(m-fm); months%r.Interval != 0 {
		return false
	}
	if r.WeekOfMonth == -1 {
		_, nextM, _ := d.AddDays(7).YMD()
		return nextM != m
	}
	return (day-1)/7+1 == r.WeekOfMonth
}
