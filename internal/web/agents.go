package web

import (
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/french"
	"rdvsync/internal/ratelimit"
	"rdvsync/internal/rdv"
)

// safeReturn keeps a "retour" URL only when it stays on this site.
func safeReturn(s string) string {
	u, err := url.Parse(s)
	if err != nil || s == "" || !strings.HasPrefix(s, "/") || strings.HasPrefix(s, "//") || strings.ContainsAny(s, "\\\r\n") ||
		u.Scheme != "" || u.Host != "" {
		return "/agents"
	}
	return s
}

// requireAgent sends a visitor who is not signed in to the sign-in page,
// coming back to back afterwards.
func requireAgent(rw http.ResponseWriter, r *http.Request, c *reqCtx, back string) bool {
	if c.agent != nil {
		return true
	}
	redirect(rw, r, "/agents/connexion?retour="+url.QueryEscape(back))
	return false
}

// loginForm is the sign-in page: the provider's button (auth.oidc), the
// form asking for a link by email (auth.email_link), and the id and API
// token form (auth.token_sign_in).
type loginForm struct {
	CSRF       string
	Return     string
	ID, Token  field
	Error      string
	SignedOut  bool
	SignedInAs *catalog.Agent

	OIDC        *oidcButton
	EmailLink   bool
	LinkCSRF    string
	Email       field
	LinkSent    bool
	TokenSignIn bool
}

func (w *Web) loginForm(c *reqCtx, ret, id string) *loginForm {
	auth := c.cat.Config.Auth
	lf := &loginForm{
		CSRF: w.csrfToken(c.visitor, "/agents/connexion"), Return: safeReturn(ret),
		ID: field{ID: "agent-id", Name: "identifiant", Label: "Identifiant agent", Value: id, Autocomplete: "username",
			Hint: "Celui de la configuration, par exemple camille-martin"},
		Token: field{ID: "agent-jeton", Name: "jeton", Label: "Jeton", Type: "password", Autocomplete: "current-password",
			Hint: "Votre jeton d'API d'agent"},
		EmailLink: auth.EmailLinkEnabled() && w.mailer != nil, LinkCSRF: w.csrfToken(c.visitor, "/agents/connexion/lien"),
		Email: field{ID: "agent-email", Name: "email", Label: "Adresse email professionnelle", Type: "email", Autocomplete: "email",
			Hint: "Celle que connaît votre structure, par exemple prenom.nom@departement.fr"},
		TokenSignIn: auth.TokenSignIn,
	}
	if o := auth.OIDC; o != nil {
		lf.OIDC = &oidcButton{Name: o.Name, URL: oidcStartURL(ret)}
	}
	return lf
}

func (w *Web) handleLoginForm(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	q := r.URL.Query()
	lf := w.loginForm(c, q.Get("retour"), "")
	lf.SignedOut = q.Get("deconnecte") == "1"
	lf.LinkSent = q.Get("lien") == "envoye"
	lf.SignedInAs = c.agent
	w.render(rw, r, c, http.StatusOK, "login", view{Title: "Connexion agent", Body: lf})
}

// handleLogin signs in with an agent id and its API token, when
// auth.token_sign_in allows it.
func (w *Web) handleLogin(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	if !c.cat.Config.Auth.TokenSignIn {
		w.notFound(rw, r, c)
		return
	}
	id := strings.TrimSpace(r.PostForm.Get("identifiant"))
	if wait := w.failures.Blocked(clientKey(r, c), time.Now()); wait > 0 {
		// The form again, with the reason next to the token field.
		lf := w.loginForm(c, r.PostForm.Get("retour"), id)
		lf.Error = "Trop de tentatives de connexion depuis ce poste : réessayez dans quelques minutes."
		lf.Token.Error = lf.Error
		w.log.Warn("agent sign-in throttled")
		rw.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfter(wait)))
		w.render(rw, r, c, http.StatusTooManyRequests, "login", view{Title: "Connexion agent", Errors: true, Body: lf})
		return
	}
	a := c.cat.AuthenticateAgent(id, strings.TrimSpace(r.PostForm.Get("jeton")))
	if a == nil {
		w.authFailed(r, c)
		lf := w.loginForm(c, r.PostForm.Get("retour"), id)
		lf.Error = "Identifiant ou jeton incorrect."
		lf.Token.Error = lf.Error
		w.render(rw, r, c, http.StatusUnauthorized, "login", view{Title: "Connexion agent", Errors: true, Body: lf})
		return
	}
	w.signIn(rw, r, c, a, "api_token", r.PostForm.Get("retour"))
}

