package slots_test

import (
	"slices"
	"sync"
	"testing"
	"time"

	"rdvsync/internal/dataset"
	"rdvsync/internal/sector"
	"rdvsync/internal/slots"
)

// base is one organisation of the Pas-de-Calais (Europe/Paris, the default
// zone), two lieux, two agents, and motifs of 30 and 60 minutes bookable by
// everyone without booking delays. Tests add the territory, holidays,
// plages and absences; those that need other motifs start from
// organisation instead.
const base = organisation + `
motifs:
  - { id: m30, organisation: o1, service: social, name: M30, duration: 30m, bookable_by: everyone, min_booking_delay: 0m, max_booking_delay: 3650d }
  - { id: m60, organisation: o1, service: social, name: M60, duration: 60m, bookable_by: everyone, min_booking_delay: 0m, max_booking_delay: 3650d }
`

const organisation = `
organisations: [{ id: o1, name: O1, territory: "62" }]
services: [{ id: social, name: Social }]
lieux:
  - { id: l1, organisation: o1, name: L1 }
  - { id: l2, organisation: o1, name: L2 }
agents:
  - { id: a1, first_name: A, last_name: Un, email: a1@example.org, organisations: [o1], token_sha256: "0000000000000000000000000000000000000000000000000000000000000001" }
  - { id: a2, first_name: A, last_name: Deux, email: a2@example.org, organisations: [o1], token_sha256: "0000000000000000000000000000000000000000000000000000000000000002" }
`

const (
	territory62 = "territories: [{ id: \"62\", name: Pas-de-Calais }]\n"
	noHolidays  = "holidays: none\n"
)

func TestWeeklyPlageAcrossDST(t *testing.T) {
	c := build(t, base+territory62+`
plages_ouverture:
  - { id: p1, agent: a1, lieu: l1, motifs: [m60], first_day: 2027-03-02, start_time: "09:00", end_time: "12:00",
      recurrence: { every: week, on: [tuesday] } }
`)
	tests := []struct {
		name     string
		from, to string
		want     []string
	}{
		// Clocks go forward on Sunday 28 March 2027.
		{"spring", "2027-03-22", "2027-04-04", []string{
			"2027-03-23T09:00:00+01:00", "2027-03-23T10:00:00+01:00", "2027-03-23T11:00:00+01:00",
			"2027-03-30T09:00:00+02:00", "2027-03-30T10:00:00+02:00", "2027-03-30T11:00:00+02:00",
		}},
		// Clocks go back on Sunday 31 October 2027; 1 November is a holiday, not 2 November.
		{"autumn", "2027-10-25", "2027-11-07", []string{
			"2027-10-26T09:00:00+02:00", "2027-10-26T10:00:00+02:00", "2027-10-26T11:00:00+02:00",
			"2027-11-02T09:00:00+01:00", "2027-11-02T10:00:00+01:00", "2027-11-02T11:00:00+01:00",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := search(t, c, slots.Query{Motif: c.Motif("m60"), From: day(tt.from), To: day(tt.to), Now: at("2027-01-01T00:00:00Z")})
			if !slices.Equal(starts(got), tt.want) {
				t.Errorf("got  %q\nwant %q", starts(got), tt.want)
			}
		})
	}
}

// TestNightOfTheClockChange pins the behaviour documented on span: a plage
// runs from the first moment the clock shows its start to the last moment it
// shows its end. In Europe/Paris the clock jumps from 02:00 to 03:00 on 28
// March 2027 and from 03:00 back to 02:00 on 31 October 2027.
func TestNightOfTheClockChange(t *testing.T) {
	tests := []struct {
		name       string
		motif      string
		day        string
		start, end string
		want       []string
	}{
		{"spring, around the gap: two hours", "m30", "2027-03-28", "01:00", "04:00", []string{
			"2027-03-28T01:00:00+01:00", "2027-03-28T01:30:00+01:00", "2027-03-28T03:00:00+02:00", "2027-03-28T03:30:00+02:00",
		}},
		{"spring, ending in the gap", "m30", "2027-03-28", "01:30", "02:30", []string{
			"2027-03-28T01:30:00+01:00",
		}},
		{"spring, starting in the gap", "m30", "2027-03-28", "02:30", "04:00", []string{
			"2027-03-28T03:00:00+02:00", "2027-03-28T03:30:00+02:00",
		}},
		{"spring, inside the gap", "m30", "2027-03-28", "02:00", "02:30", []string{}},
		{"autumn, around the repeated hour: four hours", "m60", "2027-10-31", "01:00", "04:00", []string{
			"2027-10-31T01:00:00+02:00", "2027-10-31T02:00:00+02:00", "2027-10-31T02:00:00+01:00", "2027-10-31T03:00:00+01:00",
		}},
		{"autumn, the repeated hour is offered twice", "m30", "2027-10-31", "02:00", "03:00", []string{
			"2027-10-31T02:00:00+02:00", "2027-10-31T02:30:00+02:00", "2027-10-31T02:00:00+01:00", "2027-10-31T02:30:00+01:00",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := build(t, base+territory62+`
plages_ouverture:
  - { id: p1, agent: a1, lieu: l1, motifs: [`+tt.motif+`], first_day: `+tt.day+`, start_time: "`+tt.start+`", end_time: "`+tt.end+`" }
`)
			got := search(t, c, slots.Query{Motif: c.Motif(tt.motif), From: day(tt.day), To: day(tt.day), Now: at("2027-01-01T00:00:00Z")})
			if !slices.Equal(starts(got), tt.want) {
				t.Errorf("got  %q\nwant %q", starts(got), tt.want)
			}
		})
	}
}

