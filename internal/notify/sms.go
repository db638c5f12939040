package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"rdvsync/internal/config"
	"rdvsync/internal/ratelimit"
)

// smsTimeout bounds one call to the SMS provider.
const smsTimeout = 10 * time.Second

// sendSMS renders d's SMS and posts it to the provider, or writes it to
// the spool when no provider is configured. It returns the transport.
func (s *Service) sendSMS(ctx context.Context, d *delivery) (string, error) {
	text, err := s.tmpl.renderSMS(d.view())
	if err != nil {
		return "", permanent(err)
	}
	w := d.cat.Config.Notifications.SMS.Webhook
	if w == nil {
		return "spool", writeSpool(d.cat.Config.SMSSpoolDir(), d.id+".txt", func(f io.Writer) error {
			_, err := fmt.Fprintf(f, "To: %s\nId: %s\nDate: %s\nEvent: %s\n\n%s\n",
				d.phone(), d.id, d.now.UTC().Format(time.RFC3339), d.msg.Event, text)
			return err
		})
	}
	return "http", s.postSMS(ctx, w, d.phone(), text, d.id)
}

// smsRequest is the body posted to the SMS provider.
type smsRequest struct {
	To   string `json:"to"`   // E.164, "+33612345678"
	Text string `json:"text"` // UTF-8
	ID   string `json:"id"`   // the same on every attempt of one message
}

// postSMS posts one SMS: 2xx is sent; 429 and 5xx are retried (after
// Retry-After when given); any other status is permanent.
func (s *Service) postSMS(ctx context.Context, w *config.SMSWebhook, to, text, id string) error {
	body, err := json.Marshal(smsRequest{To: to, Text: text, ID: id})
	if err != nil {
		return permanent(err)
	}
	ctx, cancel := context.WithTimeout(ctx, smsTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return permanent(fmt.Errorf("sms provider: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+string(w.Token))
	req.Header.Set("Idempotency-Key", id)
	resp, err := s.http.Do(req)
	if err != nil {
		return fmt.Errorf("sms provider: %w", err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	err = fmt.Errorf("sms provider: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(snippet)))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests:
		return retryAfter{err: err, after: ratelimit.ParseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	case resp.StatusCode >= 500:
		return err
	}
	return permanent(err)
}

// retryAfter is a rate-limited attempt (outbox.RetryAfter).
type retryAfter struct {
	err   error
	after time.Duration
}

func (r retryAfter) Error() string             { return r.err.Error() }
func (r retryAfter) Unwrap() error             { return r.err }
func (r retryAfter) RetryAfter() time.Duration { return r.after }
