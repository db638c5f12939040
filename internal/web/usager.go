package web

import (
	"bytes"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"

	"rdvsync/caldav"
	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/french"
	"rdvsync/internal/rdv"
)

// usagerRDV is the usager's page of its RDV.
type usagerRDV struct {
	Name, When, Duration, Motif, Organisation, Place, PlaceAddress, Instructions string
	OrgPhone, OrgEmail                                                           string
	OrgPhoneHref                                                                 template.URL
	Status                                                                       string
	Cancelled, JustCancelled, JustMoved, JustBooked                              bool
	ICSURL                                                                       string
	CanChange, CanMove                                                           bool
	NoChange                                                                     string // why it cannot be moved or cancelled online
	MoveURL, CancelURL                                                           string
	RebookURL                                                                    string // after a cancellation, for a motif the usager books itself
	Contact                                                                      string // "contactez MDS Arras au 03 21 00 00 00"
	Error                                                                        string
}

// usagerBooked returns the RDV of the usager's link, or false after
// answering 404: a wrong token and an unknown id look the same.
func (w *Web) usagerBooked(rw http.ResponseWriter, r *http.Request, c *reqCtx, token string) (*booking.Booked, bool) {
	if token == "" {
		w.notFound(rw, r, c)
		return nil, false
	}
	if w.authBlocked(rw, r, c) {
		return nil, false
	}
	b, err := w.booking.Get(r.Context(), booking.Caller{UsagerToken: token}, r.PathValue("id"))
	if errors.Is(err, rdv.ErrNotFound) || errors.Is(err, rdv.ErrUnauthenticated) || errors.Is(err, rdv.ErrForbidden) {
		w.authFailed(r, c)
		w.notFound(rw, r, c)
		return nil, false
	}
	if err != nil {
		w.internalError(rw, r, c, err)
		return nil, false
	}
	return b, true
}

// usagerLink is the path of the usager's page of x, with its token, and
// more query parameters.
func usagerLink(x *rdv.RDV, token string, more ...string) string {
	u := "/rdv/" + url.PathEscape(x.ID) + "?token=" + url.QueryEscape(token)
	for _, m := range more {
		u += "&" + m
	}
	return u
}

func (w *Web) usagerPage(c *reqCtx, b *booking.Booked, token string) *usagerRDV {
	x := b.RDV
	id := url.PathEscape(x.ID)
	tok := "?token=" + url.QueryEscape(token)
	v := &usagerRDV{Name: b.Usager.FirstName + " " + b.Usager.LastName, When: french.DateTime(w.local(c.cat, x, x.StartsAt)),
		Duration: french.Duration(x.EndsAt.Sub(x.StartsAt)), Motif: x.MotifID, Status: statusLabels[x.Status],
		Cancelled: x.Status.Cancelled(), ICSURL: "/rdv/" + id + "/rdv.ics" + tok,
		MoveURL: "/rdv/" + id + "/deplacement" + tok, CancelURL: "/rdv/" + id + "/annulation" + tok}
	m := c.cat.Motif(x.MotifID)
	var org *catalog.Organisation
	if m != nil {
		v.Motif, v.Place = m.Name, locationLabels[m.LocationType]
		org = m.Organisation
		if !v.Cancelled {
			// What to bring matters only to who is coming.
			v.Instructions = m.Instructions
		}
	} else {
		org = c.cat.Organisation(x.OrganisationID)
	}
	if org != nil {
		v.Organisation, v.OrgPhone, v.OrgEmail = org.Name, french.Phone(org.Phone), org.Email
		v.OrgPhoneHref = telHref(org.Phone)
	}
	if l := c.cat.Lieu(x.LieuID); l != nil {
		v.Place, v.PlaceAddress = l.Name, l.Address
	}
	v.Contact = "contactez " + v.Organisation
	if v.OrgPhone != "" {
		v.Contact += " au " + v.OrgPhone
	}
	now := w.now()
	switch {
	case v.Cancelled:
		if m != nil && m.BookableBy == rdv.BookableByEveryone {
			v.RebookURL = "/rdv/" + id + "/nouveau" + tok
		}
	case !x.StartsAt.After(now):
		v.NoChange = "Ce rendez-vous est passé."
	case m != nil && !m.CancellableByUsager:
		v.NoChange = "Ce rendez-vous ne peut être ni déplacé ni annulé en ligne. Pour le déplacer ou l'annuler, " + v.Contact + "."
	case x.StartsAt.Sub(now) < booking.UsagerCancelLimit:
		v.NoChange = "Il n'est plus possible de déplacer ou d'annuler ce rendez-vous en ligne moins de 4 heures avant son début. " +
			"Pour prévenir de votre absence, " + v.Contact + "."
	default:
		v.CanChange = true
		v.CanMove = m != nil && m.UsagerMayMove()
	}
	return v
}

