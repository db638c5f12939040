package notify

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	htmltemplate "html/template"
	"io"
	netmail "net/mail"
	"strings"
	texttemplate "text/template"
	"time"

	"github.com/wneessen/go-mail"

	"rdvsync/internal/catalog"
)

// signInView is what the sign-in link email says.
type signInView struct {
	Subject, Organisation, OrgPhone, RecipientName string
	Link, Expires                                  string
}

// signInTemplates are parsed once, with the common email layout.
type signInTemplates struct {
	text *texttemplate.Template
	html *htmltemplate.Template
}

func parseSignInTemplates() (*signInTemplates, error) {
	tt, err := texttemplate.New("signin").ParseFS(templateFS, "templates/email/signin_agent.txt")
	if err != nil {
		return nil, fmt.Errorf("template signin_agent.txt: %w", err)
	}
	ht, err := htmltemplate.New("signin").ParseFS(templateFS, "templates/email/layout.html", "templates/email/signin_agent.html")
	if err != nil {
		return nil, fmt.Errorf("template signin_agent.html: %w", err)
	}
	return &signInTemplates{text: tt, html: ht}, nil
}

// SendSignInLink sends agent a its one-time sign-in link for the pages,
// now, through the notifications' email channel: the SMTP server of
// notifications.email.smtp, or the mail spool. Unlike messages about RDVs
// it goes through no outbox: the link is a credential the store must not
// keep, and an agent who gets nothing asks for another one.
func (s *Service) SendSignInLink(ctx context.Context, a *catalog.Agent, link string, expires time.Time) error {
	cat := s.catalog()
	cfg := cat.Config.Notifications.Email
	sender, err := netmail.ParseAddress(cfg.From)
	if err != nil {
		return fmt.Errorf("notifications.email.from: %w", err)
	}
	t := expires.In(a.Organisations[0].Location)
	v := signInView{Subject: "Votre lien de connexion à RDV Solidarités", Organisation: "RDV Solidarités",
		RecipientName: a.FullName(), Link: link, Expires: fmt.Sprintf("%dh%02d", t.Hour(), t.Minute())}
	var text, html bytes.Buffer
	if err := s.signin.text.ExecuteTemplate(&text, "body", v); err != nil {
		return fmt.Errorf("template signin_agent: %w", err)
	}
	if err := s.signin.html.ExecuteTemplate(&html, "layout", v); err != nil {
		return fmt.Errorf("template signin_agent: %w", err)
	}
	// A fresh id per link: two links are two messages.
	id := "signin." + rand.Text() + "." + dotAtom(a.ID)
	m := mail.NewMsg(mail.WithNoDefaultUserAgent())
	m.FromMailAddress(sender)
	if err := m.AddToFormat(a.FullName(), a.Email); err != nil {
		return fmt.Errorf("recipient address: %w", err)
	}
	m.Subject(v.Subject)
	m.SetMessageIDWithValue(id + "@" + domainOf(sender.Address))
	m.SetDateWithValue(s.now())
	m.SetUserAgent("rdvsync")
	m.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	m.SetGenHeader(mail.HeaderXAutoResponseSuppress, "All")
	m.SetBodyString(mail.TypeTextPlain, strings.TrimSpace(text.String())+"\n")
	m.AddAlternativeString(mail.TypeTextHTML, html.String())
	if cfg.SMTP == nil {
		return writeSpool(cat.Config.MailSpoolDir(), id+".eml", func(f io.Writer) error {
			_, err := m.WriteTo(f)
			return err
		})
	}
	pool, err := s.smtpPool(cfg.SMTP)
	if err != nil {
		return redactError(err)
	}
	return redactError(pool.send(ctx, m))
}
