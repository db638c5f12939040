package booking

import (
	"context"
	"crypto/subtle"
	"fmt"
	"slices"
	"strings"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
	"rdvsync/internal/store"
)

// UsagerCancelLimit is how long before its start an usager may still
// cancel or move its RDV.
const UsagerCancelLimit = 4 * time.Hour

var (
	// ErrTooLate refuses an usager's change less than 4 h before the RDV.
	ErrTooLate = fmt.Errorf("%w: too late to change this rdv", rdv.ErrForbidden)
	// ErrNotCancellable refuses an usager's change when the motif forbids it.
	ErrNotCancellable = fmt.Errorf("%w: the motif does not let usagers cancel or move", rdv.ErrForbidden)
	// ErrAlreadyCancelled refuses changing a cancelled RDV.
	ErrAlreadyCancelled = fmt.Errorf("%w: the rdv is cancelled", rdv.ErrConflict)
)

// authorise checks that the caller may see (read) or change r: agents of
// its organisation or among its agents; the holder of its usager token.
// The agent who booked it in prescription interne may read it, as RDV
// Solidarités lets a prescribing agent follow its prescriptions; other
// prescripteurs have no hand on an RDV after booking.
func authorise(cat *catalog.Catalog, caller Caller, r *rdv.RDV, read bool) error {
	switch {
	case caller.Agent != nil:
		if slices.Contains(r.AgentIDs, caller.Agent.ID) {
			return nil
		}
		if read && prescribedBy(r, caller.Agent) {
			return nil
		}
		if o := cat.Organisation(r.OrganisationID); o != nil && caller.Agent.MemberOf(o) {
			return nil
		}
		return fmt.Errorf("%w: agent %s is not in organisation %s", rdv.ErrForbidden, caller.Agent.ID, r.OrganisationID)
	case caller.UsagerToken != "":
		if subtle.ConstantTimeCompare([]byte(caller.UsagerToken), []byte(r.UsagerToken)) == 1 {
			return nil
		}
		return fmt.Errorf("%w: bad usager token", rdv.ErrUnauthenticated)
	}
	return fmt.Errorf("%w: an agent token or the usager's link is required", rdv.ErrUnauthenticated)
}

// usagerFor returns the usager of r as caller, who may read r, sees it:
// an agent as its organisations do (UsagerSeenBy); the holder of the
// usager's link the contact the RDV was booked with, nothing an
// organisation added to the usager since.
func usagerFor(tx *store.ReadTx, caller Caller, r *rdv.RDV) (*rdv.Usager, error) {
	if caller.Agent == nil {
		return r.Usager(), nil
	}
	return UsagerSeenBy(tx, r, caller.Agent.OrganisationIDs())
}

// UsagerSeenBy returns the usager of r as organisations orgIDs see it,
// for a reader that may see r (docs/decisions.md, "Usager identity"): the
// stored usager when one of them knows it (it has an RDV there, not one
// booked from another organisation), else the contact r was booked with
// and the usager's ids. An organisation sees what it recorded and what
// was given to it: an RDV an agent of A booked at B for A's usager
// ("élargir", rdv.RDV.ContactOnly) shows B the names, email and phone
// that agent gave, never the address, birth date or contact details A
// recorded. Every view of an RDV's usager (API, pages, calendars,
// webhooks) goes through it.
func UsagerSeenBy(tx *store.ReadTx, r *rdv.RDV, orgIDs []string) (*rdv.Usager, error) {
	u, err := tx.Usager(r.UsagerID)
	if err != nil {
		return nil, err
	}
	if tx.UsagerKnownTo(r.UsagerID, orgIDs) {
		return u, nil
	}
	return ContactUsager(r, u), nil
}

// ContactUsager is the usager u of r as an organisation that does not know
// u sees it: r's contact, with u's ids so that it names the same person.
func ContactUsager(r *rdv.RDV, u *rdv.Usager) *rdv.Usager {
	c := r.Usager()
	// Given with the RDV: its creation is the contact's.
	c.RdvsID, c.CreatedAt, c.UpdatedAt = u.RdvsID, r.CreatedAt, r.CreatedAt
	return c
}

