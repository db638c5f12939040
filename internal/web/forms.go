package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/french"
	"rdvsync/internal/notify"
	"rdvsync/internal/rdv"
)

// chosenFlow resolves the selection of a step after the créneau from
// vals and, when check is set, re-checks the créneau for caller. When the
// selection is incomplete or the créneau was taken meanwhile it answers
// (a redirect to the step to choose again) and returns nil.
func (w *Web) chosenFlow(rw http.ResponseWriter, r *http.Request, c *reqCtx, vals url.Values, caller booking.Caller, check bool) *flow {
	f, ok := w.resolve(c.cat, selectionFrom(vals), c.agent, false, vals.Has("code_postal"))
	if !ok {
		w.notFound(rw, r, c)
		return nil
	}
	if f.step != stepChosen {
		redirect(rw, r, f.sel.wizardURL())
		return nil
	}
	if check {
		free, err := w.slotFree(r.Context(), caller, f)
		if err != nil {
			w.internalError(rw, r, c, err)
			return nil
		}
		if !free {
			slotGone(rw, r, f)
			return nil
		}
	}
	return f
}

// personForm is the prescripteur's and the bénéficiaire's form.
type personForm struct {
	Stepper    stepper
	Summary    []summaryItem
	Intro      string
	Action     string
	CSRF       string
	Hidden     []hiddenField
	Fields     []field
	Context    *field // the bénéficiaire's form only
	ErrorList  []fieldError
	Submit     string
	InterneURL string // the green banner of a signed-in agent
	// Prescripteur is who books, shown on the bénéficiaire's form.
	Prescripteur        *prescripteur
	PrescripteurEditURL string
	// The prescripteur's form: remember it on this computer, or forget
	// the one remembered ("Ce n'est pas moi").
	Remember         *checkbox
	NotMe, NotMeName string
}

func (pf *personForm) setErrors(fe map[string]string) {
	set := func(x *field) {
		if x.Error = fe[x.Name]; x.Error != "" {
			pf.ErrorList = append(pf.ErrorList, fieldError{x.ID, x.Label + " : " + x.Error})
		}
	}
	for i := range pf.Fields {
		set(&pf.Fields[i])
	}
	if pf.Context != nil {
		set(pf.Context)
	}
}

func (w *Web) prescripteurForm(c *reqCtx, f *flow, p prescripteur) *personForm {
	pf := &personForm{
		Stepper: newStepper(f.sel, 5, "Vos coordonnées de prescripteur"),
		Summary: f.summary(stepChosen),
		Intro:   "Ces informations sont visibles par l'agent qui recevra le bénéficiaire : il pourra vous joindre au sujet de ce rendez-vous.",
		Action:  "/prendre_rdv/prescripteur", CSRF: w.csrfToken(c.visitor, "/prendre_rdv/prescripteur"), Hidden: f.sel.hidden(),
		Submit: "Continuer",
		Fields: []field{
			{ID: "prescripteur-prenom", Name: "prenom", Label: "Votre prénom", Value: p.FirstName, Autocomplete: "given-name"},
			{ID: "prescripteur-nom", Name: "nom", Label: "Votre nom", Value: p.LastName, Autocomplete: "family-name"},
			{ID: "prescripteur-email", Name: "email", Label: "Votre email professionnel", Type: "email", Value: p.Email, Autocomplete: "email",
				Hint: "Vous y recevrez la confirmation du rendez-vous. Exemple : prenom.nom@structure.fr"},
			{ID: "prescripteur-telephone", Name: "telephone", Label: "Votre numéro de téléphone", Type: "tel", Value: p.Phone, Autocomplete: "tel",
				Optional: true, Recommended: true, Hint: "L'agent pourra vous appeler au sujet du rendez-vous. Exemple : 03 21 00 00 00"},
		},
	}
	pf.Remember = &checkbox{ID: "prescripteur-souvenir", Name: "souvenir", Label: "Se souvenir de moi sur cet ordinateur",
		Hint: "Vos coordonnées seront gardées 30 jours pour vos prochains rendez-vous. Sur un ordinateur partagé, laissez cette case vide : " +
			"elles seront oubliées à la fermeture du navigateur.", Checked: p.Remember}
	if p.Email != "" {
		pf.NotMe = f.sel.stepURL("/prendre_rdv/prescripteur") + "&oublier=1"
		pf.NotMeName = strings.TrimSpace(p.FirstName + " " + p.LastName)
	}
	if c.agent != nil {
		pf.InterneURL = f.sel.stepURL("/prendre_rdv/prescription_interne")
	}
	return pf
}