func TestAbsences(t *testing.T) {
	tests := []struct {
		name     string
		config   string
		from, to string
		want     []string
	}{
		{"several days over Christmas", `
plages_ouverture:
  - { id: p1, agent: a1, lieu: l1, motifs: [m60], first_day: 2026-12-21, start_time: "09:00", end_time: "10:00",
      recurrence: { every: week, on: [monday, tuesday, wednesday, thursday, friday] } }
absences:
  - { agent: a1, first_day: 2026-12-24, end_day: 2027-01-01, start_time: "00:00", end_time: "23:59" }
`, "2026-12-21", "2027-01-08", []string{
			"2026-12-21T09:00:00+01:00", "2026-12-22T09:00:00+01:00", "2026-12-23T09:00:00+01:00",
			"2027-01-04T09:00:00+01:00", "2027-01-05T09:00:00+01:00", "2027-01-06T09:00:00+01:00",
			"2027-01-07T09:00:00+01:00", "2027-01-08T09:00:00+01:00",
		}},
		// Free 09:00–10:10 and 10:50–12:00: slots restart at 10:50, not on the 09:00 grid.
		{"part of a day", `
plages_ouverture:
  - { id: p1, agent: a1, lieu: l1, motifs: [m30], first_day: 2027-01-05, start_time: "09:00", end_time: "12:00" }
absences:
  - { agent: a1, first_day: 2027-01-05, start_time: "10:10", end_time: "10:50" }
  - { agent: a2, first_day: 2027-01-05, start_time: "09:00", end_time: "12:00" }
`, "2027-01-05", "2027-01-05", []string{
			"2027-01-05T09:00:00+01:00", "2027-01-05T09:30:00+01:00", "2027-01-05T10:50:00+01:00", "2027-01-05T11:20:00+01:00",
		}},
		{"every other Tuesday's first hour", `
plages_ouverture:
  - { id: p1, agent: a1, lieu: l1, motifs: [m60], first_day: 2027-01-05, start_time: "09:00", end_time: "12:00",
      recurrence: { every: week, on: [tuesday] } }
absences:
  - { agent: a1, first_day: 2027-01-05, start_time: "09:00", end_time: "10:00",
      recurrence: { every: week, interval: 2, on: [tuesday] } }
`, "2027-01-04", "2027-01-31", []string{
			"2027-01-05T10:00:00+01:00", "2027-01-05T11:00:00+01:00",
			"2027-01-12T09:00:00+01:00", "2027-01-12T10:00:00+01:00", "2027-01-12T11:00:00+01:00",
			"2027-01-19T10:00:00+01:00", "2027-01-19T11:00:00+01:00",
			"2027-01-26T09:00:00+01:00", "2027-01-26T10:00:00+01:00", "2027-01-26T11:00:00+01:00",
		}},
		{"overnight, Monday 14:00 to Tuesday 10:00", `
plages_ouverture:
  - { id: p1, agent: a1, lieu: l1, motifs: [m60], first_day: 2027-01-11, start_time: "09:00", end_time: "12:00",
      recurrence: { every: week, on: [monday, tuesday] } }
absences:
  - { agent: a1, first_day: 2027-01-11, end_day: 2027-01-12, start_time: "14:00", end_time: "10:00" }
`, "2027-01-11", "2027-01-12", []string{
			"2027-01-11T09:00:00+01:00", "2027-01-11T10:00:00+01:00", "2027-01-11T11:00:00+01:00",
			"2027-01-12T10:00:00+01:00", "2027-01-12T11:00:00+01:00",
		}},
		{"monthly, the last Friday afternoon", `
plages_ouverture:
  - { id: p1, agent: a1, lieu: l1, motifs: [m60], first_day: 2027-01-01, start_time: "14:00", end_time: "16:00",
      recurrence: { every: week, on: [friday] } }
absences:
  - { agent: a1, first_day: 2027-01-01, start_time: "12:00", end_time: "18:00",
      recurrence: { every: month, on: [friday], week_of_month: -1 } }
`, "2027-01-18", "2027-02-07", []string{
			"2027-01-22T14:00:00+01:00", "2027-01-22T15:00:00+01:00",
			"2027-02-05T14:00:00+01:00", "2027-02-05T15:00:00+01:00",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := build(t, base+territory62+noHolidays+tt.config)
			m := c.Plages[0].Motifs[0]
			got := search(t, c, slots.Query{Motif: m, From: day(tt.from), To: day(tt.to), Now: at("2026-12-01T00:00:00Z")})
			if !slices.Equal(starts(got), tt.want) {
				t.Errorf("got  %q\nwant %q", starts(got), tt.want)
			}
		})
	}
}

