package googlefake_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

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
