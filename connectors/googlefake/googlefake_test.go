package googlefake_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"google.golang.org/api/calendar/v3"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"rdvsync/connectors/googlefake"
)

func client(t *testing.T, fake *googlefake.Server, token string) *calendar.Service {
	t.Helper()
	ctx := context.Background()
	httpClient := oauth2.NewClient(ctx, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: token}))
	svc, err := calendar.NewService(ctx, option.WithHTTPClient(httpClient), option.WithEndpoint(fake.Endpoint()))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func event(id, start, end string) *calendar.Event {
	return &calendar.Event{Id: id, Summary: "RDV",
		Start: &calendar.EventDateTime{DateTime: "2026-03-02T" + start + ":00Z"},
		End:   &calendar.EventDateTime{DateTime: "2026-03-02T" + end + ":00Z"}}
}

// googleError is "code reason" of a *googleapi.Error, or err as text.
func googleError(err error) string {
	var gerr *googleapi.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &gerr) && len(gerr.Errors) > 0:
		return fmt.Sprintf("%d %s", gerr.Code, gerr.Errors[0].Reason)
	}
	return err.Error()
}

func TestEventRules(t *testing.T) {
	fake := googlefake.New(t)
	ev := client(t, fake, fake.AccessToken()).Events
	insert := func(e *calendar.Event) string {
		_, err := ev.Insert("primary", e).SendUpdates("none").Do()
		return googleError(err)
	}
	tests := []struct {
		name string
		do   func() string
		want string
	}{
		{"insert", func() string { return insert(event("abcde12345", "09:00", "09:30")) }, "ok"},
		{"id with w-z", func() string { return insert(event("wxyz12345", "09:00", "09:30")) }, "400 invalid"},
		{"id with dashes", func() string { return insert(event("abcde-12345", "09:00", "09:30")) }, "400 invalid"},
		{"id too short", func() string { return insert(event("abcd", "09:00", "09:30")) }, "400 invalid"},
		{"id too long", func() string { return insert(event(strings.Repeat("a", 1025), "09:00", "09:30")) }, "400 invalid"},
		{"id of 1024", func() string { return insert(event(strings.Repeat("a", 1024), "09:00", "09:30")) }, "ok"},
		{"end before start", func() string { return insert(event("endbefore1", "10:00", "09:30")) }, "400 timeRangeEmpty"},
		{"duplicate", func() string { return insert(event("abcde12345", "11:00", "11:30")) }, "409 duplicate"},
		{"unknown calendar", func() string {
			_, err := ev.Insert("nope", event("abcde99999", "09:00", "09:30")).SendUpdates("none").Do()
			return googleError(err)
		}, "404 notFound"},
		{"get unknown", func() string { _, err := ev.Get("primary", "unknown00").Do(); return googleError(err) }, "404 notFound"},
		{"update unknown", func() string {
			_, err := ev.Update("primary", "unknown00", event("", "09:00", "09:30")).SendUpdates("none").Do()
			return googleError(err)
		}, "404 notFound"},
		{"delete", func() string { return googleError(ev.Delete("primary", "abcde12345").SendUpdates("none").Do()) }, "ok"},
		{"delete deleted", func() string { return googleError(ev.Delete("primary", "abcde12345").SendUpdates("none").Do()) }, "410 deleted"},
		{"delete unknown", func() string { return googleError(ev.Delete("primary", "unknown00").SendUpdates("none").Do()) }, "404 notFound"},
		{"insert deleted id", func() string { return insert(event("abcde12345", "09:00", "09:30")) }, "409 duplicate"},
		{"get deleted", func() string {
			e, err := ev.Get("primary", "abcde12345").Do()
			if err != nil {
				return googleError(err)
			}
			return e.Status
		}, "cancelled"},
		{"update restores deleted", func() string {
			e, err := ev.Update("primary", "abcde12345", event("", "12:00", "12:30")).SendUpdates("none").Do()
			if err != nil {
				return googleError(err)
			}
			return e.Status
		}, "confirmed"},
		{"patch", func() string {
			e, err := ev.Patch("primary", "abcde12345", &calendar.Event{Summary: "Patched"}).SendUpdates("none").Do()
			if err != nil {
				return googleError(err)
			}
			return e.Summary + " " + e.Start.DateTime
		}, "Patched 2026-03-02T12:00:00Z"},
		{"lower sequence", func() string {
			e := event("", "12:00", "12:30")
			e.Sequence = 1
			_, err := ev.Update("primary", "abcde12345", e).SendUpdates("none").Do()
			return googleError(err)
		}, "400 invalid"},
	}
	for _, tt := range tests { // in order: each step sees the ones before
		if got := tt.do(); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestAuthorization(t *testing.T) {
	fake := googlefake.New(t)
	old := fake.AccessToken()
	if _, err := client(t, fake, "ya29.forged").Events.Get("primary", "abcde").Do(); googleError(err) != "401 authError" {
		t.Errorf("forged token: %s, want 401 authError", googleError(err))
	}
	fake.RotateToken()
	if _, err := client(t, fake, old).Events.List("primary").Do(); googleError(err) != "401 authError" {
		t.Errorf("rotated token: %s, want 401 authError", googleError(err))
	}
	if _, err := client(t, fake, fake.AccessToken()).Events.List("primary").Do(); err != nil {
		t.Errorf("new token: %v", err)
	}
}

func TestInject(t *testing.T) {
	fake := googlefake.New(t)
	ev := client(t, fake, fake.AccessToken()).Events
	fake.Inject(googlefake.Fault{Method: http.MethodPost, Path: "/calendars/primary/events", Status: 403,
		Reason: "rateLimitExceeded", RetryAfter: "12", Times: 2})
	for i := range 3 {
		_, err := ev.Insert("primary", event(fmt.Sprintf("abcde0000%d", i), "09:00", "09:30")).SendUpdates("none").Do()
		want := "403 rateLimitExceeded"
		if i == 2 {
			want = "ok"
		}
		if googleError(err) != want {
			t.Errorf("insert %d: %s, want %s", i, googleError(err), want)
		}
		var gerr *googleapi.Error
		if errors.As(err, &gerr) && (gerr.Header.Get("Retry-After") != "12" || !strings.Contains(gerr.Body, `"domain":"usageLimits"`)) {
			t.Errorf("insert %d: Retry-After %q, body %s", i, gerr.Header.Get("Retry-After"), gerr.Body)
		}
	}
	if _, err := ev.List("primary").Do(); err != nil {
		t.Errorf("list, not matched by the fault: %v", err)
	}
}

func TestList(t *testing.T) {
	fake := googlefake.New(t)
	ev := client(t, fake, fake.AccessToken()).Events
	for _, e := range []*calendar.Event{event("before000", "08:00", "09:00"), event("inside000", "10:00", "11:00"), event("gone00000", "10:30", "11:30")} {
		if _, err := ev.Insert("primary", e).SendUpdates("none").Do(); err != nil {
			t.Fatal(err)
		}
	}
	if err := ev.Delete("primary", "gone00000").SendUpdates("none").Do(); err != nil {
		t.Fatal(err)
	}
	ids := func(showDeleted bool) string {
		res, err := ev.List("primary").TimeMin("2026-03-02T09:00:00Z").TimeMax("2026-03-02T12:00:00Z").
			SingleEvents(true).ShowDeleted(showDeleted).Do()
		if err != nil {
			return err.Error()
		}
		var out []string
		for _, e := range res.Items {
			out = append(out, e.Id)
		}
		return strings.Join(out, ",") + " " + res.TimeZone
	}
	if got, want := ids(false), "inside000 Europe/Paris"; got != want {
		t.Errorf("list = %q, want %q (an event ending at timeMin is out)", got, want)
	}
	if got, want := ids(true), "inside000,gone00000 Europe/Paris"; got != want {
		t.Errorf("list showDeleted = %q, want %q", got, want)
	}
	if _, err := ev.Patch("primary", "before000", &calendar.Event{ExtendedProperties: &calendar.EventExtendedProperties{
		Private: map[string]string{"rdvsync_uid": "u1", "n": "1"}}}).SendUpdates("none").Do(); err != nil {
		t.Fatal(err)
	}
	for filter, want := range map[string]int{"rdvsync_uid=u1": 1, "rdvsync_uid=u2": 0} {
		res, err := ev.List("primary").PrivateExtendedProperty(filter, "n=1").Do()
		if err != nil || len(res.Items) != want {
			t.Errorf("list privateExtendedProperty=%s: %v, %d items, want %d", filter, err, len(res.Items), want)
		}
	}
}

func TestFreeBusy(t *testing.T) {
	fake := googlefake.New(t)
	svc := client(t, fake, fake.AccessToken())
	fake.PutEvent("primary", event("", "09:00", "10:00"))
	fake.PutEvent("primary", event("", "09:30", "10:30"))
	free := event("", "11:00", "12:00")
	free.Transparency = "transparent"
	fake.PutEvent("primary", free)
	fake.PutEvent("primary", event("", "13:00", "15:00"))

	res, err := svc.Freebusy.Query(&calendar.FreeBusyRequest{
		TimeMin: "2026-03-02T08:00:00Z", TimeMax: "2026-03-02T14:00:00Z",
		Items: []*calendar.FreeBusyRequestItem{{Id: "primary"}, {Id: "nope"}},
	}).Do()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Calendars["primary"].Busy {
		got = append(got, p.Start+"/"+p.End)
	}
	want := "2026-03-02T09:00:00Z/2026-03-02T10:30:00Z 2026-03-02T13:00:00Z/2026-03-02T14:00:00Z"
	if strings.Join(got, " ") != want {
		t.Errorf("busy = %q, want %q (merged, clipped, transparent left out)", got, want)
	}
	if errs := res.Calendars["nope"].Errors; len(errs) != 1 || errs[0].Reason != "notFound" {
		t.Errorf("unknown calendar errors = %v, want notFound", errs)
	}
}

// errorsTB records the test failures the fake reports.
type errorsTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (tb *errorsTB) Errorf(format string, args ...any) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.errs = append(tb.errs, fmt.Sprintf(format, args...))
}

func TestWritesNeedSendUpdatesNone(t *testing.T) {
	tb := &errorsTB{TB: t}
	fake := googlefake.New(tb)
	ev := client(t, fake, fake.AccessToken()).Events
	_, err := ev.Insert("primary", event("abcde12345", "09:00", "09:30")).SendUpdates("all").Do()
	if googleError(err) != "400 invalid" {
		t.Errorf("insert with sendUpdates=all: %s, want 400 invalid", googleError(err))
	}
	if len(tb.errs) != 1 || !strings.Contains(tb.errs[0], "sendUpdates=none") {
		t.Errorf("fake reported %q, want one sendUpdates failure", tb.errs)
	}
	if r := fake.Requests(); len(r) != 1 || r[0].Query.Get("sendUpdates") != "all" || r[0].Status != 400 {
		t.Errorf("requests = %+v", r)
	}
}

// Google refuses a write whose If-Match names another version of the
// event (412 conditionNotMet) and changes nothing.
func TestIfMatch(t *testing.T) {
	fake := googlefake.New(t)
	ev := client(t, fake, fake.AccessToken()).Events
	created, err := ev.Insert("primary", event("abcde12345", "09:00", "09:30")).SendUpdates("none").Do()
	if err != nil {
		t.Fatal(err)
	}
	stale := created.Etag
	edited, err := ev.Patch("primary", "abcde12345", &calendar.Event{ColorId: "5"}).SendUpdates("none").Do()
	if err != nil {
		t.Fatal(err)
	}
	if edited.Etag == stale {
		t.Fatalf("a patch kept etag %s", stale)
	}
	patch := ev.Patch("primary", "abcde12345", &calendar.Event{Summary: "Stale"}).SendUpdates("none")
	patch.Header().Set("If-Match", stale)
	_, err = patch.Do()
	update := ev.Update("primary", "abcde12345", event("", "10:00", "10:30")).SendUpdates("none")
	update.Header().Set("If-Match", stale)
	_, err2 := update.Do()
	del := ev.Delete("primary", "abcde12345").SendUpdates("none")
	del.Header().Set("If-Match", stale)
	err3 := del.Do()
	for _, e := range []error{err, err2, err3} {
		if googleError(e) != "412 conditionNotMet" {
			t.Errorf("write with a stale If-Match: %s, want 412 conditionNotMet", googleError(e))
		}
	}
	if got, _ := fake.Event("primary", "abcde12345"); got.Summary != "RDV" || got.Etag != edited.Etag || got.Status != "confirmed" {
		t.Errorf("a refused write changed the event: %+v", got)
	}
	patch = ev.Patch("primary", "abcde12345", &calendar.Event{Summary: "Fresh"}).SendUpdates("none")
	patch.Header().Set("If-Match", edited.Etag)
	if got, err := patch.Do(); err != nil || got.Summary != "Fresh" || got.ColorId != "5" {
		t.Errorf("write with the current etag: %v, %+v", err, got)
	}
}

// A patch merges nested objects key by key and replaces arrays whole.
func TestPatchMerges(t *testing.T) {
	fake := googlefake.New(t)
	ev := client(t, fake, fake.AccessToken()).Events
	e := event("abcde12345", "09:00", "09:30")
	e.ExtendedProperties = &calendar.EventExtendedProperties{Private: map[string]string{"rdvsync_uid": "x", "other_app": "kept"}}
	e.Reminders = &calendar.EventReminders{Overrides: []*calendar.EventReminder{{Method: "popup", Minutes: 10}}, ForceSendFields: []string{"UseDefault"}}
	e.Attendees = []*calendar.EventAttendee{{Email: "a@example.org"}, {Email: "b@example.org"}}
	if _, err := ev.Insert("primary", e).SendUpdates("none").Do(); err != nil {
		t.Fatal(err)
	}
	got, err := ev.Patch("primary", "abcde12345", &calendar.Event{
		ExtendedProperties: &calendar.EventExtendedProperties{Private: map[string]string{"rdvsync_uid": "y"}},
		Attendees:          []*calendar.EventAttendee{{Email: "c@example.org"}},
	}).SendUpdates("none").Do()
	if err != nil {
		t.Fatal(err)
	}
	if p := got.ExtendedProperties.Private; p["rdvsync_uid"] != "y" || p["other_app"] != "kept" {
		t.Errorf("private properties = %v, want merged", p)
	}
	if len(got.Attendees) != 1 || got.Attendees[0].Email != "c@example.org" {
		t.Errorf("attendees = %v, want the array replaced", got.Attendees)
	}
	if got.Reminders == nil || len(got.Reminders.Overrides) != 1 || got.Summary != "RDV" {
		t.Errorf("fields left out of the patch changed: %+v", got)
	}
}

// Recurring events are one series in a plain list and one instance per
// occurrence with singleEvents=true, at the same wall-clock time across a
// change of clocks (29 March 2026 in Paris).
func TestRecurringEvents(t *testing.T) {
	fake := googlefake.New(t)
	ev := client(t, fake, fake.AccessToken()).Events
	weekly := &calendar.Event{Id: "series0001", Summary: "Réunion d'équipe",
		Start:      &calendar.EventDateTime{DateTime: "2026-03-23T14:00:00+01:00", TimeZone: "Europe/Paris"},
		End:        &calendar.EventDateTime{DateTime: "2026-03-23T15:00:00+01:00", TimeZone: "Europe/Paris"},
		Recurrence: []string{"RRULE:FREQ=WEEKLY;COUNT=4", "EXDATE;TZID=Europe/Paris:20260406T140000"}}
	if _, err := ev.Insert("primary", weekly).SendUpdates("none").Do(); err != nil {
		t.Fatal(err)
	}
	noZone := event("nozone0001", "09:00", "10:00")
	noZone.Recurrence = []string{"RRULE:FREQ=DAILY"}
	if _, err := ev.Insert("primary", noZone).SendUpdates("none").Do(); googleError(err) != "400 invalid" {
		t.Errorf("timed series without start.timeZone: %s, want 400 invalid", googleError(err))
	}
	list := func(single bool, orderBy string) string {
		call := ev.List("primary").TimeMin("2026-03-01T00:00:00Z").TimeMax("2026-05-01T00:00:00Z").SingleEvents(single)
		if orderBy != "" {
			call.OrderBy(orderBy)
		}
		res, err := call.Do()
		if err != nil {
			return googleError(err)
		}
		var out []string
		for _, e := range res.Items {
			out = append(out, e.Id+"@"+e.Start.DateTime+"/"+e.RecurringEventId)
		}
		return strings.Join(out, " ")
	}
	if got, want := list(false, ""), "series0001@2026-03-23T14:00:00+01:00/"; got != want {
		t.Errorf("series: %s, want %s", got, want)
	}
	want := "series0001_20260323T130000Z@2026-03-23T14:00:00+01:00/series0001 " +
		"series0001_20260330T120000Z@2026-03-30T14:00:00+02:00/series0001 " +
		"series0001_20260413T120000Z@2026-04-13T14:00:00+02:00/series0001"
	if got := list(true, "startTime"); got != want {
		t.Errorf("instances:\n got %s\nwant %s", got, want)
	}
	if got := list(false, "startTime"); got != "400 invalid" {
		t.Errorf("orderBy=startTime without singleEvents: %s, want 400 invalid", got)
	}
	res, err := client(t, fake, fake.AccessToken()).Freebusy.Query(&calendar.FreeBusyRequest{
		TimeMin: "2026-03-29T00:00:00Z", TimeMax: "2026-04-01T00:00:00Z", Items: []*calendar.FreeBusyRequestItem{{Id: "primary"}}}).Do()
	if err != nil || len(res.Calendars["primary"].Busy) != 1 || res.Calendars["primary"].Busy[0].Start != "2026-03-30T12:00:00Z" {
		t.Errorf("freeBusy of a series: %v, %+v", err, res)
	}
}

// A malformed or unknown fields selection is 400; a valid one trims the
// response.
func TestFieldsSelection(t *testing.T) {
	fake := googlefake.New(t)
	ev := client(t, fake, fake.AccessToken()).Events
	e := event("abcde12345", "09:00", "09:30")
	e.ColorId = "3"
	if _, err := ev.Insert("primary", e).SendUpdates("none").Do(); err != nil {
		t.Fatal(err)
	}
	for _, fields := range []string{"items(id", "items)", "id,,etag", "items(colour)", "colour", "items/start/when", "id etag", "start(dateTime"} {
		if _, err := ev.List("primary").Fields(googleapi.Field(fields)).Do(); googleError(err) != "400 invalidParameter" {
			t.Errorf("list fields=%q: %s, want 400 invalidParameter", fields, googleError(err))
		}
	}
	res, err := ev.List("primary").Fields("items(id,start/dateTime,extendedProperties/private/rdvsync_uid),nextPageToken").Do()
	if err != nil || len(res.Items) != 1 {
		t.Fatalf("valid selection: %v, %+v", err, res)
	}
	if it := res.Items[0]; it.Id != "abcde12345" || it.Start.DateTime == "" || it.ColorId != "" || it.Summary != "" || it.End != nil {
		t.Errorf("selected fields only, got %+v", it)
	}
	got, err := ev.Get("primary", "abcde12345").Fields("etag", "colorId").Do()
	if err != nil || got.Etag == "" || got.ColorId != "3" || got.Id != "" {
		t.Errorf("get fields=etag,colorId: %v, %+v", err, got)
	}
	if _, err := ev.Get("primary", "abcde12345").Fields("*").Do(); err != nil {
		t.Errorf("fields=*: %v", err)
	}
}

// Requests beyond a sliding minute's quota are refused as Google refuses
// them, and pass again once the minute has slid.
func TestThrottling(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name   string
		limits googlefake.Limits
		want   string
	}{
		{"per user", googlefake.Limits{PerUserPerMinute: 3}, "403 userRateLimitExceeded"},
		{"per project", googlefake.Limits{PerProjectPerMinute: 3}, "429 rateLimitExceeded"},
		{"writes per calendar", googlefake.Limits{WritesPerCalendarPerMinute: 3}, "403 rateLimitExceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := googlefake.New(t)
			clock := now
			fake.SetClock(func() time.Time { return clock })
			fake.SetLimits(tt.limits)
			ev := client(t, fake, fake.AccessToken()).Events
			insert := func(i int) string {
				_, err := ev.Insert("primary", event(fmt.Sprintf("abcde%05d", i), "09:00", "09:30")).SendUpdates("none").Do()
				return googleError(err)
			}
			for i := range 3 {
				if got := insert(i); got != "ok" {
					t.Fatalf("request %d: %s", i, got)
				}
				clock = clock.Add(10 * time.Second)
			}
			if got := insert(3); got != tt.want {
				t.Errorf("fourth request within a minute: %s, want %s", got, tt.want)
			}
			clock = now.Add(61 * time.Second) // the first request left the window
			if got := insert(4); got != "ok" {
				t.Errorf("after the window slid: %s", got)
			}
		})
	}
}