func TestHolidays(t *testing.T) {
	const plage = `
plages_ouverture:
  - { id: p1, agent: a1, lieu: l1, motifs: [m60], first_day: 2026-12-01, start_time: "09:00", end_time: "10:00",
      recurrence: { every: week, on: [monday, tuesday, wednesday, thursday, friday] } }
`
	tests := []struct {
		name      string
		config    string
		from, to  string
		wantStart []string
	}{
		{"fr: Christmas and New Year's Day", "holidays: fr\n" + territory62, "2026-12-21", "2027-01-08", []string{
			"2026-12-21T09:00:00+01:00", "2026-12-22T09:00:00+01:00", "2026-12-23T09:00:00+01:00", "2026-12-24T09:00:00+01:00",
			"2026-12-28T09:00:00+01:00", "2026-12-29T09:00:00+01:00", "2026-12-30T09:00:00+01:00", "2026-12-31T09:00:00+01:00",
			"2027-01-04T09:00:00+01:00", "2027-01-05T09:00:00+01:00", "2027-01-06T09:00:00+01:00", "2027-01-07T09:00:00+01:00",
			"2027-01-08T09:00:00+01:00",
		}},
		{"none keeps them", noHolidays + territory62, "2026-12-21", "2027-01-08", []string{
			"2026-12-21T09:00:00+01:00", "2026-12-22T09:00:00+01:00", "2026-12-23T09:00:00+01:00", "2026-12-24T09:00:00+01:00",
			"2026-12-25T09:00:00+01:00",
			"2026-12-28T09:00:00+01:00", "2026-12-29T09:00:00+01:00", "2026-12-30T09:00:00+01:00", "2026-12-31T09:00:00+01:00",
			"2027-01-01T09:00:00+01:00",
			"2027-01-04T09:00:00+01:00", "2027-01-05T09:00:00+01:00", "2027-01-06T09:00:00+01:00", "2027-01-07T09:00:00+01:00",
			"2027-01-08T09:00:00+01:00",
		}},
		{"fr: Easter Monday 29 March 2027", "holidays: fr\n" + territory62, "2027-03-29", "2027-04-02", []string{
			"2027-03-30T09:00:00+02:00", "2027-03-31T09:00:00+02:00", "2027-04-01T09:00:00+02:00", "2027-04-02T09:00:00+02:00",
		}},
		// Ascension is Easter + 39 days: Thursday 6 May 2027; Whit Monday 17 May.
		{"fr: Ascension and Whit Monday", "holidays: fr\n" + territory62, "2027-05-03", "2027-05-21", []string{
			"2027-05-03T09:00:00+02:00", "2027-05-04T09:00:00+02:00", "2027-05-05T09:00:00+02:00", "2027-05-07T09:00:00+02:00",
			"2027-05-10T09:00:00+02:00", "2027-05-11T09:00:00+02:00", "2027-05-12T09:00:00+02:00", "2027-05-13T09:00:00+02:00",
			"2027-05-14T09:00:00+02:00",
			"2027-05-18T09:00:00+02:00", "2027-05-19T09:00:00+02:00", "2027-05-20T09:00:00+02:00", "2027-05-21T09:00:00+02:00",
		}},
		{"territory extra holiday with none", noHolidays + `territories: [{ id: "62", name: P, extra_holidays: [2027-01-06] }]` + "\n", "2027-01-04", "2027-01-08", []string{
			"2027-01-04T09:00:00+01:00", "2027-01-05T09:00:00+01:00", "2027-01-07T09:00:00+01:00", "2027-01-08T09:00:00+01:00",
		}},
		{"territory extra holiday with fr", "holidays: fr\n" + `territories: [{ id: "62", name: P, extra_holidays: [2027-01-06] }]` + "\n", "2026-12-28", "2027-01-08", []string{
			"2026-12-28T09:00:00+01:00", "2026-12-29T09:00:00+01:00", "2026-12-30T09:00:00+01:00", "2026-12-31T09:00:00+01:00",
			"2027-01-04T09:00:00+01:00", "2027-01-05T09:00:00+01:00", "2027-01-07T09:00:00+01:00", "2027-01-08T09:00:00+01:00",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := build(t, base+tt.config+plage)
			got := search(t, c, slots.Query{Motif: c.Motif("m60"), From: day(tt.from), To: day(tt.to), Now: at("2026-12-01T00:00:00Z")})
			if !slices.Equal(starts(got), tt.wantStart) {
				t.Errorf("got  %q\nwant %q", starts(got), tt.wantStart)
			}
		})
	}
}

