package notify

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/wneessen/go-mail"
	"github.com/wneessen/go-mail/smtp"

	"rdvsync/internal/config"
)

// smtpIdle is how long an unused connection is kept: less than the
// few minutes after which servers drop idle clients (RFC 5321 §4.5.3.2.7
// asks servers to wait at least 5 minutes for the next command).
const smtpIdle = 30 * time.Second

// smtpPool sends messages over at most cfg.Connections connections to the
// configured server at once, each reused for the next message (RSET
// between messages, RFC 5321 §4.1.1.5) instead of a TCP, TLS and AUTH
// handshake per message.
type smtpPool struct {
	cfg    config.SMTP
	client *mail.Client
	slots  chan struct{}

	mu   sync.Mutex
	idle []idleConn
}

type idleConn struct {
	conn  *smtp.Client
	since time.Time
}

func newSMTPPool(c *config.SMTP) (*smtpPool, error) {
	client, err := newSMTPClient(c)
	if err != nil {
		return nil, err
	}
	return &smtpPool{cfg: *c, client: client, slots: make(chan struct{}, max(1, c.Connections))}, nil
}

// smtpPool is the pool for the SMTP settings in force; a reload that
// changes them starts a new pool and closes the old one's idle
// connections.
func (s *Service) smtpPool(c *config.SMTP) (*smtpPool, error) {
	s.smtpMu.Lock()
	defer s.smtpMu.Unlock()
	if s.smtp != nil && s.smtp.cfg == *c {
		return s.smtp, nil
	}
	p, err := newSMTPPool(c)
	if err != nil {
		return nil, err
	}
	if old := s.smtp; old != nil {
		go old.closeIdle(time.Time{})
	}
	s.smtp = p
	return p, nil
}

// send sends m, waiting for a free connection.
func (p *smtpPool) send(ctx context.Context, m *mail.Msg) error {
	select {
	case p.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-p.slots }()
	conn, reused := p.take()
	if reused {
		err := p.client.SendWithSMTPClient(conn, m)
		if err == nil {
			p.put(conn)
			return nil
		}
		p.client.CloseWithSMTPClient(conn)
		var se *mail.SendError
		if !errors.As(err, &se) || se.Reason != mail.ErrConnCheck {
			return smtpError(&p.cfg, err)
		}
		// The server dropped the idle connection: dial a new one.
	}
	conn, err := p.client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return smtpError(&p.cfg, err)
	}
	if err := p.client.SendWithSMTPClient(conn, m); err != nil {
		p.client.CloseWithSMTPClient(conn)
		return smtpError(&p.cfg, err)
	}
	p.put(conn)
	return nil
}

// take returns an idle connection (true), closing those idle too long, or
// nil (false).
func (p *smtpPool) take() (*smtp.Client, bool) {
	p.closeIdle(time.Now().Add(-smtpIdle))
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := len(p.idle); n > 0 {
		c := p.idle[n-1].conn
		p.idle = p.idle[:n-1]
		return c, true
	}
	return nil, false
}

func (p *smtpPool) put(c *smtp.Client) {
	if err := p.client.ResetWithSMTPClient(c); err != nil {
		p.client.CloseWithSMTPClient(c)
		return
	}
	p.mu.Lock()
	p.idle = append(p.idle, idleConn{conn: c, since: time.Now()})
	p.mu.Unlock()
}

// closeIdle quits the idle connections unused since before.
func (p *smtpPool) closeIdle(before time.Time) {
	p.mu.Lock()
	var stale []*smtp.Client
	kept := p.idle[:0]
	for _, ic := range p.idle {
		if before.IsZero() || ic.since.Before(before) {
			stale = append(stale, ic.conn)
		} else {
			kept = append(kept, ic)
		}
	}
	p.idle = kept
	p.mu.Unlock()
	for _, c := range stale {
		p.client.CloseWithSMTPClient(c)
	}
}
