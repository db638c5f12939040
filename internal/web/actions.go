package web

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/french"
	"rdvsync/internal/rdv"
)

// The actions on an RDV, for the agents of its organisation (cancel, move,
// set the status, edit the context) and for the usager from its link
// (move, cancel). Each is a page that shows what will happen and a form
// that does it: nothing changes on a GET, and every POST carries the
// form's token.

// action is the confirmation page of an action.
type action struct {
	Heading   string
	Intro     string
	Summary   []summaryItem
	Action    string // where the form posts
	CSRF      string
	Hidden    []hiddenField
	Text      *field // a reason or the context
	Submit    string
	Danger    bool // the submit button destroys something (cancel)
	Back      string
	BackLabel string
	Error     string
	ErrorList []fieldError
}

// picker is the slot picker of a move.
type picker struct {
	Heading   string
	Intro     string
	Summary   []summaryItem
	Week      *week
	Back      string
	BackLabel string
}

// rdvSummary is what the confirmation pages recall of the RDV.
func (w *Web) rdvSummary(cat *catalog.Catalog, b *booking.Booked, withUsager bool) []summaryItem {
	x := b.RDV
	out := []summaryItem{}
	place := ""
	if m := cat.Motif(x.MotifID); m != nil {
		out = append(out, summaryItem{Label: "Motif", Value: m.Name + " — " + m.Organisation.Name})
		place = locationLabels[m.LocationType]
	}
	out = append(out, summaryItem{Label: "Date", Value: french.DateTime(w.local(cat, x, x.StartsAt)) + " (" + french.Duration(x.EndsAt.Sub(x.StartsAt)) + ")"})
	if l := cat.Lieu(x.LieuID); l != nil {
		place = l.Name + ", " + l.Address
	}
	if place != "" {
		out = append(out, summaryItem{Label: "Lieu", Value: place})
	}
	if withUsager {
		out = append(out, summaryItem{Label: "Usager", Value: strings.TrimSpace(b.Usager.FirstName + " " + b.Usager.LastName)})
	}
	return out
}

func agentRDVPath(id string) string { return "/agents/rdvs/" + url.PathEscape(id) }

// agentRDVToChange loads the RDV of the path for a signed-in agent who may
// act on it; otherwise it answers (sign-in, 404) and returns nil.
func (w *Web) agentRDVToChange(rw http.ResponseWriter, r *http.Request, c *reqCtx) *booking.Booked {
	if !requireAgent(rw, r, c, r.URL.RequestURI()) {
		return nil
	}
	b, err := w.booking.Get(r.Context(), booking.Caller{Agent: c.agent}, r.PathValue("id"))
	if err == nil && !w.booking.MayChange(c.agent, b.RDV) {
		err = rdv.ErrForbidden
	}
	if errors.Is(err, rdv.ErrNotFound) || errors.Is(err, rdv.ErrForbidden) || errors.Is(err, rdv.ErrUnauthenticated) {
		w.notFound(rw, r, c)
		return nil
	}
	if err != nil {
		w.internalError(rw, r, c, err)
		return nil
	}
	return b
}

// agentActionFailed answers an error of booking on an agent action that
// no field explains.
func (w *Web) agentActionFailed(rw http.ResponseWriter, r *http.Request, c *reqCtx, b *booking.Booked, err error) {
	back := " Revenez à la page du rendez-vous : elle montre son état actuel."
	switch {
	case errors.Is(err, booking.ErrAlreadyCancelled):
		w.renderError(rw, r, c, http.StatusConflict, "Rendez-vous déjà annulé", "Ce rendez-vous a été annulé entre-temps."+back)
	case errors.Is(err, rdv.ErrSlotUnavailable):
		w.renderError(rw, r, c, http.StatusConflict, "Créneau indisponible",
			"Ce créneau vient d'être pris, ou l'heure de ce rendez-vous a été réservée depuis son annulation."+back)
	case errors.Is(err, rdv.ErrConflict):
		w.renderError(rw, r, c, http.StatusConflict, "Action impossible", "Ce rendez-vous ne peut pas être modifié ainsi."+back)
	case errors.Is(err, rdv.ErrNotFound), errors.Is(err, rdv.ErrForbidden):
		w.notFound(rw, r, c)
	default:
		w.internalError(rw, r, c, err)
	}
}