func TestBusyIntervals(t *testing.T) {
	c := build(t, base+territory62+`
plages_ouverture:
  - { id: p1, agent: a1, lieu: l1, motifs: [m30], first_day: 2027-01-05, start_time: "09:00", end_time: "12:00" }
`)
	tests := []struct {
		name string
		busy []string
		want []string
	}{
		{"none", nil, []string{
			"2027-01-05T09:00:00+01:00", "2027-01-05T09:30:00+01:00", "2027-01-05T10:00:00+01:00",
			"2027-01-05T10:30:00+01:00", "2027-01-05T11:00:00+01:00", "2027-01-05T11:30:00+01:00",
		}},
		{"an RDV in the middle, slots re-cut from its end", []string{
			"a1 2027-01-05T10:00:00+01:00 2027-01-05T10:45:00+01:00",
		}, []string{
			"2027-01-05T09:00:00+01:00", "2027-01-05T09:30:00+01:00", "2027-01-05T10:45:00+01:00", "2027-01-05T11:15:00+01:00",
		}},
		{"overlapping", []string{
			"a1 2027-01-05T09:20:00+01:00 2027-01-05T10:00:00+01:00",
			"a1 2027-01-05T09:50:00+01:00 2027-01-05T10:20:00+01:00",
		}, []string{
			"2027-01-05T10:20:00+01:00", "2027-01-05T10:50:00+01:00", "2027-01-05T11:20:00+01:00",
		}},
		{"adjacent", []string{
			"a1 2027-01-05T09:00:00+01:00 2027-01-05T09:30:00+01:00",
			"a1 2027-01-05T09:30:00+01:00 2027-01-05T10:00:00+01:00",
		}, []string{
			"2027-01-05T10:00:00+01:00", "2027-01-05T10:30:00+01:00", "2027-01-05T11:00:00+01:00", "2027-01-05T11:30:00+01:00",
		}},
		{"nested", []string{
			"a1 2027-01-05T09:00:00+01:00 2027-01-05T11:00:00+01:00",
			"a1 2027-01-05T09:30:00+01:00 2027-01-05T10:00:00+01:00",
		}, []string{
			"2027-01-05T11:00:00+01:00", "2027-01-05T11:30:00+01:00",
		}},
		{"started the evening before", []string{
			"a1 2027-01-04T20:00:00+01:00 2027-01-05T10:00:00+01:00",
		}, []string{
			"2027-01-05T10:00:00+01:00", "2027-01-05T10:30:00+01:00", "2027-01-05T11:00:00+01:00", "2027-01-05T11:30:00+01:00",
		}},
		{"the last quarter", []string{
			"a1 2027-01-05T11:45:00+01:00 2027-01-05T12:00:00+01:00",
		}, []string{
			"2027-01-05T09:00:00+01:00", "2027-01-05T09:30:00+01:00", "2027-01-05T10:00:00+01:00",
			"2027-01-05T10:30:00+01:00", "2027-01-05T11:00:00+01:00",
		}},
		{"given in UTC", []string{
			"a1 2027-01-05T09:00:00Z 2027-01-05T09:30:00Z",
		}, []string{
			"2027-01-05T09:00:00+01:00", "2027-01-05T09:30:00+01:00",
			"2027-01-05T10:30:00+01:00", "2027-01-05T11:00:00+01:00", "2027-01-05T11:30:00+01:00",
		}},
		{"another agent's RDV", []string{
			"a2 2027-01-05T09:00:00+01:00 2027-01-05T12:00:00+01:00",
		}, []string{
			"2027-01-05T09:00:00+01:00", "2027-01-05T09:30:00+01:00", "2027-01-05T10:00:00+01:00",
			"2027-01-05T10:30:00+01:00", "2027-01-05T11:00:00+01:00", "2027-01-05T11:30:00+01:00",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := slots.Query{Motif: c.Motif("m30"), From: day("2027-01-05"), To: day("2027-01-05"), Now: at("2027-01-01T00:00:00Z"), Busy: busy(tt.busy...)}
			got := search(t, c, q)
			if !slices.Equal(starts(got), tt.want) {
				t.Errorf("got  %q\nwant %q", starts(got), tt.want)
			}
		})
	}
}

func TestNowRoundsUp(t *testing.T) {
	c := build(t, base+territory62+`
plages_ouverture:
  - { id: p1, agent: a1, lieu: l1, motifs: [m30], first_day: 2027-01-04, start_time: "09:00", end_time: "12:00",
      recurrence: { every: week, on: [monday, tuesday] } }
`)
	tests := []struct {
		name     string
		now      string
		from, to string
		busy     []string
		want     []string
	}{
		{"before the plage", "2027-01-05T08:00:00+01:00", "2027-01-05", "2027-01-05", nil, []string{
			"2027-01-05T09:00:00+01:00", "2027-01-05T09:30:00+01:00", "2027-01-05T10:00:00+01:00",
			"2027-01-05T10:30:00+01:00", "2027-01-05T11:00:00+01:00", "2027-01-05T11:30:00+01:00",
		}},
		{"inside: next 5 minutes", "2027-01-05T10:07:00+01:00", "2027-01-05", "2027-01-05", nil, []string{
			"2027-01-05T10:10:00+01:00", "2027-01-05T10:40:00+01:00", "2027-01-05T11:10:00+01:00",
		}},
		{"on a 5-minute mark", "2027-01-05T10:05:00+01:00", "2027-01-05", "2027-01-05", nil, []string{
			"2027-01-05T10:05:00+01:00", "2027-01-05T10:35:00+01:00", "2027-01-05T11:05:00+01:00",
		}},
		{"a second past the mark", "2027-01-05T10:05:01+01:00", "2027-01-05", "2027-01-05", nil, []string{
			"2027-01-05T10:10:00+01:00", "2027-01-05T10:40:00+01:00", "2027-01-05T11:10:00+01:00",
		}},
		{"now given in UTC", "2027-01-05T09:07:00Z", "2027-01-05", "2027-01-05", nil, []string{
			"2027-01-05T10:10:00+01:00", "2027-01-05T10:40:00+01:00", "2027-01-05T11:10:00+01:00",
		}},
		{"past days never appear", "2027-01-05T10:07:00+01:00", "2027-01-04", "2027-01-05", nil, []string{
			"2027-01-05T10:10:00+01:00", "2027-01-05T10:40:00+01:00", "2027-01-05T11:10:00+01:00",
		}},
		{"after the plage", "2027-01-05T11:31:00+01:00", "2027-01-04", "2027-01-05", nil, []string{}},
		{"a range starting after now keeps its start", "2027-01-05T10:07:00+01:00", "2027-01-05", "2027-01-05", []string{
			"a1 2027-01-05T10:00:00+01:00 2027-01-05T10:30:00+01:00",
		}, []string{
			"2027-01-05T10:30:00+01:00", "2027-01-05T11:00:00+01:00", "2027-01-05T11:30:00+01:00",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := slots.Query{Motif: c.Motif("m30"), From: day(tt.from), To: day(tt.to), Now: at(tt.now),
				Caller: c.Agent("a1"), AgentView: true, Busy: busy(tt.busy...)}
			got := search(t, c, q)
			want := make([]string, len(tt.want))
			for i, s := range tt.want {
				want[i] = s + " m30 l1 a1"
			}
			if !slices.Equal(describe(got), want) {
				t.Errorf("got  %q\nwant %q", describe(got), want)
			}
		})
	}
}

