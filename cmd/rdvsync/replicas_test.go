package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"rdvsync/internal/store/postgres/pgtest"
	"rdvsync/internal/webhook"
)

// Several daemons of the built binary on one PostgreSQL database, as
// docs/deployment.md runs them behind a load balancer: every guarantee of
// the single daemon holds across them (docs/design.md §9).

// replicaSet is n daemons sharing one database, each with its own spool
// folders (what each delivered is then known).
type replicaSet struct {
	dir, bin string
	procs    []*daemonProc
	spools   []string
}

var storePathLine = regexp.MustCompile(`(?m)^  path: .*$`)

// replicaConfig turns the example configuration into one on PostgreSQL
// (its connection string in RDVSYNC_TEST_DSN) spooling under spool.
func replicaConfig(t *testing.T, conf []byte, spool string, extra func([]byte) []byte) []byte {
	t.Helper()
	replace := func(old, new string) {
		t.Helper()
		if !bytes.Contains(conf, []byte(old)) {
			t.Fatalf("config.example.yaml no longer has %q", old)
		}
		conf = bytes.Replace(conf, []byte(old), []byte(new), 1)
	}
	conf = storePathLine.ReplaceAll(conf, []byte("  driver: postgres\n  dsn_env: RDVSYNC_TEST_DSN\n  delivery_lease: 3s"))
	replace("    # spool_dir: /var/spool/rdvsync/mail", fmt.Sprintf("    spool_dir: %q", filepath.Join(spool, "mail")))
	replace("  # sms:\n", fmt.Sprintf("  sms:\n    spool_dir: %q\n", filepath.Join(spool, "sms")))
	if extra != nil {
		conf = extra(conf)
	}
	return conf
}

// startReplicas starts n daemons on a fresh database (the first applies
// the schema); extra edits their configuration.
func startReplicas(t *testing.T, n int, extra func([]byte) []byte) *replicaSet {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs daemons on PostgreSQL")
	}
	dir, bin, _, conf := daemonSetup(t)
	t.Setenv("RDVSYNC_TEST_DSN", pgtest.DSN(t))
	rs := &replicaSet{dir: dir, bin: bin}
	for range n {
		rs.add(t, conf, extra)
	}
	return rs
}

// add starts one more daemon on the set's database.
func (rs *replicaSet) add(t *testing.T, conf []byte, extra func([]byte) []byte) *daemonProc {
	t.Helper()
	i := len(rs.procs)
	spool := filepath.Join(rs.dir, fmt.Sprintf("replica-%d", i))
	cfg := filepath.Join(rs.dir, fmt.Sprintf("replica-%d.yaml", i))
	if err := os.WriteFile(cfg, replicaConfig(t, conf, spool, extra), 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, rs.bin, cfg)
	rs.procs = append(rs.procs, d)
	rs.spools = append(rs.spools, spool)
	return d
}

// mails returns every spooled email of every replica, by file.
func (rs *replicaSet) mails(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, spool := range rs.spools {
		files, _ := filepath.Glob(filepath.Join(spool, "mail", "*.eml"))
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err == nil {
				out[f] = string(b)
			}
		}
	}
	return out
}

// mailsTo counts the spooled emails addressed to addr, all replicas together.
func (rs *replicaSet) mailsTo(t *testing.T, addr string) int {
	n := 0
	for _, m := range rs.mails(t) {
		if strings.Contains(m, "To: "+addr) || strings.Contains(m, "<"+addr+">") {
			n++
		}
	}
	return n
}

func bookingBody(slot apiSlot, i int) map[string]any {
	return map[string]any{"motif_id": "rsa-orientation", "lieu_id": slot.LieuID, "starts_at": slot.StartsAt, "agent_id": slot.AgentID,
		"usager": map[string]string{"first_name": "Usager", "last_name": fmt.Sprintf("Numéro %d", i), "email": fmt.Sprintf("usager-%d@example.org", i)}}
}

