package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/outbox"
	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// sink delivers the outbox records of one channel.
type sink struct {
	s       *Service
	channel string
}

var _ outbox.Sink = sink{}

// Deliver implements outbox.Sink.
func (k sink) Deliver(ctx context.Context, rec store.OutboxRecord) error {
	return k.s.deliver(ctx, rec, k.channel)
}

// delivery is one attempt at one message, with what it is about.
type delivery struct {
	msg    message
	cat    *catalog.Catalog
	rdv    *rdv.RDV
	usager *rdv.Usager    // the RDV's contact; nil if it has none
	agent  *catalog.Agent // the recipient, for agents
	id     string         // message id, without domain
	now    time.Time
}

func (s *Service) deliver(ctx context.Context, rec store.OutboxRecord, channel string) error {
	d := &delivery{cat: s.catalog(), now: s.now()}
	if err := json.Unmarshal(rec.Payload, &d.msg); err != nil || d.msg.V != messageV1 {
		return fmt.Errorf("%w: notification %s: unreadable payload", outbox.ErrPermanent, rec.Key)
	}
	d.id = d.msg.id(rec.RDVID)
	if d.msg.Event == EventRefused {
		return s.deliverRefusal(ctx, rec, channel, d)
	}
	receipt := store.Receipt{RDVID: rec.RDVID, Channel: channel, Event: d.msg.Event, Recipient: d.msg.Recipient,
		AgentID: d.msg.AgentID, MessageID: d.id, Attempt: rec.Attempts + 1}
	err := s.store.View(ctx, func(tx *store.ReadTx) error {
		var err error
		if d.rdv, err = tx.RDV(rec.RDVID); err != nil {
			return err
		}
		d.usager = contactOf(d.rdv)
		return nil
	})
	if store.IsNotFound(err) {
		s.finish(ctx, receipt, "", "skipped", "rendez-vous introuvable", nil)
		return nil
	}
	if err != nil {
		return err
	}
	if d.msg.Recipient == RecipientAgent {
		d.agent = d.cat.Agent(d.msg.AgentID)
	}
	if why := d.skipReason(channel); why != "" {
		s.finish(ctx, receipt, "", "skipped", why, nil)
		return nil
	}
	var transport string
	switch channel {
	case KindEmail:
		transport, err = s.sendEmail(ctx, d)
	case KindSMS:
		transport, err = s.sendSMS(ctx, d)
	default:
		err = fmt.Errorf("%w: unknown channel %q", outbox.ErrPermanent, channel)
	}
	if err != nil {
		err = redactError(err)
		s.finish(ctx, receipt, transport, "failed", err.Error(), err)
		return err
	}
	s.finish(ctx, receipt, transport, "ok", "", nil)
	return nil
}

// skipReason says why the message must not go out (in French: receipts are
// shown to agents), or "".
func (d *delivery) skipReason(channel string) string {
	r, m := d.rdv, &d.msg
	switch {
	case !d.now.Before(r.StartsAt) || !d.now.Before(m.Start):
		return "le rendez-vous a commencé"
	case m.Event != EventCancelled && !r.Active():
		return "le rendez-vous a été annulé depuis"
	case m.Event == EventReminder && !r.StartsAt.Equal(m.Start):
		return "le rendez-vous a été déplacé depuis"
	case m.Recipient == RecipientAgent && d.agent == nil:
		return "agent absent de la configuration"
	}
	if channel == KindSMS {
		if d.phone() == "" {
			return "pas de numéro de mobile"
		}
	} else if _, addr := d.emailAddress(); addr == "" {
		return "pas d'adresse e-mail"
	}
	return ""
}

