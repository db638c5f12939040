package webhook

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
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

// deliveryLog is the document kept per endpoint (store.Tx.PutWebhookState).
// Each attempt has its own entry, keyed by its time
// (store.Tx.PutWebhookAttempt): a delivery writes its entry and reads
// nothing, so concurrent deliveries to one endpoint (several dispatchers,
// several replicas) never conflict over the log. The document is written
// only when the log is trimmed, which deletes the entries but the newest
// keep and keeps here the last outcomes among those deleted; the report
// derives the last outcomes from the entries and this document.
type deliveryLog struct {
	// Deliveries, then the entries numbered from Oldest to Next
	// (excluded, store.Tx.WebhookDelivery), are the log as earlier
	// versions kept it: shown after the entries keyed by time, deleted by
	// the first trim that leaves keep of those.
	Deliveries    []Delivery `json:"deliveries,omitempty"`
	Oldest        uint64     `json:"oldest,omitempty"`
	Next          uint64     `json:"next,omitempty"`
	Keep          int        `json:"keep,omitempty"` // entries the report shows (Options.KeepDeliveries)
	LastSuccessAt *time.Time `json:"last_success_at,omitempty"`
	LastError     string     `json:"last_error,omitempty"`
	LastErrorAt   *time.Time `json:"last_error_at,omitempty"`
}

const (
	logName = "deliveries"
	// defaultKeep is Options.KeepDeliveries' default, and what a report
	// shows of a log never trimmed.
	defaultKeep = 100
)

// note folds an attempt into the last outcomes.
func (l *deliveryLog) note(d Delivery) {
	at := d.At
	switch {
	case d.Error == "" && (l.LastSuccessAt == nil || at.After(*l.LastSuccessAt)):
		l.LastSuccessAt = &at
	case d.Error != "" && (l.LastErrorAt == nil || at.After(*l.LastErrorAt)):
		l.LastError, l.LastErrorAt = d.Error, &at
	}
}

// trimDue says whether this delivery to the endpoint trims its log: the
// first one of the process, then one in keep. Each process trims after
// its own deliveries, so the store holds at most keep entries per endpoint
// plus keep per process delivering to it.
func (s *Service) trimDue(endpointID string) bool {
	s.trimMu.Lock()
	defer s.trimMu.Unlock()
	if s.sinceTrim == nil {
		s.sinceTrim = map[string]int{}
	}
	n := s.sinceTrim[endpointID]
	s.sinceTrim[endpointID] = (n + 1) % s.keep
	return n == 0
}

func (s *Service) logAttempt(tx *store.Tx, endpointID string, d Delivery) error {
	if err := tx.PutWebhookAttempt(endpointID, d.At, d.MessageID+"/"+strconv.Itoa(d.Attempt), d); err != nil {
		return err
	}
	if !s.trimDue(endpointID) {
		return nil
	}
	var l deliveryLog
	if err := tx.WebhookState(endpointID, logName, &l); err != nil && !store.IsNotFound(err) {
		return err
	}
	kept, err := tx.TrimWebhookAttempts(endpointID, s.keep, func(decode func(any) error) error {
		var old Delivery
		if err := decode(&old); err != nil {
			return err
		}
		l.note(old)
		return nil
	})
	if err != nil {
		return err
	}
	// The earlier versions' entries (their outcomes are in the document
	// already) go once they would no longer be shown.
	if kept >= s.keep && (len(l.Deliveries) > 0 || l.Next > l.Oldest) {
		if err := tx.DeleteWebhookDeliveries(endpointID, l.Oldest, l.Next); err != nil {
			return err
		}
		l.Deliveries, l.Oldest, l.Next = nil, 0, 0
	}
	l.Keep = s.keep
	return tx.PutWebhookState(endpointID, logName, l)
}

// readLog returns the last entries of an endpoint's log (as many as the
// last trim kept), newest first, and its last outcomes.
func readLog(tx *store.ReadTx, endpointID string) ([]Delivery, deliveryLog, error) {
	var l deliveryLog
	if err := tx.WebhookState(endpointID, logName, &l); err != nil && !store.IsNotFound(err) {
		return nil, l, err
	}
	keep := l.Keep
	if keep <= 0 {
		keep = defaultKeep
	}
	out := []Delivery{}
	// Every entry not trimmed yet counts for the last outcomes; the
	// newest keep are shown.
	err := tx.EachWebhookAttempt(endpointID, func(decode func(any) error) (bool, error) {
		var d Delivery
		if err := decode(&d); err != nil {
			return false, err
		}
		l.note(d)
		if len(out) < keep {
			out = append(out, d)
		}
		return true, nil
	})
	if err != nil {
		return nil, l, err
	}
	for i := len(l.Deliveries) - 1; i >= 0 && len(out) < keep; i-- {
		out = append(out, l.Deliveries[i])
	}
	for seq := l.Next; seq > l.Oldest && len(out) < keep; seq-- {
		var d Delivery
		if err := tx.WebhookDelivery(endpointID, seq-1, &d); err != nil {
			return nil, l, err
		}
		out = append(out, d)
	}
	return out, l, nil
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
	deliveries, l, err := readLog(tx, ep.ID)
	if err != nil {
		return rep, err
	}
	rep.Deliveries = deliveries
	rep.LastSuccessAt, rep.LastError, rep.LastErrorAt = l.LastSuccessAt, l.LastError, l.LastErrorAt
	return rep, nil
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