func TestReplicasBookOneSlotOnceAndOfferTheSameSlots(t *testing.T) {
	rs := startReplicas(t, 3, nil)
	slot := freeSlots(t, rs.procs[0], "rsa-orientation", "camille-martin")[0]

	// 30 requests for one slot, spread over the replicas: the database
	// is the referee.
	const n = 30
	statuses := make([]int, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			statuses[i], errs[i] = rs.procs[i%3].try("POST", "/api/v1/rdvs", "camille-martin", bookingBody(slot, i), nil)
		}()
	}
	close(start)
	wg.Wait()
	winner, created := -1, 0
	for i := range n {
		switch {
		case errs[i] != nil:
			t.Errorf("request %d: %v", i, errs[i])
		case statuses[i] == http.StatusCreated:
			created++
			winner = i
		case statuses[i] != http.StatusConflict:
			t.Errorf("request %d: %d, want 201 or 409", i, statuses[i])
		}
	}
	if created != 1 {
		t.Fatalf("%d bookings of one slot over 3 replicas, want exactly 1 (statuses %v)", created, statuses)
	}

	// Every replica stops offering it at once: no replica keeps busy
	// times of its own.
	for r, d := range rs.procs {
		for _, s := range freeSlots(t, d, "rsa-orientation", "camille-martin") {
			if s.StartsAt == slot.StartsAt && s.AgentID == slot.AgentID {
				t.Errorf("replica %d still offers the booked slot %s", r, slot.StartsAt)
			}
		}
	}

	// Its confirmation leaves once, from one replica; the refused
	// callers get nothing.
	deadline := time.Now().Add(20 * time.Second)
	for rs.mailsTo(t, fmt.Sprintf("usager-%d@example.org", winner)) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // time for a duplicate to show
	for i := range n {
		want := 0
		if i == winner {
			want = 1
		}
		if got := rs.mailsTo(t, fmt.Sprintf("usager-%d@example.org", i)); got != want {
			t.Errorf("usager %d got %d confirmations, want %d", i, got, want)
		}
	}
}