// checkbox is one checkbox of a form.
type checkbox struct {
	ID, Name, Label, Hint string
	Checked               bool
}

func (w *Web) handlePrescripteurForm(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	f := w.chosenFlow(rw, r, c, r.URL.Query(), booking.Caller{}, true)
	if f == nil {
		return
	}
	p, _ := readPrescripteur(r)
	if r.URL.Query().Get("oublier") == "1" {
		// "Ce n'est pas moi": another person at a shared computer.
		w.forgetPrescripteur(rw)
		p = prescripteur{}
	}
	w.renderPerson(rw, r, c, http.StatusOK, w.prescripteurForm(c, f, p))
}

// requirePrescripteur reads the prescripteur remembered by the browser, or
// sends it back to the prescripteur form.
func (w *Web) requirePrescripteur(rw http.ResponseWriter, r *http.Request, f *flow) (prescripteur, bool) {
	p, ok := readPrescripteur(r)
	if !ok {
		redirect(rw, r, f.sel.stepURL("/prendre_rdv/prescripteur"))
	}
	return p, ok
}

// beneficiaireErrors shows the bénéficiaire form again with its errors.
func (w *Web) beneficiaireErrors(rw http.ResponseWriter, r *http.Request, c *reqCtx, f *flow, p prescripteur, u usagerInput, fe map[string]string) {
	pf := w.beneficiaireForm(c, f, p, u)
	pf.setErrors(fe)
	w.renderPerson(rw, r, c, http.StatusUnprocessableEntity, pf)
}

func (w *Web) renderPerson(rw http.ResponseWriter, r *http.Request, c *reqCtx, status int, pf *personForm) {
	w.render(rw, r, c, status, "person", view{Title: pf.Stepper.Title, Errors: len(pf.ErrorList) > 0, Body: pf})
}

// postedPrescripteur reads and checks the prescripteur's form.
func postedPrescripteur(form url.Values) (prescripteur, map[string]string) {
	p := prescripteur{FirstName: strings.TrimSpace(form.Get("prenom")), LastName: strings.TrimSpace(form.Get("nom")),
		Email: strings.TrimSpace(form.Get("email")), Phone: strings.TrimSpace(form.Get("telephone")), Remember: form.Get("souvenir") == "1"}
	fe := map[string]string{}
	checkText(fe, "prenom", p.FirstName, true, 100)
	checkText(fe, "nom", p.LastName, true, 100)
	checkEmail(fe, "email", p.Email, true)
	checkPhone(fe, "telephone", p.Phone)
	return p, fe
}

func (w *Web) handlePrescripteurSubmit(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	f := w.chosenFlow(rw, r, c, r.PostForm, booking.Caller{}, true)
	if f == nil {
		return
	}
	p, fe := postedPrescripteur(r.PostForm)
	if len(fe) > 0 {
		pf := w.prescripteurForm(c, f, p)
		pf.setErrors(fe)
		w.renderPerson(rw, r, c, http.StatusUnprocessableEntity, pf)
		return
	}
	w.rememberPrescripteur(rw, p)
	redirect(rw, r, f.sel.stepURL("/prendre_rdv/beneficiaire"))
}

// usagerInput is what the bénéficiaire's form holds.
type usagerInput struct {
	FirstName, LastName, Phone, Email, Context string
}

