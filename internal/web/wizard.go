package web

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/french"
	"rdvsync/internal/rdv"
)

// stepTitles are the steps the stepper counts; the organisation link
// starts at "Service".
var stepTitles = []string{"Adresse de l'usager", "Service", "Motif", "Lieu", "Créneau", "Vos coordonnées", "Bénéficiaire", "Récapitulatif"}

// stepNames name the wizard's steps in data-page.
var stepNames = map[step]string{stepAdresse: "adresse", stepService: "service", stepMotif: "motif", stepLieu: "lieu",
	stepCreneau: "creneau", stepChosen: "choix"}

// stepper is the DSFR stepper of a page.
type stepper struct {
	Title   string
	Current int // 1-based
	Count   int
	Next    string
}

// interneTitles are the steps of a prescription interne: the agent books
// on the page where it picks the usager, with no recap after it.
var interneTitles = []string{"Adresse de l'usager", "Service", "Motif", "Lieu", "Créneau", "L'usager"}

// newStepper places page index i of stepTitles in the flow of sel.
func newStepper(sel selection, i int, title string) stepper {
	titles := stepTitles
	if sel.Agent {
		titles = interneTitles
	}
	return placeStep(sel, titles, i, title)
}

// newInterneStepper is the stepper of the prescription interne page, the
// last step.
func newInterneStepper(sel selection, title string) stepper {
	return placeStep(sel, interneTitles, len(interneTitles)-1, title)
}

func placeStep(sel selection, titles []string, i int, title string) stepper {
	if !sel.withAddress() {
		titles, i = titles[1:], i-1
	}
	s := stepper{Title: title, Current: i + 1, Count: len(titles)}
	if i+1 < len(titles) {
		s.Next = titles[i+1]
	}
	return s
}

// summaryItem is one line of "Votre sélection", with a link to change it.
type summaryItem struct {
	Label, Value, EditURL string
}

// summary lists what the flow has chosen before its current step.
func (f *flow) summary(upTo step) []summaryItem {
	var out []summaryItem
	if f.org != nil {
		out = append(out, summaryItem{Label: "Organisation", Value: f.org.Name})
	} else if upTo > stepAdresse && f.sel.withAddress() {
		out = append(out, summaryItem{Label: "Adresse de l'usager", Value: f.addressText(),
			EditURL: f.sel.wizardURL("etape=adresse")})
	}
	if upTo > stepService && f.service != nil {
		out = append(out, summaryItem{Label: "Service", Value: f.service.Name, EditURL: f.sel.upTo(stepService).wizardURL()})
	}
	if upTo > stepMotif && f.motif != nil {
		out = append(out, summaryItem{Label: "Motif", Value: f.motif.Name + " — " + f.motif.Organisation.Name,
			EditURL: f.sel.upTo(stepMotif).wizardURL()})
	}
	if upTo > stepLieu && f.motif != nil {
		v := locationLabels[f.motif.LocationType]
		if f.lieu != nil {
			v = f.lieu.Name + ", " + f.lieu.Address
		}
		item := summaryItem{Label: "Lieu", Value: v}
		if f.lieu != nil {
			item.EditURL = f.sel.upTo(stepLieu).wizardURL()
		}
		out = append(out, item)
	}
	if upTo > stepCreneau && !f.start.IsZero() {
		out = append(out, summaryItem{Label: "Créneau", Value: french.DateTime(f.start) + " (" + french.Duration(f.motif.Duration) + ")",
			EditURL: f.sel.upTo(stepCreneau).wizardURL()})
	}
	return out
}

// addressText is the usager's address on one line.
func (f *flow) addressText() string {
	s := strings.TrimSpace(f.sel.CodePostal + " " + f.sel.Commune)
	if f.sel.Adresse != "" {
		s = f.sel.Adresse + ", " + s
	}
	return s
}