// Once the bin is emptied, a deleted event's id is taken for ever.
func TestPurgedIDs(t *testing.T) {
	fake := googlefake.New(t)
	ev := client(t, fake, fake.AccessToken()).Events
	if _, err := ev.Insert("primary", event("abcde12345", "09:00", "09:30")).SendUpdates("none").Do(); err != nil {
		t.Fatal(err)
	}
	if err := ev.Delete("primary", "abcde12345").SendUpdates("none").Do(); err != nil {
		t.Fatal(err)
	}
	fake.Purge("primary")
	_, errGet := ev.Get("primary", "abcde12345").Do()
	_, errPatch := ev.Patch("primary", "abcde12345", &calendar.Event{Status: "confirmed"}).SendUpdates("none").Do()
	_, errUpdate := ev.Update("primary", "abcde12345", event("", "09:00", "09:30")).SendUpdates("none").Do()
	errDelete := ev.Delete("primary", "abcde12345").SendUpdates("none").Do()
	_, errInsert := ev.Insert("primary", event("abcde12345", "09:00", "09:30")).SendUpdates("none").Do()
	got := []string{googleError(errGet), googleError(errPatch), googleError(errUpdate), googleError(errDelete), googleError(errInsert)}
	want := []string{"404 notFound", "404 notFound", "404 notFound", "404 notFound", "409 duplicate"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("get, patch, update, delete, insert of a purged id: %q, want %q", got, want)
	}
}