func TestBookingDelays(t *testing.T) {
	c := build(t, organisation+territory62+`
motifs:
  - { id: m60, organisation: o1, service: social, name: M60, duration: 60m, bookable_by: everyone, min_booking_delay: 24h, max_booking_delay: 7d }
  - { id: m30, organisation: o1, service: social, name: M30, duration: 30m, bookable_by: everyone }
plages_ouverture:
  - { id: p1, agent: a1, lieu: l1, motifs: [m60, m30], first_day: 2027-01-04, start_time: "09:00", end_time: "10:00",
      recurrence: { every: week, on: [monday, tuesday, wednesday, thursday, friday] } }
  - { id: p2, agent: a2, lieu: l2, motifs: [m30], first_day: 2027-01-05, start_time: "09:00", end_time: "12:00" }
`[1:])
	tests := []struct {
		name      string
		motif     string
		now       string
		from, to  string
		agentView bool
		want      []string
	}{
		// now + 24h = 6 January 09:00 and now + 7d = 12 January 09:00 are both bookable.
		{"public: min and max delays", "m60", "2027-01-05T09:00:00+01:00", "2027-01-04", "2027-01-22", false, []string{
			"2027-01-06T09:00:00+01:00 m60 l1 -", "2027-01-07T09:00:00+01:00 m60 l1 -", "2027-01-08T09:00:00+01:00 m60 l1 -",
			"2027-01-11T09:00:00+01:00 m60 l1 -", "2027-01-12T09:00:00+01:00 m60 l1 -",
		}},
		{"agents are not bound by them", "m60", "2027-01-05T09:00:00+01:00", "2027-01-04", "2027-01-22", true, []string{
			"2027-01-05T09:00:00+01:00 m60 l1 a1", "2027-01-06T09:00:00+01:00 m60 l1 a1", "2027-01-07T09:00:00+01:00 m60 l1 a1",
			"2027-01-08T09:00:00+01:00 m60 l1 a1", "2027-01-11T09:00:00+01:00 m60 l1 a1", "2027-01-12T09:00:00+01:00 m60 l1 a1",
			"2027-01-13T09:00:00+01:00 m60 l1 a1", "2027-01-14T09:00:00+01:00 m60 l1 a1", "2027-01-15T09:00:00+01:00 m60 l1 a1",
			"2027-01-18T09:00:00+01:00 m60 l1 a1", "2027-01-19T09:00:00+01:00 m60 l1 a1", "2027-01-20T09:00:00+01:00 m60 l1 a1",
			"2027-01-21T09:00:00+01:00 m60 l1 a1", "2027-01-22T09:00:00+01:00 m60 l1 a1",
		}},
		// Default min_booking_delay 30m: the range is cut from 10:10 (now
		// rounded up) and the slot at 10:10 is before 10:37.
		{"public: default delay after rounding", "m30", "2027-01-05T10:07:00+01:00", "2027-01-05", "2027-01-05", false, []string{
			"2027-01-05T10:40:00+01:00 m30 l2 -", "2027-01-05T11:10:00+01:00 m30 l2 -",
		}},
		{"agent: no delay after rounding", "m30", "2027-01-05T10:07:00+01:00", "2027-01-05", "2027-01-05", true, []string{
			"2027-01-05T10:10:00+01:00 m30 l2 a2", "2027-01-05T10:40:00+01:00 m30 l2 a2", "2027-01-05T11:10:00+01:00 m30 l2 a2",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := slots.Query{Motif: c.Motif(tt.motif), From: day(tt.from), To: day(tt.to), Now: at(tt.now), AgentView: tt.agentView}
			if tt.agentView {
				q.Caller = c.Agent("a1")
			}
			got := search(t, c, q)
			if !slices.Equal(describe(got), tt.want) {
				t.Errorf("got  %q\nwant %q", describe(got), tt.want)
			}
		})
	}
}

func TestPublicAndAgentViews(t *testing.T) {
	c := build(t, base+territory62+`
plages_ouverture:
  - { id: p1, agent: a1, lieu: l1, motifs: [m30], first_day: 2027-01-05, start_time: "09:00", end_time: "10:00" }
  - { id: p2, agent: a2, lieu: l1, motifs: [m30], first_day: 2027-01-05, start_time: "09:30", end_time: "10:30" }
  - { id: p3, agent: a2, lieu: l2, motifs: [m30], first_day: 2027-01-05, start_time: "09:00", end_time: "09:30" }
`)
	tests := []struct {
		name string
		q    slots.Query
		want []string
	}{
		{"public: one slot per motif, lieu and start, without agent", slots.Query{}, []string{
			"2027-01-05T09:00:00+01:00 m30 l1 -",
			"2027-01-05T09:00:00+01:00 m30 l2 -",
			"2027-01-05T09:30:00+01:00 m30 l1 -",
			"2027-01-05T10:00:00+01:00 m30 l1 -",
		}},
		{"agent view: one slot per free agent", slots.Query{AgentView: true, Caller: c.Agent("a1")}, []string{
			"2027-01-05T09:00:00+01:00 m30 l1 a1",
			"2027-01-05T09:00:00+01:00 m30 l2 a2",
			"2027-01-05T09:30:00+01:00 m30 l1 a1",
			"2027-01-05T09:30:00+01:00 m30 l1 a2",
			"2027-01-05T10:00:00+01:00 m30 l1 a2",
		}},
		{"public, one lieu", slots.Query{Lieu: c.Lieu("l2")}, []string{
			"2027-01-05T09:00:00+01:00 m30 l2 -",
		}},
		{"agent view, one agent", slots.Query{AgentView: true, Caller: c.Agent("a1"), Agent: c.Agent("a2")}, []string{
			"2027-01-05T09:00:00+01:00 m30 l2 a2",
			"2027-01-05T09:30:00+01:00 m30 l1 a2",
			"2027-01-05T10:00:00+01:00 m30 l1 a2",
		}},
		{"public, one agent busy: the other still offers 09:30", slots.Query{Busy: busy(
			"a1 2027-01-05T09:00:00+01:00 2027-01-05T10:00:00+01:00",
		)}, []string{
			"2027-01-05T09:00:00+01:00 m30 l2 -",
			"2027-01-05T09:30:00+01:00 m30 l1 -",
			"2027-01-05T10:00:00+01:00 m30 l1 -",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.Motif, q.From, q.To, q.Now = c.Motif("m30"), day("2027-01-05"), day("2027-01-05"), at("2027-01-01T00:00:00Z")
			got := search(t, c, q)
			if !slices.Equal(describe(got), tt.want) {
				t.Errorf("got  %q\nwant %q", describe(got), tt.want)
			}
		})
	}
}

