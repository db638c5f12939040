// Package webhook owns both directions of rdvsync's webhooks (docs/design.md §2
// item 9, §5 "Other endpoints").
//
// Incoming: prescription forms post to /webhooks/prescriptions/{source},
// signed per Standard Webhooks (https://www.standardwebhooks.com) or as
// Tally and Typeform sign (native.go): Incoming.Verify checks the
// signature, Mapping turns a form builder's payload into the booking body
// (or asks for the first available slot), and the message's id is the
// idempotency key of the booking in the source's own scope. Démarches
// Simplifiées callbacks are unsigned: Dossiers reads the dossier back from
// its API (ds.go). The HTTP handler is in httpapi.
//
// Outgoing: every RDV change is told to each configured endpoint. Service
// is a booking.Effect that queues one event per (endpoint, RDV) in the
// change's own transaction, and the outbox Sink that POSTs them, signed
// both as RDV Solidarités does (X-Lapin-Signature) and per Standard
// Webhooks. The body is RDV Solidarités' own (format rdv-solidarites,
// rdvsolidarites.go, with the integer ids of ids.go) or rdvsync's API
// view (format rdvsync). Events of one RDV reach an endpoint in order, each once on
// success (store.Tx.EnqueueItem). Each attempt is kept in the endpoint's
// delivery log.
package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/outbox"
	"rdvsync/internal/ratelimit"
	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// Kind is the outbox kind of webhook deliveries.
const Kind = "webhook"

// Events, as RDV Solidarités names them in meta.event.
const (
	EventCreated   = "created"
	EventUpdated   = "updated" // moved, status changed, cancelled
	EventDestroyed = "destroyed"
)

// DeliveryTimeout bounds one delivery attempt, response included.
const DeliveryTimeout = 10 * time.Second

// Key is the outbox key of (endpoint, RDV): one ordered queue each.
func Key(endpointID, rdvID string) string { return Kind + "/" + endpointID + "/" + rdvID }

// parseKey splits an outbox key; ids hold no '/' (config id pattern, uuids).
func parseKey(key string) (endpointID, rdvID string, ok bool) {
	rest, ok := strings.CutPrefix(key, Kind+"/")
	if !ok {
		return "", "", false
	}
	return strings.Cut(rest, "/")
}

// RenderFunc renders an RDV as the API shows it to an agent (docs/design.md §5);
// httpapi.WebhookRDVView is the one to use.
type RenderFunc func(cat *catalog.Catalog, b *booking.Booked) any

// Options configure a Service.
type Options struct {
	// Render renders the "data" of Rdv events in format rdvsync (required).
	Render RenderFunc
	// RenderUsager renders the "data" of User events in format rdvsync
	// (required): httpapi.WebhookUsagerView.
	RenderUsager func(*rdv.Usager) any
	Logger       *slog.Logger
	Now          func() time.Time
	// KeepDeliveries is how many attempts the delivery log of each
	// endpoint keeps (default 100).
	KeepDeliveries int
	// Timeout bounds each attempt (default DeliveryTimeout).
	Timeout time.Duration
}

// Service is the outgoing side: booking.Effect and outbox.Sink.
type Service struct {
	store   *store.Store
	catalog func() *catalog.Catalog
	render  RenderFunc
	renderU func(*rdv.Usager) any
	log     *slog.Logger
	now     func() time.Time
	keep    int
	kick    func()

	trimMu    sync.Mutex
	sinceTrim map[string]int // endpoint id → deliveries since its log's last trim (trimDue)

	clients guarded // the private one: for endpoints with allow_private
}

var (
	_ booking.Effect = (*Service)(nil)
	_ outbox.Sink    = (*Service)(nil)
)