// postedUsager reads and checks the bénéficiaire's form for motif m. A
// phone RDV needs the number the agent will call; otherwise a number
// given without an email must be a mobile: a landline would receive none
// of the messages (RDV Solidarités flags landlines the same way).
func postedUsager(form url.Values, m *catalog.Motif) (usagerInput, map[string]string, bool) {
	u := usagerInput{FirstName: strings.TrimSpace(form.Get("prenom")), LastName: strings.TrimSpace(form.Get("nom")),
		Phone: strings.TrimSpace(form.Get("telephone")), Email: strings.TrimSpace(form.Get("email")),
		Context: strings.TrimSpace(form.Get("contexte"))}
	fe := map[string]string{}
	checkText(fe, "prenom", u.FirstName, true, 100)
	checkText(fe, "nom", u.LastName, true, 100)
	mobile := checkPhone(fe, "telephone", u.Phone)
	checkEmail(fe, "email", u.Email, false)
	checkMultiline(fe, "contexte", u.Context, 2000)
	switch {
	case fe["telephone"] != "":
	case phoneRDV(m) && u.Phone == "":
		fe["telephone"] = msgPhoneRDV
	case !phoneRDV(m) && u.Phone != "" && !mobile && u.Email == "":
		fe["telephone"] = "Ce numéro est un fixe : il ne reçoit pas de SMS. Sans email, le bénéficiaire ne recevrait aucun message : " +
			"indiquez un téléphone portable, ou ajoutez son email."
	}
	return u, fe, mobile
}

// msgPhoneRDV asks for the phone of a phone RDV.
const msgPhoneRDV = "Indiquez le numéro du bénéficiaire : l'agent l'appellera à l'heure du rendez-vous téléphonique."

func phoneRDV(m *catalog.Motif) bool { return m != nil && m.LocationType == rdv.LocationPhone }

// phoneField is the bénéficiaire's phone field for motif m: required for
// a phone RDV (a landline will do), a mobile otherwise.
func phoneField(m *catalog.Motif, id, label, hint, value string) field {
	if phoneRDV(m) {
		return field{ID: id, Name: "telephone", Label: strings.Replace(label, "Téléphone portable", "Téléphone", 1), Type: "tel", Value: value,
			Autocomplete: "off", Hint: "L'agent appellera ce numéro à l'heure du rendez-vous ; un portable reçoit aussi la confirmation et le rappel par SMS. " +
				"Exemple : 06 12 34 56 78"}
	}
	return field{ID: id, Name: "telephone", Label: label, Type: "tel", Value: value, Autocomplete: "off", Optional: true, Hint: hint,
		Warning: noNotification}
}

// noNotification is the warning of the bénéficiaire's phone field.
const noNotification = "Sans numéro de téléphone portable ni email, aucune notification ne sera envoyée au bénéficiaire"

func (w *Web) beneficiaireForm(c *reqCtx, f *flow, p prescripteur, u usagerInput) *personForm {
	return &personForm{
		Stepper: newStepper(f.sel, 6, "Le bénéficiaire"),
		Summary: f.summary(stepChosen),
		Intro:   "La personne qui se rendra au rendez-vous.",
		Action:  "/prendre_rdv/beneficiaire", CSRF: w.csrfToken(c.visitor, "/prendre_rdv/beneficiaire"), Hidden: f.sel.hidden(),
		Submit: "Continuer",
		Fields: []field{
			{ID: "beneficiaire-prenom", Name: "prenom", Label: "Prénom du bénéficiaire", Value: u.FirstName, Autocomplete: "off"},
			{ID: "beneficiaire-nom", Name: "nom", Label: "Nom du bénéficiaire", Value: u.LastName, Autocomplete: "off"},
			phoneField(f.motif, "beneficiaire-telephone", "Téléphone portable du bénéficiaire", "Pour la confirmation et le rappel par SMS. Exemple : 06 12 34 56 78", u.Phone),
			{ID: "beneficiaire-email", Name: "email", Label: "Email du bénéficiaire", Type: "email", Value: u.Email,
				Autocomplete: "off", Optional: true, Hint: "Pour la confirmation et le rappel par email."},
		},
		Context: &field{ID: "beneficiaire-contexte", Name: "contexte", Label: "Informations utiles pour l'agent", Value: u.Context, Optional: true,
			Hint: "Le contexte de l'orientation : ce que le bénéficiaire attend, ses contraintes… (2 000 caractères au plus)"},
		Prescripteur:        &p,
		PrescripteurEditURL: f.sel.stepURL("/prendre_rdv/prescripteur"),
	}
}

