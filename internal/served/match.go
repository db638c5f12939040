package served

import (
	"time"

	"github.com/emersion/go-ical"
	dav "github.com/emersion/go-webdav/caldav"
)

// matchComp reports whether comp satisfies the calendar-query comp-filter
// f (RFC 4791 §9.7.1). Time ranges are evaluated here (§9.9);
// prop-filters are left to go-webdav's matcher.
func matchComp(f dav.CompFilter, comp *ical.Component) (bool, error) {
	if comp.Name != f.Name {
		return false, nil
	}
	return matchInside(f, comp)
}

// matchInside evaluates the tests of f on comp, whose name is f's.
func matchInside(f dav.CompFilter, comp *ical.Component) (bool, error) {
	if !f.Start.IsZero() || !f.End.IsZero() {
		if ok, err := overlaps(comp, f.Start, f.End); err != nil || !ok {
			return false, err
		}
	}
	for _, cf := range f.Comps {
		ok, err := matchChildren(cf, comp)
		if err != nil || !ok {
			return false, err
		}
	}
	for _, pf := range f.Props {
		ok, err := dav.Match(dav.CompFilter{Name: comp.Name, Props: []dav.PropFilter{pf}},
			&dav.CalendarObject{Data: &ical.Calendar{Component: comp}})
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

// matchChildren applies a nested comp-filter: is-not-defined matches when
// no child has the name, otherwise one child of that name must match.
func matchChildren(f dav.CompFilter, parent *ical.Component) (bool, error) {
	for _, child := range parent.Children {
		if child.Name != f.Name {
			continue
		}
		if f.IsNotDefined {
			return false, nil
		}
		ok, err := matchInside(f, child)
		if err != nil || ok {
			return ok, err
		}
	}
	return f.IsNotDefined, nil
}

// overlaps applies a time-range to a VEVENT as RFC 4791 §9.9 says:
// start < DTEND and end > DTSTART, an event without duration being the
// instant DTSTART (start <= DTSTART). A zero start or end is unbounded.
// Served events never recur; other components never match a time range.
func overlaps(comp *ical.Component, start, end time.Time) (bool, error) {
	if comp.Name != ical.CompEvent {
		return false, nil
	}
	ev := ical.Event{Component: comp}
	evStart, err := ev.DateTimeStart(time.UTC)
	if err != nil {
		return false, err
	}
	evEnd, err := ev.DateTimeEnd(time.UTC)
	if err != nil {
		return false, err
	}
	if !evEnd.After(evStart) {
		return (start.IsZero() || !start.After(evStart)) && (end.IsZero() || end.After(evStart)), nil
	}
	return (start.IsZero() || start.Before(evEnd)) && (end.IsZero() || end.After(evStart)), nil
}