func (w *Web) handleUsagerRDV(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	token := r.URL.Query().Get("token")
	b, ok := w.usagerBooked(rw, r, c, token)
	if !ok {
		return
	}
	v := w.usagerPage(c, b, token)
	q := r.URL.Query()
	v.JustCancelled = q.Get("annule") == "1" && v.Cancelled
	v.JustMoved = q.Get("deplace") == "1" && !v.Cancelled
	v.JustBooked = q.Get("pris") == "1" && !v.Cancelled
	w.render(rw, r, c, http.StatusOK, "usager_rdv", view{Title: "Votre rendez-vous", Body: v})
}

// usagerToChange loads the RDV of the usager's link for a move or a
// cancellation; a cancelled RDV, or one past the limits, sends the usager
// back to its page, which says why.
func (w *Web) usagerToChange(rw http.ResponseWriter, r *http.Request, c *reqCtx, token string) (*booking.Booked, bool) {
	return w.usagerMay(rw, r, c, token, func(v *usagerRDV) bool { return v.CanChange })
}

// usagerToMove is usagerToChange for a move.
func (w *Web) usagerToMove(rw http.ResponseWriter, r *http.Request, c *reqCtx, token string) (*booking.Booked, bool) {
	return w.usagerMay(rw, r, c, token, func(v *usagerRDV) bool { return v.CanMove })
}

// usagerMay loads the RDV of the usager's link when its page allows the
// action; otherwise it sends the usager back to its page.
func (w *Web) usagerMay(rw http.ResponseWriter, r *http.Request, c *reqCtx, token string, allowed func(*usagerRDV) bool) (*booking.Booked, bool) {
	b, ok := w.usagerBooked(rw, r, c, token)
	if !ok {
		return nil, false
	}
	if !allowed(w.usagerPage(c, b, token)) {
		redirect(rw, r, usagerLink(b.RDV, token))
		return nil, false
	}
	return b, true
}

func (w *Web) usagerCancelPage(c *reqCtx, b *booking.Booked, token string) *action {
	path := "/rdv/" + url.PathEscape(b.RDV.ID) + "/annulation"
	return &action{Heading: "Annuler le rendez-vous", Summary: w.rdvSummary(c.cat, b, false),
		Intro:  "Si vous ne pouvez pas venir, annulez-le : le créneau sera proposé à quelqu'un d'autre.",
		Action: path, CSRF: w.csrfToken(c.visitor, path), Hidden: []hiddenField{{"token", token}},
		Text: &field{ID: "motif-annulation", Name: "raison", Label: "Raison de l'annulation", Optional: true,
			Hint: "Elle sera transmise au service."},
		Submit: "Confirmer l'annulation", Danger: true, Back: usagerLink(b.RDV, token), BackLabel: "Ne pas annuler"}
}

func (w *Web) handleUsagerCancelForm(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	token := r.URL.Query().Get("token")
	b, ok := w.usagerToChange(rw, r, c, token)
	if !ok {
		return
	}
	w.render(rw, r, c, http.StatusOK, "action", view{Page: "usager-annuler", Title: "Annuler le rendez-vous", Body: w.usagerCancelPage(c, b, token)})
}

func (w *Web) handleUsagerMoveForm(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	token := r.URL.Query().Get("token")
	b, ok := w.usagerToMove(rw, r, c, token)
	if !ok {
		return
	}
	path := "/rdv/" + url.PathEscape(b.RDV.ID) + "/deplacement"
	w.slotStep(rw, r, c, b, slotStep{caller: booking.Caller{}, base: path + "?token=" + url.QueryEscape(token), post: path,
		back: usagerLink(b.RDV, token), hidden: []hiddenField{{"token", token}}, page: "usager-deplacer",
		heading: "Déplacer le rendez-vous", submit: "Confirmer le déplacement",
		intro: "Choisissez le nouveau créneau : le rendez-vous garde son motif et son lieu. Le service sera prévenu."})
}

func (w *Web) handleUsagerMove(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	token := r.PostForm.Get("token")
	b, ok := w.usagerToMove(rw, r, c, token)
	if !ok {
		return
	}
	_, err := w.booking.Move(r.Context(), booking.Caller{UsagerToken: token}, b.RDV.ID, booking.MoveRequest{StartsAt: r.PostForm.Get("creneau")})
	var inv *rdv.InvalidError
	switch {
	case err == nil:
		redirect(rw, r, usagerLink(b.RDV, token, "deplace=1"))
	case errors.Is(err, rdv.ErrSlotUnavailable), errors.As(err, &inv):
		redirect(rw, r, "/rdv/"+url.PathEscape(b.RDV.ID)+"/deplacement?token="+url.QueryEscape(token)+"&indisponible=1")
	case errors.Is(err, booking.ErrAlreadyCancelled), errors.Is(err, booking.ErrTooLate), errors.Is(err, booking.ErrNotCancellable):
		redirect(rw, r, usagerLink(b.RDV, token))
	default:
		w.internalError(rw, r, c, err)
	}
}

// rebookable returns the cancelled RDV of the usager's link when its motif
// is one the usager books itself; otherwise it sends it back to its page.
func (w *Web) rebookable(rw http.ResponseWriter, r *http.Request, c *reqCtx, token string) (*booking.Booked, bool) {
	return w.usagerMay(rw, r, c, token, func(v *usagerRDV) bool { return v.RebookURL != "" })
}

