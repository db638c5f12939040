package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
	"rdvsync/internal/sector"
	"rdvsync/internal/slots"
)

// selection is what the visitor has chosen so far. It travels in the
// query string of every step (and in hidden fields of the forms), so the
// back button and a copied link both work.
type selection struct {
	Prescripteur bool   // prescripteur=1: the prescripteur link
	Org          string // the organisation link /org/{id}
	// Agent (agent=1) is "Trouver un RDV" of a signed-in agent: the motifs
	// of its organisations, agents-only ones included; with Elargir
	// (elargir=1) the prescription-open motifs of its territories, for the
	// usager's address.
	Agent, Elargir bool
	Adresse        string // street
	CodePostal     string
	Commune        string
	CodeINSEE      string
	Service        string
	Motif          string
	Lieu           string
	Date           string // first day of the week of créneaux shown, YYYY-MM-DD
	Creneau        string // the chosen start, RFC 3339 with the organisation's offset
}

// selectionKeys are the query parameters of a selection, in URL order.
var selectionKeys = []string{"prescripteur", "org", "agent", "elargir", "adresse", "code_postal", "commune", "code_insee",
	"service", "motif", "lieu", "date", "creneau"}

func selectionFrom(q url.Values) selection {
	get := func(k string) string { return strings.TrimSpace(q.Get(k)) }
	return selection{Prescripteur: get("prescripteur") == "1", Org: get("org"), Agent: get("agent") == "1", Elargir: get("elargir") == "1",
		Adresse: get("adresse"), CodePostal: get("code_postal"), Commune: get("commune"), CodeINSEE: strings.ToUpper(get("code_insee")),
		Service: get("service"), Motif: get("motif"), Lieu: get("lieu"), Date: get("date"), Creneau: get("creneau")}
}

func (s selection) values() []string {
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return ""
	}
	return []string{flag(s.Prescripteur), s.Org, flag(s.Agent), flag(s.Elargir), s.Adresse, s.CodePostal, s.Commune, s.CodeINSEE,
		s.Service, s.Motif, s.Lieu, s.Date, s.Creneau}
}

// withAddress reports whether the flow starts at the usager's address:
// the prescripteur link and an agent's widened search.
func (s selection) withAddress() bool {
	return s.Org == "" && (!s.Agent || s.Elargir)
}

// hiddenField is a name/value pair carried by a form.
type hiddenField struct{ Name, Value string }

// hidden returns the selection as hidden form fields.
func (s selection) hidden() []hiddenField {
	var out []hiddenField
	for i, v := range s.values() {
		if v != "" {
			out = append(out, hiddenField{selectionKeys[i], v})
		}
	}
	return out
}

// query encodes the non-empty parts of the selection, leaving out skip.
func (s selection) query(skip ...string) string {
	var b strings.Builder
	for i, v := range s.values() {
		if v == "" || slices.Contains(skip, selectionKeys[i]) {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('&')
		}
		b.WriteString(selectionKeys[i])
		b.WriteByte('=')
		b.WriteString(url.QueryEscape(v))
	}
	return b.String()
}

// wizardURL is the URL of the selection's current step: under
// /org/{id} for the organisation link, /prendre_rdv otherwise.
func (s selection) wizardURL(extra ...string) string {
	path, q := "/prendre_rdv", s.query()
	if s.Org != "" {
		path, q = "/org/"+url.PathEscape(s.Org), s.query("org")
	}
	for _, e := range extra {
		if q != "" {
			q += "&"
		}
		q += e
	}
	if q == "" {
		return path
	}
	return path + "?" + q
}

// stepURL is the URL of a step after the créneau (/prendre_rdv/…).
func (s selection) stepURL(path string) string { return path + "?" + s.query() }

// upTo returns the selection as it was before step st was chosen.
func (s selection) upTo(st step) selection {
	out := selection{Prescripteur: s.Prescripteur, Org: s.Org, Agent: s.Agent, Elargir: s.Elargir}
	if st > stepAdresse {
		out.Adresse, out.CodePostal, out.Commune, out.CodeINSEE = s.Adresse, s.CodePostal, s.Commune, s.CodeINSEE
	}
	if st > stepService {
		out.Service = s.Service
	}
	if st > stepMotif {
		out.Motif = s.Motif
	}
	if st > stepLieu {
		out.Lieu = s.Lieu
	}
	if st > stepCreneau {
		out.Date, out.Creneau = s.Date, s.Creneau
	} else if st == stepCreneau {
		out.Date = s.Date
	}
	return out
}

// step is a step of the wizard.
type step int