func (w *Web) handleLogout(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	if c.session != "" {
		// Deleted from the store, so that the session ends on every
		// replica; if that fails the agent is told, still signed in,
		// rather than shown a sign-out that left the session alive.
		if err := w.sessions.delete(r.Context(), c.session); err != nil {
			w.internalError(rw, r, c, err)
			return
		}
	}
	http.SetCookie(rw, w.cookie(agentCookie, "", -1))
	redirect(rw, r, "/agents/connexion?deconnecte=1")
}

// agentHome lists the agent's coming RDVs.
type agentHome struct {
	Rows                           []agentRow
	Prescribe, Find, Prescriptions string
}

type agentRow struct {
	When, Motif, Organisation, Usager, CreatedBy, Status, URL string
}

func (w *Web) agentRow(cat *catalog.Catalog, b *booking.Booked) agentRow {
	row := agentRow{When: french.DateTime(w.local(cat, b.RDV, b.RDV.StartsAt)), Motif: b.RDV.MotifID,
		Usager: b.Usager.FirstName + " " + b.Usager.LastName, CreatedBy: createdBy(cat, b.RDV).Name,
		Status: statusLabels[b.RDV.Status], URL: agentRDVPath(b.RDV.ID)}
	if m := cat.Motif(b.RDV.MotifID); m != nil {
		row.Motif = m.Name
	}
	return row
}

func (w *Web) handleAgentHome(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	if !requireAgent(rw, r, c, "/agents") {
		return
	}
	list, err := w.booking.List(r.Context(), c.agent, booking.ListRequest{})
	if err != nil {
		w.internalError(rw, r, c, err)
		return
	}
	h := agentHome{Prescribe: "/prendre_rdv?prescripteur=1", Find: "/agents/trouver", Prescriptions: "/agents/prescriptions"}
	for _, b := range list {
		h.Rows = append(h.Rows, w.agentRow(c.cat, b))
	}
	w.render(rw, r, c, http.StatusOK, "agents", view{Title: "Espace agent", Body: h})
}

// local returns t in the zone of r's organisation.
func (w *Web) local(cat *catalog.Catalog, r *rdv.RDV, t time.Time) time.Time {
	if o := cat.Organisation(r.OrganisationID); o != nil {
		return t.In(o.Location)
	}
	return t
}

// interne is the prescription interne page: pick or create the usager.
type interne struct {
	Stepper      stepper
	Summary      []summaryItem
	SearchHidden []hiddenField
	Query        field
	Searched     bool
	Results      []usagerChoice
	ExistingErr  string
	Action       string
	CSRF         string
	Hidden       []hiddenField
	Fields       []field
	Context      field
	ErrorList    []fieldError
}

type usagerChoice struct {
	ID, Label, Detail string
	Checked           bool
}

func (w *Web) interneForm(c *reqCtx, f *flow, q string) *interne {
	in := &interne{
		Stepper: newInterneStepper(f.sel, "Prescription interne : l'usager"), Summary: f.summary(stepChosen),
		SearchHidden: f.sel.hidden(),
		Query: field{ID: "recherche", Name: "q", Label: "Rechercher un usager", Value: q, Type: "search", Autocomplete: "off",
			Hint: "Nom, prénom, email ou téléphone (2 caractères au moins)"},
		Action: "/prendre_rdv/prescription_interne", CSRF: w.csrfToken(c.visitor, "/prendre_rdv/prescription_interne"),
		Hidden: append(f.sel.hidden(), hiddenField{"cle", randomID()}),
		Fields: []field{
			{ID: "usager-prenom", Name: "prenom", Label: "Prénom", Autocomplete: "off"},
			{ID: "usager-nom", Name: "nom", Label: "Nom", Autocomplete: "off"},
			phoneField(f.motif, "usager-telephone", "Téléphone portable", "Exemple : 06 12 34 56 78", ""),
			{ID: "usager-email", Name: "email", Label: "Email", Type: "email", Optional: true, Autocomplete: "off"},
		},
		Context: field{ID: "usager-contexte", Name: "contexte", Label: "Informations utiles pour l'agent", Optional: true,
			Hint: "Le contexte de l'orientation (2 000 caractères au plus)"},
	}
	return in
}