// done sends the agent back to the RDV's page, saying what was done.
func done(rw http.ResponseWriter, r *http.Request, id, what string) {
	redirect(rw, r, agentRDVPath(id)+"?fait="+what)
}

// doneMessages are the confirmations shown on the RDV's page after an action.
var doneMessages = map[string]string{
	"annule":   "Le rendez-vous est annulé. L'usager et les agents concernés sont prévenus.",
	"deplace":  "Le rendez-vous est déplacé. L'usager et les agents concernés sont prévenus.",
	"statut":   "Le statut du rendez-vous est enregistré.",
	"contexte": "Le contexte du rendez-vous est enregistré.",
}

func (w *Web) agentCancelPage(c *reqCtx, b *booking.Booked) *action {
	path := agentRDVPath(b.RDV.ID) + "/annuler"
	return &action{Heading: "Annuler le rendez-vous", Summary: w.rdvSummary(c.cat, b, true),
		Intro:  "Le créneau sera libéré. L'usager sera prévenu de l'annulation par le service, par email et SMS s'il en a donné.",
		Action: path, CSRF: w.csrfToken(c.visitor, path),
		Text: &field{ID: "raison", Name: "raison", Label: "Raison de l'annulation", Optional: true,
			Hint: "Gardée avec le rendez-vous, visible des agents (1 000 caractères au plus)"},
		Submit: "Confirmer l'annulation", Danger: true, Back: agentRDVPath(b.RDV.ID), BackLabel: "Ne pas annuler"}
}

func (w *Web) handleAgentCancelForm(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	b := w.agentRDVToChange(rw, r, c)
	if b == nil {
		return
	}
	if b.RDV.Status.Cancelled() {
		redirect(rw, r, agentRDVPath(b.RDV.ID))
		return
	}
	w.render(rw, r, c, http.StatusOK, "action", view{Page: "agent-annuler", Title: "Annuler le rendez-vous", Body: w.agentCancelPage(c, b)})
}

func (w *Web) handleAgentCancel(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	b := w.agentRDVToChange(rw, r, c)
	if b == nil {
		return
	}
	reason := strings.TrimSpace(r.PostForm.Get("raison"))
	_, err := w.booking.Cancel(r.Context(), booking.Caller{Agent: c.agent}, b.RDV.ID, reason)
	var inv *rdv.InvalidError
	if errors.As(err, &inv) {
		a := w.agentCancelPage(c, b)
		a.Text.Value = reason
		w.refusedText(rw, r, c, a, inv.Fields["reason"], "agent-annuler", "Annuler le rendez-vous")
		return
	}
	if err != nil {
		w.agentActionFailed(rw, r, c, b, err)
		return
	}
	done(rw, r, b.RDV.ID, "annule")
}

// refusedText shows the action page a again, 422, with the refusal of its
// text field (a reason, a context) next to the field and in the summary.
func (w *Web) refusedText(rw http.ResponseWriter, r *http.Request, c *reqCtx, a *action, refusal, page, title string) {
	a.Text.Error = sentence(refusal)
	a.ErrorList = []fieldError{{a.Text.ID, a.Text.Label + " : " + a.Text.Error}}
	w.render(rw, r, c, http.StatusUnprocessableEntity, "action", view{Page: page, Title: title, Errors: true, Body: a})
}

// statusActions are the statuses an agent sets from the RDV's page, with
// the words of the button and of the confirmation.
var statusActions = []struct {
	Status        rdv.Status
	Label, Phrase string
}{
	{rdv.StatusSeen, "Vu", "L'usager est venu au rendez-vous (« Vu »)."},
	{rdv.StatusNoShow, "Absent", "L'usager n'est pas venu et n'a pas prévenu (« Absent »)."},
	{rdv.StatusExcused, "Excusé", "L'usager a prévenu qu'il ne viendrait pas (« Excusé ») : le créneau est libéré."},
}

func statusAction(s string) (rdv.Status, string, string, bool) {
	for _, a := range statusActions {
		if string(a.Status) == s {
			return a.Status, a.Label, a.Phrase, true
		}
	}
	return "", "", "", false
}

