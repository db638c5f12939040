package catalog_test

import (
	"slices"
	"testing"

	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/rdv"
)

// build parses a configuration written in a test and builds its catalogue.
func build(t *testing.T, yaml string) *catalog.Catalog {
	t.Helper()
	f, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("configuration rejected:\n%v", err)
	}
	c, err := catalog.Build(f)
	if err != nil {
		t.Fatalf("catalog.Build: %v", err)
	}
	return c
}

const onePlage = `
territories: [{ id: "62", name: Pas-de-Calais }]
organisations: [{ id: o1, name: O1, territory: "62" }]
services: [{ id: social, name: Social }]
lieux: [{ id: l1, organisation: o1, name: L1 }]
motifs: [{ id: m1, organisation: o1, service: social, name: M1, duration: 30m }]
agents:
  - { id: a1, first_name: A, last_name: Un, email: a1@example.org, organisations: [o1], services: [social],
      token_sha256: "0000000000000000000000000000000000000000000000000000000000000001" }
plages_ouverture:
  - { id: p1, agent: a1, lieu: l1, motifs: [m1], start_time: "09:00", end_time: "12:00", `

// occurrences lists the days of [from, to] on which the plage occurs.
func occurrences(p *catalog.Plage, from, to string) []string {
	var out []string
	for d := mustDate(from); d <= mustDate(to); d++ {
		if p.Recurrence.Occurs(p.FirstDay, d) {
			out = append(out, d.String())
		}
	}
	return out
}

