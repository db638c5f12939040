package notify_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	"github.com/prometheus/client_golang/prometheus"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/notify"
	"rdvsync/internal/outbox"
	"rdvsync/internal/store"
)

var paris = mustZone("Europe/Paris")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// parisTime is a wall-clock time in Paris.
func parisTime(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, paris)
}

// clock is a controllable clock that keeps running from where it was set,
// so that the dispatcher's retries come due.
type clock struct {
	mu   sync.Mutex
	base time.Time
	set  time.Time
}

func newClock(t time.Time) *clock { return &clock{base: t, set: time.Now()} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base.Add(time.Since(c.set))
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.base, c.set = t, time.Now()
}

// setup is how a test configures notifications.
type setup struct {
	smtpPort       int    // 0: no smtp block (spool)
	smsURL         string // "": no sms block (spool)
	camilleLevel   string // rdv_notifications_level of camille-martin (default all)
	reminderBefore string // default 48h
	noHolidays     bool   // holidays: none (Easter Monday 2027 is the DST test's day)
}

const (
	smtpUser = "rdv"
	smtpPass = "mot-de-passe-smtp"
	smsToken = "jeton-sms-secret"
)

var notificationsBlock = regexp.MustCompile(`(?s)\nnotifications:\n.*?\nterritories:`)

