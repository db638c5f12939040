package googlefake

import (
	"time"

	"github.com/teambition/rrule-go"
	"google.golang.org/api/calendar/v3"
)

// checkRecurrence returns Google's message refusing a recurring event,
// or "": a timed start without its time zone (the rule repeats
// wall-clock times, which need a zone) and rules that do not parse.
func checkRecurrence(c *fakeCalendar, e *calendar.Event) string {
	if len(e.Recurrence) == 0 {
		return ""
	}
	if e.Start != nil && e.Start.DateTime != "" && e.Start.TimeZone == "" {
		return "Missing time zone definition for start time."
	}
	if _, err := c.ruleSet(e); err != nil {
		return "Invalid recurrence rule: " + err.Error()
	}
	return ""
}

// ruleSet is the recurrence of e (RRULE, RDATE and EXDATE lines, RFC 5545
// §3.8.5) from its start, in its start's time zone.
func (c *fakeCalendar) ruleSet(e *calendar.Event) (*rrule.Set, error) {
	start, _, err := c.span(e)
	if err != nil {
		return nil, err
	}
	loc := c.loc
	if e.Start.TimeZone != "" {
		if loc, err = time.LoadLocation(e.Start.TimeZone); err != nil {
			return nil, err
		}
	}
	set, err := rrule.StrSliceToRRuleSetInLoc(e.Recurrence, loc)
	if err != nil {
		return nil, err
	}
	set.DTStart(start.In(loc))
	return set, nil
}

// occurrences are the times e takes place that overlap [from, to): e
// itself when it does not recur, else one instance per occurrence, named
// as Google names them: "<event id>_<start in UTC, basic format>" (a date
// for all-day events), with recurringEventId and originalStartTime.
func (c *fakeCalendar) occurrences(e *calendar.Event, from, to time.Time) []*calendar.Event {
	start, end, err := c.span(e)
	if err != nil {
		return nil
	}
	if len(e.Recurrence) == 0 {
		if end.After(from) && start.Before(to) {
			return []*calendar.Event{e}
		}
		return nil
	}
	set, err := c.ruleSet(e)
	if err != nil {
		return nil
	}
	dur := end.Sub(start)
	allDay := e.Start.Date != ""
	days := int(dur.Round(24*time.Hour) / (24 * time.Hour))
	var out []*calendar.Event
	for _, t := range set.Between(from.Add(-dur), to, true) {
		if !t.Add(dur).After(from) || !t.Before(to) {
			continue
		}
		in := clone(e)
		in.Recurrence, in.RecurringEventId = nil, e.Id
		if allDay {
			in.Id = e.Id + "_" + t.Format("20060102")
			in.Start = &calendar.EventDateTime{Date: t.Format(time.DateOnly)}
			in.End = &calendar.EventDateTime{Date: t.AddDate(0, 0, days).Format(time.DateOnly)}
		} else {
			in.Id = e.Id + "_" + t.UTC().Format("20060102T150405Z")
			in.Start = &calendar.EventDateTime{DateTime: t.Format(time.RFC3339), TimeZone: e.Start.TimeZone}
			in.End = &calendar.EventDateTime{DateTime: t.Add(dur).Format(time.RFC3339), TimeZone: e.End.TimeZone}
		}
		in.OriginalStartTime = in.Start
		out = append(out, in)
	}
	return out
}
