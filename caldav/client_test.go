package caldav

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"rdvsync/caldav/caldavtest"
)

// servers are the real CalDAV servers every client test runs against.
var servers = []struct {
	name  string
	start func(testing.TB) caldavtest.Server
}{
	{"radicale", caldavtest.StartRadicale},
	{"xandikos", caldavtest.StartXandikos},
}

func newTestClient(t *testing.T, srv caldavtest.Server, calendarURL string) *Client {
	t.Helper()
	c, err := NewClient(calendarURL, srv.Username, srv.Password, ClientOptions{Timeout: 10 * time.Second, Location: paris(t)})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientObjectLifecycle(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			srv := s.start(t)
			c := newTestClient(t, srv, srv.CalendarURL)
			ctx := context.Background()
			ev := goldenEvents(t)["minimal"].ev
			name := ev.UID + ".ics"

			etag, err := c.Put(ctx, name, ev.Calendar(""), "")
			if err != nil || etag == "" {
				t.Fatalf("create: etag %q, %v", etag, err)
			}
			cal, getETag, err := c.Get(ctx, name)
			if err != nil {
				t.Fatal(err)
			}
			if getETag != etag {
				t.Errorf("GET ETag %s differs from PUT ETag %s", getETag, etag)
			}
			checkStored(t, cal, ev)

			if _, err := c.Put(ctx, name, ev.Calendar(""), ""); !errors.Is(err, ErrPreconditionFailed) {
				t.Errorf("second create: %v, want ErrPreconditionFailed", err)
			}

			moved := ev
			moved.Sequence++
			moved.Start, moved.End = ev.Start.Add(24*time.Hour), ev.End.Add(24*time.Hour)
			etag2, err := c.Put(ctx, name, moved.Calendar(""), etag)
			if err != nil || etag2 == "" || etag2 == etag {
				t.Fatalf("update: etag %q (was %q), %v", etag2, etag, err)
			}
			if _, err := c.Put(ctx, name, ev.Calendar(""), etag); !errors.Is(err, ErrPreconditionFailed) {
				t.Errorf("update with a stale ETag: %v, want ErrPreconditionFailed", err)
			} else if Retryable(err) {
				t.Errorf("412 must not be retryable as such: %v", err)
			}

			objs, err := c.List(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(objs) != 1 || objs[0].Name != name || objs[0].ETag != etag2 || objs[0].Href != c.Href(name) {
				t.Fatalf("collection holds %+v, want only %s with ETag %s", objs, name, etag2)
			}
			checkStored(t, objs[0].Calendar, moved)

			if err := c.Delete(ctx, name, etag); !errors.Is(err, ErrPreconditionFailed) {
				t.Errorf("delete with a stale ETag: %v, want ErrPreconditionFailed", err)
			}
			if err := c.Delete(ctx, name, etag2); err != nil {
				t.Fatalf("delete: %v", err)
			}
			if _, _, err := c.Get(ctx, name); !errors.Is(err, ErrNotFound) {
				t.Errorf("GET after delete: %v, want ErrNotFound", err)
			}
			if err := c.Delete(ctx, name, ""); err != nil {
				t.Errorf("deleting again: %v, want nil", err)
			}
			if _, err := c.Put(ctx, name, ev.Calendar(""), etag2); !errors.Is(err, ErrPreconditionFailed) {
				t.Errorf("update of a deleted object: %v, want ErrPreconditionFailed", err)
			}
		})
	}
}

// checkStored checks what a user's calendar application would show.
func checkStored(t *testing.T, cal *ical.Calendar, want Event) {
	t.Helper()
	if cal.Props.Get(ical.PropMethod) != nil {
		t.Error("stored object has a METHOD")
	}
	events := cal.Events()
	if len(events) != 1 {
		t.Fatalf("stored object has %d VEVENTs", len(events))
	}
	ev := events[0]
	start, err := ev.DateTimeStart(nil)
	if err != nil || !start.Equal(want.Start) || start.Location() != time.UTC {
		t.Errorf("DTSTART %v (%v), want %v in UTC", start, err, want.Start.UTC())
	}
	end, err := ev.DateTimeEnd(nil)
	if err != nil || !end.Equal(want.End) {
		t.Errorf("DTEND %v (%v), want %v", end, err, want.End.UTC())
	}
	seq, err := ev.Props.Get(ical.PropSequence).Int()
	if err != nil || seq != want.Sequence {
		t.Errorf("SEQUENCE %d (%v), want %d", seq, err, want.Sequence)
	}
	for prop, w := range map[string]string{ical.PropUID: want.UID, ical.PropSummary: want.Summary, ical.PropLocation: want.Location} {
		if got, _ := ev.Props.Text(prop); got != w {
			t.Errorf("%s = %q, want %q", prop, got, w)
		}
	}
}

