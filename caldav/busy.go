package caldav

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/teambition/rrule-go"
)

// Busy is one opaque event instance of the calendar, in UTC.
type Busy struct {
	UID        string
	Start, End time.Time
}

// maxInstances bounds the expansion of one recurring event, so a rule
// like FREQ=MINUTELY started years ago cannot stall a busy-time refresh.
const maxInstances = 100_000

// Busy lists the opaque, not cancelled event instances overlapping
// [from, to), sorted by start. TRANSP:TRANSPARENT and STATUS:CANCELLED
// instances are left out.
//
// It sends two calendar-query REPORTs (RFC 4791 §7.8): one with a
// time-range filter (§9.9), and one for every event with an RRULE,
// because servers differ on recurring events: RFC 4791 matches them by
// their instances, and Radicale 3.1 does, but Xandikos 0.2 compares the
// time range with the first instance only, so a weekly event that began
// before the window would be missed. Instances are expanded here (RRULE,
// RDATE, EXDATE, overridden instances) rather than with the CALDAV:expand
// element, which Radicale 3.1 does not implement. An event recurring by
// RDATE alone is found only if the server's time-range match finds it.
func (c *Client) Busy(ctx context.Context, from, to time.Time) ([]Busy, error) {
	if !from.Before(to) {
		return nil, fmt.Errorf("caldav: busy times from %s to %s: empty window", from, to)
	}
	objs, err := c.query(ctx, eventFilter{TimeRange: newTimeRange(from, to)})
	if err != nil {
		return nil, err
	}
	recurring, err := c.query(ctx, eventFilter{Props: []propFilter{{Name: ical.PropRecurrenceRule}}})
	if err != nil {
		return nil, err
	}
	seen := make(map[string]bool, len(objs))
	for _, o := range objs {
		seen[o.Href] = true
	}
	for _, o := range recurring {
		if !seen[o.Href] {
			objs = append(objs, o)
		}
	}
	var out []Busy
	for _, o := range objs {
		bs, err := c.busyIn(o.Calendar, from, to)
		if err != nil {
			return nil, fmt.Errorf("caldav: busy times of %s: %w", o.Href, err)
		}
		out = append(out, bs...)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Start.Equal(out[j].Start) {
			return out[i].Start.Before(out[j].Start)
		}
		return out[i].UID < out[j].UID
	})
	return out, nil
}

// busyIn expands the events of one calendar object.
func (c *Client) busyIn(cal *ical.Calendar, from, to time.Time) ([]Busy, error) {
	var masters []*ical.Component
	overridden := map[string]map[int64]bool{} // UID → RECURRENCE-IDs, Unix seconds
	var out []Busy
	for _, comp := range cal.Children {
		if comp.Name != ical.CompEvent {
			continue
		}
		rid := comp.Props.Get(ical.PropRecurrenceID)
		if rid == nil {
			masters = append(masters, comp)
			continue
		}
		// An overridden instance stands on its own, at its own time.
		uid, _ := comp.Props.Text(ical.PropUID)
		t, _, err := c.propTime(rid)
		if err != nil {
			return nil, err
		}
		if overridden[uid] == nil {
			overridden[uid] = map[int64]bool{}
		}
		overridden[uid][t.Unix()] = true
		b, ok, err := c.instance(comp)
		if err != nil {
			return nil, err
		}
		if ok && overlaps(b, from, to) {
			out = append(out, b)
		}
	}
	for _, m := range masters {
		bs, err := c.expand(m, overridden, from, to)
		if err != nil {
			return nil, err
		}
		out = append(out, bs...)
	}
	return out, nil
}