func (w *Web) handleInterneForm(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	if !requireAgent(rw, r, c, r.URL.RequestURI()) {
		return
	}
	f := w.chosenFlow(rw, r, c, r.URL.Query(), booking.Caller{Agent: c.agent}, true)
	if f == nil {
		return
	}
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	in := w.interneForm(c, f, q)
	if q != "" {
		if err := w.search(r, c, in, q, ""); err != nil {
			w.internalError(rw, r, c, err)
			return
		}
	}
	status := http.StatusOK
	if in.Query.Error != "" {
		status = http.StatusUnprocessableEntity
	}
	w.render(rw, r, c, status, "interne", view{Title: in.Stepper.Title, Errors: status != http.StatusOK, Body: in})
}

// search fills the usager search results.
func (w *Web) search(r *http.Request, c *reqCtx, in *interne, q, checked string) error {
	found, err := w.booking.SearchUsagers(r.Context(), c.agent, q)
	var inv *rdv.InvalidError
	if errors.As(err, &inv) {
		in.Query.Error = sentence(inv.Fields["q"])
		in.ErrorList = append(in.ErrorList, fieldError{in.Query.ID, in.Query.Label + " : " + in.Query.Error})
		return nil
	}
	if err != nil {
		return err
	}
	in.Searched = true
	for _, u := range found {
		var detail []string
		if u.BirthDate != "" {
			detail = append(detail, "né·e le "+u.BirthDate)
		}
		if u.PhoneNumber != "" {
			detail = append(detail, french.Phone(u.PhoneNumber))
		}
		if u.Email != "" {
			detail = append(detail, u.Email)
		}
		if u.PostalCode != "" {
			detail = append(detail, u.PostalCode)
		}
		in.Results = append(in.Results, usagerChoice{ID: u.ID, Label: u.FirstName + " " + u.LastName,
			Detail: strings.Join(detail, " · "), Checked: u.ID == checked})
	}
	return nil
}

func (w *Web) handleInterneSubmit(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	form := r.PostForm
	if !requireAgent(rw, r, c, selectionFrom(form).stepURL("/prendre_rdv/prescription_interne")) {
		return
	}
	caller := booking.Caller{Agent: c.agent}
	f := w.chosenFlow(rw, r, c, form, caller, false)
	if f == nil {
		return
	}
	req := booking.BookRequest{MotifID: f.motif.ID, StartsAt: f.start.Format(time.RFC3339)}
	if f.lieu != nil {
		req.LieuID = f.lieu.ID
	}
	in := w.interneForm(c, f, strings.TrimSpace(form.Get("q")))
	var u usagerInput
	fe := map[string]string{}
	if form.Get("mode") == "existant" {
		if req.UsagerID = form.Get("usager_id"); req.UsagerID == "" {
			in.ExistingErr = "Choisissez un usager dans les résultats de la recherche."
		}
	} else {
		u, fe, _ = postedUsager(form, f.motif)
		addr := f.usagerAddress()
		addr.FirstName, addr.LastName, addr.PhoneNumber, addr.Email = u.FirstName, u.LastName, u.Phone, u.Email
		req.Usager, req.Context = &addr, u.Context
	}
	if len(fe) == 0 && in.ExistingErr == "" {
		b, err := w.booking.Book(r.Context(), caller, req, idempotency(form.Get("cle"), req))
		if err == nil {
			redirect(rw, r, w.confirmationURL(c, f, b.RDV.ID, true))
			return
		}
		var inv *rdv.InvalidError
		if !errors.As(err, &inv) || inv.Fields["starts_at"] != "" {
			w.bookingFailed(rw, r, c, f, err)
			return
		}
		var rest map[string]string
		fe, rest = formErrors(inv, usagerFields)
		if msg := rest["usager_id"]; msg != "" {
			in.ExistingErr = msg
			delete(rest, "usager_id")
		}
		if len(fe) == 0 && in.ExistingErr == "" {
			w.bookingFailed(rw, r, c, f, err)
			return
		}
	}
	// Back to the page with the errors next to their fields.
	for i := range in.Fields {
		x := &in.Fields[i]
		x.Value = map[string]string{"prenom": u.FirstName, "nom": u.LastName, "telephone": u.Phone, "email": u.Email}[x.Name]
		if x.Error = fe[x.Name]; x.Error != "" {
			in.ErrorList = append(in.ErrorList, fieldError{x.ID, x.Label + " : " + x.Error})
		}
	}
	in.Context.Value = u.Context
	if in.Context.Error = fe["contexte"]; in.Context.Error != "" {
		in.ErrorList = append(in.ErrorList, fieldError{in.Context.ID, in.Context.Label + " : " + in.Context.Error})
	}
	if in.ExistingErr != "" {
		in.ErrorList = append(in.ErrorList, fieldError{"usagers-existants", in.ExistingErr})
		if q := in.Query.Value; q != "" {
			if err := w.search(r, c, in, q, form.Get("usager_id")); err != nil {
				w.internalError(rw, r, c, err)
				return
			}
		}
	}
	w.render(rw, r, c, http.StatusUnprocessableEntity, "interne", view{Title: in.Stepper.Title, Errors: true, Body: in})
}