// catalogFor writes the example configuration with s's settings into dir
// and builds its catalogue. The store path stays data/rdvsync.db, so the
// spool is dir/data.
func catalogFor(t testing.TB, dir string, s setup) *catalog.Catalog {
	t.Helper()
	data, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if s.reminderBefore == "" {
		s.reminderBefore = "48h"
	}
	if s.camilleLevel == "" {
		s.camilleLevel = "all"
	}
	n := "\nnotifications:\n  reminder_before: " + s.reminderBefore + "\n  email:\n    from: \"RDV Solidarités Pas-de-Calais <ne-pas-repondre@example.org>\"\n"
	if s.smtpPort != 0 {
		pw := filepath.Join(dir, "smtp-password")
		if err := os.WriteFile(pw, []byte(smtpPass+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		n += "    smtp: { host: 127.0.0.1, port: " + strconv.Itoa(s.smtpPort) + ", username: " + smtpUser + ", password_file: smtp-password, tls: none }\n"
	}
	if s.smsURL != "" {
		tok := filepath.Join(dir, "sms-token")
		if err := os.WriteFile(tok, []byte(smsToken+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		n += "  sms:\n    webhook: { url: \"" + s.smsURL + "\", token_file: sms-token }\n"
	}
	y := notificationsBlock.ReplaceAllLiteralString(string(data), n+"\nterritories:")
	y = strings.Replace(y, "    rdv_notifications_level: others\n", "    rdv_notifications_level: "+s.camilleLevel+"\n", 1)
	if s.noHolidays {
		y = strings.Replace(y, "\nholidays: fr\n", "\nholidays: none\n", 1)
	}
	path := filepath.Join(dir, "rdvsync.yaml")
	if err := os.WriteFile(path, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := config.Parse(path, []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	c, err := catalog.Build(f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// logBuffer collects the daemon's logs, to check they carry no personal data.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

type harness struct {
	dir     string
	cat     atomic.Pointer[catalog.Catalog]
	clock   *clock
	logs    *logBuffer
	store   *store.Store
	booking *booking.Service
	notify  *notify.Service
	metrics *prometheus.Registry
	stop    func()
}

// newHarness runs booking, notify and the outbox dispatcher on a store in
// dir, as the daemon wires them.
func newHarness(t *testing.T, s setup, now time.Time) *harness {
	t.Helper()
	h := &harness{dir: t.TempDir(), clock: newClock(now), logs: &logBuffer{}}
	h.cat.Store(catalogFor(t, h.dir, s))
	h.start(t)
	return h
}

func (h *harness) start(t testing.TB) { h.startWith(t, harnessOptions{}) }

// harnessOptions are the ways a benchmark runs the harness differently.
type harnessOptions struct {
	fsync        bool // the store syncs its commits, as the daemon does
	noDispatcher bool // records stay in the outbox
	quiet        bool // no logs
}

func (h *harness) startWith(t testing.TB, o harnessOptions) {
	t.Helper()
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	if o.quiet {
		log = slog.New(slog.DiscardHandler)
	}
	st, err := store.Open(h.cat.Load().Config.StorePath(), store.Options{NoSync: !o.fsync, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	h.metrics = prometheus.NewRegistry()
	n, err := notify.New(st, h.cat.Load, notify.Options{Logger: log, Now: h.clock.Now, Registerer: h.metrics})
	if err != nil {
		t.Fatal(err)
	}
	h.store, h.notify = st, n
	h.booking = booking.New(h.cat.Load, st, booking.Options{Now: h.clock.Now, Logger: log, Effects: []booking.Effect{n}})
	d := outbox.New(st, n.Sinks(), outbox.Options{Now: h.clock.Now, Logger: log, Poll: 20 * time.Millisecond,
		Policy: outbox.Policy{Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}})
	n.SetKick(d.Kick)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	if o.noDispatcher {
		close(done)
	} else {
		go func() { d.Run(ctx); close(done) }()
	}
	var once sync.Once
	h.stop = func() {
		once.Do(func() {
			cancel()
			<-done
			st.Close()
		})
	}
	t.Cleanup(h.stop)
}

// restart stops the daemon and starts it again on the same store.
func (h *harness) restart(t testing.TB) {
	t.Helper()
	h.stop()
	h.start(t)
}

type person struct{ first, last, email, phone string }

var (
	lea  = person{"Léa", "Dubois", "lea.dubois@example.net", "06 12 34 56 78"}
	jean = person{"Jean", "Petit", "jean.petit@mediatheque.example.org", "03 21 00 00 99"}
	// personal data that must never reach the logs
	secrets = []string{lea.email, jean.email, "0612345678", "612345678", "06 12 34 56 78", "Dubois", "Petit"}
)

// bookExterne books rsa-orientation with camille-martin as an external prescripteur.
func (h *harness) bookExterne(t *testing.T, start time.Time, u person) *booking.Booked {
	t.Helper()
	b, err := h.booking.Book(context.Background(), booking.Caller{}, booking.BookRequest{
		MotifID: "rsa-orientation", LieuID: "mds-arras-centre", StartsAt: start.Format(time.RFC3339), AgentID: "camille-martin",
		Usager:       &booking.UsagerInput{FirstName: u.first, LastName: u.last, Email: u.email, PhoneNumber: u.phone},
		Prescripteur: &booking.PrescripteurInput{FirstName: jean.first, LastName: jean.last, Email: jean.email, PhoneNumber: jean.phone},
	}, nil)
	if err != nil {
		t.Fatalf("book %s: %v", start, err)
	}
	return b
}

// bookAsAgent books rsa-orientation as agentID (prescription interne) with camille-martin.
func (h *harness) bookAsAgent(t *testing.T, agentID string, start time.Time, u person) *booking.Booked {
	t.Helper()
	b, err := h.booking.Book(context.Background(), booking.Caller{Agent: h.cat.Load().Agent(agentID)}, booking.BookRequest{
		MotifID: "rsa-orientation", LieuID: "mds-arras-centre", StartsAt: start.Format(time.RFC3339), AgentID: "camille-martin",
		Usager: &booking.UsagerInput{FirstName: u.first, LastName: u.last, Email: u.email, PhoneNumber: u.phone},
	}, nil)
	if err != nil {
		t.Fatalf("book %s as %s: %v", start, agentID, err)
	}
	return b
}

func (h *harness) usagerCancel(t *testing.T, b *booking.Booked) {
	t.Helper()
	if _, err := h.booking.Cancel(context.Background(), booking.Caller{UsagerToken: b.RDV.UsagerToken}, b.RDV.ID, ""); err != nil {
		t.Fatal(err)
	}
}

func (h *harness) usagerMove(t *testing.T, b *booking.Booked, start time.Time) {
	t.Helper()
	if _, err := h.booking.Move(context.Background(), booking.Caller{UsagerToken: b.RDV.UsagerToken}, b.RDV.ID,
		booking.MoveRequest{StartsAt: start.Format(time.RFC3339)}); err != nil {
		t.Fatal(err)
	}
}

// settled waits until no outbox record is pending (dead ones stay).
func (h *harness) settled(t testing.TB) {
	t.Helper()
	waitFor(t, "the outbox to drain", func() bool {
		n := 0
		h.store.View(context.Background(), func(tx *store.ReadTx) error {
			return tx.EachOutbox("", func(r *store.OutboxRecord) error {
				if !r.Dead {
					n++
				}
				return nil
			})
		})
		return n == 0
	})
}

func (h *harness) receipts(t *testing.T, rdvID string) []store.Receipt {
	t.Helper()
	rs, err := h.notify.Receipts(context.Background(), rdvID)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func (h *harness) sendDueReminders(t *testing.T) int {
	t.Helper()
	n, err := h.notify.SendDueReminders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// checkLogs fails if the logs carry personal data.
func (h *harness) checkLogs(t *testing.T) {
	t.Helper()
	logs := h.logs.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Errorf("the logs contain personal data %q:\n%s", s, logs)
		}
	}
}

func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// smtpServer is a real SMTP server (github.com/emersion/go-smtp) on
// 127.0.0.1 that keeps what it receives.
type smtpServer struct {
	addr     string
	srv      *smtp.Server
	refuse   atomic.Bool  // answer 421 to RCPT
	unknown  atomic.Value // string: answer 550 to RCPT for this address
	mu       sync.Mutex
	received []*received
	// sessions counts connections; open and maxOpen, those open now and
	// at most at once.
	sessions, open, maxOpen int
}

type received struct {
	from string
	to   []string
	raw  []byte
}

func newSMTPServer(t *testing.T) *smtpServer {
	t.Helper()
	s := &smtpServer{addr: "127.0.0.1:0"}
	s.start(t)
	t.Cleanup(func() { s.srv.Close() })
	return s
}

func (s *smtpServer) port() int {
	_, p, _ := net.SplitHostPort(s.addr)
	n, _ := strconv.Atoi(p)
	return n
}

func (s *smtpServer) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		s.mu.Lock()
		s.sessions++
		s.open++
		s.maxOpen = max(s.maxOpen, s.open)
		s.mu.Unlock()
		return &smtpSession{srv: s}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.MaxMessageBytes = 1 << 20
	s.srv = srv
	go srv.Serve(ln)
}

// stop closes the server: connections are refused until start.
func (s *smtpServer) stop() { s.srv.Close() }

func (s *smtpServer) messages() []*received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*received(nil), s.received...)
}

type smtpSession struct {
	srv    *smtpServer
	authed bool
	cur    received
}

func (ss *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (ss *smtpSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != smtpUser || password != smtpPass {
			return errors.New("bad credentials")
		}
		ss.authed = true
		return nil
	}), nil
}

func (ss *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if !ss.authed {
		return smtp.ErrAuthRequired
	}
	ss.cur = received{from: from}
	return nil
}

func (ss *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if ss.srv.refuse.Load() {
		return &smtp.SMTPError{Code: 421, EnhancedCode: smtp.EnhancedCode{4, 3, 2}, Message: "Service temporairement indisponible"}
	}
	if to == ss.srv.unknown.Load() {
		return &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "<" + to + ">: Recipient address rejected"}
	}
	ss.cur.to = append(ss.cur.to, to)
	return nil
}

func (ss *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	msg := ss.cur
	msg.raw = b
	ss.srv.mu.Lock()
	ss.srv.received = append(ss.srv.received, &msg)
	ss.srv.mu.Unlock()
	ss.cur = received{}
	return nil
}

func (ss *smtpSession) Reset() { ss.cur = received{} }
func (ss *smtpSession) Logout() error {
	ss.srv.mu.Lock()
	ss.srv.open--
	ss.srv.mu.Unlock()
	return nil
}

// email is a received message, parsed as a mail client would.
type email struct {
	header      mail.Header
	to          []*mail.Address
	subject     string
	messageID   string
	text, html  string
	ics         []byte // the text/calendar alternative
	icsMethod   string // its method parameter
	attachments map[string][]byte
}

func parseEmail(t *testing.T, raw []byte) *email {
	t.Helper()
	m, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("not an email: %v\n%s", err, raw)
	}
	e := &email{header: m.Header, attachments: map[string][]byte{}, messageID: m.Header.Get("Message-Id")}
	if e.to, err = m.Header.AddressList("To"); err != nil {
		t.Fatalf("To: %v", err)
	}
	if e.subject, err = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); err != nil {
		t.Fatalf("Subject: %v", err)
	}
	e.walk(t, m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Header.Get("Content-Disposition"), m.Body)
	return e
}

func (e *email) walk(t *testing.T, ctype, cte, disposition string, body io.Reader) {
	t.Helper()
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		t.Fatalf("Content-Type %q: %v", ctype, err)
	}
	if strings.HasPrefix(mt, "multipart/") {
		mr := multipart.NewReader(body, params["boundary"])
		for {
			p, err := mr.NextPart()
			if err == io.EOF {
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// multipart decodes quoted-printable itself and hides the header.
			e.walk(t, p.Header.Get("Content-Type"), p.Header.Get("Content-Transfer-Encoding"), p.Header.Get("Content-Disposition"), p)
		}
	}
	data, err := io.ReadAll(body)
	if err != nil {
		t.Fatal(err)
	}
	if strings.EqualFold(cte, "base64") {
		if data, err = base64.StdEncoding.DecodeString(strings.Join(strings.Fields(string(data)), "")); err != nil {
			t.Fatalf("base64 part: %v", err)
		}
	}
	if d, dp, err := mime.ParseMediaType(disposition); err == nil && d == "attachment" {
		e.attachments[dp["filename"]] = data
		return
	}
	switch mt {
	case "text/plain":
		e.text = string(data)
	case "text/html":
		e.html = string(data)
	case "text/calendar":
		e.ics, e.icsMethod = data, params["method"]
	default:
		t.Errorf("unexpected part %s", ctype)
	}
}

// event decodes an .ics with go-ical and returns its calendar's METHOD and its one VEVENT.
func parseICS(t *testing.T, data []byte) (string, *ical.Event) {
	t.Helper()
	cal, err := ical.NewDecoder(bytes.NewReader(data)).Decode()
	if err != nil {
		t.Fatalf("decode .ics: %v\n%s", err, data)
	}
	evs := cal.Events()
	if len(evs) != 1 {
		t.Fatalf(".ics has %d events", len(evs))
	}
	method := ""
	if p := cal.Props.Get(ical.PropMethod); p != nil {
		method = p.Value
	}
	return method, &evs[0]
}

// emailsTo returns the parsed messages received for addr.
func emailsTo(t *testing.T, s *smtpServer, addr string) []*email {
	t.Helper()
	var out []*email
	for _, r := range s.messages() {
		for _, to := range r.to {
			if to == addr {
				out = append(out, parseEmail(t, r.raw))
			}
		}
	}
	return out
}