// usagerAddress is the address booked with a new usager.
func (f *flow) usagerAddress() booking.UsagerInput {
	if !f.sel.withAddress() {
		return booking.UsagerInput{}
	}
	return booking.UsagerInput{Address: f.addressText(), PostalCode: f.address.PostalCode, CityCode: f.address.CityCode}
}

// choice is a tile of the service, motif and lieu steps.
type choice struct {
	Title, Desc, Detail, URL string
}

// wizardBody is the body of the selection steps.
type wizardBody struct {
	Stepper     stepper
	Summary     []summaryItem
	Restart     string // change the address, when nothing is offered for it
	Address     *addressForm
	Choices     []choice
	Empty       string // the message when there is nothing to choose
	Week        *week
	Unavailable bool
	Chosen      *chosen
	Widen       string // an agent's search: widen it to the territory
}

type addressForm struct {
	Hidden                                  []hiddenField
	Adresse, CodePostal, Commune, CodeINSEE field
	ErrorList                               []fieldError
}

// fieldError links the error summary to a field.
type fieldError struct{ ID, Message string }

// week is the créneau step: seven days of slots.
type week struct {
	Label            string
	Days             []day
	Empty            bool
	PrevURL, NextURL string
	NextAvailable    string
	NextAvailableURL string
}

type day struct {
	Label string
	Slots []slotLink
}

type slotLink struct{ Label, Hidden, URL string }

// chosen is the page after the créneau: who books it.
type chosen struct {
	PrescripteurURL string
	InterneURL      string // for a signed-in agent
	LoginURL        string
}

// handleFind is "Trouver un RDV" of the agent's space.
func (w *Web) handleFind(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	if !requireAgent(rw, r, c, "/agents/trouver") {
		return
	}
	redirect(rw, r, selection{Agent: true}.wizardURL())
}