// person is a name with its contact details, as the pages show it.
type person struct {
	Kind, Name, Email, Phone string
	PhoneHref                template.URL
}

// createdBy is "Rendez-vous pris par".
func createdBy(cat *catalog.Catalog, r *rdv.RDV) person {
	cb := r.CreatedBy
	p := person{Name: strings.TrimSpace(cb.FirstName + " " + cb.LastName), Email: cb.Email}
	if cb.PhoneNumber != "" {
		p.Phone, p.PhoneHref = french.Phone(cb.PhoneNumber), telHref(cb.PhoneNumber)
	}
	switch cb.Type {
	case rdv.CreatedByPrescripteur:
		p.Kind = "Prescripteur (prescription externe)"
	case rdv.CreatedByAgent:
		p.Kind = "Agent (prescription interne)"
		if a := cat.Agent(cb.AgentID); a != nil {
			p.Kind = "Agent de " + orgNames(a) + " (prescription interne)"
		}
	default:
		p.Kind, p.Name = "L'usager lui-même", "L'usager"
	}
	return p
}

func orgNames(a *catalog.Agent) string {
	names := make([]string, len(a.Organisations))
	for i, o := range a.Organisations {
		names[i] = o.Name
	}
	return strings.Join(names, ", ")
}

// agentRDV is the agent's page of an RDV.
type agentRDV struct {
	When, Duration, Status, Motif, Organisation, Place string
	Cancelled                                          bool
	Agents                                             []string
	CreatedBy                                          person
	CreatedAt                                          string
	Usager                                             person
	Address, BirthDate                                 string
	Context                                            string
	UsagerURL                                          string
	// What the usager's page lets it do, as the link's text says.
	UsagerMayCancel, UsagerMayMove bool
	CancelledAt, CancelReason      string
	// Done says what the agent just did (after an action).
	Done string
	// CanChange: an agent of the RDV's organisation (not the agent who
	// only prescribed it) may act on it.
	CanChange                      bool
	CancelURL, MoveURL, ContextURL string
	StatusLinks                    []statusLink
	PrescribedOnly                 bool // the agent prescribed it and only reads it
}

type statusLink struct{ Label, URL string }

