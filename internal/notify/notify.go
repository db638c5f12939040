package notify

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/outbox"
	"rdvsync/internal/store"
)

// Outbox kinds of notifications.
const (
	KindEmail = "email"
	KindSMS   = "sms"
)

// Events.
const (
	EventCreated   = "created"
	EventMoved     = "moved"
	EventCancelled = "cancelled"
	EventReopened  = "reopened" // a cancelled RDV set back to unknown or seen
	EventReminder  = "reminder"
)

// Recipient kinds.
const (
	RecipientUsager       = "usager"
	RecipientPrescripteur = "prescripteur"
	RecipientAgent        = "agent"
)

// Options configure a Service.
type Options struct {
	Logger     *slog.Logger
	Now        func() time.Time      // default time.Now
	Registerer prometheus.Registerer // where rdvsync_notifications_total is registered; nil: nowhere
	// HTTPClient posts to the SMS provider (default: a client with a 10 s
	// timeout).
	HTTPClient *http.Client
}

// Service records notifications with RDV changes and delivers them.
type Service struct {
	store   *store.Store
	catalog func() *catalog.Catalog
	log     *slog.Logger
	now     func() time.Time
	http    *http.Client
	kick    func()
	tmpl    *templates
	signin  *signInTemplates
	total   *prometheus.CounterVec

	smtpMu sync.Mutex
	smtp   *smtpPool // for the SMTP settings in force
}

var _ booking.Effect = (*Service)(nil)

// New returns the notification service. cat gives the catalogue in force
// (swapped on reload): agents' levels when a change is recorded, addresses
// and SMTP/SMS settings when a message is delivered.
func New(st *store.Store, cat func() *catalog.Catalog, opts Options) (*Service, error) {
	tmpl, err := parseTemplates()
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	signin, err := parseSignInTemplates()
	if err != nil {
		return nil, fmt.Errorf("notify: %w", err)
	}
	s := &Service{store: st, catalog: cat, log: opts.Logger, now: opts.Now, http: opts.HTTPClient, kick: func() {}, tmpl: tmpl, signin: signin}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "notify")
	if s.now == nil {
		s.now = time.Now
	}
	if s.http == nil {
		s.http = &http.Client{Timeout: smsTimeout}
	}
	s.total = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rdvsync_notifications_total",
		Help: "Notification delivery attempts by channel (email, sms), event (created, moved, cancelled, reopened, reminder) and result (ok, failed, skipped).",
	}, []string{"channel", "event", "result"})
	if opts.Registerer != nil {
		if err := opts.Registerer.Register(s.total); err != nil {
			return nil, fmt.Errorf("notify: register metrics: %w", err)
		}
	}
	return s, nil
}

// SetKick sets the function that wakes the outbox dispatcher.
func (s *Service) SetKick(kick func()) { s.kick = kick }

// Committed implements booking.Effect: the records are in, wake the dispatcher.
func (s *Service) Committed() { s.kick() }

// Sinks returns the outbox sinks of notifications, by kind.
func (s *Service) Sinks() map[string]outbox.Sink {
	return map[string]outbox.Sink{
		KindEmail: sink{s: s, channel: KindEmail},
		KindSMS:   sink{s: s, channel: KindSMS},
	}
}

// HoldsRDV implements booking.Holder: a notification still to be sent
// reads the RDV (its contact, its details) when it is delivered, so an
// erased usager's cancelled RDVs wait for their cancellation notices.
func (s *Service) HoldsRDV(tx *store.ReadTx, rdvID string) (bool, error) {
	return tx.HasPendingOutbox(keyPrefix(rdvID))
}

// Receipts returns the delivery attempts of an RDV's notifications, oldest
// first. It does not check that the RDV exists or that the caller may see it.
func (s *Service) Receipts(ctx context.Context, rdvID string) ([]store.Receipt, error) {
	var out []store.Receipt
	err := s.store.View(ctx, func(tx *store.ReadTx) error {
		var err error
		out, err = tx.Receipts(rdvID)
		return err
	})
	return out, err
}
