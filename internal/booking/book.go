package booking

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/french"
	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
	"rdvsync/internal/store"
)

// UsagerInput is the usager part of a booking body.
type UsagerInput struct {
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Email       string `json:"email"`
	PhoneNumber string `json:"phone_number"`
	Address     string `json:"address"`
	PostalCode  string `json:"postal_code"`
	CityCode    string `json:"city_code"`
	StreetBanID string `json:"street_ban_id"`
	BirthDate   string `json:"birth_date"`
}

// PrescripteurInput is who books for the usager, when not an agent.
type PrescripteurInput struct {
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Email       string `json:"email"`
	PhoneNumber string `json:"phone_number"`
}

// BookRequest is the booking body of docs/design.md §5.
type BookRequest struct {
	MotifID      string             `json:"motif_id"`
	LieuID       string             `json:"lieu_id"`
	StartsAt     string             `json:"starts_at"`
	AgentID      string             `json:"agent_id"`
	Usager       *UsagerInput       `json:"usager"`
	UsagerID     string             `json:"usager_id"`
	Prescripteur *PrescripteurInput `json:"prescripteur"`
	Context      string             `json:"context"`
}

// Booked is a booked (or fetched) RDV with its usager.
type Booked struct {
	RDV    *rdv.RDV
	Usager *rdv.Usager
	// Replayed is true when an Idempotency-Key returned an earlier booking.
	Replayed bool
}

// Idempotency identifies a retried request: the same Key with the same
// body returns the first booking; with another body it is refused.
type Idempotency struct {
	Key        string
	BodySHA256 string
	// Scope, when set, replaces the scope derived from the caller: a
	// webhook source ("webhook:<source id>") owns its webhook-ids whatever
	// prescripteur each body names.
	Scope string
}

// IdempotencyTTL is how long keys are kept (at least 24 h, docs/design.md §5).
const IdempotencyTTL = 48 * time.Hour

// plan is a validated booking, ready to be written.
type plan struct {
	motif      *catalog.Motif
	lieu       *catalog.Lieu
	start      time.Time
	candidates []*catalog.Agent // free agents at start, preferred first
	usager     rdv.Usager       // new usager data (when usagerID == "")
	usagerID   string
	createdBy  rdv.CreatedBy
	context    string
}

// Book books an RDV for the caller (docs/design.md §5 POST /api/v1/rdvs).
func (s *Service) Book(ctx context.Context, caller Caller, req BookRequest, idem *Idempotency) (*Booked, error) {
	b, err := s.book(ctx, caller, req, idem)
	if s.observer != nil {
		s.observer.BookingOutcome(outcome(b, err))
	}
	return b, err
}

func outcome(b *Booked, err error) string {
	var (
		inv     *rdv.InvalidError
		refused *RefusedError
	)
	switch {
	case err == nil && b.Replayed:
		// An Idempotency-Key retry books nothing: counting it as booked
		// would show more bookings than RDVs.
		return "replayed"
	case err == nil:
		return "booked"
	case errors.As(err, &refused):
		return "refused_before"
	case errors.Is(err, rdv.ErrSlotUnavailable):
		return "slot_unavailable"
	case errors.As(err, &inv):
		return "invalid"
	case errors.Is(err, rdv.ErrForbidden), errors.Is(err, rdv.ErrUnauthenticated):
		return "forbidden"
	case errors.Is(err, rdv.ErrIdempotencyReuse):
		return "idempotency_reused"
	}
	return "error"
}

// scopeOf is the scope of a request's idempotency key: keys are scoped by
// who sends them, so two callers never share one.
func scopeOf(caller Caller, req BookRequest, idem *Idempotency) string {
	scope := "anonymous"
	switch {
	case caller.Agent != nil:
		scope = "agent:" + caller.Agent.ID
	case req.Prescripteur != nil:
		scope = "prescripteur:" + strings.ToLower(strings.TrimSpace(req.Prescripteur.Email))
	case req.Usager != nil:
		scope = "usager:" + strings.ToLower(strings.TrimSpace(req.Usager.Email+" "+req.Usager.PhoneNumber))
	}
	if idem != nil && idem.Scope != "" {
		scope = idem.Scope
	}
	return scope
}