func (w *Web) handleAgentRDV(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	if !requireAgent(rw, r, c, r.URL.RequestURI()) {
		return
	}
	b, err := w.booking.Get(r.Context(), booking.Caller{Agent: c.agent}, r.PathValue("id"))
	if errors.Is(err, rdv.ErrNotFound) || errors.Is(err, rdv.ErrForbidden) || errors.Is(err, rdv.ErrUnauthenticated) {
		// The same answer whether the RDV does not exist or belongs to
		// another organisation: its existence is not revealed.
		w.notFound(rw, r, c)
		return
	}
	if err != nil {
		w.internalError(rw, r, c, err)
		return
	}
	x := b.RDV
	v := agentRDV{When: french.DateTime(w.local(c.cat, x, x.StartsAt)), Duration: french.Duration(x.EndsAt.Sub(x.StartsAt)),
		Status: statusLabels[x.Status], Cancelled: x.Status.Cancelled(), Motif: x.MotifID, Organisation: x.OrganisationID,
		CreatedBy: createdBy(c.cat, x), CreatedAt: french.DateTime(w.local(c.cat, x, x.CreatedAt)), Context: x.Context,
		UsagerURL: rdv.UsagerURL(w.publicBase(c.cat), x),
		Usager:    person{Name: b.Usager.FirstName + " " + b.Usager.LastName, Email: b.Usager.Email},
		Address:   b.Usager.Address, BirthDate: b.Usager.BirthDate}
	if x.CancelledAt != nil {
		v.CancelledAt, v.CancelReason = french.DateTime(w.local(c.cat, x, *x.CancelledAt)), x.CancelReason
	}
	v.Done = doneMessages[r.URL.Query().Get("fait")]
	v.CanChange = w.booking.MayChange(c.agent, x)
	v.PrescribedOnly = !v.CanChange
	if v.CanChange {
		base := agentRDVPath(x.ID)
		v.ContextURL = base + "/contexte"
		if !v.Cancelled {
			v.CancelURL, v.MoveURL = base+"/annuler", base+"/deplacer"
		}
		for _, a := range statusActions {
			if a.Status != x.Status && (!v.Cancelled || a.Status != rdv.StatusExcused) {
				v.StatusLinks = append(v.StatusLinks, statusLink{a.Label, base + "/statut?statut=" + string(a.Status)})
			}
		}
	}
	if b.Usager.PhoneNumber != "" {
		v.Usager.Phone, v.Usager.PhoneHref = french.Phone(b.Usager.PhoneNumber), telHref(b.Usager.PhoneNumber)
	}
	if m := c.cat.Motif(x.MotifID); m != nil {
		v.Motif, v.Organisation, v.Place = m.Name, m.Organisation.Name, locationLabels[m.LocationType]
		v.UsagerMayCancel, v.UsagerMayMove = m.CancellableByUsager, m.UsagerMayMove()
	}
	if l := c.cat.Lieu(x.LieuID); l != nil {
		v.Place = l.Name + ", " + l.Address
	}
	for _, id := range x.AgentIDs {
		if a := c.cat.Agent(id); a != nil {
			v.Agents = append(v.Agents, a.FullName())
		} else {
			v.Agents = append(v.Agents, id)
		}
	}
	w.render(rw, r, c, http.StatusOK, "agent_rdv", view{Title: "Rendez-vous du " + v.When, Body: v})
}

// prescriptions is "Mes prescriptions": the RDVs the agent booked in
// prescription interne, in any organisation.
type prescriptions struct {
	Period string
	Rows   []agentRow
}

// How far "Mes prescriptions" looks back and ahead.
const (
	prescriptionsPast   = 31
	prescriptionsFuture = 365
)

func (w *Web) handlePrescriptions(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	if !requireAgent(rw, r, c, "/agents/prescriptions") {
		return
	}
	today := rdv.DateOf(w.now().In(c.agent.Organisations[0].Location))
	from, to := today.AddDays(-prescriptionsPast), today.AddDays(prescriptionsFuture)
	list, err := w.booking.Prescriptions(r.Context(), c.agent, from, to)
	if err != nil {
		w.internalError(rw, r, c, err)
		return
	}
	p := prescriptions{Period: "Du " + french.Day(from) + " au " + french.Day(to)}
	for _, b := range list {
		row := w.agentRow(c.cat, b)
		if o := c.cat.Organisation(b.RDV.OrganisationID); o != nil {
			row.Organisation = o.Name
		}
		p.Rows = append(p.Rows, row)
	}
	w.render(rw, r, c, http.StatusOK, "prescriptions", view{Title: "Mes prescriptions", Body: p})
}