// New returns the outgoing webhook service.
func New(st *store.Store, cat func() *catalog.Catalog, opts Options) *Service {
	if opts.Render == nil || opts.RenderUsager == nil {
		panic("webhook.New: Options.Render and RenderUsager are required (httpapi.WebhookRDVView, WebhookUsagerView)")
	}
	s := &Service{store: st, catalog: cat, render: opts.Render, renderU: opts.RenderUsager, log: opts.Logger, now: opts.Now,
		keep: opts.KeepDeliveries, kick: func() {}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "webhook")
	if s.now == nil {
		s.now = time.Now
	}
	if s.keep <= 0 {
		s.keep = defaultKeep
	}
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = DeliveryTimeout
	}
	s.clients = newGuarded(timeout)
	return s
}

// SetKick sets the function that wakes the outbox dispatcher.
func (s *Service) SetKick(kick func()) { s.kick = kick }

// envelope is the body of format rdvsync.
type envelope struct {
	Data json.RawMessage `json:"data"`
	Meta meta            `json:"meta"`
}

type meta struct {
	Model     string `json:"model"`
	Event     string `json:"event"`
	Timestamp string `json:"timestamp"`
	WebhookID string `json:"webhook_id"` // the endpoint's id
}

// Endpoints returns the endpoints that hear about RDVs of organisation
// orgID: those without organisations, and those that list it.
func Endpoints(cat *catalog.Catalog, orgID string) []*config.OutgoingWebhook {
	var out []*config.OutgoingWebhook
	for i := range cat.Config.Webhooks.Outgoing {
		ep := &cat.Config.Webhooks.Outgoing[i]
		if len(ep.Organisations) == 0 || slices.Contains(ep.Organisations, orgID) {
			out = append(out, ep)
		}
	}
	return out
}

// Endpoint returns the configured endpoint id, or nil.
func Endpoint(cat *catalog.Catalog, id string) *config.OutgoingWebhook {
	for i := range cat.Config.Webhooks.Outgoing {
		if cat.Config.Webhooks.Outgoing[i].ID == id {
			return &cat.Config.Webhooks.Outgoing[i]
		}
	}
	return nil
}

// OnChange implements booking.Effect: the event, with the RDV as it is
// after this change, is appended to the queue of each endpoint concerned.
// Bodies are built here, once, so retries send the very same bytes.
// Cancelling is an update; "destroyed" is sent when an RDV is deleted
// (retention, erasure of its usager: a change with no After).
//
// An endpoint is told of the usager what its organisations see
// (booking.UsagerSeenBy): the stored usager when one of them knows it,
// else the RDV's contact (an RDV booked there from another organisation,
// "élargir"); an endpoint without organisations hears of every
// organisation's RDVs and sees every record. An usager written by the
// same change (created, or completed by a new booking) is told first, as
// a User event, to the endpoints subscribed to "user" that know it, in
// the same queue so it arrives before the RDV that names it.
func (s *Service) OnChange(tx *store.Tx, c booking.Change) error {
	r, event := c.After, EventUpdated
	switch {
	case c.Before == nil:
		event = EventCreated
	case c.After == nil:
		r, event = c.Before, EventDestroyed
	}
	cat := s.catalog()
	eps := Endpoints(cat, r.OrganisationID)
	if len(eps) == 0 {
		return nil
	}
	u, err := tx.Usager(r.UsagerID)
	if store.IsNotFound(err) {
		u, err = &rdv.Usager{ID: r.UsagerID}, nil
	}
	if err != nil {
		return err
	}
	written, created := tx.UsagerWritten(u.ID)
	userEvent := EventUpdated
	if created {
		userEvent = EventCreated
	}
	views := map[bool]*bodies{} // by whether the endpoint knows the usager
	for _, ep := range eps {
		known := len(ep.Organisations) == 0 || tx.UsagerKnownTo(u.ID, ep.Organisations)
		b := views[known]
		if b == nil {
			b = &bodies{s: s, tx: tx, cat: cat, r: r, u: u, now: c.Now, loc: orgLocation(cat, r.OrganisationID)}
			if !known {
				b.u = booking.ContactUsager(r, u)
			}
			views[known] = b
		}
		var queue [][]byte
		if written && known && ep.Subscribes(config.SubscriptionUser) {
			body, err := b.user(ep, userEvent)
			if err != nil {
				return err
			}
			queue = append(queue, body)
		}
		if ep.Subscribes(config.SubscriptionRdv) {
			body, err := b.rdv(ep, event)
			if err != nil {
				return err
			}
			queue = append(queue, body)
		}
		for _, body := range queue {
			// The message id (webhook-id) names this event at this
			// endpoint: unique per delivery, the same on every retry.
			item := store.QueuedItem{ID: "msg_" + strings.ReplaceAll(uuid.NewString(), "-", ""), Data: body}
			if err := tx.EnqueueItem(store.OutboxRecord{Key: Key(ep.ID, r.ID), Kind: Kind, RDVID: r.ID}, item, c.Now); err != nil {
				return err
			}
		}
	}
	return nil
}