func (w *Web) handleAgentStatusForm(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	b := w.agentRDVToChange(rw, r, c)
	if b == nil {
		return
	}
	st, label, phrase, ok := statusAction(r.URL.Query().Get("statut"))
	if !ok {
		w.notFound(rw, r, c)
		return
	}
	path := agentRDVPath(b.RDV.ID) + "/statut"
	a := &action{Heading: "Marquer le rendez-vous « " + label + " »", Summary: w.rdvSummary(c.cat, b, true), Intro: phrase,
		Action: path, CSRF: w.csrfToken(c.visitor, path), Hidden: []hiddenField{{"statut", string(st)}},
		Submit: "Confirmer : " + label, Back: agentRDVPath(b.RDV.ID), BackLabel: "Revenir au rendez-vous"}
	w.render(rw, r, c, http.StatusOK, "action", view{Page: "agent-statut", Title: a.Heading, Body: a})
}

func (w *Web) handleAgentStatus(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	b := w.agentRDVToChange(rw, r, c)
	if b == nil {
		return
	}
	st, _, _, ok := statusAction(r.PostForm.Get("statut"))
	if !ok {
		w.renderError(rw, r, c, http.StatusUnprocessableEntity, "Statut inconnu", "Choisissez un statut depuis la page du rendez-vous.")
		return
	}
	if _, err := w.booking.SetStatus(r.Context(), c.agent, b.RDV.ID, st); err != nil {
		w.agentActionFailed(rw, r, c, b, err)
		return
	}
	done(rw, r, b.RDV.ID, "statut")
}

func (w *Web) agentContextPage(c *reqCtx, b *booking.Booked, text string) *action {
	path := agentRDVPath(b.RDV.ID) + "/contexte"
	return &action{Heading: "Modifier le contexte", Summary: w.rdvSummary(c.cat, b, true),
		Intro:  "Le contexte est visible des agents de l'organisation et de l'agent qui a pris le rendez-vous, jamais de l'usager.",
		Action: path, CSRF: w.csrfToken(c.visitor, path),
		Text: &field{ID: "contexte", Name: "contexte", Label: "Contexte", Optional: true, Value: text,
			Hint: "Le contexte de l'orientation et ce qu'il faut savoir avant le rendez-vous (2 000 caractères au plus)"},
		Submit: "Enregistrer le contexte", Back: agentRDVPath(b.RDV.ID), BackLabel: "Annuler la modification"}
}

func (w *Web) handleAgentContextForm(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	b := w.agentRDVToChange(rw, r, c)
	if b == nil {
		return
	}
	w.render(rw, r, c, http.StatusOK, "action", view{Page: "agent-contexte", Title: "Modifier le contexte",
		Body: w.agentContextPage(c, b, b.RDV.Context)})
}

func (w *Web) handleAgentContext(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	b := w.agentRDVToChange(rw, r, c)
	if b == nil {
		return
	}
	text := strings.TrimSpace(r.PostForm.Get("contexte"))
	_, err := w.booking.SetContext(r.Context(), c.agent, b.RDV.ID, text)
	var inv *rdv.InvalidError
	if errors.As(err, &inv) {
		w.refusedText(rw, r, c, w.agentContextPage(c, b, text), inv.Fields["context"], "agent-contexte", "Modifier le contexte")
		return
	}
	if err != nil {
		w.agentActionFailed(rw, r, c, b, err)
		return
	}
	done(rw, r, b.RDV.ID, "contexte")
}

// moveQuery is the slot picker of a move: the RDV's motif and lieu, from
// the week of date.
func (w *Web) moveQuery(c *reqCtx, b *booking.Booked, caller booking.Caller, date string, base string) (weekQuery, bool) {
	x := b.RDV
	m := c.cat.Motif(x.MotifID)
	if m == nil {
		return weekQuery{}, false
	}
	loc := m.Organisation.Location
	today := rdv.DateOf(w.now().In(loc))
	first := today
	if d, err := rdv.ParseDate(date); err == nil && d > today {
		first = d
	}
	req := booking.SlotsRequest{MotifID: m.ID, LieuID: x.LieuID}
	if caller.Agent == nil {
		// The public view, in the usager's sector, as when it was booked.
		req.PostalCode, req.CityCode = b.Usager.PostalCode, b.Usager.CityCode
	}
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	var skip time.Time
	if x.Active() {
		skip = x.StartsAt // moving to the same time is no move
	}
	return weekQuery{caller: caller, req: req, lieu: c.cat.Lieu(x.LieuID), first: first, today: today,
		last: lastDay(m, w.now(), caller), skip: skip,
		weekURL: func(d rdv.Date) string { return base + sep + "date=" + d.String() },
		slotURL: func(t time.Time) string {
			return base + sep + "date=" + rdv.DateOf(t).String() + "&creneau=" + url.QueryEscape(t.Format(time.RFC3339))
		},
	}, true
}