const (
	stepAdresse step = iota
	stepService
	stepMotif
	stepLieu
	stepCreneau
	stepChosen // a créneau is chosen: who books it
)

// flow is a selection resolved against the catalogue: the first step
// still to choose, and what was chosen before it.
type flow struct {
	sel        selection
	org        *catalog.Organisation // the organisation link's, or nil
	agent      *catalog.Agent        // the agent of "Trouver un RDV", or nil
	address    sector.Address
	match      sector.Match
	service    *catalog.Service
	motif      *catalog.Motif
	lieu       *catalog.Lieu
	start      time.Time // the chosen créneau, in the organisation's zone
	week       rdv.Date  // the first day of the créneaux shown
	today      rdv.Date
	step       step
	addrErrors map[string]string
}

// resolve checks the selection step by step; the first missing or
// invalid choice is the step to show, and what follows it is dropped.
// ok is false when the organisation of the link does not exist.
// editAddress shows the address step again, filled in; addressSent says
// the address form was sent (a missing postal code is then an error).
// agent is the signed-in agent: a selection of "Trouver un RDV" without
// one is not resolved (ok false).
func (w *Web) resolve(cat *catalog.Catalog, sel selection, agent *catalog.Agent, editAddress, addressSent bool) (*flow, bool) {
	f := &flow{sel: sel}
	if sel.Agent {
		if agent == nil {
			return nil, false
		}
		f.agent, f.sel.Org, f.sel.Prescripteur = agent, "", false
	} else {
		f.sel.Elargir = false
	}
	if sel.Org != "" && !sel.Agent {
		if f.org = cat.Organisation(sel.Org); f.org == nil {
			return nil, false
		}
		f.sel.Adresse, f.sel.CodePostal, f.sel.Commune, f.sel.CodeINSEE = "", "", "", ""
	} else if !f.sel.withAddress() {
		f.sel.Adresse, f.sel.CodePostal, f.sel.Commune, f.sel.CodeINSEE = "", "", "", ""
	} else {
		f.sel.Prescripteur = !sel.Agent
		f.addrErrors = checkAddress(&f.sel, addressSent)
		if editAddress || len(f.addrErrors) > 0 || f.sel.CodePostal == "" {
			f.step = stepAdresse
			return f.truncate(), true
		}
		f.address = sector.Address{PostalCode: f.sel.CodePostal, CityCode: f.sel.CodeINSEE}
		if f.address.CityCode == "" {
			f.address.CityCode = cityCode(cat.Config.Communes, f.sel.CodePostal, f.sel.Commune)
		}
		f.match = sector.Locate(cat, f.address)
	}
	f.step = stepService
	if f.service = cat.Service(sel.Service); f.service == nil || len(f.motifs(cat, f.service)) == 0 {
		f.service = nil
		return f.truncate(), true
	}
	f.step = stepMotif
	if f.motif = cat.Motif(sel.Motif); f.motif == nil || !slices.Contains(f.motifs(cat, f.service), f.motif) {
		f.motif = nil
		return f.truncate(), true
	}
	f.step = stepLieu
	if len(f.motif.Lieux) > 0 {
		if f.lieu = cat.Lieu(sel.Lieu); f.lieu == nil || !slices.Contains(f.motif.Lieux, f.lieu) {
			f.lieu = nil
			return f.truncate(), true
		}
	}
	loc := f.motif.Organisation.Location
	f.today = rdv.DateOf(w.now().In(loc))
	f.week = f.today
	if d, err := rdv.ParseDate(sel.Date); err == nil && d > f.today {
		f.week = d
	}
	f.step = stepCreneau
	t, err := time.Parse(time.RFC3339, sel.Creneau)
	if err != nil {
		return f.truncate(), true
	}
	f.start = t.In(loc)
	f.step = stepChosen
	return f.truncate(), true
}

// truncate drops from the selection what comes after the current step.
func (f *flow) truncate() *flow {
	keep := f.sel.upTo(f.step)
	if f.step == stepChosen {
		keep = f.sel
	}
	if f.lieu == nil {
		keep.Lieu = ""
	}
	if f.step >= stepCreneau {
		keep.Date = f.week.String()
	}
	if f.step == stepAdresse {
		// The address form shows what was typed, even when invalid.
		keep.Adresse, keep.CodePostal, keep.Commune, keep.CodeINSEE = f.sel.Adresse, f.sel.CodePostal, f.sel.Commune, f.sel.CodeINSEE
	}
	f.sel = keep
	return f
}