func mustDate(s string) rdv.Date {
	d, err := rdv.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// The calendar of 2027 these cases are read from: January 1st is a Friday,
// so Mondays fall on 4, 11, 18, 25 January, Tuesdays on 5, 12, 19, 26
// January, 2, 9, 16, 23 February, 2, 9, 16, 23, 30 March, 6, 13, 20, 27 April.
func TestRecurrenceOccurs(t *testing.T) {
	tests := []struct {
		name     string
		plage    string // the rest of the plage's flow mapping
		from, to string
		want     []string
	}{
		{"single day",
			`first_day: 2027-01-06 }`, "2027-01-01", "2027-01-31",
			[]string{"2027-01-06"}},
		{"weekly on two days",
			`first_day: 2027-01-04, recurrence: { every: week, on: [monday, thursday] } }`, "2027-01-01", "2027-01-20",
			[]string{"2027-01-04", "2027-01-07", "2027-01-11", "2027-01-14", "2027-01-18"}},
		{"every other week",
			`first_day: 2027-01-04, recurrence: { every: week, interval: 2, on: [monday, thursday] } }`, "2027-01-01", "2027-02-06",
			[]string{"2027-01-04", "2027-01-07", "2027-01-18", "2027-01-21", "2027-02-01", "2027-02-04"}},
		// Weeks run Monday to Sunday: the week of a Wednesday first_day is
		// week 0, its Monday is before first_day, and the next week is skipped.
		{"every other week from a Wednesday",
			`first_day: 2027-01-06, recurrence: { every: week, interval: 2, on: [monday, wednesday, friday] } }`, "2027-01-01", "2027-02-05",
			[]string{"2027-01-06", "2027-01-08", "2027-01-18", "2027-01-20", "2027-01-22", "2027-02-01", "2027-02-03", "2027-02-05"}},
		{"weekly day before first_day's weekday",
			`first_day: 2027-01-07, recurrence: { every: week, on: [tuesday, thursday] } }`, "2027-01-01", "2027-01-14",
			[]string{"2027-01-07", "2027-01-12", "2027-01-14"}},
		{"nothing before first_day",
			`first_day: 2027-01-11, recurrence: { every: week, on: [monday] } }`, "2026-12-28", "2027-01-18",
			[]string{"2027-01-11", "2027-01-18"}},
		{"until is inclusive",
			`first_day: 2027-01-05, recurrence: { every: week, on: [tuesday], until: 2027-01-26 } }`, "2027-01-01", "2027-02-28",
			[]string{"2027-01-05", "2027-01-12", "2027-01-19", "2027-01-26"}},
		{"first Tuesday of the month",
			`first_day: 2027-01-01, recurrence: { every: month, on: [tuesday], week_of_month: 1 } }`, "2027-01-01", "2027-04-30",
			[]string{"2027-01-05", "2027-02-02", "2027-03-02", "2027-04-06"}},
		{"second Tuesday",
			`first_day: 2027-01-01, recurrence: { every: month, on: [tuesday], week_of_month: 2 } }`, "2027-01-01", "2027-04-30",
			[]string{"2027-01-12", "2027-02-09", "2027-03-09", "2027-04-13"}},
		{"third Tuesday",
			`first_day: 2027-01-01, recurrence: { every: month, on: [tuesday], week_of_month: 3 } }`, "2027-01-01", "2027-04-30",
			[]string{"2027-01-19", "2027-02-16", "2027-03-16", "2027-04-20"}},
		{"fourth Tuesday is not the last of March",
			`first_day: 2027-01-01, recurrence: { every: month, on: [tuesday], week_of_month: 4 } }`, "2027-01-01", "2027-04-30",
			[]string{"2027-01-26", "2027-02-23", "2027-03-23", "2027-04-27"}},
		{"last Tuesday",
			`first_day: 2027-01-01, recurrence: { every: month, on: [tuesday], week_of_month: -1 } }`, "2027-01-01", "2027-04-30",
			[]string{"2027-01-26", "2027-02-23", "2027-03-30", "2027-04-27"}},
		{"last Friday",
			`first_day: 2027-01-01, recurrence: { every: month, on: [friday], week_of_month: -1 } }`, "2027-01-01", "2027-04-30",
			[]string{"2027-01-29", "2027-02-26", "2027-03-26", "2027-04-30"}},
		// 31 May is the last Monday of May, but May is not a third month from January.
		{"last Monday every three months",
			`first_day: 2027-01-01, recurrence: { every: month, interval: 3, on: [monday], week_of_month: -1 } }`, "2027-01-01", "2027-05-31",
			[]string{"2027-01-25", "2027-04-26"}},
		{"second Thursday every other month",
			`first_day: 2027-01-01, recurrence: { every: month, interval: 2, on: [thursday], week_of_month: 2 } }`, "2027-01-01", "2027-06-30",
			[]string{"2027-01-14", "2027-03-11", "2027-05-13"}},
		{"monthly, first_day after the month's occurrence",
			`first_day: 2027-01-06, recurrence: { every: month, on: [tuesday], week_of_month: 1 } }`, "2027-01-01", "2027-03-31",
			[]string{"2027-02-02", "2027-03-02"}},
		{"monthly rank taken from first_day",
			`first_day: 2027-01-19, recurrence: { every: month, on: [tuesday] } }`, "2027-01-01", "2027-03-31",
			[]string{"2027-01-19", "2027-02-16", "2027-03-16"}},
		{"monthly until",
			`first_day: 2027-01-01, recurrence: { every: month, on: [tuesday], week_of_month: 1, until: 2027-03-02 } }`, "2027-01-01", "2027-06-30",
			[]string{"2027-01-05", "2027-02-02", "2027-03-02"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := build(t, onePlage+tt.plage+"\n")
			got := occurrences(c.Plages[0], tt.from, tt.to)
			if !slices.Equal(got, tt.want) {
				t.Errorf("occurrences in %s..%s:\n got %v\nwant %v", tt.from, tt.to, got, tt.want)
			}
		})
	}
}

func TestIsHoliday(t *testing.T) {
	const header = `
territories:
  - { id: "62", name: Pas-de-Calais }
  - { id: "974", name: La Réunion, extra_holidays: [2027-12-20] }
organisations: [{ id: o1, name: O1, territory: "62" }]
`
	tests := []struct {
		holidays  string
		territory string
		day       string
		want      bool
	}{
		// Easter 2027 is Sunday 28 March: Easter Monday 29 March,
		// Ascension (Easter + 39) Thursday 6 May, Whit Monday 17 May.
		{"fr", "62", "2026-12-25", true},
		{"fr", "62", "2027-01-01", true},
		{"fr", "62", "2027-03-29", true},
		{"fr", "62", "2027-05-01", true},
		{"fr", "62", "2027-05-06", true},
		{"fr", "62", "2027-05-08", true},
		{"fr", "62", "2027-05-17", true},
		{"fr", "62", "2027-07-14", true},
		{"fr", "62", "2027-08-15", true},
		{"fr", "62", "2027-11-01", true},
		{"fr", "62", "2027-11-11", true},
		{"fr", "62", "2040-12-25", true}, // beyond the precomputed years
		{"fr", "62", "2027-03-26", false},
		{"fr", "62", "2027-05-13", false},
		{"fr", "62", "2027-12-26", false}, // Saint-Étienne is only kept in Alsace-Moselle
		{"fr", "62", "2027-12-20", false},
		{"fr", "974", "2027-12-20", true}, // abolition of slavery in La Réunion
		{"none", "62", "2026-12-25", false},
		{"none", "62", "2027-03-29", false},
		{"none", "974", "2027-12-20", true},
	}
	for _, tt := range tests {
		t.Run(tt.holidays+"/"+tt.territory+"/"+tt.day, func(t *testing.T) {
			c := build(t, "holidays: "+tt.holidays+header)
			if got := c.IsHoliday(c.Territory(tt.territory), mustDate(tt.day)); got != tt.want {
				t.Errorf("IsHoliday = %v, want %v", got, tt.want)
			}
		})
	}
}