func (w *Web) handleWizard(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	q := r.URL.Query()
	sel := selectionFrom(q)
	sel.Org = r.PathValue("organisation_id")
	if sel.Agent && !requireAgent(rw, r, c, r.URL.RequestURI()) {
		return
	}
	f, ok := w.resolve(c.cat, sel, c.agent, q.Get("etape") == "adresse", q.Has("code_postal"))
	if !ok {
		w.notFound(rw, r, c)
		return
	}
	b := wizardBody{Summary: f.summary(f.step)}
	if f.agent != nil && !f.sel.Elargir && f.step < stepChosen {
		// "Pas de créneau qui convienne ?": the territory's motifs open to
		// prescription, from the usager's address.
		b.Widen = selection{Agent: true, Elargir: true}.wizardURL()
	}
	ctx := r.Context()
	title := ""
	switch f.step {
	case stepAdresse:
		title = "Adresse de l'usager"
		b.Address = w.addressForm(f)
	case stepService:
		title = "Choisissez un service"
		for _, s := range c.cat.Services {
			if n := len(f.motifs(c.cat, s)); n > 0 {
				sel := f.sel
				sel.Service = s.ID
				detail := plural(n, "motif", "motifs") + " ouvert" + pluralS(n) + " à la prescription"
				if f.agent != nil && !f.sel.Elargir {
					detail = plural(n, "motif", "motifs") + " de vos organisations"
				}
				b.Choices = append(b.Choices, choice{Title: s.Name, Detail: detail, URL: sel.wizardURL()})
			}
		}
		b.Empty = "Cette organisation ne propose pas de rendez-vous par prescription en ligne."
		switch {
		case f.agent != nil && !f.sel.Elargir:
			b.Empty = "Vos organisations ne proposent aucun motif avec des plages d'ouverture."
		case f.org == nil:
			b.Empty = "Aucun service ne propose de rendez-vous par prescription pour cette adresse."
			b.Restart = f.sel.wizardURL("etape=adresse")
		}
	case stepMotif:
		title = "Choisissez un motif"
		for _, m := range f.motifs(c.cat, f.service) {
			sel := f.sel
			sel.Motif = m.ID
			b.Choices = append(b.Choices, choice{Title: m.Name, Desc: m.Organisation.Name,
				Detail: locationLabels[m.LocationType] + " · " + french.Duration(m.Duration), URL: sel.wizardURL()})
		}
	case stepLieu:
		title = "Choisissez un lieu"
		for _, l := range f.motif.Lieux {
			sel := f.sel
			sel.Lieu = l.ID
			f.lieu = l
			next, found, err := w.booking.NextSlot(ctx, f.caller(), f.slotsRequest(0, 0))
			if err != nil {
				w.internalError(rw, r, c, err)
				return
			}
			detail := "Pas de disponibilité en ligne pour le moment"
			if found {
				detail = "Prochaine disponibilité : " + french.DateTime(next.Start)
				sel.Date = rdv.DateOf(next.Start).String()
			}
			b.Choices = append(b.Choices, choice{Title: l.Name, Desc: l.Address, Detail: detail, URL: sel.wizardURL()})
		}
		f.lieu = nil
	case stepCreneau:
		title = "Choisissez un créneau"
		wk, err := w.week(r, f, f.caller())
		if err != nil {
			w.internalError(rw, r, c, err)
			return
		}
		b.Week = wk
		b.Unavailable = q.Get("indisponible") == "1"
	case stepChosen:
		if f.agent != nil {
			// An agent's search ends in prescription interne.
			redirect(rw, r, f.sel.stepURL("/prendre_rdv/prescription_interne"))
			return
		}
		free, err := w.slotFree(ctx, booking.Caller{}, f)
		if err != nil {
			w.internalError(rw, r, c, err)
			return
		}
		if !free {
			slotGone(rw, r, f)
			return
		}
		title = "Qui prend ce rendez-vous ?"
		b.Chosen = &chosen{PrescripteurURL: f.sel.stepURL("/prendre_rdv/prescripteur")}
		if c.agent != nil {
			b.Chosen.InterneURL = f.sel.stepURL("/prendre_rdv/prescription_interne")
		} else {
			b.Chosen.LoginURL = "/agents/connexion?retour=" + url.QueryEscape(f.sel.wizardURL())
		}
	}
	b.Stepper = newStepper(f.sel, min(int(f.step), 5), title)
	status := http.StatusOK
	if b.Address != nil && len(b.Address.ErrorList) > 0 {
		status = http.StatusUnprocessableEntity
	}
	w.render(rw, r, c, status, "wizard", view{Page: "wizard-" + stepNames[f.step], Title: title, Errors: status != http.StatusOK, Body: b})
}

func (w *Web) addressForm(f *flow) *addressForm {
	fe := f.addrErrors
	hidden := []hiddenField{{"prescripteur", "1"}}
	if f.agent != nil {
		hidden = []hiddenField{{"agent", "1"}, {"elargir", "1"}}
	}
	a := &addressForm{
		Hidden: hidden,
		Adresse: field{ID: "adresse", Name: "adresse", Label: "Numéro et voie", Optional: true, Value: f.sel.Adresse,
			Autocomplete: "address-line1", Hint: "Par exemple : 3 rue Ronville", Error: fe["adresse"]},
		CodePostal: field{ID: "code_postal", Name: "code_postal", Label: "Code postal", Value: f.sel.CodePostal,
			Autocomplete: "postal-code", Inputmode: "numeric", Hint: "5 chiffres, par exemple 62000", Error: fe["code_postal"]},
		Commune: field{ID: "commune", Name: "commune", Label: "Commune", Value: f.sel.Commune,
			Autocomplete: "address-level2", Error: fe["commune"]},
		CodeINSEE: field{ID: "code_insee", Name: "code_insee", Label: "Code INSEE de la commune", Optional: true, Value: f.sel.CodeINSEE,
			Hint: "Si vous le connaissez ; il précise le secteur quand plusieurs communes partagent un code postal", Error: fe["code_insee"]},
	}
	for _, x := range []*field{&a.Adresse, &a.CodePostal, &a.Commune, &a.CodeINSEE} {
		if x.Error != "" {
			a.ErrorList = append(a.ErrorList, fieldError{x.ID, x.Label + " : " + x.Error})
		}
	}
	return a
}

