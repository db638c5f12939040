package served

import (
	"bufio"
	"context"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-ical"

	"rdvsync/internal/rdv"
)

// The real clients of docs/design.md §8, from Debian packages. /usr/bin/python3 is
// named explicitly: the Debian modules are not in other interpreters.
const (
	systemPython = "/usr/bin/python3"
	vdirsyncer   = "/usr/bin/vdirsyncer"
	clientsHint  = "install them with make test-deps (apt-get install python3-caldav vdirsyncer python3-icalendar), or set RDVSYNC_SKIP_CLIENTS=1 to skip"
)

// requireClients fails the test when the real clients are missing, unless
// RDVSYNC_SKIP_CLIENTS=1, which skips it.
func requireClients(t *testing.T) {
	t.Helper()
	var missing []string
	if _, err := os.Stat(vdirsyncer); err != nil {
		missing = append(missing, "vdirsyncer")
	}
	for _, mod := range []string{"caldav", "icalendar"} {
		if err := exec.Command(systemPython, "-c", "import "+mod).Run(); err != nil {
			missing = append(missing, "python3-"+mod)
		}
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv("RDVSYNC_SKIP_CLIENTS") == "1" {
		t.Skipf("%s not found and RDVSYNC_SKIP_CLIENTS=1: skipping the real-client tests", strings.Join(missing, ", "))
	}
	t.Fatalf("%s not found: %s", strings.Join(missing, ", "), clientsHint)
}

// run runs a client with a clean environment (no proxy, a private HOME)
// and returns its standard output; stderr goes to the failure message.
func run(t *testing.T, stdin string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "LANG=C.UTF-8", "LC_ALL=C.UTF-8", "TZ=UTC",
		"NO_PROXY=*", "no_proxy=*", "PYTHONDONTWRITEBYTECODE=1"}
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\nstdout:\n%s\nstderr:\n%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	if s := stderr.String(); strings.Contains(s, "path handling problem") || strings.Contains(s, "Traceback") {
		t.Errorf("%s complains:\n%s", name, s)
	}
	return stdout.String()
}

// script writes a Python program to the test's directory.
func script(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// lines returns the values of the output lines that start with key.
func lines(out, key string) []string {
	var vals []string
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), key+" "); ok {
			vals = append(vals, v)
		}
	}
	return vals
}

func sorted(s []string) []string { return slices.Sorted(slices.Values(s)) }

// caldavDiscover discovers the principal from the CalDAV root, lists the
// calendars, searches a date range, multigets what it found, looks an
// event up by UID and lists every event.
const caldavDiscover = `
import sys
from datetime import datetime, timezone
import caldav

url, user, password, uid = sys.argv[1:5]
client = caldav.DAVClient(url=url, username=user, password=password)
principal = client.principal()
print("PRINCIPAL", principal.url)
calendars = principal.calendars()
for c in calendars:
    print("CALENDAR", c.url, c.get_display_name())
cal = calendars[0]
found = cal.search(start=datetime(2026, 12, 1, tzinfo=timezone.utc),
                   end=datetime(2027, 1, 1, tzinfo=timezone.utc), event=True, expand=False)
for ev in found:
    print("RANGE", ev.icalendar_instance.walk("VEVENT")[0]["UID"])
for ev in cal.calendar_multiget([ev.url for ev in found]):
    vevent = ev.icalendar_instance.walk("VEVENT")[0]
    print("MULTIGET", vevent["UID"], vevent["STATUS"])
print("BYUID", cal.event_by_uid(uid).icalendar_instance.walk("VEVENT")[0]["UID"])
for ev in cal.events():
    print("ALL", ev.icalendar_instance.walk("VEVENT")[0]["UID"])
`

// caldavIntrude uses an agent's credentials on another agent's calendar,
// then tries to write into its own.
const caldavIntrude = `
import sys
import caldav
from caldav.lib import error

url, user, password, other_calendar = sys.argv[1:5]
client = caldav.DAVClient(url=url, username=user, password=password)
try:
    caldav.Calendar(client=client, url=other_calendar).events()
    print("OTHER readable")
except error.DAVError as e:
    print("OTHER", type(e).__name__, getattr(e, "reason", ""))
own = client.principal().calendars()[0]
print("OWN", own.url)
try:
    own.save_event("""BEGIN:VCALENDAR
VERSION:2.0
PRODID:-//test//EN
BEGIN:VEVENT
UID:intruder
DTSTAMP:20261201T100000Z
DTSTART:20261202T100000Z
DTEND:20261202T110000Z
SUMMARY:intruder
END:VEVENT
END:VCALENDAR
""")
    print("WRITE accepted")
except error.DAVError as e:
    print("WRITE", type(e).__name__)
`