// expand returns the instances of a master event overlapping [from, to).
func (c *Client) expand(m *ical.Component, overridden map[string]map[int64]bool, from, to time.Time) ([]Busy, error) {
	first, ok, err := c.instance(m)
	if err != nil || !ok {
		return nil, err
	}
	rule := m.Props.Get(ical.PropRecurrenceRule)
	if rule == nil && len(m.Props.Values(ical.PropRecurrenceDates)) == 0 {
		if overlaps(first, from, to) {
			return []Busy{first}, nil
		}
		return nil, nil
	}
	start, _, err := c.propTime(m.Props.Get(ical.PropDateTimeStart))
	if err != nil {
		return nil, err
	}
	var set rrule.Set
	if rule != nil {
		opt, err := rrule.StrToROptionInLocation(rule.Value, start.Location())
		if err != nil {
			return nil, fmt.Errorf("RRULE %q: %w", rule.Value, err)
		}
		opt.Dtstart = start
		r, err := rrule.NewRRule(*opt)
		if err != nil {
			return nil, fmt.Errorf("RRULE %q: %w", rule.Value, err)
		}
		set.RRule(r)
	}
	// DTSTART is always the first instance (RFC 5545 §3.8.5.3), even when
	// the rule would not produce it.
	set.RDate(start)
	for _, p := range m.Props.Values(ical.PropRecurrenceDates) {
		ts, err := c.propTimes(p)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			set.RDate(t)
		}
	}
	for _, p := range m.Props.Values(ical.PropExceptionDates) {
		ts, err := c.propTimes(p)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			set.ExDate(t)
		}
	}
	uid := first.UID
	dur := first.End.Sub(first.Start)
	var out []Busy
	next := set.Iterator()
	for range maxInstances {
		s, ok := next()
		if !ok || !s.Before(to) {
			break
		}
		b := Busy{UID: uid, Start: s.UTC(), End: s.Add(dur).UTC()}
		if overridden[uid][b.Start.Unix()] || !overlaps(b, from, to) {
			continue
		}
		out = append(out, b)
	}
	return out, nil
}

// instance returns the interval of an event component as written, and
// false if it does not make the agent busy (transparent, cancelled, or
// of no duration).
func (c *Client) instance(comp *ical.Component) (Busy, bool, error) {
	uid, _ := comp.Props.Text(ical.PropUID)
	if t, _ := comp.Props.Text(ical.PropTransparency); strings.EqualFold(t, "TRANSPARENT") {
		return Busy{}, false, nil
	}
	if s, _ := comp.Props.Text(ical.PropStatus); strings.EqualFold(s, string(ical.EventCancelled)) {
		return Busy{}, false, nil
	}
	dtstart := comp.Props.Get(ical.PropDateTimeStart)
	if dtstart == nil {
		return Busy{}, false, nil
	}
	start, allDay, err := c.propTime(dtstart)
	if err != nil {
		return Busy{}, false, err
	}
	var end time.Time
	switch {
	case comp.Props.Get(ical.PropDateTimeEnd) != nil:
		if end, _, err = c.propTime(comp.Props.Get(ical.PropDateTimeEnd)); err != nil {
			return Busy{}, false, err
		}
	case comp.Props.Get(ical.PropDuration) != nil:
		d, err := comp.Props.Get(ical.PropDuration).Duration()
		if err != nil {
			return Busy{}, false, err
		}
		end = start.Add(d)
	case allDay:
		end = start.AddDate(0, 0, 1)
	default:
		end = start
	}
	if !end.After(start) {
		return Busy{}, false, nil
	}
	return Busy{UID: uid, Start: start.UTC(), End: end.UTC()}, true, nil
}

// propTime reads a DATE or DATE-TIME property. Floating times and dates
// are in the client's Location, as is a TZID that is not an IANA name
// (Outlook's "Romance Standard Time", a custom VTIMEZONE): an
// approximation that is right for the agents' usual zone.
func (c *Client) propTime(p *ical.Prop) (time.Time, bool, error) {
	allDay := p.ValueType() == ical.ValueDate || len(p.Value) == len("20060102")
	t, err := p.DateTime(c.loc)
	if err != nil && p.Params.Get(ical.ParamTimezoneID) != "" {
		q := *p
		q.Params = ical.Params{}
		for k, v := range p.Params {
			if k != ical.ParamTimezoneID {
				q.Params[k] = v
			}
		}
		t, err = q.DateTime(c.loc)
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("%s %q: %w", p.Name, p.Value, err)
	}
	return t, allDay, nil
}

// propTimes reads an EXDATE or RDATE, which may list several values
// (RDATE periods count by their start).
func (c *Client) propTimes(p ical.Prop) ([]time.Time, error) {
	params := p.Params
	if p.ValueType() == ical.ValuePeriod {
		params = ical.Params{}
		if tz := p.Params.Values(ical.ParamTimezoneID); len(tz) > 0 {
			params[ical.ParamTimezoneID] = tz
		}
	}
	var ts []time.Time
	for _, v := range strings.Split(p.Value, ",") {
		v, _, _ = strings.Cut(v, "/")
		t, _, err := c.propTime(&ical.Prop{Name: p.Name, Params: params, Value: strings.TrimSpace(v)})
		if err != nil {
			return nil, err
		}
		ts = append(ts, t)
	}
	return ts, nil
}

func overlaps(b Busy, from, to time.Time) bool {
	return b.Start.Before(to) && b.End.After(from)
}