// Get returns one RDV with its usager.
func (s *Service) Get(ctx context.Context, caller Caller, id string) (*Booked, error) {
	cat := s.catalog()
	return s.load(ctx, id, caller, func(r *rdv.RDV) error { return authorise(cat, caller, r, true) })
}

// Lookup returns one RDV with its usager, for a caller that proved its
// right to it otherwise: the page shown right after a booking, whose link
// is signed for the browser that booked.
//
// Its usager is the contact the RDV was booked with, what the booker typed.
func (s *Service) Lookup(ctx context.Context, id string) (*Booked, error) {
	return s.load(ctx, id, Caller{}, func(*rdv.RDV) error { return nil })
}

// load reads an RDV, when check lets it, and its usager as caller sees it.
func (s *Service) load(ctx context.Context, id string, caller Caller, check func(*rdv.RDV) error) (*Booked, error) {
	var out *Booked
	err := s.store.View(ctx, func(tx *store.ReadTx) error {
		r, err := tx.RDV(id)
		if err != nil {
			return err
		}
		if err := check(r); err != nil {
			return err
		}
		u, err := usagerFor(tx, caller, r)
		if err != nil {
			return err
		}
		out = &Booked{RDV: r, Usager: u}
		return nil
	})
	return out, err
}

// ListRequest filters an agent's listing.
type ListRequest struct {
	OrganisationID, AgentID string
	From, To                string // YYYY-MM-DD inclusive; default today .. +31 days
}

// MaxListDays bounds a listing window.
const MaxListDays = 366

// List returns the RDVs of the agent's organisations, sorted by start.
func (s *Service) List(ctx context.Context, agent *catalog.Agent, req ListRequest) ([]*Booked, error) {
	cat := s.catalog()
	fe := fieldErrors{}
	orgs := agent.Organisations
	if req.OrganisationID != "" {
		o := cat.Organisation(req.OrganisationID)
		switch {
		case o == nil:
			fe.add("organisation_id", "organisation inconnue")
		case !agent.MemberOf(o):
			return nil, fmt.Errorf("%w: agent %s is not in organisation %s", rdv.ErrForbidden, agent.ID, o.ID)
		default:
			orgs = []*catalog.Organisation{o}
		}
	}
	if req.AgentID != "" && cat.Agent(req.AgentID) == nil {
		fe.add("agent_id", "agent inconnu")
	}
	loc := agent.Organisations[0].Location
	from := rdv.DateOf(s.now().In(loc))
	to := from.AddDays(31)
	var err error
	if req.From != "" {
		if from, err = rdv.ParseDate(req.From); err != nil {
			fe.add("from", "date invalide (AAAA-MM-JJ)")
		}
	}
	if req.To != "" {
		if to, err = rdv.ParseDate(req.To); err != nil {
			fe.add("to", "date invalide (AAAA-MM-JJ)")
		}
	}
	if len(fe) == 0 && (to < from || int(to-from) >= MaxListDays) {
		fe.add("to", fmt.Sprintf("la période doit aller de from à au plus %d jours après", MaxListDays-1))
	}
	if len(fe) > 0 {
		return nil, &rdv.InvalidError{Fields: fe}
	}
	orgIDs := agent.OrganisationIDs()
	return s.rdvsOf(ctx, orgs, from, to, func(r *rdv.RDV) bool {
		return req.AgentID == "" || slices.Contains(r.AgentIDs, req.AgentID)
	}, func(tx *store.ReadTx, r *rdv.RDV) (*rdv.Usager, error) { return UsagerSeenBy(tx, r, orgIDs) })
}

