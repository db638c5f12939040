package webhook

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// Delivery is one attempt in an endpoint's delivery log.
type Delivery struct {
	At         time.Time `json:"at"`
	Model      string    `json:"model"` // Rdv, or User (subscriptions: [user])
	Event      string    `json:"event"`
	MessageID  string    `json:"message_id"` // the webhook-id header
	RDVID      string    `json:"rdv_id"`
	Attempt    int       `json:"attempt"`
	StatusCode int       `json:"status_code,omitempty"` // absent: no response
	Error      string    `json:"error,omitempty"`
	DurationMS int64     `json:"duration_ms"`
}

// deliveryLog is the document kept per endpoint (store.Tx.PutWebhookState):
// the last outcomes and where the log's entries are. Each entry has its own
// key (store.Tx.PutWebhookDelivery), numbered from Oldest to Next
// (excluded); a delivery writes its entry and this small document, and the
// oldest entries are deleted once every Options.KeepDeliveries deliveries,
// so the store holds between keep and twice keep of them.
type deliveryLog struct {
	// Deliveries is the log as the document held it before its entries had
	// keys of their own: the next delivery moves them to their keys.
	Deliveries    []Delivery `json:"deliveries,omitempty"`
	Oldest        uint64     `json:"oldest,omitempty"`
	Next          uint64     `json:"next,omitempty"`
	Keep          int        `json:"keep,omitempty"` // entries the report shows (Options.KeepDeliveries)
	LastSuccessAt *time.Time `json:"last_success_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	LastErrorAt   *time.Time `json:"last_error_at,omitempty"`
}

const logName = "deliveries"

func (l *deliveryLog) append(tx *store.Tx, endpointID string, d Delivery) error {
	if err := tx.PutWebhookDelivery(endpointID, l.Next, d); err != nil {
		return err
	}
	l.Next++
	return nil
}

func (s *Service) logAttempt(tx *store.Tx, endpointID string, d Delivery) error {
	var l deliveryLog
	if err := tx.WebhookState(endpointID, logName, &l); err != nil && !store.IsNotFound(err) {
		return err
	}
	for _, old := range l.Deliveries {
		if err := l.append(tx, endpointID, old); err != nil {
			return err
		}
	}
	l.Deliveries = nil
	if err := l.append(tx, endpointID, d); err != nil {
		return err
	}
	// Trimmed in batches of keep: one delivery in keep deletes keep entries.
	if keep := uint64(s.keep); l.Next-l.Oldest >= 2*keep {
		if err := tx.DeleteWebhookDeliveries(endpointID, l.Oldest, l.Next-keep); err != nil {
			return err
		}
		l.Oldest = l.Next - keep
	}
	l.Keep = s.keep
	at := d.At
	if d.Error == "" {
		l.LastSuccessAt = &at
	} else {
		l.LastError, l.LastErrorAt = d.Error, &at
	}
	return tx.PutWebhookState(endpointID, logName, l)
}

// recentDeliveries returns the last entries of an endpoint's log (as many
// as the delivery that wrote it kept), newest first.
func recentDeliveries(tx *store.ReadTx, endpointID string, l deliveryLog) ([]Delivery, error) {
	var out []Delivery
	keep := l.Keep
	if keep <= 0 {
		keep = int(l.Next-l.Oldest) + len(l.Deliveries)
	}
	for i := len(l.Deliveries) - 1; i >= 0 && len(out) < keep; i-- {
		out = append(out, l.Deliveries[i])
	}
	for seq := l.Next; seq > l.Oldest && len(out) < keep; seq-- {
		var d Delivery
		if err := tx.WebhookDelivery(endpointID, seq-1, &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// Queue is the state of the events of one RDV waiting for one endpoint.
type Queue struct {
	RDVID          string     `json:"rdv_id"`
	Events         int        `json:"events"` // waiting, oldest first
	Attempts       int        `json:"attempts"`
	FirstFailureAt *time.Time `json:"first_failure_at,omitempty"`
	LastAttemptAt  *time.Time `json:"last_attempt_at,omitempty"`
	NextAttemptAt  *time.Time `json:"next_attempt_at,omitempty"`
	LastError      string     `json:"last_error,omitempty"`
	Dead           bool       `json:"dead"`
}

// EndpointStatus is the delivery state of one endpoint (rdvsync
// webhooks-status).
type EndpointStatus struct {
	ID            string     `json:"id"`
	URL           string     `json:"url"` // without query or credentials
	Organisations []string   `json:"organisations"`
	AllowPrivate  bool       `json:"allow_private"`
	Pending       int        `json:"pending"` // events waiting, failing ones included, dead ones not
	Failing       int        `json:"failing"` // RDV queues that failed and will retry
	Dead          int        `json:"dead"`    // RDV queues given up: fix, then retry them
	DeadEvents    int        `json:"dead_events"`
	LastSuccessAt *time.Time `json:"last_success_at"`
	LastError     string     `json:"last_error,omitempty"`
	LastErrorAt   *time.Time `json:"last_error_at,omitempty"`
	// Failures lists the queues that failed at least once, dead ones included.
	Failures []Queue `json:"failures"`
}

// DeliveryReport is the body of GET /api/v1/webhooks/{id}/deliveries.
type DeliveryReport struct {
	EndpointStatus
	// Deliveries are the last attempts, newest first.
	Deliveries []Delivery `json:"deliveries"`
	// DeadLetters are the RDV queues given up after the retry budget
	// (3 days) or a permanent error.
	DeadLetters []Queue `json:"dead_letters"`
}

// redactURL keeps scheme, host and path: a query or user info may hold a
// receiver's token.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return ""
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

func endpointReport(tx *store.ReadTx, ep *config.OutgoingWebhook) (DeliveryReport, error) {
	rep := DeliveryReport{
		EndpointStatus: EndpointStatus{ID: ep.ID, URL: redactURL(ep.URL), Organisations: ep.Organisations,
			AllowPrivate: ep.AllowPrivate, Failures: []Queue{}},
		Deliveries: []Delivery{}, DeadLetters: []Queue{},
	}
	if rep.Organisations == nil {
		rep.Organisations = []string{}
	}
	err := tx.EachOutbox(Kind+"/"+ep.ID+"/", func(r *store.OutboxRecord) error {
		items, err := store.QueuedItems(r)
		if err != nil {
			return err
		}
		_, rdvID, _ := parseKey(r.Key)
		q := Queue{RDVID: rdvID, Events: len(items), Attempts: r.Attempts, FirstFailureAt: r.FirstFailureAt,
			LastAttemptAt: r.LastAttemptAt, LastError: r.LastError, Dead: r.Dead}
		if !r.Dead {
			next := r.NextAttemptAt
			q.NextAttemptAt = &next
		}
		switch {
		case r.Dead:
			rep.Dead++
			rep.DeadEvents += len(items)
			rep.DeadLetters = append(rep.DeadLetters, q)
		case r.Attempts > 0:
			rep.Failing++
			rep.Pending += len(items)
		default:
			rep.Pending += len(items)
		}
		if r.Attempts > 0 {
			rep.Failures = append(rep.Failures, q)
		}
		return nil
	})
	if err != nil {
		return rep, err
	}
	var l deliveryLog
	if err := tx.WebhookState(ep.ID, logName, &l); err != nil && !store.IsNotFound(err) {
		return rep, err
	}
	rep.LastSuccessAt, rep.LastError, rep.LastErrorAt = l.LastSuccessAt, l.LastError, l.LastErrorAt
	rep.Deliveries, err = recentDeliveries(tx, ep.ID, l)
	return rep, err
}

// Deliveries reports an endpoint's delivery log and dead letters, or an
// error wrapping rdv.ErrNotFound for an unknown endpoint.
func (s *Service) Deliveries(ctx context.Context, endpointID string) (DeliveryReport, error) {
	return Deliveries(ctx, s.store, s.catalog(), endpointID)
}

// Deliveries is Service.Deliveries on a store and a catalogue.
func Deliveries(ctx context.Context, st *store.Store, cat *catalog.Catalog, endpointID string) (DeliveryReport, error) {
	ep := Endpoint(cat, endpointID)
	if ep == nil {
		return DeliveryReport{}, fmt.Errorf("webhook endpoint %q: %w", endpointID, rdv.ErrNotFound)
	}
	var rep DeliveryReport
	err := st.View(ctx, func(tx *store.ReadTx) error {
		var err error
		rep, err = endpointReport(tx, ep)
		return err
	})
	return rep, err
}

// Status reports every configured endpoint, in configuration order.
func Status(ctx context.Context, st *store.Store, cat *catalog.Catalog) ([]EndpointStatus, error) {
	out := []EndpointStatus{}
	err := st.View(ctx, func(tx *store.ReadTx) error {
		for i := range cat.Config.Webhooks.Outgoing {
			rep, err := endpointReport(tx, &cat.Config.Webhooks.Outgoing[i])
			if err != nil {
				return err
			}
			out = append(out, rep.EndpointStatus)
		}
		return nil
	})
	return out, err
}

// RetryDead is the package's RetryDead for the running daemon: it also
// wakes the dispatcher.
func (s *Service) RetryDead(ctx context.Context, endpointID string) (int, error) {
	n, err := RetryDead(ctx, s.store, endpointID, s.now())
	if n > 0 {
		s.kick()
	}
	return n, err
}

// RetryDead puts the dead queues of an endpoint (every endpoint when
// endpointID is "") back in delivery with a fresh retry budget, their
// events in order, and returns how many.
func RetryDead(ctx context.Context, st *store.Store, endpointID string, now time.Time) (int, error) {
	prefix := Kind + "/"
	if endpointID != "" {
		prefix += endpointID + "/"
	}
	var n int
	err := st.Update(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.RetryDead(prefix, now)
		return err
	})
	return n, err
}
