package notify_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/wneessen/go-mail"

	"rdvsync/internal/config"
	"rdvsync/internal/notify"
)

// The pool sends over at most `connections` connections at once, reuses
// them from one message to the next, and dials again when the server
// dropped an idle one.
func TestSMTPPoolReusesBoundedConnections(t *testing.T) {
	srv := newSMTPServer(t)
	s := &notify.Service{}
	cfg := &config.SMTP{Host: "127.0.0.1", Port: srv.port(), Username: smtpUser, Password: smtpPass, TLS: "none", Connections: 2}
	send, pool, err := notify.SMTPPoolFor(s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	sendAll := func(from, n int) {
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				m := mail.NewMsg()
				m.From("ne-pas-repondre@example.org")
				m.To(fmt.Sprintf("usager%d@example.org", from+i))
				m.Subject("Rendez-vous confirmé")
				m.SetBodyString(mail.TypeTextPlain, "Bonjour")
				if err := send(context.Background(), m); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	sendAll(0, 40)
	srv.mu.Lock()
	got, sessions, maxOpen := len(srv.received), srv.sessions, srv.maxOpen
	srv.mu.Unlock()
	if got != 40 {
		t.Fatalf("%d messages received, want 40", got)
	}
	if maxOpen > 2 || sessions > 2 {
		t.Errorf("%d connections, %d at once; want at most 2 (connections: 2)", sessions, maxOpen)
	}

	// The server restarts: the idle connections are dead; messages still go.
	srv.stop()
	srv.start(t)
	sendAll(40, 4)
	if got := len(srv.messages()); got != 44 {
		t.Errorf("%d messages received after the server restarted, want 44", got)
	}
	if _, again, _ := notify.SMTPPoolFor(s, cfg); again != pool {
		t.Error("the same settings got a new pool")
	}
	changed := *cfg
	changed.Connections = 3
	if _, other, _ := notify.SMTPPoolFor(s, &changed); other == pool {
		t.Error("new settings kept the old pool")
	}
}