func TestReplicasDeliverEachMessageOnce(t *testing.T) {
	rs := startReplicas(t, 3, nil)
	slots := freeSlots(t, rs.procs[0], "rsa-orientation", "camille-martin")
	const n = 12
	if len(slots) < n {
		t.Fatalf("%d free slots, want %d", len(slots), n)
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if status, err := rs.procs[i%3].try("POST", "/api/v1/rdvs", "camille-martin", bookingBody(slots[i], i), nil); err != nil || status != http.StatusCreated {
				t.Errorf("booking %d: %d %v", i, status, err)
			}
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(30 * time.Second)
	for {
		done := 0
		for i := range n {
			if rs.mailsTo(t, fmt.Sprintf("usager-%d@example.org", i)) > 0 {
				done++
			}
		}
		if done == n || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	byReplica := make([]int, len(rs.spools))
	for i := range n {
		if got := rs.mailsTo(t, fmt.Sprintf("usager-%d@example.org", i)); got != 1 {
			t.Errorf("usager %d got %d confirmations, want 1", i, got)
		}
	}
	for f := range rs.mails(t) {
		for r, spool := range rs.spools {
			if strings.HasPrefix(f, spool+string(filepath.Separator)) {
				byReplica[r]++
			}
		}
	}
	t.Logf("emails spooled by replica: %v", byReplica)
}

func TestReplicasReplayOneWebhookMessage(t *testing.T) {
	secret := make([]byte, 24)
	for i := range secret {
		secret[i] = byte(i * 7)
	}
	whsec := "whsec_" + base64.StdEncoding.EncodeToString(secret)
	secretFile := filepath.Join(t.TempDir(), "formulaire")
	if err := os.WriteFile(secretFile, []byte(whsec), 0o600); err != nil {
		t.Fatal(err)
	}
	rs := startReplicas(t, 3, func(conf []byte) []byte {
		return bytes.Replace(conf, []byte("  incoming: []"), []byte(fmt.Sprintf("  incoming:\n    - { id: formulaire, secret_file: %q }", secretFile)), 1)
	})
	slot := freeSlots(t, rs.procs[0], "rsa-orientation", "")[0]
	body, _ := json.Marshal(map[string]any{"motif_id": "rsa-orientation", "lieu_id": slot.LieuID, "starts_at": slot.StartsAt,
		"usager":       map[string]string{"first_name": "Louise", "last_name": "Form", "email": "louise@example.org"},
		"prescripteur": map[string]string{"first_name": "Paul", "last_name": "Médiathèque", "email": "paul@mediatheque.example.org"}})
	now := time.Now()
	post := func(d *daemonProc) (int, string) {
		req, _ := http.NewRequest("POST", d.url+"/webhooks/prescriptions/formulaire", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("webhook-id", "msg_replicas_1")
		req.Header.Set("webhook-timestamp", fmt.Sprint(now.Unix()))
		req.Header.Set("webhook-signature", webhook.Sign([][]byte{secret}, "msg_replicas_1", now, body))
		resp, err := d.client.Do(req)
		if err != nil {
			t.Error(err)
			return 0, ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The sender retries on two replicas at once (its first try timed out).
	var wg sync.WaitGroup
	type answer struct {
		status int
		body   string
	}
	answers := make([]answer, 3)
	for i := range 3 {
		wg.Add(1)
		go func() { defer wg.Done(); answers[i].status, answers[i].body = post(rs.procs[i]) }()
	}
	wg.Wait()
	ids := map[string]bool{}
	for i, a := range answers {
		var got struct {
			ID string `json:"id"`
		}
		if a.status != http.StatusCreated || json.Unmarshal([]byte(a.body), &got) != nil || got.ID == "" {
			t.Fatalf("replica %d: %d %s", i, a.status, a.body)
		}
		ids[got.ID] = true
	}
	if len(ids) != 1 {
		t.Fatalf("one message delivered to 3 replicas made %d RDVs, want 1", len(ids))
	}
	time.Sleep(2 * time.Second)
	if n := rs.mailsTo(t, "louise@example.org"); n != 1 {
		t.Errorf("the usager got %d confirmations, want 1", n)
	}
}

func TestReplicaKilledMidDeliveryIsTakenOver(t *testing.T) {
	// A receiver that holds the first delivery (the replica that sent it
	// dies meanwhile) and answers the next ones.
	var calls atomic.Int32
	var mu sync.Mutex
	ids := map[string]int{}
	release := make(chan struct{})
	defer close(release)
	first := make(chan struct{}, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		mu.Lock()
		ids[r.Header.Get("webhook-id")]++
		mu.Unlock()
		if calls.Add(1) == 1 {
			first <- struct{}{}
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer receiver.Close()
	secretFile := filepath.Join(t.TempDir(), "partenaire")
	if err := os.WriteFile(secretFile, []byte("whsec_"+base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123"))), 0o600); err != nil {
		t.Fatal(err)
	}
	extra := func(conf []byte) []byte {
		return bytes.Replace(conf, []byte("  outgoing: []"), []byte(fmt.Sprintf(
			"  outgoing:\n    - { id: partenaire, url: %q, secret_file: %q, allow_private: true }", receiver.URL, secretFile)), 1)
	}
	rs := startReplicas(t, 1, extra)
	a := rs.procs[0]
	slot := freeSlots(t, a, "rsa-orientation", "camille-martin")[0]
	if status := a.call(t, "POST", "/api/v1/rdvs", "camille-martin", bookingBody(slot, 1), nil); status != http.StatusCreated {
		t.Fatalf("booking: %d", status)
	}
	select {
	case <-first:
	case <-time.After(20 * time.Second):
		t.Fatal("the webhook was not sent")
	}
	// kill -9 mid-delivery: its lease stays in the database.
	a.kill()
	a.cmd.Wait()
	killed := time.Now()
	_, _, _, conf := daemonSetup(t)
	rs.add(t, conf, extra)
	rs.add(t, conf, extra)
	deadline := time.Now().Add(30 * time.Second)
	for calls.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if calls.Load() < 2 {
		t.Fatal("the delivery left in flight by the killed replica was never taken over")
	}
	took := time.Since(killed)
	time.Sleep(2 * time.Second) // a second taker would show now
	mu.Lock()
	defer mu.Unlock()
	if len(ids) != 1 || calls.Load() != 2 {
		t.Fatalf("deliveries by message id: %v (%d calls), want one message delivered twice: by the killed replica, then by one other", ids, calls.Load())
	}
	t.Logf("taken over %s after the kill (lease 3s)", took.Round(100*time.Millisecond))
}

func TestReplicasSendEachReminderOnce(t *testing.T) {
	// A daemon books RDVs whose reminders fall due a few seconds later
	// (notifications.reminder_before set to just under their start), and
	// stops; three daemons then start together on the database, and each
	// runs the reminder job at once at start: each reminder goes out once.
	rs := startReplicas(t, 1, nil)
	slots := freeSlots(t, rs.procs[0], "rsa-orientation", "camille-martin")
	var first []apiSlot
	for _, s := range slots {
		if s.StartsAt == slots[0].StartsAt {
			first = append(first, s)
		}
	}
	start, err := time.Parse(time.RFC3339, slots[0].StartsAt)
	if err != nil {
		t.Fatal(err)
	}
	before := time.Until(start) - 6*time.Second
	withReminder := func(conf []byte) []byte {
		return bytes.Replace(conf, []byte("reminder_before: 48h"), []byte("reminder_before: "+before.Round(time.Second).String()), 1)
	}
	_, _, _, conf := daemonSetup(t)
	if !bytes.Contains(conf, []byte("reminder_before: 48h")) {
		t.Fatal("config.example.yaml no longer has reminder_before: 48h")
	}
	rs.procs[0].stop(t)
	booker := rs.add(t, conf, withReminder)
	for i, s := range first {
		if status := booker.call(t, "POST", "/api/v1/rdvs", "camille-martin", bookingBody(s, i), nil); status != http.StatusCreated {
			t.Fatalf("booking %d: %d", i, status)
		}
	}
	booker.stop(t)
	time.Sleep(time.Until(start.Add(-before)) + time.Second) // the reminders are due
	for range 3 {
		rs.add(t, conf, withReminder)
	}
	reminders := func(i int) int {
		n := 0
		for _, m := range rs.mails(t) {
			if strings.Contains(m, "Rappel") && strings.Contains(m, fmt.Sprintf("usager-%d@example.org", i)) {
				n++
			}
		}
		return n
	}
	deadline := time.Now().Add(20 * time.Second)
	for reminders(len(first)-1) == 0 && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(2 * time.Second) // a second sender would show now
	for i := range first {
		if n := reminders(i); n != 1 {
			t.Errorf("usager %d got %d reminders from 3 daemons, want 1", i, n)
		}
	}
}

// stop ends the daemon as systemd would (SIGTERM) and waits for it.
func (d *daemonProc) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("daemon stop: %v\n%s", err, d.stderr.String())
	}
}

func TestReplicaWithoutItsDatabase(t *testing.T) {
	// Its own cluster: the test stops the server.
	if testing.Short() {
		t.Skip("builds and runs a daemon on PostgreSQL")
	}
	cluster, err := pgtest.Start(pgtest.NoFsync())
	if err != nil {
		t.Fatal(err)
	}
	defer cluster.Stop()
	dir, bin, _, conf := daemonSetup(t)
	t.Setenv("RDVSYNC_TEST_DSN", cluster.DSN(t))
	rs := &replicaSet{dir: dir, bin: bin}
	d := rs.add(t, conf, nil)
	slots := freeSlots(t, d, "rsa-orientation", "camille-martin")
	if status := d.call(t, "POST", "/api/v1/rdvs", "camille-martin", bookingBody(slots[0], 1), nil); status != http.StatusCreated {
		t.Fatalf("booking: %d", status)
	}

	cluster.StopServer()
	if status := d.call(t, "GET", "/readyz", "", nil, nil); status != http.StatusServiceUnavailable {
		t.Errorf("/readyz without the database: %d, want 503", status)
	}
	req, _ := http.NewRequest("POST", d.url+"/api/v1/rdvs", bytes.NewReader(mustJSON(t, bookingBody(slots[1], 2))))
	req.Header.Set("Authorization", "Bearer demo-token-camille-martin")
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var apiErr struct {
		Error struct{ Code, Message string } `json:"error"`
	}
	if resp.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(body, &apiErr) != nil || apiErr.Error.Code != "unavailable" || apiErr.Error.Message == "" {
		t.Errorf("booking without the database: %d %s, want 503 with the API's error body", resp.StatusCode, body)
	}
	if strings.Contains(d.stderr.String(), "panic") {
		t.Errorf("the daemon panicked:\n%s", d.stderr.String())
	}

	// The database comes back: the daemon is ready again, what was
	// acknowledged is there, and the refused booking can be made.
	if err := cluster.Restart(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, _ := d.try("GET", "/readyz", "", nil, nil)
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz still %d after the database came back", status)
		}
		time.Sleep(100 * time.Millisecond)
	}
	for _, s := range freeSlots(t, d, "rsa-orientation", "camille-martin") {
		if s.StartsAt == slots[0].StartsAt && s.AgentID == slots[0].AgentID {
			t.Error("the booking acknowledged before the outage is gone")
		}
	}
	if status := d.call(t, "POST", "/api/v1/rdvs", "camille-martin", bookingBody(slots[1], 2), nil); status != http.StatusCreated {
		t.Errorf("booking after the database came back: %d", status)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestReplicasShareAgentSessions(t *testing.T) {
	// A visitor whom the load balancer sends to one daemon, then to
	// another: its form tokens, its sign-in link and its session hold on
	// both (they are in the database).
	rs := startReplicas(t, 2, nil)
	one, two := rs.procs[0].url, rs.procs[1].url
	b := newPageClient(t, one)
	tok := b.csrf("/agents/connexion", "/agents/connexion/lien")
	b.base = two // the form, signed by one, posted to two
	if res := b.post("/agents/connexion/lien", url.Values{"csrf": {tok}, "email": {"camille.martin@example.org"}, "retour": {"/agents/agenda"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("ask for a link on the other daemon: %d", res.StatusCode)
	}
	var eml string
	deadline := time.Now().Add(15 * time.Second)
	for eml == "" && time.Now().Before(deadline) {
		for _, spool := range rs.spools {
			if found, _ := filepath.Glob(filepath.Join(spool, "mail", "signin.*.camille-martin.eml")); len(found) > 0 {
				eml = found[0]
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if eml == "" {
		t.Fatal("no sign-in link in the spools")
	}
	_, _, body := readEmail(t, eml)
	m := regexp.MustCompile(`http://127\.0\.0\.1:8080(/agents/connexion/lien\?jeton=[A-Za-z0-9_%-]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no link in the email:\n%s", body)
	}
	b.base = one
	page := b.get(m[1])
	jeton := regexp.MustCompile(`name="jeton" value="([^"]+)"`).FindStringSubmatch(page.body)
	if page.StatusCode != http.StatusOK || jeton == nil {
		t.Fatalf("link page: %d", page.StatusCode)
	}
	tok = b.csrf(m[1], "/agents/connexion/lien/valider")
	b.base = two
	if res := b.post("/agents/connexion/lien/valider", url.Values{"csrf": {tok}, "jeton": {html.UnescapeString(jeton[1])}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign in by link on the other daemon: %d", res.StatusCode)
	}
	for _, base := range []string{one, two} {
		b.base = base
		if agenda := b.get("/agents/agenda"); agenda.StatusCode != http.StatusOK || !strings.Contains(agenda.body, "Mon agenda") {
			t.Errorf("agenda on %s: %d", base, agenda.StatusCode)
		}
	}
	if page := newPageClient(t, one).get(m[1]); page.StatusCode != http.StatusGone {
		t.Errorf("the link used on one daemon, again on the other: %d, want 410", page.StatusCode)
	}
}
