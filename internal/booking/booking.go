// Package booking holds the use cases of rdvsync: searching slots, booking
// (prescription externe, prescription interne, usager), cancelling, moving,
// setting statuses and searching usagers, with the authorisation rules of
// docs/design.md §2 items 1–6. Transports (httpapi, web, webhooks) call it; it calls
// the pure slots and sector packages and the store through the interface
// below. Every change is written in one store transaction in which the slot
// is re-checked, so two bookings of one slot can never both succeed.
package booking

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
	"rdvsync/internal/store"
)

// Store is what booking needs from persistence.
type Store interface {
	View(ctx context.Context, fn func(*store.ReadTx) error) error
	Update(ctx context.Context, fn func(*store.Tx) error) error
}

var _ Store = (*store.Store)(nil)

// Observer hears the outcome of each booking attempt (metrics).
type Observer interface {
	BookingOutcome(outcome string)
}

// Change describes one change of an RDV for its effects.
type Change struct {
	Before *rdv.RDV // nil on creation
	After  *rdv.RDV
	// ByAgentID is the agent who made the change, "" for an usager or an
	// external prescripteur (agents' "others" notification level).
	ByAgentID string
	Now       time.Time
}

// Effect is a consequence of RDV changes (calendar push, notifications,
// webhooks): OnChange records it in the change's own transaction (an
// outbox record), Committed runs after the commit (wakes the dispatcher).
type Effect interface {
	// OnChange may run more than once per change (group commit) and must
	// only write to tx.
	OnChange(tx *store.Tx, c Change) error
	Committed()
}

// Service runs the use cases against the current catalogue snapshot.
type Service struct {
	catalog      func() *catalog.Catalog
	store        Store
	now          func() time.Time
	log          *slog.Logger
	observer     Observer
	effects      []Effect
	refusals     []RefusalEffect
	externalBusy slots.Busy
}

// Options configure a Service.
type Options struct {
	Now      func() time.Time // default time.Now
	Logger   *slog.Logger
	Observer Observer
	Effects  []Effect
	// Refusals hear form submissions that booked nothing (RecordRefusal).
	Refusals []RefusalEffect
	// ExternalBusy adds agents' busy times read from their external
	// calendars to the slot searches.
	ExternalBusy slots.Busy
}

// New returns a Service reading the catalogue through cat (swapped on reload).
func New(cat func() *catalog.Catalog, st Store, opts Options) *Service {
	s := &Service{catalog: cat, store: st, now: opts.Now, log: opts.Logger, observer: opts.Observer,
		effects: opts.Effects, refusals: opts.Refusals, externalBusy: opts.ExternalBusy}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "booking")
	return s
}

// Catalog returns the snapshot in force.
func (s *Service) Catalog() *catalog.Catalog { return s.catalog() }

// Now returns the service's clock.
func (s *Service) Now() time.Time { return s.now() }

// Caller is who makes a request: an authenticated agent, the holder of an
// RDV's usager token, or nobody (anonymous prescripteur or usager).
type Caller struct {
	Agent       *catalog.Agent
	UsagerToken string
}

// Anonymous reports whether the caller proved no identity.
func (c Caller) Anonymous() bool { return c.Agent == nil && c.UsagerToken == "" }