func (w *Web) handleRebookForm(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	token := r.URL.Query().Get("token")
	b, ok := w.rebookable(rw, r, c, token)
	if !ok {
		return
	}
	path := "/rdv/" + url.PathEscape(b.RDV.ID) + "/nouveau"
	w.slotStep(rw, r, c, b, slotStep{caller: booking.Caller{}, base: path + "?token=" + url.QueryEscape(token), post: path,
		back: usagerLink(b.RDV, token), hidden: []hiddenField{{"token", token}, {"cle", randomID()}}, page: "usager-nouveau",
		heading: "Prendre un nouveau rendez-vous", submit: "Confirmer le rendez-vous",
		intro: "Choisissez un créneau pour le même motif, au même lieu. Vous recevrez une confirmation comme la première fois."})
}

func (w *Web) handleRebook(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	token := r.PostForm.Get("token")
	b, ok := w.rebookable(rw, r, c, token)
	if !ok {
		return
	}
	u := b.Usager
	req := booking.BookRequest{MotifID: b.RDV.MotifID, LieuID: b.RDV.LieuID, StartsAt: r.PostForm.Get("creneau"),
		Usager: &booking.UsagerInput{FirstName: u.FirstName, LastName: u.LastName, Email: u.Email, PhoneNumber: u.PhoneNumber,
			Address: u.Address, PostalCode: u.PostalCode, CityCode: u.CityCode, BirthDate: u.BirthDate}}
	nb, err := w.booking.Book(r.Context(), booking.Caller{}, req, idempotency(r.PostForm.Get("cle"), req))
	var inv *rdv.InvalidError
	switch {
	case err == nil:
		redirect(rw, r, usagerLink(nb.RDV, nb.RDV.UsagerToken, "pris=1"))
	case errors.Is(err, rdv.ErrSlotUnavailable), errors.As(err, &inv) && inv.Fields["starts_at"] != "":
		redirect(rw, r, "/rdv/"+url.PathEscape(b.RDV.ID)+"/nouveau?token="+url.QueryEscape(token)+"&indisponible=1")
	default:
		w.internalError(rw, r, c, err)
	}
}

func (w *Web) handleUsagerCancel(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	token := r.PostForm.Get("token")
	b, ok := w.usagerBooked(rw, r, c, token)
	if !ok {
		return
	}
	reason := strings.TrimSpace(r.PostForm.Get("raison"))
	_, err := w.booking.Cancel(r.Context(), booking.Caller{UsagerToken: token}, b.RDV.ID, reason)
	if err == nil {
		redirect(rw, r, usagerLink(b.RDV, token, "annule=1"))
		return
	}
	var inv *rdv.InvalidError
	if errors.As(err, &inv) {
		a := w.usagerCancelPage(c, b, token)
		a.Text.Value, a.Text.Error = reason, sentence(inv.Fields["reason"])
		a.ErrorList = []fieldError{{a.Text.ID, a.Text.Label + " : " + a.Text.Error}}
		w.render(rw, r, c, http.StatusUnprocessableEntity, "action", view{Page: "usager-annuler", Title: "Annuler le rendez-vous", Errors: true, Body: a})
		return
	}
	v := w.usagerPage(c, b, token)
	status := http.StatusConflict
	switch {
	case errors.Is(err, booking.ErrAlreadyCancelled):
		v.Error = "Ce rendez-vous est déjà annulé."
	case errors.Is(err, booking.ErrTooLate), errors.Is(err, booking.ErrNotCancellable):
		status = http.StatusForbidden
		v.Error = v.NoChange
		if v.Error == "" {
			v.Error = "Ce rendez-vous ne peut plus être annulé en ligne."
		}
	default:
		w.internalError(rw, r, c, err)
		return
	}
	w.render(rw, r, c, status, "usager_rdv", view{Title: "Votre rendez-vous", Errors: true, Body: v})
}

// handleUsagerICS serves the RDV as an iCalendar file for the usager's
// own agenda: no usager data beyond what its link already shows, and the
// link back to its page.
func (w *Web) handleUsagerICS(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	token := r.URL.Query().Get("token")
	b, ok := w.usagerBooked(rw, r, c, token)
	if !ok {
		return
	}
	ev := caldav.NewEvent(c.cat, b.RDV, nil, caldav.DetailsMinimal)
	link := rdv.UsagerURL(w.publicBase(c.cat), b.RDV)
	ev.URL = link
	desc := []string{}
	if m := c.cat.Motif(b.RDV.MotifID); m != nil {
		desc = append(desc, "Motif : "+m.Name+" ("+m.Organisation.Name+")")
		if m.Instructions != "" {
			desc = append(desc, "À savoir : "+m.Instructions)
		}
	}
	desc = append(desc, "Votre rendez-vous (pour le déplacer ou l'annuler) : "+link)
	ev.Description = strings.Join(desc, "\n")
	var buf bytes.Buffer
	if err := caldav.Encode(&buf, ev.Calendar("")); err != nil {
		w.internalError(rw, r, c, err)
		return
	}
	rw.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	rw.Header().Set("Content-Disposition", `attachment; filename="rdv.ics"`)
	rw.Write(buf.Bytes())
}