// Two organisations of the Pas-de-Calais and one of the Nord. Every plage is
// on Tuesday 5 January 2027, 09:00–10:00.
const twoTerritories = `
holidays: none
territories: [{ id: "62", name: Pas-de-Calais }, { id: "59", name: Nord }]
organisations:
  - { id: o1, name: O1, territory: "62" }
  - { id: o2, name: O2, territory: "62" }
  - { id: o3, name: O3, territory: "59" }
services: [{ id: social, name: Social }, { id: numerique, name: Numérique }]
lieux:
  - { id: l1, organisation: o1, name: L1 }
  - { id: l2, organisation: o2, name: L2 }
  - { id: l3, organisation: o3, name: L3 }
motifs:
  - { id: o1-agents, organisation: o1, service: social, name: A, duration: 60m, bookable_by: agents }
  - { id: o1-presc, organisation: o1, service: social, name: P, duration: 60m, bookable_by: agents_and_prescripteurs }
  - { id: o1-everyone, organisation: o1, service: social, name: E, duration: 60m, bookable_by: everyone }
  - { id: o2-everyone, organisation: o2, service: social, name: E, duration: 60m, bookable_by: everyone, sectorisation_level: organisation }
  - { id: o2-num, organisation: o2, service: numerique, name: N, duration: 60m, bookable_by: agents_and_prescripteurs }
  - { id: o3-presc, organisation: o3, service: social, name: P, duration: 60m, bookable_by: agents_and_prescripteurs }
agents:
  - { id: a1, first_name: A, last_name: Un, email: a1@example.org, organisations: [o1], services: [social], token_sha256: "0000000000000000000000000000000000000000000000000000000000000001" }
  - { id: b1, first_name: B, last_name: Un, email: b1@example.org, organisations: [o2], services: [social, numerique], token_sha256: "0000000000000000000000000000000000000000000000000000000000000002" }
  - { id: c1, first_name: C, last_name: Un, email: c1@example.org, organisations: [o3], token_sha256: "0000000000000000000000000000000000000000000000000000000000000003" }
plages_ouverture:
  - { id: p1, agent: a1, lieu: l1, motifs: [o1-agents, o1-presc, o1-everyone], first_day: 2027-01-05, start_time: "09:00", end_time: "10:00" }
  - { id: p2, agent: b1, lieu: l2, motifs: [o2-everyone, o2-num], first_day: 2027-01-05, start_time: "09:00", end_time: "10:00" }
  - { id: p3, agent: c1, lieu: l3, motifs: [o3-presc], first_day: 2027-01-05, start_time: "09:00", end_time: "10:00" }
sectors:
  - { id: arras, territory: "62", zones: [{ postal_code: "62000" }], attributions: [{ organisation: o1 }] }
  - { id: lens, territory: "62", zones: [{ postal_code: "62300" }], attributions: [{ organisation: o2 }] }
`

func TestMayBook(t *testing.T) {
	c := build(t, twoTerritories)
	callers := []struct {
		name  string
		agent string
		want  [3]bool // o1-agents, o1-presc, o1-everyone
	}{
		{"anonymous", "", [3]bool{false, true, true}},
		{"agent of the motif's organisation", "a1", [3]bool{true, true, true}},
		{"agent of another organisation of the territory", "b1", [3]bool{false, true, true}},
		{"agent of another territory", "c1", [3]bool{false, false, false}},
	}
	for _, tt := range callers {
		t.Run(tt.name, func(t *testing.T) {
			caller := c.Agent(tt.agent)
			for i, id := range []string{"o1-agents", "o1-presc", "o1-everyone"} {
				if got := slots.MayBook(caller, c.Motif(id)); got != tt.want[i] {
					t.Errorf("MayBook(%q, %s) = %v, want %v", tt.agent, id, got, tt.want[i])
				}
				q := slots.Query{Motif: c.Motif(id), From: day("2027-01-05"), To: day("2027-01-05"),
					Now: at("2027-01-01T00:00:00Z"), Caller: caller, AgentView: caller != nil}
				if got := len(search(t, c, q)) > 0; got != tt.want[i] {
					t.Errorf("Search(%s) by %q found slots: %v, want %v", id, tt.agent, got, tt.want[i])
				}
			}
		})
	}
}