func (w *Web) handleBeneficiaireForm(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	f := w.chosenFlow(rw, r, c, r.URL.Query(), booking.Caller{}, true)
	if f == nil {
		return
	}
	p, ok := w.requirePrescripteur(rw, r, f)
	if !ok {
		return
	}
	w.renderPerson(rw, r, c, http.StatusOK, w.beneficiaireForm(c, f, p, usagerInput{}))
}

// recap is the last page before "Confirmer le RDV".
type recap struct {
	Stepper             stepper
	Summary             []summaryItem
	Prescripteur        prescripteur
	PrescripteurEditURL string
	Usager              usagerInput
	Address             string
	NoNotification      string // the warning when no phone was given
	NotMobile           bool
	Hidden              []hiddenField
	ConfirmCSRF         string
	EditCSRF            string
	UsagerMayChange     bool // the motif lets the usager move or cancel from its link
}

func (w *Web) handleBeneficiaireSubmit(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	f := w.chosenFlow(rw, r, c, r.PostForm, booking.Caller{}, true)
	if f == nil {
		return
	}
	p, ok := w.requirePrescripteur(rw, r, f)
	if !ok {
		return
	}
	u, fe, mobile := postedUsager(r.PostForm, f.motif)
	if r.PostForm.Get("modifier") == "1" {
		w.renderPerson(rw, r, c, http.StatusOK, w.beneficiaireForm(c, f, p, u))
		return
	}
	if len(fe) > 0 {
		w.beneficiaireErrors(rw, r, c, f, p, u, fe)
		return
	}
	rc := recap{
		Stepper: newStepper(f.sel, 7, "Récapitulatif"), Summary: f.summary(stepChosen),
		Prescripteur: p, PrescripteurEditURL: f.sel.stepURL("/prendre_rdv/prescripteur"),
		Usager: u, NotMobile: u.Phone != "" && !mobile, UsagerMayChange: f.motif.CancellableByUsager,
		Hidden:      append(f.sel.hidden(), usagerHidden(u)...),
		ConfirmCSRF: w.csrfToken(c.visitor, "/prendre_rdv/confirmer"), EditCSRF: w.csrfToken(c.visitor, "/prendre_rdv/beneficiaire"),
	}
	if f.sel.withAddress() {
		rc.Address = f.addressText()
	}
	if u.Phone == "" && u.Email == "" {
		rc.NoNotification = noNotification
	}
	// A double click on "Confirmer le RDV" replays the first booking.
	rc.Hidden = append(rc.Hidden, hiddenField{"cle", randomID()})
	w.render(rw, r, c, http.StatusOK, "recap", view{Title: "Récapitulatif", Body: rc})
}

func usagerHidden(u usagerInput) []hiddenField {
	var out []hiddenField
	for _, h := range []hiddenField{{"prenom", u.FirstName}, {"nom", u.LastName}, {"telephone", u.Phone}, {"email", u.Email}, {"contexte", u.Context}} {
		if h.Value != "" {
			out = append(out, h)
		}
	}
	return out
}

func (w *Web) handleConfirm(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	// No re-check before booking: booking re-checks the créneau in the
	// transaction that writes the RDV, and a repeated click must reach
	// booking to replay the first RDV.
	f := w.chosenFlow(rw, r, c, r.PostForm, booking.Caller{}, false)
	if f == nil {
		return
	}
	p, ok := w.requirePrescripteur(rw, r, f)
	if !ok {
		return
	}
	u, fe, _ := postedUsager(r.PostForm, f.motif)
	if len(fe) > 0 {
		w.beneficiaireErrors(rw, r, c, f, p, u, fe)
		return
	}
	in := f.usagerAddress()
	in.FirstName, in.LastName, in.PhoneNumber, in.Email = u.FirstName, u.LastName, u.Phone, u.Email
	req := booking.BookRequest{MotifID: f.motif.ID, StartsAt: f.start.Format(time.RFC3339), Usager: &in, Context: u.Context,
		Prescripteur: &booking.PrescripteurInput{FirstName: p.FirstName, LastName: p.LastName, Email: p.Email, PhoneNumber: p.Phone}}
	if f.lieu != nil {
		req.LieuID = f.lieu.ID
	}
	b, err := w.booking.Book(r.Context(), booking.Caller{}, req, idempotency(r.PostForm.Get("cle"), req))
	if err != nil {
		var inv *rdv.InvalidError
		if errors.As(err, &inv) {
			if pe, _ := formErrors(inv, prescripteurFields); len(pe) > 0 {
				pf := w.prescripteurForm(c, f, p)
				pf.setErrors(pe)
				w.renderPerson(rw, r, c, http.StatusUnprocessableEntity, pf)
				return
			}
			if ue, _ := formErrors(inv, usagerFields); len(ue) > 0 {
				pf := w.beneficiaireForm(c, f, p, u)
				pf.setErrors(ue)
				w.renderPerson(rw, r, c, http.StatusUnprocessableEntity, pf)
				return
			}
		}
		w.bookingFailed(rw, r, c, f, err)
		return
	}
	redirect(rw, r, w.confirmationURL(c, f, b.RDV.ID, false))
}

