package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rdvsync/caldav"
	"rdvsync/caldav/caldavtest"
	"rdvsync/internal/store/postgres/pgtest"
)

// crashAgents books each motif with the token of an agent of its
// organisation; one motif per plage, so the slots of different motifs never
// overlap for one agent.
var crashAgents = []struct{ motif, agent string }{
	{"rsa-orientation", "camille-martin"},
	{"accompagnement-social-lens", "sophie-dupont"},
	{"appel-social-lens", "karim-benali"},
	{"atelier-numerique", "julie-lefebvre"},
	{"aide-numerique-ccas", "nadia-morel"},
}

// TestKill9LosesNoAcknowledgedBooking books from concurrent clients, kills
// the daemon with SIGKILL while requests are in flight, restarts it on the
// same store and checks that every booking answered 201 is there, and that
// no agent is booked twice at one time (docs/design.md §8).
func TestKill9LosesNoAcknowledgedBooking(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	dir, bin, cfg, conf := daemonSetup(t)
	// camille-martin's RDVs are pushed to a real CalDAV server: the kill
	// also lands while pushes are in flight.
	radicale := caldavtest.StartRadicale(t)
	if err := os.WriteFile(filepath.Join(dir, "caldav-password"), []byte(radicale.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conf = bytes.Replace(conf, []byte("    rdv_notifications_level: others\n"), []byte(fmt.Sprintf(
		"    rdv_notifications_level: others\n    calendar:\n      caldav: { url: %q, username: %s, password_file: caldav-password }\n",
		radicale.CalendarURL, radicale.Username)), 1)
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}

	d := startDaemon(t, bin, cfg)
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().In(paris)
	var jobs []crashBooking
	for _, ma := range crashAgents {
		for _, from := range []time.Time{today, today.AddDate(0, 0, 31)} {
			path := fmt.Sprintf("/api/v1/slots?motif_id=%s&from=%s&to=%s", ma.motif,
				from.Format(time.DateOnly), from.AddDate(0, 0, 30).Format(time.DateOnly))
			var body struct {
				Slots []struct {
					StartsAt string `json:"starts_at"`
					LieuID   string `json:"lieu_id"`
					AgentID  string `json:"agent_id"`
				} `json:"slots"`
			}
			if status := d.call(t, "GET", path, ma.agent, nil, &body); status != http.StatusOK {
				t.Fatalf("GET %s: %d", path, status)
			}
			for _, s := range body.Slots {
				jobs = append(jobs, crashBooking{agent: ma.agent, body: map[string]any{
					"motif_id": ma.motif, "lieu_id": s.LieuID, "starts_at": s.StartsAt, "agent_id": s.AgentID,
					"usager": map[string]string{"first_name": "Usager", "last_name": fmt.Sprintf("Crash %d", len(jobs)),
						"email": fmt.Sprintf("crash%d@example.org", len(jobs)), "phone_number": "06 12 34 56 78"},
				}})
			}
		}
	}
	const killAfter = 40
	if len(jobs) < 2*killAfter {
		t.Fatalf("only %d slots to book in the next two months", len(jobs))
	}

	// 8 clients book until the daemon dies under them.
	var (
		mu    sync.Mutex
		acked []ack
		wins  atomic.Int64
		cut   atomic.Int64 // requests the kill interrupted or refused
		kill  sync.Once
		next  atomic.Int64
		wg    sync.WaitGroup
		other []string
	)
	for range 8 {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(jobs) {
					return
				}
				var r struct {
					ID string `json:"id"`
				}
				status, err := d.try("POST", "/api/v1/rdvs", jobs[i].agent, jobs[i].body, &r)
				if err != nil {
					cut.Add(1)
					return // the daemon is gone
				}
				switch status {
				case http.StatusCreated:
					mu.Lock()
					acked = append(acked, ack{id: r.ID, job: i})
					mu.Unlock()
					if wins.Add(1) >= killAfter {
						kill.Do(d.kill)
					}
				case http.StatusUnprocessableEntity: // a slot of today that has passed meanwhile
				default:
					mu.Lock()
					other = append(other, fmt.Sprintf("%v: %d", jobs[i].body["starts_at"], status))
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	kill.Do(d.kill)
	if err := d.cmd.Wait(); err == nil {
		t.Fatal("the daemon exited cleanly: it was not killed")
	}
	if len(other) > 0 {
		t.Errorf("unexpected statuses before the kill: %v", other)
	}
	if len(acked) < killAfter {
		t.Fatalf("only %d bookings acknowledged before the kill", len(acked))
	}
	t.Logf("%d bookings acknowledged of %d slots; %d requests cut by the kill", len(acked), len(jobs), cut.Load())

	d = startDaemon(t, bin, cfg)
	type listed struct {
		ID       string   `json:"id"`
		Status   string   `json:"status"`
		StartsAt string   `json:"starts_at"`
		AgentIDs []string `json:"agent_ids"`
	}
	stored := map[string]listed{}
	from := today.AddDate(0, 0, -1)
	for _, agent := range []string{"camille-martin", "sophie-dupont", "julie-lefebvre", "nadia-morel"} {
		var body struct {
			RDVs []listed `json:"rdvs"`
		}
		path := fmt.Sprintf("/api/v1/rdvs?from=%s&to=%s", from.Format(time.DateOnly), from.AddDate(0, 0, 365).Format(time.DateOnly))
		if status := d.call(t, "GET", path, agent, nil, &body); status != http.StatusOK {
			t.Fatalf("GET %s as %s: %d", path, agent, status)
		}
		for _, r := range body.RDVs {
			stored[r.ID] = r
		}
	}
	for _, a := range acked {
		if _, ok := stored[a.id]; !ok {
			t.Errorf("acknowledged RDV %s (%v) is lost", a.id, jobs[a.job].body["starts_at"])
		}
	}
	taken := map[string]string{}
	for _, r := range stored {
		if r.Status == "excused" || r.Status == "revoked" {
			continue
		}
		for _, a := range r.AgentIDs {
			k := a + " " + r.StartsAt
			if prev, dup := taken[k]; dup {
				t.Errorf("%s is booked twice: %s and %s", k, prev, r.ID)
			}
			taken[k] = r.ID
		}
	}
	// The calendar converges to camille's live RDVs, each exactly once.
	var live []string
	for id, r := range stored {
		if r.Status != "excused" && r.Status != "revoked" && len(r.AgentIDs) == 1 && r.AgentIDs[0] == "camille-martin" {
			live = append(live, id)
		}
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		var st struct {
			Pending, Dead int
		}
		d.call(t, "GET", "/api/v1/agents/camille-martin/sync", "camille-martin", nil, &st)
		if st.Dead > 0 {
			t.Fatalf("calendar pushes dead after the restart: %+v", st)
		}
		if st.Pending == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("calendar pushes still pending after 90 s: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	client, err := caldav.NewClient(radicale.CalendarURL, radicale.Username, radicale.Password, caldav.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	objs, err := client.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	inCalendar := map[string]int{}
	for _, o := range objs {
		inCalendar[strings.TrimSuffix(o.Name, ".ics")]++
	}
	if len(objs) != len(live) {
		t.Errorf("the calendar holds %d objects for %d live RDVs of camille", len(objs), len(live))
	}
	for _, id := range live {
		if inCalendar[id] != 1 {
			t.Errorf("RDV %s is %d times in the calendar", id, inCalendar[id])
		}
	}
	t.Logf("calendar: %d events for %d live RDVs of camille-martin", len(objs), len(live))

	// The restarted daemon knows the slots are taken.
	last := jobs[acked[len(acked)-1].job]
	if status := d.call(t, "POST", "/api/v1/rdvs", last.agent, last.body, nil); status != http.StatusConflict {
		t.Errorf("booking an acknowledged slot again after the restart: %d, want 409", status)
	}
}

// daemonSetup builds the daemon and returns its temporary directory, the
// binary, and the path and text of a copy of config.example.yaml whose
// store lives in that directory (written by the caller).
// testBinary is the daemon built once for the whole package: each daemon
// test runs the same binary, so the suite links it once instead of once a
// test (TestMain removes it).
var testBinary struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// builtDaemon returns the path of the daemon built from this package.
func builtDaemon(t *testing.T) string {
	t.Helper()
	testBinary.once.Do(func() {
		if testBinary.dir, testBinary.err = os.MkdirTemp("", "rdvsync-test-"); testBinary.err != nil {
			return
		}
		testBinary.path = filepath.Join(testBinary.dir, "rdvsync")
		if out, err := exec.Command("go", "build", "-o", testBinary.path, ".").CombinedOutput(); err != nil {
			testBinary.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if testBinary.err != nil {
		t.Fatal(testBinary.err)
	}
	return testBinary.path
}

func TestMain(m *testing.M) {
	pgtest.Configure(pgtest.NoFsync()) // for the replicas' tests
	code := m.Run()
	pgtest.StopShared()
	if benchCluster.cluster != nil {
		benchCluster.cluster.Stop()
	}
	if testBinary.dir != "" {
		os.RemoveAll(testBinary.dir)
	}
	if seededDir != "" {
		os.RemoveAll(seededDir) // the benchmarks' seeded store (100 MB)
	}
	os.Exit(code)
}

func daemonSetup(t *testing.T) (dir, bin, cfg string, conf []byte) {
	t.Helper()
	dir = t.TempDir()
	bin = builtDaemon(t)
	example, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const storeLine = `path: "data/rdvsync.db"`
	if !bytes.Contains(example, []byte(storeLine)) {
		t.Fatalf("config.example.yaml no longer has %s", storeLine)
	}
	cfg = filepath.Join(dir, "rdvsync.yaml")
	conf = bytes.Replace(example, []byte(storeLine), []byte(fmt.Sprintf("path: %q", filepath.Join(dir, "data", "rdvsync.db"))), 1)
	return dir, bin, cfg, conf
}

type ack struct {
	id  string
	job int
}

type crashBooking struct {
	agent string
	body  map[string]any
}

// daemonProc is an rdvsync serve process started by the test.
type daemonProc struct {
	cmd    *exec.Cmd
	url    string
	client *http.Client
	stdout *lockedBuffer
	stderr *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startDaemon(t *testing.T, bin, cfg string, extra ...string) *daemonProc {
	t.Helper()
	d := &daemonProc{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, client: &http.Client{Timeout: 10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 16}}}
	d.cmd = exec.Command(bin, append([]string{"serve", "-config", cfg, "-listen", "127.0.0.1:0", "-log-level", "warn"}, extra...)...)
	d.cmd.Stderr = d.stderr
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
			d.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("daemon stderr:\n%s", d.stderr.String())
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			fmt.Fprintln(d.stdout, sc.Text())
			if a, ok := strings.CutPrefix(sc.Text(), "rdvsync listening on "); ok {
				addr <- a
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	select {
	case d.url = <-addr:
	case <-time.After(15 * time.Second):
		t.Fatalf("the daemon did not say where it listens; stderr:\n%s", d.stderr.String())
	}
	return d
}

// kill sends SIGKILL: no shutdown, no store close.
func (d *daemonProc) kill() { d.cmd.Process.Kill() }

func (d *daemonProc) try(method, path, agent string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, d.url+path, rd)
	if err != nil {
		return 0, err
	}
	if agent != "" { // "": an anonymous prescripteur
		req.Header.Set("Authorization", "Bearer demo-token-"+agent)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	if resp.StatusCode < 300 && out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w: %s", method, path, err, data)
		}
	}
	return resp.StatusCode, nil
}

func (d *daemonProc) call(t *testing.T, method, path, agent string, body, out any) int {
	t.Helper()
	status, err := d.try(method, path, agent, body, out)
	if err != nil {
		t.Fatal(err)
	}
	return status
}
