package rdv

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Date is a calendar day with no zone, counted in days since 1970-01-01.
// Plages, absences and holidays are wall-clock rules: they name days, not
// instants, and are turned into instants only in an organisation's zone.
type Date int32

// NewDate returns the Date of year y, month m, day d (normalised like time.Date).
func NewDate(y int, m time.Month, d int) Date {
	return Date(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// DateOf returns the calendar day of t in its own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return NewDate(y, m, d)
}

// ParseDate parses YYYY-MM-DD.
func ParseDate(s string) (Date, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, fmt.Errorf("%q is not a date (use YYYY-MM-DD)", s)
	}
	return DateOf(t), nil
}

func (d Date) utc() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// YMD returns the year, month and day.
func (d Date) YMD() (int, time.Month, int) { return d.utc().Date() }

// Weekday returns the day of the week.
func (d Date) Weekday() time.Weekday { return time.Weekday((int64(d)%7 + 7 + 4) % 7) }

// AddDays returns d shifted by n days.
func (d Date) AddDays(n int) Date { return d + Date(n) }

// At returns the instant of wall-clock time tod on day d in loc. A time that
// does not exist (spring-forward gap) moves forward, as time.Date does.
func (d Date) At(tod TimeOfDay, loc *time.Location) time.Time {
	y, m, day := d.YMD()
	return time.Date(y, m, day, 0, int(tod), 0, 0, loc)
}

// String formats as YYYY-MM-DD.
func (d Date) String() string { return d.utc().Format(time.DateOnly) }

// UnmarshalText implements encoding.TextUnmarshaler (YAML, JSON, query strings).
func (d *Date) UnmarshalText(b []byte) error {
	v, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Date) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// TimeOfDay is a wall-clock time in minutes after midnight (0..1440).
type TimeOfDay int

// ParseTimeOfDay parses "HH:MM" (24:00 allowed as the end of the day).
func ParseTimeOfDay(s string) (TimeOfDay, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || len(m) != 2 || hh < 0 || mm < 0 || mm > 59 || hh > 24 || (hh == 24 && mm != 0) {
		return 0, fmt.Errorf("%q is not a time of day (use HH:MM, e.g. \"09:30\")", s)
	}
	return TimeOfDay(hh*60 + mm), nil
}

// String formats as HH:MM.
func (t TimeOfDay) String() string { return fmt.Sprintf("%02d:%02d", int(t)/60, int(t)%60) }

// UnmarshalText implements encoding.TextUnmarshaler.
func (t *TimeOfDay) UnmarshalText(b []byte) error {
	v, err := ParseTimeOfDay(string(b))
	if err != nil {
		return err
	}
	*t = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (t TimeOfDay) MarshalText() ([]byte, error) { return []byte(t.String()), nil }

// Interval is a half-open span of instants [Start, End).
type Interval struct {
	Start, End time.Time
}

// Overlaps reports whether the two half-open intervals share an instant.
func (i Interval) Overlaps(o Interval) bool {
	return i.Start.Before(o.End) && o.Start.Before(i.End)
}
