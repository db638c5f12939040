package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/french"
	"rdvsync/internal/rdv"
)

// The agenda is a week, Monday to Sunday, of one agent or of one
// organisation: plages d'ouverture, absences, busy times and RDVs, listed
// day by day (a column per day on wide screens, one list on a phone).
// /agents/agenda?vue=…&semaine=YYYY-MM-DD, where vue is "moi",
// "organisation:<id>" or "agent:<id>" and semaine any day of the week.

type agendaPage struct {
	Heading, WeekLabel string
	Prev, Next, Today  string
	IsThisWeek         bool
	Choices            []agendaChoice
	Week               string
	Days               []agendaDay
	Empty, ShowAgent   bool
}

type agendaChoice struct {
	Value, Label string
	Selected     bool
}

type agendaDay struct {
	ID, Label      string
	Today, Holiday bool
	Items          []agendaItem
	start, end     time.Time
}

type agendaItem struct {
	When, Kind, Class string
	Title, Detail     string
	Agent, URL        string
	Cancelled         bool
	start             time.Time
	order             int
}

// Item kinds, in the order they are listed when they start together.
const (
	kindAbsence = iota
	kindBusy
	kindOpening
	kindRDV
)

// agendaView parses vue into a request; "" is the agent's own agenda.
func agendaView(vue string) (orgID, agentID string) {
	if id, ok := strings.CutPrefix(vue, "organisation:"); ok {
		return id, ""
	}
	if id, ok := strings.CutPrefix(vue, "agent:"); ok {
		return "", id
	}
	return "", ""
}

func agendaURL(vue string, week rdv.Date) string {
	return "/agents/agenda?" + url.Values{"vue": {vue}, "semaine": {week.String()}}.Encode()
}

func (w *Web) handleAgenda(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	if !requireAgent(rw, r, c, r.URL.RequestURI()) {
		return
	}
	q := r.URL.Query()
	vue := q.Get("vue")
	if vue == "" {
		vue = "moi"
	}
	orgID, agentID := agendaView(vue)
	loc := c.agent.Organisations[0].Location
	if o := c.cat.Organisation(orgID); o != nil {
		loc = o.Location
	}
	today := rdv.DateOf(w.now().In(loc))
	day := today
	if s := q.Get("semaine"); s != "" {
		d, err := rdv.ParseDate(s)
		if err != nil {
			w.renderError(rw, r, c, http.StatusBadRequest, "Semaine invalide", "La date de la semaine demandée n'est pas valide (AAAA-MM-JJ).")
			return
		}
		day = d
	}
	monday := day.AddDays(-((int(day.Weekday()) + 6) % 7))
	ag, err := w.booking.Agenda(r.Context(), c.agent, booking.AgendaRequest{OrganisationID: orgID, AgentID: agentID, From: monday, Days: 7})
	var inv *rdv.InvalidError
	if errors.Is(err, rdv.ErrForbidden) || errors.As(err, &inv) {
		// The same answer for an organisation or agent that does not
		// exist and one the agent may not see.
		w.notFound(rw, r, c)
		return
	}
	if err != nil {
		w.internalError(rw, r, c, err)
		return
	}
	p := &agendaPage{Week: monday.String(), Prev: agendaURL(vue, monday.AddDays(-7)), Next: agendaURL(vue, monday.AddDays(7)),
		Today: agendaURL(vue, today), IsThisWeek: today >= monday && today < monday.AddDays(7),
		WeekLabel: "Semaine du " + french.Day(monday) + " au " + french.Date(monday.AddDays(6).At(0, loc)),
		Choices:   agendaChoices(c.cat, c.agent, vue), ShowAgent: len(ag.Agents) > 1}
	switch {
	case ag.Organisation != nil:
		p.Heading = "Agenda de " + ag.Organisation.Name
	case ag.Agents[0].Agent == c.agent:
		p.Heading = "Mon agenda"
	default:
		p.Heading = "Agenda de " + ag.Agents[0].Agent.FullName()
	}
	var territory *catalog.Territory
	if ag.Organisation != nil {
		territory = ag.Organisation.Territory
	} else {
		territory = ag.Agents[0].Agent.Organisations[0].Territory
	}
	for i := range 7 {
		d := monday.AddDays(i)
		p.Days = append(p.Days, agendaDay{ID: "jour-" + d.String(), Label: french.Day(d), Today: d == today,
			Holiday: c.cat.IsHoliday(territory, d), start: d.At(0, loc), end: d.AddDays(1).At(0, loc)})
	}
	w.fillAgenda(c, p, ag, loc)
	w.render(rw, r, c, http.StatusOK, "agenda", view{Title: p.Heading + " — " + p.WeekLabel, Body: p})
}