// onChange runs every effect inside the change's transaction.
func (s *Service) onChange(tx *store.Tx, caller Caller, before, after *rdv.RDV, now time.Time) error {
	c := Change{Before: before, After: after, Now: now}
	if caller.Agent != nil {
		c.ByAgentID = caller.Agent.ID
	}
	for _, e := range s.effects {
		if err := e.OnChange(tx, c); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) committed() {
	for _, e := range s.effects {
		e.Committed()
	}
}

// busy returns the slots.Busy of a read transaction: booked RDVs (but
// ignoreRDVID, an RDV being moved) and external calendar busy times.
func (s *Service) busy(tx *store.ReadTx, ignoreRDVID string) slots.Busy {
	return joinBusy{txBusy{tx: tx, ignore: ignoreRDVID}, s.externalBusy}
}

// txBusy adapts a read transaction to slots.Busy.
type txBusy struct {
	tx     *store.ReadTx
	ignore string
}

func (b txBusy) AppendAgentBusy(dst []rdv.Interval, agentID string, from, to time.Time) []rdv.Interval {
	return b.tx.AppendAgentBusyExcept(dst, agentID, from, to, b.ignore)
}

// SlotsRequest is a slot search as the API receives it, ids unresolved.
type SlotsRequest struct {
	MotifID, LieuID        string
	ServiceID, TerritoryID string
	From, To               string // YYYY-MM-DD, inclusive; default today .. +6 days
	CityCode, PostalCode   string
	StreetBanID            string
}

// Slots searches slots for the caller: agents get one slot per free agent
// without booking delays; anonymous callers the public view.
func (s *Service) Slots(ctx context.Context, caller Caller, req SlotsRequest) ([]slots.Slot, error) {
	cat := s.catalog()
	q, err := s.query(cat, caller, req, true)
	if err != nil {
		return nil, err
	}
	var out []slots.Slot
	err = s.searchCommitted(ctx, &q, func() { out = slots.Search(cat, q) })
	return out, err
}

// NextSlot returns the first slot within the horizon, or false.
func (s *Service) NextSlot(ctx context.Context, caller Caller, req SlotsRequest) (slots.Slot, bool, error) {
	cat := s.catalog()
	q, err := s.query(cat, caller, req, false)
	if err != nil {
		return slots.Slot{}, false, err
	}
	var (
		out slots.Slot
		ok  bool
	)
	err = s.searchCommitted(ctx, &q, func() { out, ok = slots.Next(cat, q) })
	return out, ok, err
}

// committedBusy is implemented by *store.Store: the agents' busy times as
// committed, from an in-memory read model kept fresh by every commit.
type committedBusy interface {
	Busy() *store.BusyReader
}

var _ committedBusy = (*store.Store)(nil)

// searchCommitted runs search with q.Busy set to the booked RDVs as last
// committed (and external busy times). A search only offers slots: the
// booking re-checks its slot in its write transaction, so reading the read
// model rather than a transaction gives up nothing; a store without one
// is read in a transaction.
func (s *Service) searchCommitted(ctx context.Context, q *slots.Query, search func()) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	cb, ok := s.store.(committedBusy)
	if !ok {
		return s.store.View(ctx, func(tx *store.ReadTx) error {
			q.Busy = s.busy(tx, "")
			search()
			return nil
		})
	}
	r := cb.Busy()
	q.Busy = committedJoin{joinBusy{r, s.externalBusy}}
	search()
	return r.Err()
}

// joinBusy is booked RDVs plus external calendar busy times.
type joinBusy struct {
	booked, external slots.Busy
}

func (b joinBusy) AppendAgentBusy(dst []rdv.Interval, agentID string, from, to time.Time) []rdv.Interval {
	dst = b.booked.AppendAgentBusy(dst, agentID, from, to)
	if b.external != nil {
		dst = b.external.AppendAgentBusy(dst, agentID, from, to)
	}
	return dst
}

// committedJoin is joinBusy over the committed RDVs' in-memory read model:
// a slot search reads each agent's busy times once, as Unix nanoseconds
// (slots.NanoBusy). A booking's write transaction uses joinBusy alone, so
// that the search reads it per plage occurrence: a serialisable database
// conflicts on what a transaction read.
type committedJoin struct{ joinBusy }

// AppendAgentBusyNanos implements slots.NanoBusy. Each part is sorted; the
// search sorts the whole when it is not.
func (b committedJoin) AppendAgentBusyNanos(dst []int64, agentID string, lo, hi int64) []int64 {
	dst = appendNanos(dst, b.booked, agentID, lo, hi)
	if b.external != nil {
		dst = appendNanos(dst, b.external, agentID, lo, hi)
	}
	return dst
}

func appendNanos(dst []int64, busy slots.Busy, agentID string, lo, hi int64) []int64 {
	if nb, ok := busy.(slots.NanoBusy); ok {
		return nb.AppendAgentBusyNanos(dst, agentID, lo, hi)
	}
	for _, iv := range busy.AppendAgentBusy(nil, agentID, time.Unix(0, lo), time.Unix(0, hi)) {
		dst = append(dst, iv.Start.UnixNano(), iv.End.UnixNano())
	}
	return dst
}