// bodies builds the bodies of one change, each format's data once.
type bodies struct {
	s   *Service
	tx  *store.Tx
	cat *catalog.Catalog
	r   *rdv.RDV
	u   *rdv.Usager
	now time.Time
	loc *time.Location

	ids                     *idResolver
	rdvsRDV                 *rdvsRDV
	rdvsyncRDV, rdvsyncUser json.RawMessage
}

func (b *bodies) rdv(ep *config.OutgoingWebhook, event string) ([]byte, error) {
	if ep.Format == config.FormatRdvsync {
		if b.rdvsyncRDV == nil {
			data, err := json.Marshal(b.s.render(b.cat, &booking.Booked{RDV: b.r, Usager: b.u}))
			if err != nil {
				return nil, fmt.Errorf("webhook: render rdv %s: %w", b.r.ID, err)
			}
			b.rdvsyncRDV = data
		}
		return b.rdvsync(ep, "Rdv", event, b.rdvsyncRDV)
	}
	if b.rdvsRDV == nil {
		if b.ids == nil {
			b.ids = newIDResolver(b.s.store, b.tx, b.cat)
		}
		data, err := renderRdvsRDV(b.cat, b.ids, b.r, b.u)
		if err != nil {
			return nil, fmt.Errorf("webhook: render rdv %s: %w", b.r.ID, err)
		}
		b.rdvsRDV = data
	}
	return b.rdvs("Rdv", event, b.rdvsRDV)
}

func (b *bodies) user(ep *config.OutgoingWebhook, event string) ([]byte, error) {
	if ep.Format == config.FormatRdvsync {
		if b.rdvsyncUser == nil {
			data, err := json.Marshal(b.s.renderU(b.u))
			if err != nil {
				return nil, fmt.Errorf("webhook: render usager %s: %w", b.u.ID, err)
			}
			b.rdvsyncUser = data
		}
		return b.rdvsync(ep, "User", event, b.rdvsyncUser)
	}
	return b.rdvs("User", event, renderRdvsUser(b.u, b.loc))
}

// rdvs is RDV Solidarités' envelope (WebhookDeliverable#generate_webhook_payload).
func (b *bodies) rdvs(model, event string, data any) ([]byte, error) {
	body, err := json.Marshal(rdvsEnvelope{Data: data, Meta: rdvsMeta{Model: model, Event: event,
		Timestamp: b.now.In(b.loc).Format(rubyTime)}})
	if err != nil {
		return nil, fmt.Errorf("webhook: encode event: %w", err)
	}
	return body, nil
}

// rdvsync is rdvsync's own envelope: the API's view, RFC 3339 times.
func (b *bodies) rdvsync(ep *config.OutgoingWebhook, model, event string, data json.RawMessage) ([]byte, error) {
	body, err := json.Marshal(envelope{Data: data, Meta: meta{Model: model, Event: event,
		Timestamp: b.now.In(b.loc).Format(time.RFC3339), WebhookID: ep.ID}})
	if err != nil {
		return nil, fmt.Errorf("webhook: encode event: %w", err)
	}
	return body, nil
}

// Committed implements booking.Effect.
func (s *Service) Committed() { s.kick() }

// statusError is a delivery the receiver answered with a non-2xx status.
type statusError struct {
	code       int
	retryAfter time.Duration
}