// agendaChoices are the agendas the agent may open: its own, each of its
// organisations, and each agent of them.
func agendaChoices(cat *catalog.Catalog, me *catalog.Agent, vue string) []agendaChoice {
	out := []agendaChoice{{Value: "moi", Label: "Mon agenda"}}
	for _, o := range me.Organisations {
		out = append(out, agendaChoice{Value: "organisation:" + o.ID, Label: "Toute l'organisation : " + o.Name})
	}
	for _, a := range cat.Agents {
		if a != me && slices.ContainsFunc(a.Organisations, me.MemberOf) {
			out = append(out, agendaChoice{Value: "agent:" + a.ID, Label: a.FullName()})
		}
	}
	for i := range out {
		out[i].Selected = out[i].Value == vue
	}
	return out
}

// fillAgenda puts each plage, absence, busy time and RDV in the days it
// overlaps, cut to the day.
func (w *Web) fillAgenda(c *reqCtx, p *agendaPage, ag *booking.Agenda, loc *time.Location) {
	add := func(iv rdv.Interval, it agendaItem) {
		for i := range p.Days {
			d := &p.Days[i]
			if !iv.Start.Before(d.end) || !iv.End.After(d.start) {
				continue
			}
			x := it
			x.start = iv.Start
			x.When = spanLabel(iv, d.start, d.end, loc)
			d.Items = append(d.Items, x)
		}
	}
	rdvs := map[string]*agendaItem{}
	for _, aa := range ag.Agents {
		name := aa.Agent.FullName()
		for _, o := range aa.Openings {
			place := "Sans lieu (téléphone, domicile, visio)"
			if o.Plage.Lieu != nil {
				place = o.Plage.Lieu.Name
			}
			motifs := make([]string, len(o.Plage.Motifs))
			for i, m := range o.Plage.Motifs {
				motifs[i] = m.Name
			}
			add(o.Interval, agendaItem{Kind: "Plage d'ouverture", Class: "rdv-agenda__item--plage", Title: place,
				Detail: strings.Join(motifs, ", "), Agent: name, order: kindOpening})
		}
		for _, iv := range aa.Absences {
			add(iv, agendaItem{Kind: "Absence", Class: "rdv-agenda__item--absence", Title: "Absent·e", Agent: name, order: kindAbsence})
		}
		for _, iv := range aa.Busy {
			add(iv, agendaItem{Kind: "Occupé·e", Class: "rdv-agenda__item--busy", Title: "Indisponible",
				Detail: "Agenda personnel ou autre organisation", Agent: name, order: kindBusy})
		}
		for _, b := range aa.RDVs {
			if it := rdvs[b.RDV.ID]; it != nil {
				it.Agent += ", " + name
				continue
			}
			x := b.RDV
			it := &agendaItem{Kind: "Rendez-vous", Class: "rdv-agenda__item--rdv", Title: x.MotifID, Agent: name,
				URL: "/agents/rdvs/" + url.PathEscape(x.ID), Cancelled: x.Status.Cancelled(), order: kindRDV, start: x.StartsAt}
			if m := c.cat.Motif(x.MotifID); m != nil {
				it.Title = m.Name
			}
			it.Detail = strings.TrimSpace(b.Usager.FirstName+" "+b.Usager.LastName) + " · " + statusLabels[x.Status]
			rdvs[x.ID] = it
		}
	}
	// RDVs last, once each, with all their agents.
	for _, aa := range ag.Agents {
		for _, b := range aa.RDVs {
			if it := rdvs[b.RDV.ID]; it != nil {
				add(rdv.Interval{Start: b.RDV.StartsAt, End: b.RDV.EndsAt}, *it)
				delete(rdvs, b.RDV.ID)
			}
		}
	}
	p.Empty = true
	for i := range p.Days {
		items := p.Days[i].Items
		slices.SortStableFunc(items, func(a, b agendaItem) int {
			if c := a.start.Compare(b.start); c != 0 {
				return c
			}
			return a.order - b.order
		})
		if len(items) > 0 {
			p.Empty = false
		}
	}
}

// spanLabel prints the part of iv within the day [start, end): "9h00 –
// 12h00", "toute la journée", "jusqu'à 12h00".
func spanLabel(iv rdv.Interval, start, end time.Time, loc *time.Location) string {
	from, to := iv.Start, iv.End
	switch {
	case !from.After(start) && !to.Before(end):
		return "Toute la journée"
	case !from.After(start):
		return "Jusqu'à " + french.Time(to.In(loc))
	case !to.Before(end):
		return "À partir de " + french.Time(from.In(loc))
	}
	return french.Time(from.In(loc)) + " – " + french.Time(to.In(loc))
}
