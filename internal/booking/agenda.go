package booking

import (
	"context"
	"fmt"
	"slices"

	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
	"rdvsync/internal/store"
)

// AgendaRequest asks for the agenda of an organisation, or of one agent
// (AgentID, within OrganisationID if given), on the days From..From+Days-1.
// With neither, the agenda is the caller's own.
type AgendaRequest struct {
	OrganisationID, AgentID string
	From                    rdv.Date
	Days                    int
}

// MaxAgendaDays bounds an agenda window.
const MaxAgendaDays = 31

// Agenda is what the agents of an agenda are doing.
type Agenda struct {
	// Organisation is the organisation asked for, or nil.
	Organisation *catalog.Organisation
	Agents       []*AgentAgenda
}

// AgentAgenda is one agent's time. Only what the caller may see is in it:
// plages of the caller's organisations, RDVs of those organisations with
// their usager; the agent's RDVs in other organisations and the busy times
// of its external calendar are Busy intervals without details.
type AgentAgenda struct {
	Agent    *catalog.Agent
	Openings []slots.Opening
	Absences []rdv.Interval
	Busy     []rdv.Interval
	RDVs     []*Booked
}

// Agenda returns the agenda req asks for, as viewer may see it: an
// organisation viewer is not in, or an agent it shares none with, is
// ErrForbidden.
func (s *Service) Agenda(ctx context.Context, viewer *catalog.Agent, req AgendaRequest) (*Agenda, error) {
	cat := s.catalog()
	fe := fieldErrors{}
	if req.Days < 1 || req.Days > MaxAgendaDays {
		fe.add("days", fmt.Sprintf("entre 1 et %d jours", MaxAgendaDays))
	}
	out := &Agenda{}
	var agents []*catalog.Agent
	if req.OrganisationID != "" {
		if out.Organisation = cat.Organisation(req.OrganisationID); out.Organisation == nil {
			fe.add("organisation_id", "organisation inconnue")
		} else if !viewer.MemberOf(out.Organisation) {
			return nil, fmt.Errorf("%w: agent %s is not in organisation %s", rdv.ErrForbidden, viewer.ID, req.OrganisationID)
		}
	}
	switch {
	case req.AgentID != "":
		a := cat.Agent(req.AgentID)
		if a == nil {
			fe.add("agent_id", "agent inconnu")
			break
		}
		shared := slices.ContainsFunc(a.Organisations, viewer.MemberOf)
		if out.Organisation != nil {
			shared = a.MemberOf(out.Organisation)
		}
		if !shared {
			return nil, fmt.Errorf("%w: agent %s shares no organisation with %s", rdv.ErrForbidden, viewer.ID, a.ID)
		}
		agents = []*catalog.Agent{a}
	case out.Organisation != nil:
		for _, a := range cat.Agents {
			if a.MemberOf(out.Organisation) {
				agents = append(agents, a)
			}
		}
	default:
		agents = []*catalog.Agent{viewer}
	}
	if len(fe) > 0 {
		return nil, &rdv.InvalidError{Fields: fe}
	}
	// Which organisations' details the agenda shows.
	visible := func(o *catalog.Organisation) bool {
		return viewer.MemberOf(o) && (out.Organisation == nil || o == out.Organisation)
	}
	from, to := req.From, req.From.AddDays(req.Days-1)
	for _, a := range agents {
		out.Agents = append(out.Agents, &AgentAgenda{Agent: a,
			Openings: slots.Openings(cat, a, from, to, func(p *catalog.Plage) bool { return visible(p.Organisation) }),
			Absences: slots.Absences(a, from, to)})
	}
	err := s.store.View(ctx, func(tx *store.ReadTx) error {
		for _, aa := range out.Agents {
			for _, o := range aa.Agent.Organisations {
				start, end := from.At(0, o.Location), to.AddDays(1).At(0, o.Location)
				if s.externalBusy != nil && o == aa.Agent.Organisations[0] {
					aa.Busy = s.externalBusy.AppendAgentBusy(aa.Busy, aa.Agent.ID, start, end)
				}
				err := tx.EachOrgRDV(o.ID, start, end, func(r *rdv.RDV) error {
					if !slices.Contains(r.AgentIDs, aa.Agent.ID) {
						return nil
					}
					if !visible(o) {
						if r.Active() {
							aa.Busy = append(aa.Busy, rdv.Interval{Start: r.StartsAt, End: r.EndsAt})
						}
						return nil
					}
					u, err := UsagerSeenBy(tx, r, viewer.OrganisationIDs())
					if err != nil {
						return err
					}
					aa.RDVs = append(aa.RDVs, &Booked{RDV: r, Usager: u})
					return nil
				})
				if err != nil {
					return err
				}
			}
			slices.SortStableFunc(aa.RDVs, func(x, y *Booked) int { return x.RDV.StartsAt.Compare(y.RDV.StartsAt) })
			slices.SortFunc(aa.Busy, func(x, y rdv.Interval) int { return x.Start.Compare(y.Start) })
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