func TestElargir(t *testing.T) {
	c := build(t, twoTerritories)
	tests := []struct {
		name string
		q    slots.Query
		want []string
	}{
		{"agent view: prescription-open social motifs of the territory", slots.Query{Caller: c.Agent("a1"), AgentView: true}, []string{
			"2027-01-05T09:00:00+01:00 o1-everyone l1 a1",
			"2027-01-05T09:00:00+01:00 o1-presc l1 a1",
			"2027-01-05T09:00:00+01:00 o2-everyone l2 b1",
		}},
		{"public view", slots.Query{}, []string{
			"2027-01-05T09:00:00+01:00 o1-everyone l1 -",
			"2027-01-05T09:00:00+01:00 o1-presc l1 -",
			"2027-01-05T09:00:00+01:00 o2-everyone l2 -",
		}},
		{"agent of another territory", slots.Query{Caller: c.Agent("c1"), AgentView: true}, []string{}},
		{"address sectorised to Arras", slots.Query{Caller: c.Agent("a1"), AgentView: true, Address: sectorAddress("62000")}, []string{
			"2027-01-05T09:00:00+01:00 o1-everyone l1 a1",
			"2027-01-05T09:00:00+01:00 o1-presc l1 a1",
		}},
		{"address sectorised to Lens", slots.Query{Caller: c.Agent("a1"), AgentView: true, Address: sectorAddress("62300")}, []string{
			"2027-01-05T09:00:00+01:00 o1-everyone l1 a1",
			"2027-01-05T09:00:00+01:00 o1-presc l1 a1",
			"2027-01-05T09:00:00+01:00 o2-everyone l2 b1",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tt.q
			q.Service, q.Territory = c.Service("social"), c.Territory("62")
			q.From, q.To, q.Now = day("2027-01-05"), day("2027-01-05"), at("2027-01-01T00:00:00Z")
			got := search(t, c, q)
			if !slices.Equal(describe(got), tt.want) {
				t.Errorf("got  %q\nwant %q", describe(got), tt.want)
			}
		})
	}
}