// icalendarFeed fetches a feed and parses it with Python's icalendar.
const icalendarFeed = `
import sys, urllib.request
import icalendar

with urllib.request.urlopen(sys.argv[1]) as resp:
    print("TYPE", resp.headers["Content-Type"])
    cal = icalendar.Calendar.from_ical(resp.read())
print("NAME", cal["X-WR-CALNAME"])
print("METHOD", cal.get("METHOD", "none"))
for ev in cal.walk("VEVENT"):
    print("EVENT", ev["UID"], ev["STATUS"], ev.decoded("DTSTART").isoformat())
`

func TestPythonCalDAV(t *testing.T) {
	requireClients(t)
	f := newFixture(t, "")
	out := run(t, "", systemPython, script(t, "discover.py", caldavDiscover), f.ts.URL+"/dav/", camille, camilleToken, rdvShared)

	if got, want := lines(out, "PRINCIPAL"), f.ts.URL+"/dav/principals/camille-martin/"; len(got) != 1 || got[0] != want {
		t.Errorf("principal %v, want %s\n%s", got, want, out)
	}
	if got, want := lines(out, "CALENDAR"), f.ts.URL+"/dav/calendars/camille-martin/rdv/ RDV"; len(got) != 1 || got[0] != want {
		t.Errorf("calendars %v, want [%s]", got, want)
	}
	// December: not the past RDV of 15 Nov, nor February's, nor Thomas's.
	december := []string{rdvNext, rdvCancelled, rdvShared}
	if got := lines(out, "RANGE"); !slices.Equal(sorted(got), sorted(december)) {
		t.Errorf("search 1–31 Dec = %v, want %v", got, december)
	}
	wantMultiget := []string{rdvNext + " CONFIRMED", rdvCancelled + " CANCELLED", rdvShared + " CONFIRMED"}
	if got := lines(out, "MULTIGET"); !slices.Equal(sorted(got), sorted(wantMultiget)) {
		t.Errorf("multiget = %v, want %v", got, wantMultiget)
	}
	if got := lines(out, "BYUID"); !slices.Equal(got, []string{rdvShared}) {
		t.Errorf("event_by_uid = %v, want %s", got, rdvShared)
	}
	if got := lines(out, "ALL"); !slices.Equal(sorted(got), sorted(camilleUIDs)) {
		t.Errorf("events() = %v, want %v", got, camilleUIDs)
	}
}

func TestPythonCalDAVOtherAgent(t *testing.T) {
	requireClients(t)
	f := newFixture(t, "")
	out := run(t, "", systemPython, script(t, "intrude.py", caldavIntrude), f.ts.URL+"/dav/", thomas, thomasToken,
		f.ts.URL+calendarPath(camille))
	if got := lines(out, "OTHER"); len(got) != 1 || !strings.HasPrefix(got[0], "NotFoundError") {
		t.Errorf("Thomas reading Camille's calendar: %v, want NotFoundError\n%s", got, out)
	}
	if got := lines(out, "OWN"); len(got) != 1 || got[0] != f.ts.URL+calendarPath(thomas) {
		t.Errorf("Thomas's calendar: %v", got)
	}
	if got := lines(out, "WRITE"); len(got) != 1 || got[0] != "AuthorizationError" {
		t.Errorf("Thomas writing into his calendar: %v, want AuthorizationError (403)", got)
	}
}

// syncedEvents reads the events of the .ics files under dir: RDV id (the
// last segment of the event's URL) → UID and STATUS.
func syncedEvents(t *testing.T, dir string) map[string][2]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.ics"))
	if err != nil {
		t.Fatal(err)
	}
	events := map[string][2]string{}
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		cal, err := ical.NewDecoder(fh).Decode()
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, ev := range cal.Events() {
			uid, _ := ev.Props.Text(ical.PropUID)
			status, _ := ev.Props.Text(ical.PropStatus)
			var u string
			if p := ev.Props.Get(ical.PropURL); p != nil {
				u = p.Value
			}
			events[path.Base(u)] = [2]string{uid, status}
		}
	}
	return events
}

