package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"rdvsync/caldav"
	"rdvsync/caldav/caldavtest"
)

// TestReloadReadsBusyTimesAtOnce runs the daemon, then gives an agent a
// calendar with read_busy (a real Radicale) by SIGHUP: the agent's slots
// lose the calendar's meeting within seconds, not at the next busy-time
// refresh (5 minutes). A second reload points the agent at another
// calendar: its meeting counts at once and the first one's no longer.
func TestReloadReadsBusyTimesAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	dir, bin, cfg, example := daemonSetup(t)
	if err := os.WriteFile(cfg, example, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, cfg)
	slots := func() map[time.Time]bool {
		var body struct {
			Slots []struct {
				StartsAt time.Time `json:"starts_at"`
				AgentID  string    `json:"agent_id"`
			} `json:"slots"`
		}
		from := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
		to := time.Now().AddDate(0, 0, 21).Format(time.DateOnly)
		path := "/api/v1/slots?motif_id=rsa-orientation&lieu_id=mds-arras-centre&from=" + from + "&to=" + to
		if status := d.call(t, "GET", path, "camille-martin", nil, &body); status != http.StatusOK {
			t.Fatalf("slots: %d", status)
		}
		out := map[time.Time]bool{}
		for _, s := range body.Slots {
			if s.AgentID == "camille-martin" {
				out[s.StartsAt.UTC()] = true
			}
		}
		return out
	}
	free := slots()
	var first, second time.Time
	for s := range free {
		if first.IsZero() || s.Before(first) {
			first = s
		}
	}
	for s := range free {
		if s.Sub(first) >= 24*time.Hour && (second.IsZero() || s.Before(second)) {
			second = s
		}
	}
	if first.IsZero() || second.IsZero() {
		t.Fatalf("camille has no two slots a day apart: %v", free)
	}

	// Two calendars, each with a meeting of the agent over one slot.
	srv := caldavtest.StartRadicale(t)
	other := srv.MakeCalendar(t, "autre")
	for i, c := range []struct {
		url  string
		slot time.Time
	}{{srv.CalendarURL, first}, {other, second}} {
		client, err := caldav.NewClient(c.url, srv.Username, srv.Password, caldav.ClientOptions{})
		if err != nil {
			t.Fatal(err)
		}
		meeting := caldavtest.ExternalEvent(fmt.Sprintf("reunion-%d@example.org", i), "Réunion", c.slot, c.slot.Add(20*time.Minute))
		if _, err := client.Put(context.Background(), "reunion.ics", caldavtest.ExternalCalendar(meeting), ""); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "caldav-password"), []byte(srv.Password), 0o600); err != nil {
		t.Fatal(err)
	}
	reload := func(url string) {
		t.Helper()
		cal := fmt.Sprintf("    rdv_notifications_level: others\n    calendar:\n      caldav: { url: %q, username: %q, password_file: caldav-password }\n      read_busy: true\n", url, srv.Username)
		conf := bytes.Replace(example, []byte("    rdv_notifications_level: others\n"), []byte(cal), 1)
		if err := os.WriteFile(cfg, conf, 0o600); err != nil {
			t.Fatal(err)
		}
		d.cmd.Process.Signal(syscall.SIGHUP)
	}
	waitSlots := func(what string, cond func(map[time.Time]bool) bool) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for !cond(slots()) {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	reload(srv.CalendarURL)
	waitSlots("the first calendar's meeting to take its slot", func(s map[time.Time]bool) bool { return !s[first] && s[second] })
	reload(other)
	waitSlots("the second calendar's meeting to take its slot instead", func(s map[time.Time]bool) bool { return s[first] && !s[second] })
}