func TestNext(t *testing.T) {
	// Third Wednesday every three months: 20 January, 21 April, 21 July,
	// 20 October 2027.
	c := build(t, organisation+territory62+`
motifs:
  - { id: rare, organisation: o1, service: social, name: R, duration: 60m, bookable_by: everyone, min_booking_delay: 0m, max_booking_delay: 180d }
  - { id: rare60, organisation: o1, service: social, name: R, duration: 60m, bookable_by: everyone, min_booking_delay: 0m, max_booking_delay: 60d }
  - { id: never, organisation: o1, service: social, name: N, duration: 60m, bookable_by: everyone }
plages_ouverture:
  - { id: p1, agent: a1, lieu: l1, motifs: [rare, rare60], first_day: 2027-01-01, start_time: "09:00", end_time: "12:00",
      recurrence: { every: month, interval: 3, on: [wednesday], week_of_month: 3 } }
`[1:])
	aprilBusy := "a1 2027-04-21T09:00:00+02:00 2027-04-21T12:00:00+02:00"
	julyBusy := "a1 2027-07-21T09:00:00+02:00 2027-07-21T12:00:00+02:00"
	tests := []struct {
		name      string
		motif     string
		now       string
		agentView bool
		busy      []string
		want      string // "" for none
	}{
		{"public, three months ahead", "rare", "2027-01-21T10:00:00+01:00", false, nil, "2027-04-21T09:00:00+02:00 rare l1 -"},
		{"agent view", "rare", "2027-01-21T10:00:00+01:00", true, nil, "2027-04-21T09:00:00+02:00 rare l1 a1"},
		{"April taken", "rare", "2027-01-21T10:00:00+01:00", true, []string{aprilBusy}, "2027-07-21T09:00:00+02:00 rare l1 a1"},
		{"April's last hour free", "rare", "2027-01-21T10:00:00+01:00", true, []string{
			"a1 2027-04-21T09:00:00+02:00 2027-04-21T11:00:00+02:00",
		}, "2027-04-21T11:00:00+02:00 rare l1 a1"},
		// The next one, 20 October, is past the 183-day horizon (23 July).
		{"April and July taken", "rare", "2027-01-21T10:00:00+01:00", true, []string{aprilBusy, julyBusy}, ""},
		{"public, beyond max_booking_delay", "rare60", "2027-01-21T10:00:00+01:00", false, nil, ""},
		{"today, rounded up", "rare", "2027-01-20T10:07:00+01:00", true, nil, "2027-01-20T10:10:00+01:00 rare l1 a1"},
		{"no plage at all", "never", "2027-01-21T10:00:00+01:00", true, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := slots.Query{Motif: c.Motif(tt.motif), Now: at(tt.now), AgentView: tt.agentView, Busy: busy(tt.busy...)}
			if tt.agentView {
				q.Caller = c.Agent("a1")
			}
			s, ok := slots.Next(c, q)
			got := ""
			if ok {
				checkSlot(t, q, s)
				got = describeSlot(s)
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

// Overseas organisations keep their own zone: Cayenne is UTC−3 and
// La Réunion UTC+4 all year round.
const overseas = `
holidays: none
territories: [{ id: "97", name: Outre-mer }]
organisations:
  - { id: cayenne, name: Cayenne, territory: "97", timezone: America/Cayenne }
  - { id: reunion, name: Réunion, territory: "97", timezone: Indian/Reunion }
services: [{ id: social, name: Social }]
lieux:
  - { id: lc, organisation: cayenne, name: LC }
  - { id: lr, organisation: reunion, name: LR }
motifs:
  - { id: mc, organisation: cayenne, service: social, name: C, duration: 60m, bookable_by: everyone, min_booking_delay: 0m, max_booking_delay: 3650d }
  - { id: mr, organisation: reunion, service: social, name: R, duration: 60m, bookable_by: everyone, min_booking_delay: 0m, max_booking_delay: 3650d }
agents:
  - { id: ac, first_name: A, last_name: C, email: ac@example.org, organisations: [cayenne], token_sha256: "0000000000000000000000000000000000000000000000000000000000000001" }
  - { id: ar, first_name: A, last_name: R, email: ar@example.org, organisations: [reunion], token_sha256: "0000000000000000000000000000000000000000000000000000000000000002" }
`

func TestOrganisationTimeZone(t *testing.T) {
	c := build(t, overseas+`
plages_ouverture:
  - { id: pc, agent: ac, lieu: lc, motifs: [mc], first_day: 2027-01-05, start_time: "09:00", end_time: "11:00", recurrence: { every: week, on: [tuesday] } }
  - { id: pr, agent: ar, lieu: lr, motifs: [mr], first_day: 2027-01-05, start_time: "09:00", end_time: "11:00", recurrence: { every: week, on: [tuesday] } }
`)
	tests := []struct {
		name  string
		motif string
		now   string
		want  []string
	}{
		{"Cayenne", "mc", "2027-01-01T00:00:00Z", []string{"2027-01-05T09:00:00-03:00", "2027-01-05T10:00:00-03:00"}},
		{"Réunion", "mr", "2027-01-01T00:00:00Z", []string{"2027-01-05T09:00:00+04:00", "2027-01-05T10:00:00+04:00"}},
		// 12:30 UTC is 09:30 in Cayenne and 16:30 in La Réunion.
		{"Cayenne, now in UTC", "mc", "2027-01-05T12:30:00Z", []string{"2027-01-05T09:30:00-03:00"}},
		{"Réunion, now in UTC", "mr", "2027-01-05T12:30:00Z", []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := slots.Query{Motif: c.Motif(tt.motif), From: day("2027-01-05"), To: day("2027-01-05"), Now: at(tt.now)}
			got := search(t, c, q)
			if !slices.Equal(starts(got), tt.want) {
				t.Errorf("got  %q\nwant %q", starts(got), tt.want)
			}
		})
	}
}

// TestNextAcrossZones: Saturday 9 January 22:00 in Cayenne is 01:00 UTC on
// the 10th, after Sunday 10 January 00:00 in La Réunion (20:00 UTC on the
// 9th), although its local day is earlier.
func TestNextAcrossZones(t *testing.T) {
	c := build(t, overseas+`
plages_ouverture:
  - { id: pc, agent: ac, lieu: lc, motifs: [mc], first_day: 2027-01-09, start_time: "22:00", end_time: "23:00" }
  - { id: pr, agent: ar, lieu: lr, motifs: [mr], first_day: 2027-01-10, start_time: "00:00", end_time: "01:00" }
`)
	q := slots.Query{Service: c.Service("social"), Territory: c.Territory("97"), Now: at("2027-01-04T12:00:00Z")}
	s, ok := slots.Next(c, q)
	if got, want := describeSlot(s), "2027-01-10T00:00:00+04:00 mr lr -"; !ok || got != want {
		t.Errorf("Next = %q, %v; want %q", got, ok, want)
	}
	q.From, q.To = day("2027-01-09"), day("2027-01-10")
	got := search(t, c, q)
	want := []string{"2027-01-10T00:00:00+04:00 mr lr -", "2027-01-09T22:00:00-03:00 mc lc -"}
	if !slices.Equal(describe(got), want) {
		t.Errorf("Search = %q\nwant %q", describe(got), want)
	}
}

func TestMotifsOfElargir(t *testing.T) {
	c := build(t, twoTerritories)
	var ids []string
	for _, m := range slots.Motifs(c, &slots.Query{Service: c.Service("social"), Territory: c.Territory("62"), Caller: c.Agent("b1")}) {
		ids = append(ids, m.ID)
	}
	if want := []string{"o1-presc", "o1-everyone", "o2-everyone"}; !slices.Equal(ids, want) {
		t.Errorf("Motifs = %q, want %q", ids, want)
	}
}

func sectorAddress(postalCode string) sector.Address { return sector.Address{PostalCode: postalCode} }

// TestConcurrentSearches: HTTP handlers share one catalogue and one busy
// index; run with -race.
func TestConcurrentSearches(t *testing.T) {
	d := dataset.Generate(5, dataset.Params{Organisations: 4, Agents: 40, Plages: 120, Zones: 60, RDVs: 2000})
	cat := d.Catalog
	caller := cat.Organisations[0].Agents[0]
	q := slots.Query{Service: caller.Services[0], Territory: caller.Organisations[0].Territory, Caller: caller, AgentView: true,
		From: d.Params.Start, To: d.Params.Start.AddDays(6), Now: d.Params.Start.At(0, time.UTC), Busy: d.Busy}
	want := describe(slots.Search(cat, q))
	if len(want) == 0 {
		t.Fatal("no slot to compare")
	}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if got := describe(slots.Search(cat, q)); !slices.Equal(got, want) {
				t.Errorf("a concurrent search found %d slots, want %d", len(got), len(want))
			}
		})
	}
	wg.Wait()
}