func TestClientBusy(t *testing.T) {
	for _, s := range servers {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			srv := s.start(t)
			c := newTestClient(t, srv, srv.MakeCalendar(t, "busy"))
			ctx := context.Background()
			loc := paris(t)
			at := func(month time.Month, day, hour, min int) time.Time {
				return time.Date(2026, month, day, hour, min, 0, 0, loc)
			}
			put := func(name string, cal *ical.Calendar) {
				t.Helper()
				if _, err := c.Put(ctx, name, cal, ""); err != nil {
					t.Fatalf("PUT %s: %v", name, err)
				}
			}

			put("opaque.ics", caldavtest.ExternalCalendar(caldavtest.ExternalEvent("opaque", "Réunion d'équipe", at(12, 8, 14, 0), at(12, 8, 15, 30))))
			transparent := caldavtest.ExternalEvent("transparent", "Rappel", at(12, 9, 9, 0), at(12, 9, 10, 0))
			transparent.Props.SetText(ical.PropTransparency, "TRANSPARENT")
			put("transparent.ics", caldavtest.ExternalCalendar(transparent))
			cancelled := caldavtest.ExternalEvent("cancelled", "Annulé", at(12, 10, 9, 0), at(12, 10, 10, 0))
			cancelled.Props.SetText(ical.PropStatus, "CANCELLED")
			put("cancelled.ics", caldavtest.ExternalCalendar(cancelled))
			put("outside.ics", caldavtest.ExternalCalendar(caldavtest.ExternalEvent("outside", "Hors fenêtre", at(12, 22, 9, 0), at(12, 22, 10, 0))))
			// Weekly on Mondays at 10:00 Paris time from summer time on:
			// the December instances are at 09:00Z, not 08:00Z. One is
			// excluded, one moved into the window from outside it.
			weekly := caldavtest.ExternalEvent("weekly", "Permanence", at(10, 19, 10, 0), at(10, 19, 11, 0))
			weekly.Props.Set(&ical.Prop{Name: ical.PropRecurrenceRule, Params: ical.Params{}, Value: "FREQ=WEEKLY;COUNT=20"})
			exdate := ical.NewProp(ical.PropExceptionDates)
			exdate.SetDateTime(at(12, 14, 10, 0))
			weekly.Props.Set(exdate)
			moved := caldavtest.ExternalEvent("weekly", "Permanence (déplacée)", at(12, 18, 15, 0), at(12, 18, 16, 0))
			rid := ical.NewProp(ical.PropRecurrenceID)
			rid.SetDateTime(at(12, 21, 10, 0))
			moved.Props.Set(rid)
			put("weekly.ics", caldavtest.ExternalCalendar(weekly, moved))
			// Tuesdays 08:30 since September, until 9 December: the server
			// must find it although it began long before the window.
			tuesdays := caldavtest.ExternalEvent("tuesdays", "Point hebdo", at(9, 1, 8, 30), at(9, 1, 9, 0))
			tuesdays.Props.Set(&ical.Prop{Name: ical.PropRecurrenceRule, Params: ical.Params{}, Value: "FREQ=WEEKLY;BYDAY=TU;UNTIL=20261209T000000Z"})
			put("tuesdays.ics", caldavtest.ExternalCalendar(tuesdays))
			allDay := ical.NewEvent()
			allDay.Props.SetText(ical.PropUID, "all-day")
			allDay.Props.SetDateTime(ical.PropDateTimeStamp, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
			allDay.Props.SetDate(ical.PropDateTimeStart, at(12, 11, 0, 0))
			allDay.Props.SetText(ical.PropSummary, "Formation")
			put("all-day.ics", caldavtest.ExternalCalendar(allDay.Component))
			rdv := goldenEvents(t)["minimal"].ev // 2026-12-07 09:00–09:45 Paris
			put(rdv.UID+".ics", rdv.Calendar(""))

			got, err := c.Busy(ctx, at(12, 7, 0, 0), at(12, 21, 0, 0))
			if err != nil {
				t.Fatal(err)
			}
			want := []Busy{
				{UID: rdv.UID, Start: at(12, 7, 9, 0).UTC(), End: at(12, 7, 9, 45).UTC()},
				{UID: "weekly", Start: at(12, 7, 10, 0).UTC(), End: at(12, 7, 11, 0).UTC()},
				{UID: "tuesdays", Start: at(12, 8, 8, 30).UTC(), End: at(12, 8, 9, 0).UTC()},
				{UID: "opaque", Start: at(12, 8, 14, 0).UTC(), End: at(12, 8, 15, 30).UTC()},
				{UID: "all-day", Start: at(12, 11, 0, 0).UTC(), End: at(12, 12, 0, 0).UTC()},
				{UID: "weekly", Start: at(12, 18, 15, 0).UTC(), End: at(12, 18, 16, 0).UTC()},
			}
			if !slices.EqualFunc(got, want, sameBusy) {
				t.Errorf("Busy:\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestClientRejectsWrongPassword(t *testing.T) {
	srv := caldavtest.StartRadicale(t) // Xandikos does no authentication
	c, err := NewClient(srv.CalendarURL, srv.Username, "wrong", ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Put(context.Background(), "x.ics", goldenEvents(t)["minimal"].ev.Calendar(""), "")
	if !errors.Is(err, ErrUnauthorized) || Retryable(err) {
		t.Errorf("wrong password: %v, want a permanent ErrUnauthorized", err)
	}
}

func sameBusy(a, b Busy) bool {
	return a.UID == b.UID && a.Start.Equal(b.Start) && a.End.Equal(b.End)
}