func (e *statusError) Error() string {
	return fmt.Sprintf("the receiver answered %d %s", e.code, http.StatusText(e.code))
}

// RetryAfter implements outbox.RetryAfter (429 and 503 with Retry-After).
func (e *statusError) RetryAfter() time.Duration { return e.retryAfter }

// Deliver implements outbox.Sink: POST the first queued event of the
// record, log the attempt, and on success take the event off the queue.
func (s *Service) Deliver(ctx context.Context, rec store.OutboxRecord) error {
	endpointID, rdvID, ok := parseKey(rec.Key)
	if !ok {
		return fmt.Errorf("%w: bad webhook outbox key %q", outbox.ErrPermanent, rec.Key)
	}
	items, err := store.QueuedItems(&rec)
	if err != nil {
		return fmt.Errorf("%w: %w", outbox.ErrPermanent, err)
	}
	if len(items) == 0 {
		return nil
	}
	ep := Endpoint(s.catalog(), endpointID)
	if ep == nil {
		s.log.Info("endpoint no longer configured: its queued events are dropped", "endpoint_id", endpointID, "rdv_id", rdvID, "events", len(items))
		return nil
	}
	it := items[0]
	start := time.Now()
	code, err := s.post(ctx, ep, it)
	model, event := eventOf(it.Data)
	entry := Delivery{
		At: s.now().UTC(), Model: model, Event: event, MessageID: it.ID, RDVID: rdvID, StatusCode: code,
		DurationMS: time.Since(start).Milliseconds(), Attempt: rec.Attempts + 1,
	}
	if err != nil {
		entry.Error = err.Error()
	}
	// The outcome is recorded even while shutting down (a delivered event
	// must leave the queue, or it would be sent again), in the transaction
	// that records the delivery in the outbox (outbox.Persist).
	uerr := outbox.Persist(ctx, s.store, func(tx *store.Tx) error {
		if err == nil {
			if err := tx.CompleteItem(rec.Key, it.ID); err != nil {
				return err
			}
		}
		return s.logAttempt(tx, ep.ID, entry)
	})
	if uerr != nil {
		s.log.Error("recording a webhook delivery", "endpoint_id", ep.ID, "rdv_id", rdvID, slog.Any("error", uerr))
		if err == nil {
			return uerr // not taken off the queue: it will be sent again (at least once)
		}
	}
	if errors.Is(err, ErrPrivateTarget) {
		return fmt.Errorf("%w: %w", outbox.ErrPermanent, err)
	}
	return err
}

// post sends one event and returns the HTTP status (0 without response).
func (s *Service) post(ctx context.Context, ep *config.OutgoingWebhook, it store.QueuedItem) (int, error) {
	lapin, keys := signingKeys(ep.Secret)
	ts := s.now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ep.URL, bytes.NewReader(it.Data))
	if err != nil {
		return 0, fmt.Errorf("%w: endpoint url: %w", outbox.ErrPermanent, err)
	}
	req.Header.Set("Content-Type", "application/json; charset=utf-8")
	req.Header.Set("User-Agent", "rdvsync-webhooks")
	req.Header.Set(HeaderLapin, LapinSignature(lapin, it.Data))
	req.Header.Set(HeaderID, it.ID)
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, Sign(keys, it.ID, ts, it.Data))
	resp, err := s.clients.do(req, ep.AllowPrivate)
	if err != nil {
		return 0, fmt.Errorf("post to endpoint %s: %w", ep.ID, err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // lets the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return resp.StatusCode, nil
	}
	se := &statusError{code: resp.StatusCode}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		se.retryAfter = ratelimit.ParseRetryAfter(resp.Header.Get("Retry-After"), ts)
	}
	return resp.StatusCode, se
}

// eventOf reads meta.model and meta.event back from a queued body (for the log).
func eventOf(body []byte) (model, event string) {
	var e struct {
		Meta struct {
			Model string `json:"model"`
			Event string `json:"event"`
		} `json:"meta"`
	}
	json.Unmarshal(body, &e)
	return e.Meta.Model, e.Meta.Event
}