func (s *Service) book(ctx context.Context, caller Caller, req BookRequest, idem *Idempotency) (*Booked, error) {
	scope := scopeOf(caller, req, idem)
	if idem != nil {
		if b, err := s.replay(ctx, scope, caller, idem); b != nil || err != nil {
			return b, err
		}
	}
	now := s.now()
	p, err := s.plan(ctx, caller, req, now)
	if err != nil {
		if idem != nil {
			// The same request may have just booked its slot, on another
			// replica, between the replay check and the plan: its answer
			// is the replay, not "slot taken".
			if b, rerr := s.replay(ctx, scope, caller, idem); b != nil || rerr != nil {
				return b, rerr
			}
		}
		return nil, err
	}
	r := &rdv.RDV{
		ID: newID(), Status: rdv.StatusUnknown, StartsAt: p.start.UTC(), EndsAt: p.start.Add(p.motif.Duration).UTC(),
		MotifID: p.motif.ID, OrganisationID: p.motif.Organisation.ID, CreatedBy: p.createdBy, Context: p.context,
		CreatedAt: now.UTC(), UpdatedAt: now.UTC(), UsagerToken: newToken(), Version: 1,
	}
	if p.lieu != nil {
		r.LieuID = p.lieu.ID
	}
	newUsager := p.usager
	newUsager.ID, newUsager.CreatedAt, newUsager.UpdatedAt = newID(), now.UTC(), now.UTC()
	out := &Booked{}
	err = s.store.Update(ctx, func(tx *store.Tx) error {
		// This function may run more than once (bbolt Batch): it only
		// reads and writes the transaction, from values computed above.
		*out = Booked{}
		if idem != nil {
			if prev, err := tx.Idempotency(scope, idem.Key); err == nil {
				if prev.BodySHA256 != idem.BodySHA256 {
					return rdv.ErrIdempotencyReuse
				}
				return replayed(&tx.ReadTx, caller, prev, out)
			} else if !errors.Is(err, rdv.ErrNotFound) {
				return err
			}
		}
		agent := freeAgent(&tx.ReadTx, p.candidates, r.Interval())
		if agent == nil {
			return rdv.ErrSlotUnavailable
		}
		u, contact, err := s.resolveUsager(tx, caller, p, &newUsager)
		if err != nil {
			return err
		}
		rec := *r
		rec.AgentIDs = []string{agent.ID}
		rec.UsagerID, rec.Contact = u.ID, contact
		// An usager the agent's organisations recorded, booked in an
		// organisation the agent is not in ("élargir"): it stays theirs,
		// the RDV's organisation gets the contact only.
		rec.ContactOnly = caller.Agent != nil && u.ID != newUsager.ID && !caller.Agent.MemberOf(p.motif.Organisation)
		if err := tx.PutRDV(&rec); err != nil {
			return err
		}
		if err := s.onChange(tx, caller, nil, &rec, now); err != nil {
			return err
		}
		if idem != nil {
			if err := tx.PutIdempotency(scope, idem.Key, store.IdempotencyRecord{
				BodySHA256: idem.BodySHA256, Status: 201, Response: []byte(rec.ID), CreatedAt: now.UTC(),
			}); err != nil {
				return err
			}
		}
		out.RDV, out.Usager = &rec, u
		if caller.Agent == nil {
			out.Usager = rec.Usager() // what the caller sent
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !out.Replayed {
		s.committed()
		s.log.Info("rdv booked", "rdv_id", out.RDV.ID, "motif_id", out.RDV.MotifID, "agent_id", out.RDV.AgentIDs[0], "created_by", string(out.RDV.CreatedBy.Type))
	}
	return out, nil
}

// replay answers a retried request from its idempotency record, if any.
func (s *Service) replay(ctx context.Context, scope string, caller Caller, idem *Idempotency) (*Booked, error) {
	var out *Booked
	err := s.store.View(ctx, func(tx *store.ReadTx) error {
		prev, err := tx.Idempotency(scope, idem.Key)
		if errors.Is(err, rdv.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if prev.BodySHA256 != idem.BodySHA256 {
			return rdv.ErrIdempotencyReuse
		}
		out = &Booked{}
		return replayed(tx, caller, prev, out)
	})
	return out, err
}

// replayed fills out with the RDV of an earlier booking and its usager as
// the caller sees it now.
func replayed(tx *store.ReadTx, caller Caller, prev *store.IdempotencyRecord, out *Booked) error {
	if prev.Status >= 400 { // a recorded refusal (RecordRefusal)
		return &RefusedError{Status: prev.Status, Body: prev.Response}
	}
	r, err := tx.RDV(string(prev.Response))
	if err != nil {
		return fmt.Errorf("idempotency record points to a missing rdv: %w", err)
	}
	u, err := usagerFor(tx, caller, r)
	if err != nil {
		return err
	}
	*out = Booked{RDV: r, Usager: u, Replayed: true}
	return nil
}

// freeAgent returns the first candidate with no active RDV overlapping iv.
func freeAgent(tx *store.ReadTx, candidates []*catalog.Agent, iv rdv.Interval) *catalog.Agent {
	for _, a := range candidates {
		if !tx.AgentHasOverlap(a.ID, iv, "") {
			return a
		}
	}
	return nil
}

// resolveUsager returns the usager of the booking and the contact the
// RDV keeps for its notifications.
//
// A caller without an agent token (prescripteur, usager, webhook source)
// always gets a new usager: matching it to a stored one would hand a
// stranger that person's data, or let it add an email to them. An agent
// picks an usager of its own organisations by id, or reuses one of them
// that has the same names and email or phone (completing what it lacked);
// an usager known elsewhere only stays out of its reach.
//
// The contact is what the author gave: the typed details for a new or
// matched usager, the stored ones for an usager picked by id (the agent
// saw them when it picked it). It is kept with the RDV, so no other
// booking changes who hears about this RDV.
func (s *Service) resolveUsager(tx *store.Tx, caller Caller, p *plan, nu *rdv.Usager) (*rdv.Usager, rdv.Contact, error) {
	if p.usagerID != "" {
		u, err := tx.Usager(p.usagerID)
		if err != nil {
			return nil, rdv.Contact{}, err
		}
		return u, rdv.ContactOf(u), nil
	}
	contact := rdv.ContactOf(nu)
	if caller.Agent == nil {
		u := *nu
		return &u, contact, tx.PutUsager(&u)
	}
	found, err := tx.FindKnownUsager(nu.FirstName, nu.LastName, nu.Email, nu.PhoneNumber, caller.Agent.OrganisationIDs())
	if errors.Is(err, rdv.ErrNotFound) {
		u := *nu
		return &u, contact, tx.PutUsager(&u)
	}
	if err != nil {
		return nil, rdv.Contact{}, err
	}
	// Complete the known usager with what it did not have yet.
	u, changed := *found, false
	for _, f := range []struct {
		dst *string
		src string
	}{
		{&u.Email, nu.Email}, {&u.PhoneNumber, nu.PhoneNumber}, {&u.Address, nu.Address},
		{&u.PostalCode, nu.PostalCode}, {&u.CityCode, nu.CityCode}, {&u.BirthDate, nu.BirthDate},
	} {
		if *f.dst == "" && f.src != "" {
			*f.dst, changed = f.src, true
		}
	}
	if u.PhoneNumber == nu.PhoneNumber && nu.PhoneMobile && !u.PhoneMobile {
		u.PhoneMobile, changed = true, true
	}
	if changed {
		u.UpdatedAt = nu.UpdatedAt
		return &u, contact, tx.PutUsager(&u)
	}
	return &u, contact, nil
}

// plan validates the request and finds the free agents at its start.
func (s *Service) plan(ctx context.Context, caller Caller, req BookRequest, now time.Time) (*plan, error) {
	cat := s.catalog()
	fe := fieldErrors{}
	p := &plan{}
	if caller.UsagerToken != "" {
		return nil, fmt.Errorf("%w: a usager link cannot book a new rdv", rdv.ErrForbidden)
	}
	if req.MotifID == "" {
		fe.add("motif_id", "obligatoire")
	} else if p.motif = cat.Motif(req.MotifID); p.motif == nil {
		fe.add("motif_id", "motif inconnu")
	}
	if p.motif != nil && !slots.MayBook(caller.Agent, p.motif) {
		return nil, fmt.Errorf("%w: motif %s", errMotifNotBookable, p.motif.ID)
	}
	if req.LieuID != "" {
		if p.lieu = cat.Lieu(req.LieuID); p.lieu == nil {
			fe.add("lieu_id", "lieu inconnu")
		}
	}
	if p.motif != nil && p.motif.LocationType == rdv.LocationPublicOffice && req.LieuID == "" {
		fe.add("lieu_id", "obligatoire pour un rendez-vous sur place")
	}
	if p.motif != nil && p.lieu != nil && !slices.Contains(p.motif.Lieux, p.lieu) {
		fe.add("lieu_id", "ce motif n'est pas proposé dans ce lieu")
	}
	var agent *catalog.Agent
	if req.AgentID != "" {
		if agent = cat.Agent(req.AgentID); agent == nil {
			fe.add("agent_id", "agent inconnu")
		}
	}
	if req.StartsAt == "" {
		fe.add("starts_at", "obligatoire")
	} else if t, err := time.Parse(time.RFC3339, req.StartsAt); err != nil {
		fe.add("starts_at", "date et heure invalides (format RFC 3339, par exemple 2026-12-07T09:00:00+01:00)")
	} else if p.start = t; !t.After(now) {
		fe.add("starts_at", "ce créneau est déjà passé")
	}
	p.context = fe.cleanMultiline("context", req.Context, 2000)

	// Who books: an agent (prescription interne), a prescripteur or the usager.
	switch {
	case caller.Agent != nil:
		if req.Prescripteur != nil {
			fe.add("prescripteur", "un agent réserve en son nom : ne pas envoyer de prescripteur")
		}
		a := caller.Agent
		p.createdBy = rdv.CreatedBy{Type: rdv.CreatedByAgent, AgentID: a.ID, FirstName: a.FirstName, LastName: a.LastName, Email: a.Email}
	case req.Prescripteur != nil:
		pr := req.Prescripteur
		p.createdBy = rdv.CreatedBy{
			Type:      rdv.CreatedByPrescripteur,
			FirstName: fe.cleanText("prescripteur.first_name", pr.FirstName, true, maxNameLen),
			LastName:  fe.cleanText("prescripteur.last_name", pr.LastName, true, maxNameLen),
			Email:     fe.cleanEmail("prescripteur.email", pr.Email, true),
		}
		p.createdBy.PhoneNumber, _ = fe.cleanPhone("prescripteur.phone_number", pr.PhoneNumber)
	default:
		if p.motif != nil && p.motif.BookableBy != rdv.BookableByEveryone {
			fe.add("prescripteur", "obligatoire : ce motif se réserve par un prescripteur (prénom, nom, email professionnel)")
		}
		p.createdBy = rdv.CreatedBy{Type: rdv.CreatedByUsager}
	}

	// The usager: an existing one (agents only) or a new one.
	var addr UsagerInput
	hasPhone := false
	switch {
	case req.UsagerID != "":
		if caller.Agent == nil {
			fe.add("usager_id", "réservé aux agents : indiquez les informations de l'usager")
			break
		}
		if req.Usager != nil {
			fe.add("usager", "indiquez usager_id ou usager, pas les deux")
		}
		err := s.store.View(ctx, func(tx *store.ReadTx) error {
			u, err := tx.Usager(req.UsagerID)
			if err == nil && !tx.UsagerKnownTo(u.ID, caller.Agent.OrganisationIDs()) {
				// Agents pick usagers of their organisations only.
				return fmt.Errorf("usager %s: %w", u.ID, rdv.ErrNotFound)
			}
			if err == nil {
				addr = UsagerInput{PostalCode: u.PostalCode, CityCode: u.CityCode}
				hasPhone = u.PhoneNumber != ""
			}
			return err
		})
		if errors.Is(err, rdv.ErrNotFound) {
			fe.add("usager_id", "usager inconnu")
		} else if err != nil {
			return nil, err
		}
		p.usagerID = req.UsagerID
	case req.Usager != nil:
		u := req.Usager
		p.usager = rdv.Usager{
			FirstName:  fe.cleanText("usager.first_name", u.FirstName, true, maxNameLen),
			LastName:   fe.cleanText("usager.last_name", u.LastName, true, maxNameLen),
			Email:      fe.cleanEmail("usager.email", u.Email, false),
			Address:    fe.cleanText("usager.address", u.Address, false, 300),
			PostalCode: fe.cleanCode("usager.postal_code", u.PostalCode, 5),
			CityCode:   fe.cleanCode("usager.city_code", u.CityCode, 5),
		}
		p.usager.PhoneNumber, p.usager.PhoneMobile = fe.cleanPhone("usager.phone_number", u.PhoneNumber)
		hasPhone = p.usager.PhoneNumber != ""
		if u.BirthDate != "" {
			if d, err := rdv.ParseDate(u.BirthDate); err != nil || d.String() > now.Format(time.DateOnly) {
				fe.add("usager.birth_date", "date de naissance invalide (AAAA-MM-JJ)")
			} else {
				p.usager.BirthDate = d.String()
			}
		}
		addr = UsagerInput{PostalCode: p.usager.PostalCode, CityCode: p.usager.CityCode, StreetBanID: fe.cleanText("usager.street_ban_id", u.StreetBanID, false, 40)}
	default:
		fe.add("usager", "obligatoire (prénom et nom de l'usager)")
	}
	if p.motif != nil && p.motif.LocationType == rdv.LocationPhone && !hasPhone {
		// The agent calls the usager: without a number it cannot.
		if p.usagerID != "" {
			fe.add("usager_id", "cet usager n'a pas de numéro de téléphone : un rendez-vous téléphonique en demande un")
		} else {
			fe.add("usager.phone_number", "obligatoire pour un rendez-vous téléphonique")
		}
	}
	if len(fe) > 0 {
		return nil, &rdv.InvalidError{Fields: fe}
	}

	// The start must be a slot this caller could see, at this lieu, for
	// this usager's address, on the grid GET /slots shows: booked RDVs
	// (of any duration) and the current time shift it.
	day := rdv.DateOf(p.start.In(p.motif.Organisation.Location))
	q := slots.Query{Motif: p.motif, Lieu: p.lieu, From: day, To: day, Now: now, Caller: caller.Agent,
		AgentView: true, Agent: agent}
	q.Address.PostalCode, q.Address.CityCode, q.Address.StreetBanID = addr.PostalCode, addr.CityCode, addr.StreetBanID
	if caller.Agent == nil {
		// Booking delays bind everyone but agents; the agent view only
		// serves to learn which agents are free.
		if p.start.Before(now.Add(p.motif.MinBookingDelay)) || p.start.After(now.Add(p.motif.MaxBookingDelay)) {
			return nil, rdv.Invalid("starts_at", fmt.Sprintf("ce créneau n'est pas réservable en ligne : réservez entre %s et %s à l'avance",
				french.Delay(p.motif.MinBookingDelay), french.Delay(p.motif.MaxBookingDelay)))
		}
	}
	err := s.store.View(ctx, func(tx *store.ReadTx) error {
		q.Busy = s.busy(tx, "")
		var free []*catalog.Agent
		for _, sl := range slots.Search(cat, q) {
			if sl.Start.Equal(p.start) && !slices.Contains(free, sl.Agent) {
				free = append(free, sl.Agent)
			}
		}
		// The agent with the fewest RDVs that day first.
		dayStart := day.At(0, p.motif.Organisation.Location)
		dayEnd := day.AddDays(1).At(0, p.motif.Organisation.Location)
		counts := map[*catalog.Agent]int{}
		for _, a := range free {
			counts[a] = tx.CountAgentRDVs(a.ID, dayStart, dayEnd)
		}
		slices.SortStableFunc(free, func(a, b *catalog.Agent) int { return counts[a] - counts[b] })
		p.candidates = free
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(p.candidates) == 0 {
		// Not offered: taken if it is a slot of the empty day, else invalid.
		q.Busy = nil
		if !slices.ContainsFunc(slots.Search(cat, q), func(sl slots.Slot) bool { return sl.Start.Equal(p.start) }) {
			return nil, rdv.Invalid("starts_at", "ne correspond à aucun créneau de ce motif (horaire, lieu ou secteur de l'usager)")
		}
		return nil, rdv.ErrSlotUnavailable
	}
	return p, nil
}

// cleanCode checks a postal or INSEE code (digits, or 2A/2B for Corsica).
func (f fieldErrors) cleanCode(field, s string, n int) string {
	s = f.cleanText(field, s, false, n)
	if s == "" {
		return ""
	}
	if len(s) != n {
		f.add(field, fmt.Sprintf("doit comporter %d caractères", n))
		return s
	}
	for i, r := range s {
		if !(r >= '0' && r <= '9') && !(i == 1 && (r == 'A' || r == 'B')) {
			f.add(field, "code invalide")
			break
		}
	}
	return s
}

// BodyHash returns the hex sha256 used to compare idempotent requests.
func BodyHash(body []byte) string {
	var v any
	if json.Unmarshal(body, &v) == nil {
		if canon, err := json.Marshal(v); err == nil {
			body = canon
		}
	}
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}
