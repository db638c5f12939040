package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"rdvsync/internal/rdv"
)

// Duration is a time.Duration written in Go syntax plus days ("90d", "1d12h").
type Duration time.Duration

// ParseDuration parses Go durations and a leading whole number of days.
func ParseDuration(s string) (time.Duration, error) {
	bad := fmt.Errorf("%q is not a duration (use 45m, 2h30m or 90d)", s)
	var days time.Duration
	rest := s
	if i := strings.IndexByte(s, 'd'); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil || n < 0 {
			return 0, bad
		}
		days, rest = time.Duration(n)*24*time.Hour, s[i+1:]
	}
	if rest == "" {
		if days == 0 && s != "0d" {
			return 0, bad
		}
		return days, nil
	}
	d, err := time.ParseDuration(rest)
	if err != nil || d < 0 {
		return 0, bad
	}
	return days + d, nil
}

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := ParseDuration(string(b))
	*d = Duration(v)
	return err
}

// D returns the value as a time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// DefaultBusyRefresh and MinBusyRefresh bound calendars.busy_refresh.
const (
	DefaultBusyRefresh = 5 * time.Minute
	MinBusyRefresh     = time.Minute
)

// Weekday is a day name in a recurrence ("monday").
type Weekday time.Weekday

func (w *Weekday) UnmarshalText(b []byte) error {
	d, err := rdv.ParseWeekday(string(b))
	*w = Weekday(d)
	return err
}

// Secret is a value read from a *_file or *_env. It never prints itself.
type Secret string

func (Secret) String() string                 { return "[secret]" }
func (s Secret) GoString() string             { return "[secret]" }
func (s Secret) MarshalText() ([]byte, error) { return []byte("[secret]"), nil }

// Error is one problem in the file, with where it is.
type Error struct {
	File string
	Pos  Pos
	Path string
	Msg  string
}

func (e Error) Error() string {
	if e.Pos.Line == 0 {
		return fmt.Sprintf("%s: %s: %s", e.File, e.Path, e.Msg)
	}
	if e.Path == "" {
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Pos.Line, e.Pos.Column, e.Msg)
	}
	return fmt.Sprintf("%s:%d:%d: %s: %s", e.File, e.Pos.Line, e.Pos.Column, e.Path, e.Msg)
}

// Errors is every problem found in a file, in file order.
type Errors []Error

func (es *Errors) add(file string, p Pos, path, msg string) {
	*es = append(*es, Error{File: file, Pos: p, Path: path, Msg: msg})
}

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

func (es Errors) sorted() Errors {
	sort.SliceStable(es, func(i, j int) bool {
		if es[i].Pos.Line != es[j].Pos.Line {
			return es[i].Pos.Line < es[j].Pos.Line
		}
		return es[i].Pos.Column < es[j].Pos.Column
	})
	return es
}

// String prints whole days as "90d", other durations in Go syntax without
// trailing zero units ("45m", "2h30m").
func (d Duration) String() string {
	x := time.Duration(d)
	day := 24 * time.Hour
	if x >= day && x%day == 0 {
		return fmt.Sprintf("%dd", x/day)
	}
	s := x.String()
	s = strings.TrimSuffix(s, "0s")
	return strings.TrimSuffix(s, "0m")
}
