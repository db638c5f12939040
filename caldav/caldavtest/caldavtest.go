// Package caldavtest starts real CalDAV servers for tests: Debian's
// Radicale and Xandikos, each on a free loopback port with its data under
// t.TempDir(), stopped by t.Cleanup.
//
// Radicale (package radicale, 3.1.x) is started as
//
//	radicale -C <dir>/config
//
// (the Debian script runs /usr/bin/python3; "python3 -m radicale" would
// take whatever python3 comes first in PATH, which may lack the module)
// with a configuration file that replaces /etc/radicale/config entirely
// (that one asks for remote_user auth and TLS):
// [server] hosts = 127.0.0.1:<port>; [auth] type = htpasswd,
// htpasswd_encryption = plain, delay = 0; [rights] type = owner_only;
// [storage] filesystem_folder = <dir>/collections; [web] type = none. It
// checks Basic credentials; the calendar is created with MKCALENDAR at
// /<user>/rdv/.
//
// Xandikos (package xandikos, 0.2.x) is started as
//
//	xandikos -d <dir>/data --defaults -l 127.0.0.1 -p <port>
//
// --defaults creates the principal /user/ with the calendar
// /user/calendars/calendar/. Xandikos has no authentication of its own
// (it expects a reverse proxy to do it): it ignores the Basic credentials
// clients send.
//
// Readiness is polled with PROPFIND every 50 ms for at most 15 s; a
// server that dies first (its port taken meanwhile) is started again on
// another port. A missing binary fails the test with how to install it,
// unless RDVSYNC_SKIP_CALDAV=1, which skips it. MakeCalendar adds
// calendars (MKCALENDAR) so tests can start from an empty one.
package caldavtest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Server is a running CalDAV server.
type Server struct {
	BaseURL     string // http://127.0.0.1:<port>
	CalendarURL string // a calendar collection, ending with "/"
	Username    string
	Password    string

	home string   // path of the collection that holds the calendars
	proc *process // the running server, for Stop and Restart
}

// process is a started server and how to start it again on its port.
type process struct {
	name    string
	command func(port int) *exec.Cmd
	ready   func() bool
	port    int
	mu      sync.Mutex
	stop    func()
}

// Stop kills the server (an outage); its data stays.
func (s Server) Stop(t testing.TB) {
	t.Helper()
	s.proc.mu.Lock()
	defer s.proc.mu.Unlock()
	if s.proc.stop != nil {
		s.proc.stop()
		s.proc.stop = nil
	}
}