// idempotency keys a booking by the random key of the recap page, so a
// second click on "Confirmer le RDV" gets the first RDV back.
func idempotency(key string, req booking.BookRequest) *booking.Idempotency {
	if !validID(key) {
		return nil
	}
	body, _ := json.Marshal(req)
	return &booking.Idempotency{Key: "web:" + key, BodySHA256: booking.BodyHash(body)}
}

// bookingFailed answers a booking error that no form field explains.
func (w *Web) bookingFailed(rw http.ResponseWriter, r *http.Request, c *reqCtx, f *flow, err error) {
	var inv *rdv.InvalidError
	switch {
	case errors.Is(err, rdv.ErrSlotUnavailable):
		slotGone(rw, r, f)
	case errors.As(err, &inv) && inv.Fields["starts_at"] != "":
		// The créneau is no longer bookable (it passed, or left the
		// booking delays): choose another.
		slotGone(rw, r, f)
	case errors.As(err, &inv):
		keys := make([]string, 0, len(inv.Fields))
		for k := range inv.Fields {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		msgs := make([]string, len(keys))
		for i, k := range keys {
			msgs[i] = sentence(inv.Fields[k])
		}
		w.renderError(rw, r, c, http.StatusUnprocessableEntity, "Rendez-vous impossible",
			"Ce rendez-vous ne peut pas être pris : "+strings.Join(msgs, " ")+" Recommencez la sélection.")
	case errors.Is(err, rdv.ErrIdempotencyReuse):
		w.renderError(rw, r, c, http.StatusConflict, "Formulaire déjà envoyé",
			"Ce récapitulatif a déjà servi à prendre un rendez-vous. Recommencez depuis le formulaire du bénéficiaire.")
	case booking.IsMotifNotBookable(err), errors.Is(err, rdv.ErrForbidden):
		w.renderError(rw, r, c, http.StatusForbidden, "Rendez-vous impossible",
			"Ce motif ne peut pas être réservé en ligne par vous.")
	default:
		w.internalError(rw, r, c, err)
	}
}

// confirmationURL is the confirmation page of a booked RDV. It is signed
// for this visitor: nobody else can show a "rendez-vous confirmé" page.
func (w *Web) confirmationURL(c *reqCtx, f *flow, rdvID string, interne bool) string {
	kind := "prescripteur"
	if interne {
		kind = "interne"
	}
	return f.sel.stepURL("/prendre_rdv/confirmation") + "&rdv=" + url.QueryEscape(rdvID) + "&par=" + kind +
		"&sig=" + w.sign("confirmation", c.visitor, rdvID, kind)
}

// confirmation is the page after the booking.
type confirmation struct {
	Summary      []summaryItem
	Interne      bool
	Beneficiaire person
	Messages     []string // exactly which messages will be sent, to whom
	Organisation string
	Phone        string
	Instructions string
	AgentURL     string // the RDV's agent page, for an agent of its organisation or who prescribed it
	Restart      string
	// UsagerMayChange: the motif lets the usager move or cancel from its link.
	UsagerMayChange bool
}

func (w *Web) handleConfirmation(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	q := r.URL.Query()
	id, kind := q.Get("rdv"), q.Get("par")
	if id == "" || q.Get("sig") != w.sign("confirmation", c.visitor, id, kind) {
		w.notFound(rw, r, c)
		return
	}
	f, ok := w.resolve(c.cat, selectionFrom(q), c.agent, false, q.Has("code_postal"))
	if !ok || f.step != stepChosen {
		w.notFound(rw, r, c)
		return
	}
	// The link is signed for this browser: it booked this RDV.
	b, err := w.booking.Lookup(r.Context(), id)
	if errors.Is(err, rdv.ErrNotFound) {
		w.notFound(rw, r, c)
		return
	}
	if err != nil {
		w.internalError(rw, r, c, err)
		return
	}
	cf := confirmation{Interne: kind == "interne", Organisation: f.motif.Organisation.Name, Phone: french.Phone(f.motif.Organisation.Phone),
		Instructions: f.motif.Instructions, Restart: selection{Prescripteur: true, Org: f.sel.Org}.wizardURL(), UsagerMayChange: f.motif.CancellableByUsager,
		Beneficiaire: person{Name: strings.TrimSpace(b.Usager.FirstName + " " + b.Usager.LastName), Email: b.Usager.Email,
			Phone: french.Phone(b.Usager.PhoneNumber), PhoneHref: telHref(b.Usager.PhoneNumber)}}
	if cf.Interne {
		cf.Restart = "/agents/trouver"
	}
	for _, it := range f.summary(stepChosen) {
		it.EditURL = ""
		cf.Summary = append(cf.Summary, it)
	}
	cf.Messages = w.messagesSent(c.cat, f.motif, b)
	if p, ok := readPrescripteur(r); ok && !cf.Interne {
		cf.Messages = append([]string{"Vous allez recevoir un email de confirmation à l'adresse " + p.Email + "."}, cf.Messages...)
	}
	if cf.Interne && b.RDV.PrescriberTold() {
		cf.Messages = append([]string{"Vous allez recevoir un email de confirmation, avec le lien de la page du rendez-vous."}, cf.Messages...)
	}
	if c.agent != nil {
		// Its organisation's agents and the agent who prescribed it.
		cf.AgentURL = agentRDVPath(id)
	}
	w.render(rw, r, c, http.StatusOK, "confirmation", view{Title: "Rendez-vous confirmé", Body: cf})
}

// messagesSent says which messages the bénéficiaire will get, as notify
// sends them: a confirmation by email when it has an address, by SMS when
// its phone is a mobile, and the reminder unless the RDV is already inside
// the reminder's delay.
func (w *Web) messagesSent(cat *catalog.Catalog, m *catalog.Motif, b *booking.Booked) []string {
	u := b.Usager
	var channels []string
	if u.Email != "" {
		channels = append(channels, "par email")
	}
	if u.PhoneNumber != "" && u.PhoneMobile {
		channels = append(channels, "par SMS")
	}
	var out []string
	if len(channels) == 0 {
		out = append(out, "Le bénéficiaire ne recevra aucun message (ni email, ni téléphone portable) : transmettez-lui vous-même la date, le lieu et ce qu'il doit savoir.")
	} else {
		link := "le lien pour consulter son rendez-vous"
		switch {
		case m.UsagerMayMove():
			link = "le lien pour le déplacer ou l'annuler jusqu'à " + french.Duration(booking.UsagerCancelLimit) + " avant"
		case m.CancellableByUsager:
			link = "le lien pour l'annuler jusqu'à " + french.Duration(booking.UsagerCancelLimit) + " avant"
		}
		msg := "Le bénéficiaire reçoit une confirmation " + strings.Join(channels, " et ") + ", avec " + link + "."
		loc := m.Organisation.Location
		due := notify.ReminderDue(b.RDV.StartsAt, time.Duration(cat.Config.Notifications.ReminderBefore), loc)
		if due.After(w.now()) {
			msg += " Il recevra un rappel le " + french.DateTime(due.In(loc)) + "."
		} else {
			msg += " Le rendez-vous est trop proche pour un rappel : il n'en recevra pas."
		}
		out = append(out, msg)
	}
	if u.PhoneNumber != "" && !u.PhoneMobile {
		out = append(out, "Son numéro de téléphone n'est pas un portable : il ne reçoit pas de SMS.")
	}
	return out
}