var (
	_ slots.NanoBusy = committedJoin{}
	_ slots.NanoBusy = (*store.BusyReader)(nil)
)

// query resolves and checks a slot search.
func (s *Service) query(cat *catalog.Catalog, caller Caller, req SlotsRequest, window bool) (slots.Query, error) {
	fe := fieldErrors{}
	q := slots.Query{Now: s.now(), Caller: caller.Agent, AgentView: caller.Agent != nil}
	q.Address.CityCode, q.Address.PostalCode, q.Address.StreetBanID = req.CityCode, req.PostalCode, req.StreetBanID
	loc := cat.Organisations[0].Location
	switch {
	case req.MotifID != "":
		if q.Motif = cat.Motif(req.MotifID); q.Motif == nil {
			fe.add("motif_id", "motif inconnu")
		} else {
			loc = q.Motif.Organisation.Location
			if !slots.MayBook(caller.Agent, q.Motif) {
				return q, fmt.Errorf("%w: motif %s is not bookable by this caller", errMotifNotBookable, q.Motif.ID)
			}
		}
	case req.ServiceID != "" && req.TerritoryID != "":
		if q.Service = cat.Service(req.ServiceID); q.Service == nil {
			fe.add("service_id", "service inconnu")
		}
		if q.Territory = cat.Territory(req.TerritoryID); q.Territory == nil {
			fe.add("territory", "territoire inconnu")
		} else if len(q.Territory.Organisations) > 0 {
			loc = q.Territory.Organisations[0].Location
		}
	default:
		fe.add("motif_id", "obligatoire (ou service_id et territory pour élargir la recherche)")
	}
	if req.LieuID != "" {
		if q.Lieu = cat.Lieu(req.LieuID); q.Lieu == nil {
			fe.add("lieu_id", "lieu inconnu")
		}
	}
	today := rdv.DateOf(q.Now.In(loc))
	q.From, q.To = today, today.AddDays(6)
	if req.From != "" {
		d, err := rdv.ParseDate(req.From)
		if err != nil {
			fe.add("from", "date invalide (AAAA-MM-JJ)")
		}
		q.From = d
		if req.To == "" {
			q.To = d.AddDays(6)
		}
	}
	if req.To != "" {
		d, err := rdv.ParseDate(req.To)
		if err != nil {
			fe.add("to", "date invalide (AAAA-MM-JJ)")
		}
		q.To = d
	}
	if window && len(fe) == 0 {
		if q.To < q.From {
			fe.add("to", "doit être postérieure ou égale à from")
		} else if int(q.To-q.From)+1 > slots.MaxWindowDays {
			fe.add("to", fmt.Sprintf("la période ne peut pas dépasser %d jours", slots.MaxWindowDays))
		}
	}
	if len(fe) > 0 {
		return q, &rdv.InvalidError{Fields: fe}
	}
	return q, nil
}

// errMotifNotBookable is a forbidden motif; the HTTP layer gives it its own code.
var errMotifNotBookable = fmt.Errorf("%w: motif not bookable online by this caller", rdv.ErrForbidden)

// IsMotifNotBookable reports whether err says the caller may not book the motif.
func IsMotifNotBookable(err error) bool { return errors.Is(err, errMotifNotBookable) }

func newToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// StatusClientClosedRequest is the HTTP status logged and counted for a
// request its client canceled (closed the connection) before the answer:
// nginx's 499. The client never sees it.
const StatusClientClosedRequest = 499

// ClientGone tells whether err comes from the client going away: the
// request's context ctx is canceled and err says so. Not a server error.
func ClientGone(ctx context.Context, err error) bool {
	return errors.Is(err, context.Canceled) && errors.Is(ctx.Err(), context.Canceled)
}

// newID is the id of a new RDV or usager: a UUIDv7 (RFC 9562 §5.7), whose
// first 48 bits are the creation time in milliseconds. New records then
// sort after the existing ones in the store, which fills its pages
// instead of splitting them at random (half the file size for the same
// RDVs); the API already shows created_at, so the id tells nothing more.
func newID() string { return uuid.Must(uuid.NewV7()).String() }