// Restart starts the stopped server again on the same port and data.
func (s Server) Restart(t testing.TB) {
	t.Helper()
	p := s.proc
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stop != nil {
		return
	}
	cmd := p.command(p.port)
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("restart %s: %v", p.name, err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	p.stop = func() { cmd.Process.Kill(); <-exited }
	deadline := time.Now().Add(readyTimeout)
	for !p.ready() {
		select {
		case <-exited:
			t.Fatalf("%s exited on restart:\n%s", p.name, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready after restart:\n%s", p.name, out.String())
		}
	}
}

// readyTimeout bounds the wait for a server to answer.
const readyTimeout = 15 * time.Second

// StartRadicale starts Radicale with one user and one empty calendar.
func StartRadicale(t testing.TB) Server {
	t.Helper()
	bin := lookBinary(t, "radicale")
	dir := t.TempDir()
	s := Server{Username: "agent", Password: "mot-de-passe", home: "/agent/"}
	if err := os.WriteFile(filepath.Join(dir, "users"), []byte(s.Username+":"+s.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s.proc = start(t, "radicale", func(port int) *exec.Cmd {
		config := fmt.Sprintf(`[server]
hosts = 127.0.0.1:%d
[auth]
type = htpasswd
htpasswd_filename = %s
htpasswd_encryption = plain
delay = 0
[rights]
type = owner_only
[storage]
filesystem_folder = %s
[web]
type = none
[logging]
level = warning
`, port, filepath.Join(dir, "users"), filepath.Join(dir, "collections"))
		path := filepath.Join(dir, "config")
		if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		s.BaseURL = "http://127.0.0.1:" + strconv.Itoa(port)
		return exec.Command(bin, "-C", path)
	}, func() bool { return s.status("PROPFIND", s.home) == http.StatusMultiStatus })
	s.CalendarURL = s.MakeCalendar(t, "rdv")
	return s
}

// StartXandikos starts Xandikos with its default calendar.
func StartXandikos(t testing.TB) Server {
	t.Helper()
	bin := lookBinary(t, "xandikos")
	dir := t.TempDir()
	s := Server{Username: "agent", Password: "mot-de-passe", home: "/user/calendars/"}
	s.proc = start(t, "xandikos", func(port int) *exec.Cmd {
		s.BaseURL = "http://127.0.0.1:" + strconv.Itoa(port)
		return exec.Command(bin, "-d", filepath.Join(dir, "data"), "--defaults",
			"-l", "127.0.0.1", "-p", strconv.Itoa(port))
	}, func() bool { return s.status("PROPFIND", "/user/calendars/calendar/") == http.StatusMultiStatus })
	s.CalendarURL = s.BaseURL + s.home + "calendar/"
	return s
}

// MakeCalendar creates another calendar collection named name beside
// CalendarURL (for tests that need an empty one) and returns its URL.
func (s Server) MakeCalendar(t testing.TB, name string) string {
	t.Helper()
	path := s.home + name + "/"
	if st := s.status("MKCALENDAR", path); st != http.StatusCreated {
		t.Fatalf("MKCALENDAR %s: status %d", path, st)
	}
	return s.BaseURL + path
}

// status sends a body-less request with the server's credentials and
// returns the status, 0 if the server does not answer.
func (s Server) status(method, path string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, s.BaseURL+path, nil)
	if err != nil {
		return 0
	}
	req.SetBasicAuth(s.Username, s.Password)
	if method == "PROPFIND" {
		req.Header.Set("Depth", "0")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

func lookBinary(t testing.TB, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("RDVSYNC_SKIP_CALDAV") == "1" {
		t.Skipf("%s not found and RDVSYNC_SKIP_CALDAV=1: skipping", name)
	}
	t.Fatalf("%s not found: install it: make test-deps (apt-get install radicale xandikos), or set RDVSYNC_SKIP_CALDAV=1 to skip", name)
	return ""
}

// start runs the command made for a free port until ready() holds,
// trying another port if the server dies first (the port may have been
// taken between choosing and binding it).
func start(t testing.TB, name string, command func(port int) *exec.Cmd, ready func() bool) *process {
	t.Helper()
	deadline := time.Now().Add(readyTimeout)
	var lastOutput string
	for attempt := 0; attempt < 3 && time.Now().Before(deadline); attempt++ {
		port := freePort(t)
		cmd := command(port)
		out := &syncBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatalf("start %s: %v", name, err)
		}
		exited := make(chan struct{})
		go func() { cmd.Wait(); close(exited) }()
		stop := func() {
			cmd.Process.Kill()
			<-exited
		}
		for time.Now().Before(deadline) {
			if ready() {
				p := &process{name: name, command: command, ready: ready, port: port, stop: stop}
				t.Cleanup(func() {
					p.mu.Lock()
					if p.stop != nil {
						p.stop()
					}
					p.mu.Unlock()
					if t.Failed() {
						t.Logf("%s output:\n%s", name, out.String())
					}
				})
				return p
			}
			select {
			case <-exited:
			case <-time.After(50 * time.Millisecond):
				continue
			}
			break
		}
		stop()
		lastOutput = out.String()
	}
	t.Fatalf("%s did not become ready within %s; output:\n%s", name, readyTimeout, lastOutput)
	return nil
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// syncBuffer collects a server's output while tests read it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