func TestVdirsyncer(t *testing.T) {
	requireClients(t)
	f := newFixture(t, "")
	dir := t.TempDir()
	feedDir := filepath.Join(dir, "feed")
	if err := os.Mkdir(feedDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config")
	conf := `[general]
status_path = "` + filepath.Join(dir, "status") + `/"

[pair rdv_caldav]
a = "caldav_local"
b = "caldav_remote"
collections = ["from b"]

[storage caldav_local]
type = "filesystem"
path = "` + filepath.Join(dir, "caldav") + `/"
fileext = ".ics"

[storage caldav_remote]
type = "caldav"
url = "` + f.ts.URL + `/dav/"
username = "` + camille + `"
password = "` + camilleToken + `"
read_only = true

[pair rdv_feed]
a = "feed_local"
b = "feed_remote"
collections = null

[storage feed_local]
type = "filesystem"
path = "` + feedDir + `/"
fileext = ".ics"

[storage feed_remote]
type = "http"
url = "` + f.feedURL(t, camille) + `"
`
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	yes := strings.Repeat("y\n", 20)
	run(t, yes, vdirsyncer, "-c", cfg, "discover")
	run(t, yes, vdirsyncer, "-c", cfg, "sync")

	caldavDir := filepath.Join(dir, "caldav", calendarSlug)
	check := func(when string, cancelled ...string) {
		t.Helper()
		for _, d := range []string{caldavDir, feedDir} {
			got := syncedEvents(t, d)
			if ids := slices.Sorted(maps.Keys(got)); !slices.Equal(ids, sorted(camilleUIDs)) {
				t.Errorf("%s: vdirsyncer synced %v into %s, want %v", when, ids, d, camilleUIDs)
			}
			for id, ev := range got {
				want := "CONFIRMED"
				if slices.Contains(cancelled, id) {
					want = "CANCELLED"
				}
				if ev[1] != want {
					t.Errorf("%s: %s in %s has STATUS %s, want %s", when, id, d, ev[1], want)
				}
				// vdirsyncer's http storage replaces the UIDs of a feed by
				// content hashes; CalDAV keeps them.
				if d == caldavDir && ev[0] != id {
					t.Errorf("%s: the event of %s has UID %s", when, id, ev[0])
				}
			}
		}
	}
	check("first sync", rdvCancelled)

	// vdirsyncer stores the calendar-data of its multiget: the very bytes
	// GET serves under the same ETag.
	for _, uid := range camilleUIDs {
		_, get := f.do(t, "GET", objectPath(camille, uid), basic(camille, camilleToken), "")
		stored := filepath.Join(caldavDir, uid+".ics")
		synced, err := os.ReadFile(stored)
		if err != nil {
			t.Fatal(err)
		}
		if string(synced) != get {
			t.Errorf("%s holds\n%q\nGET serves\n%q", stored, synced, get)
		}
	}

	// A cancellation reaches the local copies at the next sync.
	r := f.rdv(t, rdvNext)
	r.Status, r.UpdatedAt, r.Version = rdv.StatusRevoked, testNow.Add(-time.Minute), r.Version+1
	r.CancelledAt = &r.UpdatedAt
	f.put(t, r)
	run(t, yes, vdirsyncer, "-c", cfg, "sync")
	check("after a cancellation", rdvCancelled, rdvNext)
}

func TestPythonICalendarFeed(t *testing.T) {
	requireClients(t)
	f := newFixture(t, "")
	out := run(t, "", systemPython, script(t, "feed.py", icalendarFeed), f.feedURL(t, camille))
	want := map[string][]string{
		"TYPE":   {"text/calendar; charset=utf-8"},
		"NAME":   {"RDV – Camille Martin"},
		"METHOD": {"none"},
		"EVENT": {
			rdvRecent + " CONFIRMED 2026-11-15T13:00:00+00:00",
			rdvNext + " CONFIRMED 2026-12-07T08:00:00+00:00",
			rdvCancelled + " CANCELLED 2026-12-10T09:00:00+00:00",
			rdvShared + " CONFIRMED 2026-12-14T08:00:00+00:00",
			rdvFebruary + " CONFIRMED 2027-02-01T08:00:00+00:00",
		},
	}
	for key, w := range want {
		if got := lines(out, key); !slices.Equal(got, w) {
			t.Errorf("%s = %v, want %v", key, got, w)
		}
	}

	// An agent without RDVs gets a valid, empty calendar.
	out = run(t, "", systemPython, script(t, "feed.py", icalendarFeed), f.feedURL(t, "julie-lefebvre"))
	if got := lines(out, "NAME"); !slices.Equal(got, []string{"RDV – Julie Lefebvre"}) || len(lines(out, "EVENT")) != 0 {
		t.Errorf("the feed of an agent without RDVs reads as:\n%s", out)
	}
}

// caldavFreeBusy asks the calendar's free-busy time (RFC 4791 §7.10).
const caldavFreeBusy = `
import sys
from datetime import datetime, timezone
import caldav, icalendar

url, user, password = sys.argv[1:4]
client = caldav.DAVClient(url=url, username=user, password=password)
cal = client.principal().calendars()[0]
fb = cal.freebusy_request(datetime(2026, 12, 7, 8, 15, tzinfo=timezone.utc), datetime(2026, 12, 15, tzinfo=timezone.utc))
for comp in icalendar.Calendar.from_ical(fb.data).walk("VFREEBUSY"):
    for line in comp.to_ical().decode().splitlines():
        if line.startswith("FREEBUSY"):
            print("FB", line)
`

// TestPythonCalDAVSync: python-caldav's objects_by_sync_token gets every
// event first, then exactly what changed after its token — a move, a new
// RDV, an RDV given to another agent (gone) — and nothing else.
func TestPythonCalDAVSync(t *testing.T) {
	requireClients(t)
	f := newFixture(t, "")
	sync := filepath.Join("testdata", "caldav_sync.py")
	out := run(t, "", systemPython, sync, f.ts.URL+"/dav/", camille, camilleToken, "")
	var want []string
	for _, uid := range camilleUIDs {
		want = append(want, uid+".ics "+uid+" CONFIRMED")
	}
	want[slices.Index(camilleUIDs, rdvCancelled)] = rdvCancelled + ".ics " + rdvCancelled + " CANCELLED"
	if got := lines(out, "OBJ"); !slices.Equal(sorted(got), sorted(want)) || len(lines(out, "GONE")) != 0 {
		t.Errorf("initial sync: %v, want %v\n%s", got, want, out)
	}
	token := lines(out, "TOKEN")
	if len(token) != 1 || !strings.HasPrefix(token[0], "https://") {
		t.Fatalf("sync token %v, want one URI", token)
	}

	out = run(t, "", systemPython, sync, f.ts.URL+"/dav/", camille, camilleToken, token[0])
	if len(lines(out, "OBJ"))+len(lines(out, "GONE")) != 0 || !slices.Equal(lines(out, "TOKEN"), token) {
		t.Errorf("nothing changed, yet:\n%s", out)
	}

	f.changeCamille(t)
	out = run(t, "", systemPython, sync, f.ts.URL+"/dav/", camille, camilleToken, token[0])
	if got, want := sorted(lines(out, "OBJ")), sorted([]string{rdvNext + ".ics " + rdvNext + " CONFIRMED", rdvNew + ".ics " + rdvNew + " CONFIRMED"}); !slices.Equal(got, want) {
		t.Errorf("changed since the token: %v, want %v\n%s", got, want, out)
	}
	if got := lines(out, "GONE"); !slices.Equal(got, []string{rdvFebruary + ".ics"}) {
		t.Errorf("gone since the token: %v, want %s", got, rdvFebruary)
	}
	if got := lines(out, "TOKEN"); len(got) != 1 || got[0] == token[0] {
		t.Errorf("the token did not change: %v", got)
	}
}

func TestPythonCalDAVFreeBusy(t *testing.T) {
	requireClients(t)
	f := newFixture(t, "")
	out := run(t, "", systemPython, script(t, "freebusy.py", caldavFreeBusy), f.ts.URL+"/dav/", camille, camilleToken)
	want := []string{"FREEBUSY;FBTYPE=BUSY:20261207T081500Z/20261207T084500Z", "FREEBUSY;FBTYPE=BUSY:20261214T080000Z/20261214T083000Z"}
	if got := lines(out, "FB"); !slices.Equal(got, want) {
		t.Errorf("free-busy %v, want %v\n%s", got, want, out)
	}
}
