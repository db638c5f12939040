package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	netmail "net/mail"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/wneessen/go-mail"

	"rdvsync/caldav"
	"rdvsync/internal/config"
	"rdvsync/internal/freetext"
	"rdvsync/internal/rdv"
)

// smtpTimeout bounds connecting to the SMTP server and each command.
const smtpTimeout = 30 * time.Second

// sendEmail renders d's email and sends it through SMTP, or writes it to
// the spool when no SMTP server is configured. It returns the transport.
func (s *Service) sendEmail(ctx context.Context, d *delivery) (string, error) {
	cfg := d.cat.Config.Notifications.Email
	transport := "spool"
	if cfg.SMTP != nil {
		transport = "smtp"
	}
	m, err := s.buildEmail(d, cfg.From)
	if err != nil {
		return transport, permanent(err)
	}
	if cfg.SMTP == nil {
		return transport, writeSpool(d.cat.Config.MailSpoolDir(), d.id+".eml", func(f io.Writer) error {
			_, err := m.WriteTo(f)
			return err
		})
	}
	pool, err := s.smtpPool(cfg.SMTP)
	if err != nil {
		return transport, err
	}
	return transport, pool.send(ctx, m)
}

// buildEmail renders d's email: plain text and HTML alternatives, and for
// usagers and agents the RDV as iCalendar, both as a text/calendar
// alternative (what calendar-aware clients act on) and as rdv.ics.
func (s *Service) buildEmail(d *delivery, from string) (*mail.Msg, error) {
	sender, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("notifications.email.from: %w", err)
	}
	toName, toAddr := d.emailAddress()
	v := d.view()
	r, err := s.tmpl.renderEmail(v)
	if err != nil {
		return nil, err
	}
	m := mail.NewMsg(mail.WithNoDefaultUserAgent())
	m.FromMailAddress(sender)
	to, err := recipient(toName, toAddr)
	if err != nil {
		return nil, err
	}
	m.AddToMailAddress(to)
	m.Subject(r.Subject)
	m.SetMessageIDWithValue(d.id + "@" + domainOf(sender.Address))
	m.SetDateWithValue(d.now)
	m.SetUserAgent("rdvsync")
	m.SetGenHeader(mail.Header("Auto-Submitted"), "auto-generated")
	m.SetGenHeader(mail.HeaderXAutoResponseSuppress, "All")
	m.SetBodyString(mail.TypeTextPlain, r.Text)
	m.AddAlternativeString(mail.TypeTextHTML, r.HTML)
	if d.msg.Recipient == RecipientPrescripteur {
		return m, nil
	}
	ics, method, err := d.icalendar(v, sender, toName, toAddr)
	if err != nil {
		return nil, err
	}
	m.AddAlternativeString(mail.ContentType("text/calendar; method="+method), string(ics))
	if err := m.AttachReader("rdv.ics", bytes.NewReader(ics), mail.WithFileContentType("application/ics")); err != nil {
		return nil, fmt.Errorf("attach rdv.ics: %w", err)
	}
	return m, nil
}

// recipient is the To address of a message. The display name is given to
// net/mail as a value, so that it quotes or encodes it (RFC 5322 §3.4,
// RFC 2047): a name such as O"Brien must not be pasted between quotes,
// which the parser then refuses ("mail: no angle-addr"). Control
// characters, which no header can carry, are dropped from names stored
// before the edge refused them.
func recipient(name, addr string) (*netmail.Address, error) {
	a, err := netmail.ParseAddress(addr)
	if err != nil {
		return nil, fmt.Errorf("recipient address: %w", err)
	}
	if a.Address != addr {
		return nil, errors.New("recipient address: not a bare address")
	}
	return &netmail.Address{Name: freetext.Printable(name, false), Address: addr}, nil
}

func domainOf(addr string) string {
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i < len(addr)-1 {
		return addr[i+1:]
	}
	return "rdvsync.invalid"
}