// rdvsOf returns the RDVs of orgs that keep accepts, starting from from to
// to (inclusive, in each organisation's zone), each with the usager that
// usager gives, sorted by start.
func (s *Service) rdvsOf(ctx context.Context, orgs []*catalog.Organisation, from, to rdv.Date, keep func(*rdv.RDV) bool,
	usager func(*store.ReadTx, *rdv.RDV) (*rdv.Usager, error)) ([]*Booked, error) {
	var out []*Booked
	err := s.store.View(ctx, func(tx *store.ReadTx) error {
		for _, o := range orgs {
			err := tx.EachOrgRDV(o.ID, from.At(0, o.Location), to.AddDays(1).At(0, o.Location), func(r *rdv.RDV) error {
				if !keep(r) {
					return nil
				}
				u, err := usager(tx, r)
				if err != nil {
					return err
				}
				out = append(out, &Booked{RDV: r, Usager: u})
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	slices.SortStableFunc(out, func(a, b *Booked) int { return a.RDV.StartsAt.Compare(b.RDV.StartsAt) })
	return out, err
}

// prescribedBy reports whether agent booked r in prescription interne.
func prescribedBy(r *rdv.RDV, agent *catalog.Agent) bool {
	return r.CreatedBy.Type == rdv.CreatedByAgent && r.CreatedBy.AgentID == agent.ID
}

// MayChange reports whether the agent may act on r (cancel, move, set its
// status or context), beyond reading it: an agent of its organisation or
// among its agents, not the agent who only prescribed it.
func (s *Service) MayChange(agent *catalog.Agent, r *rdv.RDV) bool {
	return authorise(s.catalog(), Caller{Agent: agent}, r, false) == nil
}

// Prescriptions returns the RDVs the agent booked in prescription interne,
// in any organisation, starting from from to to (inclusive, in each
// organisation's zone), sorted by start. Cancelled ones are included: the
// prescribing agent follows what became of its orientations.
func (s *Service) Prescriptions(ctx context.Context, agent *catalog.Agent, from, to rdv.Date) ([]*Booked, error) {
	return s.rdvsOf(ctx, s.catalog().Organisations, from, to, func(r *rdv.RDV) bool { return prescribedBy(r, agent) },
		func(tx *store.ReadTx, r *rdv.RDV) (*rdv.Usager, error) { return usagerFor(tx, Caller{Agent: agent}, r) })
}

// SetContext replaces the RDV's context (agents only): what the agent
// learnt about the orientation, kept with the RDV.
func (s *Service) SetContext(ctx context.Context, agent *catalog.Agent, id, text string) (*Booked, error) {
	fe := fieldErrors{}
	text = fe.cleanMultiline("context", strings.TrimSpace(text), 2000)
	if len(fe) > 0 {
		return nil, &rdv.InvalidError{Fields: fe}
	}
	b, err := s.change(ctx, Caller{Agent: agent}, id, func(tx *store.Tx, r *rdv.RDV, now time.Time) error {
		r.Context = text
		return nil
	})
	if err == nil {
		s.log.Info("rdv context changed", "rdv_id", id)
	}
	return b, err
}

// usagerMayChange applies the usager's limits: the motif allows it and the
// RDV starts in more than 4 hours.
func usagerMayChange(m *catalog.Motif, r *rdv.RDV, now time.Time) error {
	if m != nil && !m.CancellableByUsager {
		return ErrNotCancellable
	}
	if r.StartsAt.Sub(now) < UsagerCancelLimit {
		return ErrTooLate
	}
	return nil
}

// change loads an RDV in a write transaction, checks the caller, applies
// fn and writes the result with a new version.
func (s *Service) change(ctx context.Context, caller Caller, id string, fn func(tx *store.Tx, r *rdv.RDV, now time.Time) error) (*Booked, error) {
	cat := s.catalog()
	now := s.now()
	var out Booked
	err := s.store.Update(ctx, func(tx *store.Tx) error {
		r, err := tx.RDV(id)
		if err != nil {
			return err
		}
		if err := authorise(cat, caller, r, false); err != nil {
			return err
		}
		next := *r
		next.AgentIDs = slices.Clone(r.AgentIDs)
		if err := fn(tx, &next, now); err != nil {
			return err
		}
		next.Version = r.Version + 1
		next.UpdatedAt = now.UTC()
		if err := tx.PutRDV(&next); err != nil {
			return err
		}
		if err := s.onChange(tx, caller, r, &next, now); err != nil {
			return err
		}
		u, err := usagerFor(&tx.ReadTx, caller, &next)
		if err != nil {
			return err
		}
		out = Booked{RDV: &next, Usager: u}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.committed()
	return &out, nil
}

// Cancel cancels an RDV: by an agent → revoked; by the usager → excused,
// within the usager's limits. The slot is free at once.
func (s *Service) Cancel(ctx context.Context, caller Caller, id, reason string) (*Booked, error) {
	fe := fieldErrors{}
	reason = fe.cleanMultiline("reason", reason, 1000)
	if len(fe) > 0 {
		return nil, &rdv.InvalidError{Fields: fe}
	}
	cat := s.catalog()
	b, err := s.change(ctx, caller, id, func(tx *store.Tx, r *rdv.RDV, now time.Time) error {
		if r.Status.Cancelled() {
			return ErrAlreadyCancelled
		}
		r.Status = rdv.StatusRevoked
		if caller.Agent == nil {
			if err := usagerMayChange(cat.Motif(r.MotifID), r, now); err != nil {
				return err
			}
			r.Status = rdv.StatusExcused
		}
		t := now.UTC()
		r.CancelledAt, r.CancelReason = &t, reason
		return nil
	})
	if err == nil {
		s.log.Info("rdv cancelled", "rdv_id", id, "status", string(b.RDV.Status))
	}
	return b, err
}

// MoveRequest is the body of PATCH /api/v1/rdvs/{id}.
type MoveRequest struct {
	StartsAt string `json:"starts_at"`
	LieuID   string `json:"lieu_id"`
}

// Move moves an RDV to a new free slot of its motif; it keeps its id. The
// same agent is kept when free, else another free agent is chosen.
func (s *Service) Move(ctx context.Context, caller Caller, id string, req MoveRequest) (*Booked, error) {
	cat := s.catalog()
	fe := fieldErrors{}
	start, err := time.Parse(time.RFC3339, req.StartsAt)
	if req.StartsAt == "" {
		fe.add("starts_at", "obligatoire")
	} else if err != nil {
		fe.add("starts_at", "date et heure invalides (format RFC 3339, par exemple 2026-12-07T09:00:00+01:00)")
	}
	var lieu *catalog.Lieu
	if req.LieuID != "" {
		if lieu = cat.Lieu(req.LieuID); lieu == nil {
			fe.add("lieu_id", "lieu inconnu")
		}
	}
	if len(fe) > 0 {
		return nil, &rdv.InvalidError{Fields: fe}
	}
	b, err := s.change(ctx, caller, id, func(tx *store.Tx, r *rdv.RDV, now time.Time) error {
		if r.Status.Cancelled() {
			return ErrAlreadyCancelled
		}
		m := cat.Motif(r.MotifID)
		if m == nil {
			return fmt.Errorf("%w: the motif %s of this rdv is no longer configured", rdv.ErrConflict, r.MotifID)
		}
		if caller.Agent == nil {
			if err := usagerMayChange(m, r, now); err != nil {
				return err
			}
		}
		if !start.After(now) {
			return rdv.Invalid("starts_at", "ce créneau est déjà passé")
		}
		if caller.Agent == nil && (start.Before(now.Add(m.MinBookingDelay)) || start.After(now.Add(m.MaxBookingDelay))) {
			return rdv.Invalid("starts_at", "ce créneau n'est pas réservable en ligne")
		}
		l := lieu
		if l == nil {
			l = cat.Lieu(r.LieuID)
		}
		if l != nil && !slices.Contains(m.Lieux, l) {
			return rdv.Invalid("lieu_id", "ce motif n'est pas proposé dans ce lieu")
		}
		day := rdv.DateOf(start.In(m.Organisation.Location))
		q := slots.Query{Motif: m, Lieu: l, From: day, To: day, Now: now, AgentView: true,
			Caller: cat.Agent(firstOr(r.AgentIDs)), Busy: s.busy(&tx.ReadTx, r.ID)}
		if caller.Agent != nil {
			q.Caller = caller.Agent
		}
		var free []*catalog.Agent
		for _, sl := range slots.Search(cat, q) {
			if sl.Start.Equal(start) {
				free = append(free, sl.Agent)
			}
		}
		if len(free) == 0 {
			// Not offered: taken if it is a slot of the empty day, else invalid (as in Book).
			q.Busy = nil
			if !slices.ContainsFunc(slots.Search(cat, q), func(sl slots.Slot) bool { return sl.Start.Equal(start) }) {
				return rdv.Invalid("starts_at", "ne correspond à aucun créneau de ce motif")
			}
			return rdv.ErrSlotUnavailable
		}
		chosen := free[0]
		for _, a := range free {
			if slices.Contains(r.AgentIDs, a.ID) {
				chosen = a
				break
			}
		}
		r.StartsAt, r.EndsAt = start.UTC(), start.Add(m.Duration).UTC()
		r.AgentIDs = []string{chosen.ID}
		if l != nil {
			r.LieuID = l.ID
		}
		return nil
	})
	if err == nil {
		s.log.Info("rdv moved", "rdv_id", id)
	}
	return b, err
}

func firstOr(ids []string) string {
	if len(ids) == 0 {
		return ""
	}
	return ids[0]
}

// SetStatus sets an RDV's status (agents only). Reopening a cancelled RDV
// needs its time to be free again.
func (s *Service) SetStatus(ctx context.Context, agent *catalog.Agent, id string, status rdv.Status) (*Booked, error) {
	if !status.Valid() {
		return nil, rdv.Invalid("status", "statut inconnu (unknown, seen, noshow, excused ou revoked)")
	}
	return s.change(ctx, Caller{Agent: agent}, id, func(tx *store.Tx, r *rdv.RDV, now time.Time) error {
		if r.Status.Cancelled() && !status.Cancelled() {
			for _, a := range r.AgentIDs {
				if tx.AgentHasOverlap(a, r.Interval(), r.ID) {
					return fmt.Errorf("%w: the time of this rdv has been booked since it was cancelled", rdv.ErrSlotUnavailable)
				}
			}
			r.CancelledAt, r.CancelReason = nil, ""
		}
		if status.Cancelled() && !r.Status.Cancelled() {
			t := now.UTC()
			r.CancelledAt = &t
		}
		r.Status = status
		return nil
	})
}

// SearchUsagers finds usagers known to the agent's organisations by name,
// email or phone, for prescription interne.
func (s *Service) SearchUsagers(ctx context.Context, agent *catalog.Agent, q string) ([]*rdv.Usager, error) {
	q = strings.TrimSpace(q)
	if len([]rune(q)) < 2 {
		return nil, rdv.Invalid("q", "au moins 2 caractères")
	}
	if len(q) > 200 {
		return nil, rdv.Invalid("q", "trop long")
	}
	orgs := agent.OrganisationIDs()
	out := []*rdv.Usager{}
	err := s.store.View(ctx, func(tx *store.ReadTx) error {
		found, err := tx.SearchUsagers(q, usagerSearchScan)
		for _, u := range found {
			if len(out) < usagerSearchLimit && tx.UsagerKnownTo(u.ID, orgs) {
				out = append(out, u)
			}
		}
		return err
	})
	return out, err
}

// An agent finds only the usagers known to its organisations (an RDV
// there, past or future): at most usagerSearchLimit among the first
// usagerSearchScan matches.
const (
	usagerSearchLimit = 20
	usagerSearchScan  = 500
)
