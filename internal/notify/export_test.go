package notify

import (
	"context"

	"github.com/wneessen/go-mail"

	"rdvsync/internal/config"
)

// SMTPPoolFor gives tests the pool s uses for c: its send, and the pool
// itself to compare.
func SMTPPoolFor(s *Service, c *config.SMTP) (func(context.Context, *mail.Msg) error, any, error) {
	p, err := s.smtpPool(c)
	if err != nil {
		return nil, nil, err
	}
	return p.send, p, nil
}