// icalendar is the iTIP (RFC 5546) object of the message: the RDV as the
// message describes it, with the calendar push's UID and SEQUENCE, METHOD
// REQUEST or CANCEL, the sender as ORGANIZER and the recipient as ATTENDEE.
func (d *delivery) icalendar(v *view, sender *netmail.Address, toName, toAddr string) ([]byte, string, error) {
	snap := *d.rdv
	m := &d.msg
	snap.StartsAt, snap.EndsAt, snap.LieuID, snap.Version, snap.UpdatedAt = m.Start, m.End, m.LieuID, m.Version, m.At
	method := caldav.MethodRequest
	snap.Status = rdv.StatusUnknown
	if m.Event == EventCancelled || m.Removed {
		method, snap.Status = caldav.MethodCancel, rdv.StatusRevoked
	}
	details := caldav.DetailsMinimal
	if a := d.agent; a != nil && a.Calendar != nil {
		// What the agent's calendar shows, so the two stay one event.
		details = caldav.Details(a.Calendar.Details)
	}
	ev := caldav.NewEvent(d.cat, &snap, d.usager, details)
	if m.Recipient == RecipientUsager {
		ev.URL = v.UsagerURL
		desc := []string{"Motif : " + v.Motif + " (" + v.Organisation + ")"}
		if v.Instructions != "" {
			desc = append(desc, "À savoir : "+v.Instructions)
		}
		if v.OrgPhone != "" {
			desc = append(desc, "Contact : "+v.Organisation+", "+v.OrgPhone)
		}
		ev.Description = strings.Join(append(desc, "Votre rendez-vous : "+v.UsagerURL), "\n")
	}
	cal := ev.Calendar(method)
	for _, c := range cal.Children {
		if c.Name != ical.CompEvent {
			continue
		}
		org := ical.NewProp(ical.PropOrganizer)
		org.Value = "mailto:" + sender.Address
		if sender.Name != "" {
			org.Params.Set(ical.ParamCommonName, paramValue(sender.Name))
		}
		c.Props.Set(org)
		att := ical.NewProp(ical.PropAttendee)
		att.Value = "mailto:" + toAddr
		if toName != "" {
			att.Params.Set(ical.ParamCommonName, paramValue(toName))
		}
		att.Params.Set(ical.ParamRole, "REQ-PARTICIPANT")
		att.Params.Set(ical.ParamRSVP, "FALSE")
		c.Props.Set(att)
	}
	var b bytes.Buffer
	if err := caldav.Encode(&b, cal); err != nil {
		return nil, "", err
	}
	return b.Bytes(), method, nil
}

// paramValue drops what an iCalendar parameter value cannot hold.
func paramValue(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '"' || r < ' ' {
			return -1
		}
		return r
	}, s)
}

// newSMTPClient is the go-mail client (settings, no connection) for c.
func newSMTPClient(c *config.SMTP) (*mail.Client, error) {
	opts := []mail.Option{mail.WithPort(c.Port), mail.WithTimeout(smtpTimeout)}
	switch c.TLS {
	case "tls":
		opts = append(opts, mail.WithSSL())
	case "none":
		opts = append(opts, mail.WithTLSPolicy(mail.NoTLS))
	default:
		opts = append(opts, mail.WithTLSPolicy(mail.TLSMandatory))
	}
	if c.Username != "" {
		opts = append(opts, mail.WithUsername(c.Username), mail.WithPassword(string(c.Password)))
		if c.TLS == "none" {
			// The admin chose a clear-text link (a local relay): go-mail
			// only sends PLAIN or LOGIN over it when told so.
			opts = append(opts, mail.WithOpportunisticSMTPAuth(mail.SMTPAuthSCRAMSHA256, mail.SMTPAuthSCRAMSHA1,
				mail.SMTPAuthCramMD5, mail.SMTPAuthPlainNoEnc, mail.SMTPAuthLoginNoEnc))
		} else {
			opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover))
		}
	}
	client, err := mail.NewClient(c.Host, opts...)
	if err != nil {
		return nil, permanent(fmt.Errorf("smtp client: %w", err))
	}
	return client, nil
}

// smtpError classifies a failed send. Refusals that retrying cannot fix
// (5xx to MAIL, RCPT or DATA) are permanent; everything else (connection
// refused, timeouts, 4xx such as 421) is retried.
func smtpError(c *config.SMTP, err error) error {
	var se *mail.SendError
	if errors.As(err, &se) && !se.IsTemp() && se.ErrorCode() >= 500 {
		switch se.Reason {
		case mail.ErrSMTPMailFrom, mail.ErrSMTPRcptTo, mail.ErrSMTPData, mail.ErrSMTPDataClose:
			return permanent(fmt.Errorf("smtp %s:%d: %w", c.Host, c.Port, err))
		}
	}
	return fmt.Errorf("smtp %s:%d: %w", c.Host, c.Port, err)
}
