package caldav

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"
)

// TestBusyExpansion reads objects as other calendar applications write
// them (hand-written text: these are inputs, not rdvsync output) and
// checks the busy instances within Monday 7 – Monday 14 December 2026.
func TestBusyExpansion(t *testing.T) {
	loc := paris(t)
	at := func(day, hour, min int) time.Time { return time.Date(2026, 12, day, hour, min, 0, 0, loc) }
	c := &Client{loc: loc}
	tests := []struct {
		name, vevents string
		want          []Busy
	}{
		{"UTC times", `
BEGIN:VEVENT
UID:a
DTSTAMP:20260101T000000Z
DTSTART:20261208T130000Z
DTEND:20261208T140000Z
END:VEVENT`, []Busy{{"a", at(8, 14, 0), at(8, 15, 0)}}},
		{"floating time and DURATION", `
BEGIN:VEVENT
UID:b
DTSTAMP:20260101T000000Z
DTSTART:20261208T090000
DURATION:PT1H30M
END:VEVENT`, []Busy{{"b", at(8, 9, 0), at(8, 10, 30)}}},
		{"Outlook time zone name", `
BEGIN:VEVENT
UID:c
DTSTAMP:20260101T000000Z
DTSTART;TZID=Romance Standard Time:20261209T100000
DTEND;TZID=Romance Standard Time:20261209T110000
END:VEVENT`, []Busy{{"c", at(9, 10, 0), at(9, 11, 0)}}},
		{"all-day without DTEND", `
BEGIN:VEVENT
UID:d
DTSTAMP:20260101T000000Z
DTSTART;VALUE=DATE:20261210
END:VEVENT`, []Busy{{"d", at(10, 0, 0), at(11, 0, 0)}}},
		{"no duration, transparent, cancelled, tentative", `
BEGIN:VEVENT
UID:e1
DTSTAMP:20260101T000000Z
DTSTART:20261208T090000Z
END:VEVENT
BEGIN:VEVENT
UID:e2
DTSTAMP:20260101T000000Z
DTSTART:20261208T090000Z
DTEND:20261208T100000Z
TRANSP:TRANSPARENT
END:VEVENT
BEGIN:VEVENT
UID:e3
DTSTAMP:20260101T000000Z
DTSTART:20261208T090000Z
DTEND:20261208T100000Z
STATUS:CANCELLED
END:VEVENT
BEGIN:VEVENT
UID:e4
DTSTAMP:20260101T000000Z
DTSTART:20261208T110000Z
DTEND:20261208T120000Z
STATUS:TENTATIVE
END:VEVENT`, []Busy{{"e4", at(8, 12, 0), at(8, 13, 0)}}},
		{"daily with two EXDATEs in one property and a cancelled instance", `
BEGIN:VEVENT
UID:f
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Paris:20261201T083000
DTEND;TZID=Europe/Paris:20261201T090000
RRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR
EXDATE;TZID=Europe/Paris:20261208T083000,20261209T083000
END:VEVENT
BEGIN:VEVENT
UID:f
DTSTAMP:20260101T000000Z
RECURRENCE-ID;TZID=Europe/Paris:20261210T083000
DTSTART;TZID=Europe/Paris:20261210T083000
DTEND;TZID=Europe/Paris:20261210T090000
STATUS:CANCELLED
END:VEVENT`, []Busy{{"f", at(7, 8, 30), at(7, 9, 0)}, {"f", at(11, 8, 30), at(11, 9, 0)}}},
		{"instance begun before the window, RDATE, UNTIL", `
BEGIN:VEVENT
UID:g
DTSTAMP:20260101T000000Z
DTSTART;TZID=Europe/Paris:20261106T220000
DTEND;TZID=Europe/Paris:20261107T020000
RRULE:FREQ=MONTHLY;UNTIL=20261231T000000Z
RDATE;TZID=Europe/Paris:20261212T220000
END:VEVENT`, []Busy{{"g", at(6, 22, 0), at(7, 2, 0)}, {"g", at(12, 22, 0), at(13, 2, 0)}}},
		{"transparent series with an opaque instance", `
BEGIN:VEVENT
UID:h
DTSTAMP:20260101T000000Z
DTSTART:20261201T100000Z
DTEND:20261201T110000Z
RRULE:FREQ=WEEKLY
TRANSP:TRANSPARENT
END:VEVENT
BEGIN:VEVENT
UID:h
DTSTAMP:20260101T000000Z
RECURRENCE-ID:20261208T100000Z
DTSTART:20261208T150000Z
DTEND:20261208T160000Z
END:VEVENT`, []Busy{{"h", at(8, 16, 0), at(8, 17, 0)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			text := "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//EN" + tc.vevents + "\nEND:VCALENDAR\n"
			cal, err := ical.NewDecoder(strings.NewReader(strings.ReplaceAll(text, "\n", "\r\n"))).Decode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.busyIn(cal, at(7, 0, 0), at(14, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			slices.SortFunc(got, func(a, b Busy) int { return a.Start.Compare(b.Start) })
			if !slices.EqualFunc(got, tc.want, sameBusy) {
				t.Errorf("got  %v\nwant %v", got, tc.want)
			}
		})
	}
}