// emailAddress is the recipient's display name and address.
func (d *delivery) emailAddress() (name, addr string) {
	switch d.msg.Recipient {
	case RecipientUsager:
		if u := d.usager; u != nil {
			return strings.TrimSpace(u.FirstName + " " + u.LastName), u.Email
		}
	case RecipientPrescripteur:
		if r := d.msg.Refusal; r != nil {
			return strings.TrimSpace(r.FirstName + " " + r.LastName), r.Email
		}
		cb := d.rdv.CreatedBy
		return strings.TrimSpace(cb.FirstName + " " + cb.LastName), cb.Email
	case RecipientAgent:
		if a := d.agent; a != nil {
			return a.FullName(), a.Email
		}
	}
	return "", ""
}

// phone is the usager's mobile number, or "".
func (d *delivery) phone() string {
	if u := d.usager; u != nil && d.msg.Recipient == RecipientUsager && u.PhoneMobile {
		return u.PhoneNumber
	}
	return ""
}

func (d *delivery) view() *view {
	if d.msg.Refusal != nil {
		return refusalView(d.cat, &d.msg)
	}
	return newView(d.cat, d.rdv, d.usager, &d.msg, d.agent)
}

// finish records the outcome of an attempt: receipt, metric, log.
//
// The receipt is written in the transaction that records the delivery's
// outcome in the outbox (outbox.Persist): one commit per message, and a
// receipt exactly when the outbox says the message was handled.
func (s *Service) finish(ctx context.Context, rc store.Receipt, transport, result, reason string, err error) {
	rc.Transport, rc.Result, rc.Error, rc.At = transport, result, reason, s.now().UTC()
	s.total.WithLabelValues(rc.Channel, rc.Event, result).Inc()
	log := s.log.With("rdv_id", rc.RDVID, "event", rc.Event, "recipient", rc.Recipient, "channel", rc.Channel,
		"message_id", rc.MessageID, "attempt", rc.Attempt)
	if rc.AgentID != "" {
		log = log.With("agent_id", rc.AgentID)
	}
	switch result {
	case "ok":
		log.Info("notification sent", "transport", transport)
	case "skipped":
		log.Info("notification skipped", "reason", reason)
	default:
		log.Warn("notification failed", "transport", transport, slog.Any("error", err))
	}
	if uerr := outbox.Persist(ctx, s.store, func(tx *store.Tx) error { return tx.AddReceipt(rc) }); uerr != nil {
		log.Error("recording notification receipt", slog.Any("error", uerr))
	}
}

// permanent marks err as one that retrying cannot fix.
func permanent(err error) error {
	if err == nil || errors.Is(err, outbox.ErrPermanent) {
		return err
	}
	return fmt.Errorf("%w: %w", outbox.ErrPermanent, err)
}

// writeSpool writes a spool file atomically (a reader never sees half a
// message) and replaces one of the same name: a retried write of a message
// leaves one file. It returns once the file and its name are on disk
// (spoolSyncs): the receipt that says "ok" is written after, so a crash
// never loses a file a receipt promised. A crash before that leaves no
// receipt and the outbox record in place: the message is written again
// under the same name, replacing whatever the crash left.
func writeSpool(dir, name string, write func(w io.Writer) error) error {
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	spoolWriters <- struct{}{}
	err := writeSpoolFile(dir, name, buf.Bytes())
	<-spoolWriters
	if err == nil {
		err = spoolSyncs.wait(dir)
	}
	if err != nil {
		return fmt.Errorf("spool: %w", err)
	}
	return nil
}

// spoolWriters bounds the spool files being created at once, while up to
// 160 notifications are delivered at once (outbox.Options). Creating and
// renaming a file takes the directory's and the filesystem journal's
// locks: 128 at once spent four times the kernel CPU per file of one at a
// time (measured on ext4). Two at a time was slower on a quiet machine
// (a fifth fewer emails a second than 32: the writers then wait on the
// disk rather than on the locks). The message is rendered before, outside
// the bound.
var spoolWriters = make(chan struct{}, 32)

// writeSpoolFile writes data into dir/name through a temporary file and a
// rename.
func writeSpoolFile(dir, name string, data []byte) error {
	// The spool holds personal data: only the daemon's user may read it.
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && syncEachSpoolFile {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), filepath.Join(dir, name))
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
