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
	Cancelled, JustCancelled                                                     bool
	ICSURL                                                                       string
	CanCancel                                                                    bool
	NoCancel                                                                     string // why it cannot be cancelled online
	CancelAction, CSRF, Token                                                    string
	Reason                                                                       field
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

func (w *Web) usagerPage(c *reqCtx, b *booking.Booked, token string) *usagerRDV {
	x := b.RDV
	id := url.PathEscape(x.ID)
	v := &usagerRDV{Name: b.Usager.FirstName + " " + b.Usager.LastName, When: french.DateTime(w.local(c.cat, x, x.StartsAt)),
		Duration: frenchDuration(x.EndsAt.Sub(x.StartsAt)), Motif: x.MotifID, Status: statusLabels[x.Status],
		Cancelled: x.Status.Cancelled(), ICSURL: "/rdv/" + id + "/rdv.ics?token=" + url.QueryEscape(token),
		CancelAction: "/rdv/" + id + "/annulation", CSRF: w.csrfToken(c.visitor, "/rdv/"+x.ID+"/annulation"), Token: token,
		Reason: field{ID: "motif-annulation", Name: "raison", Label: "Raison de l'annulation", Optional: true,
			Hint: "Elle sera transmise au service."}}
	m := c.cat.Motif(x.MotifID)
	var org *catalog.Organisation
	if m != nil {
		v.Motif, v.Instructions, v.Place = m.Name, m.Instructions, locationLabels[m.LocationType]
		org = m.Organisation
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
	contact := "contactez " + v.Organisation
	if v.OrgPhone != "" {
		contact += " au " + v.OrgPhone
	}
	now := w.now()
	switch {
	case v.Cancelled:
	case !x.StartsAt.After(now):
		v.NoCancel = "Ce rendez-vous est passé."
	case m != nil && !m.CancellableByUsager:
		v.NoCancel = "Ce rendez-vous ne peut pas être annulé en ligne. Pour l'annuler ou le déplacer, " + contact + "."
	case x.StartsAt.Sub(now) < booking.UsagerCancelLimit:
		v.NoCancel = "Il n'est plus possible d'annuler ce rendez-vous en ligne moins de 4 heures avant son début. " +
			"Pour prévenir de votre absence, " + contact + "."
	default:
		v.CanCancel = true
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
	v.JustCancelled = r.URL.Query().Get("annule") == "1" && v.Cancelled
	w.render(rw, r, c, http.StatusOK, "usager_rdv", view{Title: "Votre rendez-vous", Body: v})
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
		redirect(rw, r, "/rdv/"+url.PathEscape(b.RDV.ID)+"?token="+url.QueryEscape(token)+"&annule=1")
		return
	}
	v := w.usagerPage(c, b, token)
	v.Reason.Value = reason
	status := http.StatusConflict
	var inv *rdv.InvalidError
	switch {
	case errors.As(err, &inv):
		status = http.StatusUnprocessableEntity
		v.Reason.Error = sentence(inv.Fields["reason"])
		v.Error = "La raison de l'annulation n'est pas valide."
	case errors.Is(err, booking.ErrAlreadyCancelled):
		v.Error = "Ce rendez-vous est déjà annulé."
	case errors.Is(err, booking.ErrTooLate), errors.Is(err, booking.ErrNotCancellable):
		status = http.StatusForbidden
		v.Error = v.NoCancel
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
	desc = append(desc, "Votre rendez-vous (pour l'annuler) : "+link)
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