// motifs returns the motifs the visitor may choose for service (all
// services when nil): open to prescripteurs, allowed for the address,
// in the organisation of the link, and offered in a plage of an agent
// who may receive the address (agent-level sectorisation).
//
// An agent's search offers the motifs of its organisations, agents-only
// ones included; widened, the prescription-open motifs of its territories
// allowed for the address.
func (f *flow) motifs(cat *catalog.Catalog, service *catalog.Service) []*catalog.Motif {
	var out []*catalog.Motif
	for _, m := range cat.Motifs {
		if (service != nil && m.Service != service) || (f.org != nil && m.Organisation != f.org) {
			continue
		}
		switch {
		case f.agent != nil && !f.sel.Elargir:
			if !f.agent.MemberOf(m.Organisation) {
				continue
			}
		case !m.BookableBy.OpenToPrescription() || !slots.MayBook(f.agent, m) || !f.match.AllowsMotif(m):
			continue
		}
		if slices.ContainsFunc(m.Plages, func(p *catalog.Plage) bool { return f.match.AllowsAgent(m, p.Agent) }) {
			out = append(out, m)
		}
	}
	return out
}

// slotsRequest is the slot search of the flow's motif and lieu.
func (f *flow) slotsRequest(from, to rdv.Date) booking.SlotsRequest {
	req := booking.SlotsRequest{MotifID: f.motif.ID, CityCode: f.address.CityCode, PostalCode: f.address.PostalCode}
	if f.lieu != nil {
		req.LieuID = f.lieu.ID
	}
	if from != 0 || to != 0 {
		req.From, req.To = from.String(), to.String()
	}
	return req
}

// lastDay is the last day of créneaux offered: the motif's booking delay
// for the public; agents are not bound by it, and see a year ahead.
func (f *flow) lastDay(now time.Time, caller booking.Caller) rdv.Date {
	return lastDay(f.motif, now, caller)
}

func lastDay(m *catalog.Motif, now time.Time, caller booking.Caller) rdv.Date {
	if caller.Agent != nil {
		return rdv.DateOf(now.In(m.Organisation.Location)).AddDays(365)
	}
	return rdv.DateOf(now.Add(m.MaxBookingDelay).In(m.Organisation.Location))
}

// caller is who searches the créneaux: the agent of "Trouver un RDV"
// (agents see every free agent, without the booking delays), or the
// public.
func (f *flow) caller() booking.Caller { return booking.Caller{Agent: f.agent} }

// slotFree re-checks the chosen créneau: it is still among the slots the
// caller may book that day.
func (w *Web) slotFree(ctx context.Context, caller booking.Caller, f *flow) (bool, error) {
	day := rdv.DateOf(f.start)
	found, err := w.booking.Slots(ctx, caller, f.slotsRequest(day, day))
	if err != nil {
		return false, err
	}
	for _, s := range found {
		if s.Start.Equal(f.start) && s.Lieu == f.lieu {
			return true, nil
		}
	}
	return false, nil
}

// slotGone sends the visitor back to the créneaux of its selection.
func slotGone(rw http.ResponseWriter, r *http.Request, f *flow) {
	sel := f.sel
	sel.Creneau = ""
	redirect(rw, r, sel.wizardURL("indisponible=1"))
}

// checkAddress validates the address step; it normalises the fields.
func checkAddress(s *selection, sent bool) map[string]string {
	fe := map[string]string{}
	if !sent {
		return fe
	}
	s.CodePostal = strings.ReplaceAll(s.CodePostal, " ", "")
	switch {
	case s.CodePostal == "":
		fe["code_postal"] = "Indiquez le code postal de l'usager."
	case !isCode(s.CodePostal, false):
		fe["code_postal"] = "Le code postal comporte 5 chiffres, par exemple 62000."
	}
	if s.Commune == "" {
		fe["commune"] = "Indiquez la commune de l'usager."
	} else if len([]rune(s.Commune)) > 100 || hasControl(s.Commune) {
		fe["commune"] = "Ce nom de commune n'est pas valide."
	}
	if len([]rune(s.Adresse)) > 200 || hasControl(s.Adresse) {
		fe["adresse"] = "Cette adresse n'est pas valide."
	}
	if s.CodeINSEE != "" && !isCode(s.CodeINSEE, true) {
		fe["code_insee"] = "Le code INSEE comporte 5 caractères, par exemple 62041 (2A ou 2B pour la Corse)."
	}
	return fe
}

// isCode reports whether s is a 5-character postal or INSEE code (INSEE
// codes of Corsica start with 2A or 2B).
func isCode(s string, insee bool) bool {
	if len(s) != 5 {
		return false
	}
	for i, r := range s {
		if !(r >= '0' && r <= '9') && !(insee && i == 1 && (r == 'A' || r == 'B')) {
			return false
		}
	}
	return true
}
