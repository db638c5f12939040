package caldavtest

import (
	"time"
	_ "time/tzdata" // Europe/Paris whatever the machine has

	"github.com/emersion/go-ical"
)

// ParisTZID is the TZID of the VTIMEZONE that ExternalCalendar adds.
const ParisTZID = "Europe/Paris"

// ExternalCalendar wraps events written the way desktop clients write
// them (local times with TZID=Europe/Paris and the matching VTIMEZONE)
// into a VCALENDAR, for tests that fill a calendar with events rdvsync
// did not create.
func ExternalCalendar(events ...*ical.Component) *ical.Calendar {
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, "-//Mozilla.org/NONSGML Mozilla Calendar V1.1//EN")
	cal.Children = append(cal.Children, parisTimezone())
	cal.Children = append(cal.Children, events...)
	return cal
}

// ExternalEvent is an opaque VEVENT from start to end, written in
// Europe/Paris local time. Callers add TRANSP, RRULE, EXDATE… to its
// Props.
func ExternalEvent(uid, summary string, start, end time.Time) *ical.Component {
	paris, err := time.LoadLocation(ParisTZID)
	if err != nil {
		panic("caldavtest: " + err.Error()) // cannot happen: time/tzdata is embedded
	}
	ev := ical.NewEvent()
	ev.Props.SetText(ical.PropUID, uid)
	ev.Props.SetDateTime(ical.PropDateTimeStamp, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ev.Props.SetDateTime(ical.PropDateTimeStart, start.In(paris))
	ev.Props.SetDateTime(ical.PropDateTimeEnd, end.In(paris))
	ev.Props.SetText(ical.PropSummary, summary)
	return ev.Component
}

// parisTimezone is the VTIMEZONE of Europe/Paris since 1996.
func parisTimezone() *ical.Component {
	tz := ical.NewComponent(ical.CompTimezone)
	tz.Props.SetText(ical.PropTimezoneID, ParisTZID)
	for _, r := range []struct {
		name, start, from, to, tzname, rule string
	}{
		{ical.CompTimezoneDaylight, "19700329T020000", "+0100", "+0200", "CEST", "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU"},
		{ical.CompTimezoneStandard, "19701025T030000", "+0200", "+0100", "CET", "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU"},
	} {
		c := ical.NewComponent(r.name)
		c.Props.Set(&ical.Prop{Name: ical.PropDateTimeStart, Params: ical.Params{}, Value: r.start})
		c.Props.Set(&ical.Prop{Name: ical.PropTimezoneOffsetFrom, Params: ical.Params{}, Value: r.from})
		c.Props.Set(&ical.Prop{Name: ical.PropTimezoneOffsetTo, Params: ical.Params{}, Value: r.to})
		c.Props.SetText(ical.PropTimezoneName, r.tzname)
		c.Props.Set(&ical.Prop{Name: ical.PropRecurrenceRule, Params: ical.Params{}, Value: r.rule})
		tz.Children = append(tz.Children, c)
	}
	return tz
}