func (w *Web) handleAgentMoveForm(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	b := w.agentRDVToChange(rw, r, c)
	if b == nil {
		return
	}
	if b.RDV.Status.Cancelled() {
		redirect(rw, r, agentRDVPath(b.RDV.ID))
		return
	}
	path := agentRDVPath(b.RDV.ID) + "/deplacer"
	w.slotStep(rw, r, c, b, slotStep{caller: booking.Caller{Agent: c.agent}, base: path, post: path, back: agentRDVPath(b.RDV.ID),
		page: "deplacer", heading: "Déplacer le rendez-vous", submit: "Confirmer le déplacement",
		intro: "Choisissez le nouveau créneau : le rendez-vous garde son motif et son lieu."})
}

// slotStep is a créneau to choose for an existing RDV: the agent's and
// the usager's move, the usager's new booking after a cancellation.
type slotStep struct {
	caller           booking.Caller // who searches the créneaux
	base, post, back string         // the picker's URL, the form's action, the RDV's page
	hidden           []hiddenField  // what the form carries besides the créneau
	page             string         // data-page of the picker; the confirmation adds "-confirmation"
	heading, intro   string
	submit           string
}

// slotStep shows the slot picker, or the confirmation of the chosen
// créneau (creneau=…).
func (w *Web) slotStep(rw http.ResponseWriter, r *http.Request, c *reqCtx, b *booking.Booked, st slotStep) {
	q := r.URL.Query()
	wq, ok := w.moveQuery(c, b, st.caller, q.Get("date"), st.base)
	if !ok {
		w.renderError(rw, r, c, http.StatusConflict, "Action impossible",
			"Le motif de ce rendez-vous n'est plus proposé : choisir un autre créneau en ligne n'est pas possible.")
		return
	}
	summary := w.rdvSummary(c.cat, b, st.caller.Agent != nil)
	if t, err := time.Parse(time.RFC3339, q.Get("creneau")); err == nil {
		loc := c.cat.Motif(b.RDV.MotifID).Organisation.Location
		a := &action{Heading: st.heading, Summary: summary,
			Intro:  "Nouveau créneau : " + french.DateTime(t.In(loc)) + ".",
			Action: st.post, CSRF: w.csrfToken(c.visitor, st.post),
			Hidden: append(st.hidden, hiddenField{"creneau", t.Format(time.RFC3339)}),
			Submit: st.submit, Back: wq.weekURL(rdv.DateOf(t.In(loc))), BackLabel: "Choisir un autre créneau"}
		w.render(rw, r, c, http.StatusOK, "action", view{Page: st.page + "-confirmation", Title: st.heading, Body: a})
		return
	}
	wk, err := w.slotWeek(r.Context(), wq)
	if err != nil {
		w.internalError(rw, r, c, err)
		return
	}
	p := &picker{Heading: st.heading, Intro: st.intro, Summary: summary, Week: wk, Back: st.back, BackLabel: "Revenir au rendez-vous"}
	if q.Get("indisponible") == "1" {
		p.Intro = "Ce créneau vient d'être pris : choisissez-en un autre."
	}
	w.render(rw, r, c, http.StatusOK, "picker", view{Page: st.page, Title: st.heading, Body: p})
}

func (w *Web) handleAgentMove(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	b := w.agentRDVToChange(rw, r, c)
	if b == nil {
		return
	}
	start := r.PostForm.Get("creneau")
	_, err := w.booking.Move(r.Context(), booking.Caller{Agent: c.agent}, b.RDV.ID, booking.MoveRequest{StartsAt: start})
	var inv *rdv.InvalidError
	switch {
	case err == nil:
		done(rw, r, b.RDV.ID, "deplace")
	case errors.Is(err, rdv.ErrSlotUnavailable), errors.As(err, &inv):
		redirect(rw, r, agentRDVPath(b.RDV.ID)+"/deplacer?indisponible=1")
	default:
		w.agentActionFailed(rw, r, c, b, err)
	}
}
