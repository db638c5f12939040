package notify

import "regexp"

var (
	emailPattern = regexp.MustCompile(`[^\s<>()\[\]"',;:]+@[^\s<>()\[\]"',;:]+\.[A-Za-z]{2,}`)
	// Nine digits or more, separated by at most one space, dot or dash:
	// phone numbers, not IP addresses, ports or SMTP codes.
	phonePattern = regexp.MustCompile(`\+?\d(?:[ .-]?\d){8,}`)
)

// redact removes email addresses and phone numbers from a text that comes
// from outside (an SMTP reply, a provider's error body) before it reaches
// logs, receipts or the outbox.
func redact(s string) string {
	s = emailPattern.ReplaceAllString(s, "[adresse]")
	return phonePattern.ReplaceAllString(s, "[numéro]")
}

// redacted is an error whose text is redacted; errors.Is and errors.As
// still see the original (outbox.ErrPermanent, outbox.RetryAfter).
type redacted struct {
	err error
	msg string
}

func (r redacted) Error() string { return r.msg }
func (r redacted) Unwrap() error { return r.err }

func redactError(err error) error {
	if err == nil {
		return nil
	}
	return redacted{err: err, msg: redact(err.Error())}
}