// week lists the créneaux of the seven days from f.week, with links to
// the weeks around it and to the next availability when it is empty.
func (w *Web) week(r *http.Request, f *flow, caller booking.Caller) (*week, error) {
	return w.slotWeek(r.Context(), weekQuery{
		caller: caller, req: f.slotsRequest(0, 0), lieu: f.lieu, first: f.week, today: f.today,
		last: f.lastDay(w.now(), caller),
		weekURL: func(d rdv.Date) string {
			sel := f.sel
			sel.Date = d.String()
			return sel.wizardURL()
		},
		slotURL: func(t time.Time) string {
			sel := f.sel
			sel.Creneau = t.Format(time.RFC3339)
			return sel.wizardURL()
		},
	})
}

// weekQuery is a week of créneaux to show: the wizard's, and the slot
// picker of a move.
type weekQuery struct {
	caller      booking.Caller
	req         booking.SlotsRequest // the motif, lieu and address; the days are set here
	lieu        *catalog.Lieu        // only the créneaux at this lieu (nil: a motif without lieu)
	first       rdv.Date             // the first day shown
	today, last rdv.Date             // the days that may be shown
	skip        time.Time            // a start not to offer (the RDV being moved)
	weekURL     func(rdv.Date) string
	slotURL     func(time.Time) string
}

// slotWeek lists the créneaux of the seven days from q.first, one link
// per start (an agent's search returns one slot per free agent), with
// links to the weeks around it and to the next availability when empty.
func (w *Web) slotWeek(ctx context.Context, q weekQuery) (*week, error) {
	last := q.first.AddDays(6)
	req := q.req
	req.From, req.To = q.first.String(), last.String()
	found, err := w.booking.Slots(ctx, q.caller, req)
	if err != nil {
		return nil, err
	}
	wk := &week{Label: "Du " + french.Day(q.first) + " au " + french.Day(last)}
	byDay := map[rdv.Date][]slotLink{}
	seen := map[int64]bool{}
	for _, s := range found {
		if s.Lieu != q.lieu || seen[s.Start.Unix()] || s.Start.Equal(q.skip) {
			continue
		}
		seen[s.Start.Unix()] = true
		d := rdv.DateOf(s.Start)
		byDay[d] = append(byDay[d], slotLink{Label: french.Time(s.Start), Hidden: " le " + french.Day(d), URL: q.slotURL(s.Start)})
	}
	for d := q.first; d <= last; d++ {
		wk.Days = append(wk.Days, day{Label: french.Day(d), Slots: byDay[d]})
	}
	if q.first > q.today {
		wk.PrevURL = q.weekURL(max(q.today, q.first.AddDays(-7)))
	}
	if q.first.AddDays(7) <= q.last {
		wk.NextURL = q.weekURL(q.first.AddDays(7))
	}
	if wk.Empty = len(byDay) == 0; wk.Empty {
		req.From, req.To = "", ""
		next, ok, err := w.booking.NextSlot(ctx, q.caller, req)
		if err != nil {
			return nil, err
		}
		if ok && !next.Start.Equal(q.skip) {
			wk.NextAvailable = french.DateTime(next.Start)
			wk.NextAvailableURL = q.weekURL(rdv.DateOf(next.Start))
		}
	}
	return wk, nil
}

func plural(n int, one, many string) string {
	if n > 1 {
		return fmt.Sprintf("%d %s", n, many)
	}
	return fmt.Sprintf("%d %s", n, one)
}

func pluralS(n int) string {
	if n > 1 {
		return "s"
	}
	return ""
}

// field is one input of a form, as the "input" template draws it.
type field struct {
	ID, Name, Label, Hint, Value, Error string
	Type                                string // default text
	Autocomplete, Inputmode             string
	Optional                            bool
	Recommended                         bool   // optional, but say "fortement recommandé"
	Warning                             string // a permanent notice under the field
}
