package calsync_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"rdvsync/connectors"
	"rdvsync/connectors/connectorstest"
	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
)

// busyCalendars are in-memory calendars by CalDAV URL, counting the
// busy-time reads each gets.
type busyCalendars struct {
	byURL map[string]*connectorstest.Memory
	reads map[string]*atomic.Int32
}

func newBusyCalendars(urls ...string) *busyCalendars {
	b := &busyCalendars{byURL: map[string]*connectorstest.Memory{}, reads: map[string]*atomic.Int32{}}
	for _, u := range urls {
		m, n := connectorstest.NewMemory(), &atomic.Int32{}
		m.Fail = func(op, _ string) error {
			if op == "busy" {
				n.Add(1)
			}
			return nil
		}
		b.byURL[u], b.reads[u] = m, n
	}
	return b
}

func (b *busyCalendars) factory(_ context.Context, a *catalog.Agent) (connectors.Connector, error) {
	return b.byURL[a.Calendar.CalDAV.URL], nil
}

// busyConfig is the example where camille reads the busy times of the
// calendar at url (none if url is ""), with the given refresh period.
func busyConfig(t *testing.T, url string, every time.Duration) *catalog.Catalog {
	t.Helper()
	var cat *catalog.Catalog
	if url == "" {
		cat = withCalendar(t, "minimal", false)
	} else {
		cat = withCalendar(t, "minimal", true)
		cat.Agent("camille-martin").Calendar.CalDAV.URL = url
	}
	cat.Config.Calendars.BusyRefresh = config.Duration(every)
	return cat
}

func camilleBusy(h *harness) int {
	day := time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC)
	return len(h.sync.AppendAgentBusy(nil, "camille-martin", day, day.Add(24*time.Hour)))
}

func eventually(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %s: %s", within, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A reload that gives an agent a calendar with read_busy, or another one,
// has its busy times read at once, not at the next period (an hour here);
// one that stops reading them drops them at once.
func TestReloadRefreshesChangedCalendarsAtOnce(t *testing.T) {
	const first, second = "http://127.0.0.1:1/first/", "http://127.0.0.1:1/second/"
	cals := newBusyCalendars(first, second)
	meeting := func(hour int) connectors.Busy {
		start := time.Date(2026, 12, 3, hour, 0, 0, 0, time.UTC)
		return connectors.Busy{Start: start, End: start.Add(time.Hour), UID: "external"}
	}
	cals.byURL[first].AddBusy(meeting(9))
	cals.byURL[second].AddBusy(meeting(13))
	cals.byURL[second].AddBusy(meeting(15))

	h := wire(t, busyConfig(t, first, time.Hour), cals.factory)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.sync.RunBusyRefresh(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	eventually(t, "the busy times read at start", 2*time.Second, func() bool { return camilleBusy(h) == 1 })

	reload := func(next *catalog.Catalog) {
		old := h.cat.Load()
		h.cat.Store(next)
		h.sync.ConfigChanged(context.Background(), old)
	}
	reload(busyConfig(t, second, time.Hour))
	eventually(t, "the other calendar's busy times", 2*time.Second, func() bool { return camilleBusy(h) == 2 })

	// A reload that changes nothing of the calendars reads nothing.
	reads := cals.reads[second].Load()
	reload(busyConfig(t, second, time.Hour))
	time.Sleep(50 * time.Millisecond)
	if n := cals.reads[second].Load(); n != reads {
		t.Errorf("an unchanged calendar was read again: %d reads, was %d", n, reads)
	}

	reload(busyConfig(t, "", time.Hour))
	if n := camilleBusy(h); n != 0 {
		t.Errorf("%d busy times kept after read_busy was turned off", n)
	}

	reload(busyConfig(t, first, time.Hour))
	eventually(t, "the busy times of a calendar read again", 2*time.Second, func() bool { return camilleBusy(h) == 1 })
	if n := cals.reads[first].Load(); n != 2 {
		t.Errorf("the first calendar was read %d times, want 2 (at start, at the last reload)", n)
	}
}

// The period is the configuration's calendars.busy_refresh, and a reload
// that changes it takes effect without a restart.
func TestBusyRefreshPeriod(t *testing.T) {
	const url = "http://127.0.0.1:1/cal/"
	cals := newBusyCalendars(url)
	h := wire(t, busyConfig(t, url, 20*time.Millisecond), cals.factory)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.sync.RunBusyRefresh(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	eventually(t, "five reads at a 20ms period", 2*time.Second, func() bool { return cals.reads[url].Load() >= 5 })
	old := h.cat.Load()
	h.cat.Store(busyConfig(t, url, time.Hour))
	h.sync.ConfigChanged(context.Background(), old)
	time.Sleep(100 * time.Millisecond) // a read in flight ends
	n := cals.reads[url].Load()
	time.Sleep(150 * time.Millisecond)
	if got := cals.reads[url].Load(); got != n {
		t.Errorf("%d reads after the period became 1h, want none", got-n)
	}
}
