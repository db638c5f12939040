package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Period is a calendar length for retention limits: whole years, months,
// weeks and days ("2y", "6mo", "30d", "1y6mo"). Months are "mo", never
// "m", which Duration reads as minutes: "6m" is refused rather than
// guessed. A period is counted on the calendar (2y before 2026-03-01 is
// 2024-03-01), not as a number of hours.
type Period struct {
	Years, Months, Days int
}

var periodUnits = []struct {
	suffix string
	set    func(p *Period, n int)
}{
	{"mo", func(p *Period, n int) { p.Months += n }},
	{"y", func(p *Period, n int) { p.Years += n }},
	{"w", func(p *Period, n int) { p.Days += 7 * n }},
	{"d", func(p *Period, n int) { p.Days += n }},
}

// ParsePeriod parses a Period; each unit may appear once, in any order.
func ParsePeriod(s string) (Period, error) {
	bad := fmt.Errorf("%q is not a period (use 2y, 6mo, 4w or 30d; mo is months, m would be minutes)", s)
	var p Period
	rest := strings.TrimSpace(s)
	if rest == "" {
		return p, bad
	}
	for rest != "" {
		i := 0
		for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
			i++
		}
		if i == 0 || i > 6 {
			return Period{}, bad
		}
		n, _ := strconv.Atoi(rest[:i])
		rest = rest[i:]
		matched := false
		for _, u := range periodUnits {
			if strings.HasPrefix(rest, u.suffix) {
				u.set(&p, n)
				rest, matched = rest[len(u.suffix):], true
				break
			}
		}
		if !matched {
			return Period{}, bad
		}
	}
	return p, nil
}

func (p *Period) UnmarshalText(b []byte) error {
	v, err := ParsePeriod(string(b))
	*p = v
	return err
}

// Zero reports whether the period is empty.
func (p Period) Zero() bool { return p == Period{} }

// Before returns t moved back by the period on t's calendar.
func (p Period) Before(t time.Time) time.Time { return t.AddDate(-p.Years, -p.Months, -p.Days) }

// String prints the period as the YAML writes it ("2y", "6mo", "1y6mo", "30d").
func (p Period) String() string {
	var b strings.Builder
	for _, part := range []struct {
		n    int
		unit string
	}{{p.Years, "y"}, {p.Months, "mo"}, {p.Days, "d"}} {
		if part.n != 0 {
			fmt.Fprintf(&b, "%d%s", part.n, part.unit)
		}
	}
	if b.Len() == 0 {
		return "0d"
	}
	return b.String()
}
