package httpapi

import (
	"errors"
	"net/http"
	"slices"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
	"rdvsync/internal/sector"
	"rdvsync/internal/slots"
	"rdvsync/internal/store"
)

type catalogResponse struct {
	Organisations []orgView     `json:"organisations"`
	Services      []serviceView `json:"services"`
	Motifs        []motifView   `json:"motifs"`
	Lieux         []lieuView    `json:"lieux"`
}

type orgView struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	TerritoryID string `json:"territory_id"`
	Timezone    string `json:"timezone"`
	Phone       string `json:"phone,omitempty"`
	Email       string `json:"email,omitempty"`
}

type serviceView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type motifView struct {
	ID                  string           `json:"id"`
	Name                string           `json:"name"`
	OrganisationID      string           `json:"organisation_id"`
	ServiceID           string           `json:"service_id"`
	DurationMinutes     int              `json:"duration_minutes"`
	LocationType        rdv.LocationType `json:"location_type"`
	BookableBy          rdv.BookableBy   `json:"bookable_by"`
	Instructions        string           `json:"instructions,omitempty"`
	CancellableByUsager bool             `json:"cancellable_by_usager"`
	LieuIDs             []string         `json:"lieu_ids"`
}

type lieuView struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Address        string `json:"address,omitempty"`
	OrganisationID string `json:"organisation_id"`
}

func (a *API) handleCatalog(w http.ResponseWriter, r *http.Request) {
	c, err := a.caller(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	cat := a.booking.Catalog()
	q := r.URL.Query()
	var only *catalog.Organisation
	if id := q.Get("organisation_id"); id != "" {
		if only = cat.Organisation(id); only == nil {
			a.writeError(w, r, rdv.Invalid("organisation_id", "organisation inconnue"))
			return
		}
	}
	match := sector.Locate(cat, sector.Address{CityCode: q.Get("city_code"), PostalCode: q.Get("postal_code"), StreetBanID: q.Get("street_ban_id")})
	resp := catalogResponse{Organisations: []orgView{}, Services: []serviceView{}, Motifs: []motifView{}, Lieux: []lieuView{}}
	var orgs []*catalog.Organisation
	var services []*catalog.Service
	var lieux []*catalog.Lieu
	for _, m := range cat.Motifs {
		if (only != nil && m.Organisation != only) || !slots.MayBook(c.Agent, m) || !match.AllowsMotif(m) || len(m.Plages) == 0 {
			continue
		}
		mv := motifView{ID: m.ID, Name: m.Name, OrganisationID: m.Organisation.ID, ServiceID: m.Service.ID,
			DurationMinutes: int(m.Duration / time.Minute), LocationType: m.LocationType, BookableBy: m.BookableBy,
			Instructions: m.Instructions, CancellableByUsager: m.CancellableByUsager, LieuIDs: []string{}}
		for _, l := range m.Lieux {
			mv.LieuIDs = append(mv.LieuIDs, l.ID)
			if !slices.Contains(lieux, l) {
				lieux = append(lieux, l)
			}
		}
		resp.Motifs = append(resp.Motifs, mv)
		if !slices.Contains(orgs, m.Organisation) {
			orgs = append(orgs, m.Organisation)
		}
		if !slices.Contains(services, m.Service) {
			services = append(services, m.Service)
		}
	}
	for _, o := range orgs {
		resp.Organisations = append(resp.Organisations, orgView{ID: o.ID, Name: o.Name, TerritoryID: o.Territory.ID,
			Timezone: o.Location.String(), Phone: o.Phone, Email: o.Email})
	}
	for _, s := range services {
		resp.Services = append(resp.Services, serviceView{ID: s.ID, Name: s.Name})
	}
	for _, l := range lieux {
		resp.Lieux = append(resp.Lieux, lieuView{ID: l.ID, Name: l.Name, Address: l.Address, OrganisationID: l.Organisation.ID})
	}
	writeJSON(w, http.StatusOK, resp)
}

func slotsRequest(r *http.Request) booking.SlotsRequest {
	q := r.URL.Query()
	return booking.SlotsRequest{
		MotifID: q.Get("motif_id"), LieuID: q.Get("lieu_id"), ServiceID: q.Get("service_id"), TerritoryID: q.Get("territory"),
		From: q.Get("from"), To: q.Get("to"), CityCode: q.Get("city_code"), PostalCode: q.Get("postal_code"), StreetBanID: q.Get("street_ban_id"),
	}
}

func (a *API) handleSlots(w http.ResponseWriter, r *http.Request) {
	c, err := a.caller(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	start := time.Now()
	found, err := a.booking.Slots(r.Context(), booking.Caller{Agent: c.Agent}, slotsRequest(r))
	a.metrics.slotSearch.Observe(time.Since(start).Seconds())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeSlots(w, found)
}

func (a *API) handleNextSlot(w http.ResponseWriter, r *http.Request) {
	c, err := a.caller(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	start := time.Now()
	s, ok, err := a.booking.NextSlot(r.Context(), booking.Caller{Agent: c.Agent}, slotsRequest(r))
	a.metrics.slotSearch.Observe(time.Since(start).Seconds())
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	resp := struct {
		Slot *SlotView `json:"slot"`
	}{}
	if ok {
		v := NewSlotView(s)
		resp.Slot = &v
	}
	writeJSON(w, http.StatusOK, resp)
}

func (a *API) handleBook(w http.ResponseWriter, r *http.Request) {
	c, err := a.caller(r)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	var req booking.BookRequest
	body, ok := a.decode(w, r, &req)
	if !ok {
		return
	}
	var idem *booking.Idempotency
	if k := r.Header.Get("Idempotency-Key"); k != "" {
		if len(k) > 255 {
			a.writeError(w, r, rdv.Invalid("Idempotency-Key", "255 caractères au plus"))
			return
		}
		idem = &booking.Idempotency{Key: k, BodySHA256: booking.BodyHash(body)}
	}
	b, err := a.booking.Book(r.Context(), c, req, idem)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := http.StatusCreated
	if b.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, status, a.bookedView(c, b, &req))
}

// bookedView renders a booking for whoever made it. Without an agent
// token the usager is always a new one (booking.resolveUsager); a
// prescripteur still sees back only the names it typed, and not the
// usager's link: it has no hand on the RDV after booking.
func (a *API) bookedView(c booking.Caller, b *booking.Booked, req *booking.BookRequest) RDVView {
	cat, pub := a.booking.Catalog(), a.publicURL()
	switch {
	case c.Agent != nil:
		return newRDVView(cat, b, viewAgent, pub)
	case b.RDV.CreatedBy.Type == rdv.CreatedByUsager:
		return newRDVView(cat, b, viewUsager, pub)
	}
	v := newRDVView(cat, b, viewPrescripteur, pub)
	if req.Usager != nil {
		v.Usager = &UsagerView{FirstName: req.Usager.FirstName, LastName: req.Usager.LastName}
	}
	return v
}

func (a *API) publicURL() string { return a.booking.Catalog().Config.Server.PublicURL }

func (a *API) handleList(w http.ResponseWriter, r *http.Request) {
	agent, ok := a.agent(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	list, err := a.booking.List(r.Context(), agent, booking.ListRequest{
		OrganisationID: q.Get("organisation_id"), AgentID: q.Get("agent_id"), From: q.Get("from"), To: q.Get("to")})
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	resp := struct {
		RDVs []RDVView `json:"rdvs"`
	}{RDVs: make([]RDVView, len(list))}
	cat, pub := a.booking.Catalog(), a.publicURL()
	for i, b := range list {
		resp.RDVs[i] = newRDVView(cat, b, viewAgent, pub)
	}
	writeJSON(w, http.StatusOK, resp)
}

// rdvCaller authenticates an agent or an usager's token for /rdvs/{id}.
func (a *API) rdvCaller(w http.ResponseWriter, r *http.Request) (booking.Caller, bool) {
	c, err := a.caller(r)
	if err == nil && c.Anonymous() {
		err = rdv.ErrUnauthenticated
	}
	if err != nil {
		writeErrorCode(w, http.StatusUnauthorized, "unauthenticated", "Un jeton d'agent ou le lien reçu par l'usager est requis.")
		return c, false
	}
	return c, true
}

// respondRDV answers a call on one RDV: the error, or the RDV as c sees it.
func (a *API) respondRDV(w http.ResponseWriter, r *http.Request, c booking.Caller, b *booking.Booked, err error) {
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	a.writeRDV(w, c, b)
}

func (a *API) writeRDV(w http.ResponseWriter, c booking.Caller, b *booking.Booked) {
	who := viewUsager
	if c.Agent != nil {
		who = viewAgent
	}
	writeJSON(w, http.StatusOK, newRDVView(a.booking.Catalog(), b, who, a.publicURL()))
}

func (a *API) handleGet(w http.ResponseWriter, r *http.Request) {
	c, ok := a.rdvCaller(w, r)
	if !ok {
		return
	}
	b, err := a.booking.Get(r.Context(), c, r.PathValue("id"))
	a.respondRDV(w, r, c, b, err)
}

func (a *API) handleCancel(w http.ResponseWriter, r *http.Request) {
	c, ok := a.rdvCaller(w, r)
	if !ok {
		return
	}
	var req struct {
		Reason string `json:"reason"`
	}
	// The body is optional (docs/api.md): absent, empty or chunked with
	// no data, it is no reason given.
	if !a.decodeOptional(w, r, &req) {
		return
	}
	b, err := a.booking.Cancel(r.Context(), c, r.PathValue("id"), req.Reason)
	a.respondRDV(w, r, c, b, err)
}

func (a *API) handleMove(w http.ResponseWriter, r *http.Request) {
	c, ok := a.rdvCaller(w, r)
	if !ok {
		return
	}
	var req booking.MoveRequest
	if _, ok := a.decode(w, r, &req); !ok {
		return
	}
	b, err := a.booking.Move(r.Context(), c, r.PathValue("id"), req)
	a.respondRDV(w, r, c, b, err)
}

func (a *API) handleStatus(w http.ResponseWriter, r *http.Request) {
	agent, ok := a.agent(w, r)
	if !ok {
		return
	}
	var req struct {
		Status rdv.Status `json:"status"`
	}
	if _, ok := a.decode(w, r, &req); !ok {
		return
	}
	b, err := a.booking.SetStatus(r.Context(), agent, r.PathValue("id"), req.Status)
	a.respondRDV(w, r, booking.Caller{Agent: agent}, b, err)
}

func (a *API) handleUsagers(w http.ResponseWriter, r *http.Request) {
	agent, ok := a.agent(w, r)
	if !ok {
		return
	}
	found, err := a.booking.SearchUsagers(r.Context(), agent, r.URL.Query().Get("q"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	resp := struct {
		Usagers []*UsagerView `json:"usagers"`
	}{Usagers: make([]*UsagerView, len(found))}
	for i, u := range found {
		resp.Usagers[i] = newUsagerView(u)
	}
	writeJSON(w, http.StatusOK, resp)
}

// handleAgentSync shows an agent its own calendar sync state.
func (a *API) handleAgentSync(w http.ResponseWriter, r *http.Request) {
	agent, ok := a.agent(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if a.booking.Catalog().Agent(id) == nil {
		writeErrorCode(w, http.StatusNotFound, "not_found", "Agent inconnu.")
		return
	}
	if id != agent.ID {
		writeErrorCode(w, http.StatusForbidden, "forbidden", "Un agent ne consulte que l'état de son propre agenda.")
		return
	}
	if a.sync == nil {
		a.writeError(w, r, errors.New("calendar sync not wired"))
		return
	}
	st, err := a.sync.Status(r.Context(), agent)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, st)
}

// handleReceipts lists the notifications sent about an RDV (its agents).
func (a *API) handleReceipts(w http.ResponseWriter, r *http.Request) {
	agent, ok := a.agent(w, r)
	if !ok {
		return
	}
	id := r.PathValue("id")
	if _, err := a.booking.Get(r.Context(), booking.Caller{Agent: agent}, id); err != nil {
		a.writeError(w, r, err)
		return
	}
	if a.receipts == nil {
		a.writeError(w, r, errors.New("notifications not wired"))
		return
	}
	list, err := a.receipts.Receipts(r.Context(), id)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Receipts []store.Receipt `json:"receipts"`
	}{list})
}

// handleAgentFeed gives an agent the addresses of its served calendars.
func (a *API) handleAgentFeed(w http.ResponseWriter, r *http.Request) {
	agent, ok := a.agent(w, r)
	if !ok {
		return
	}
	if a.feeds == nil {
		a.writeError(w, r, errors.New("served calendars not wired"))
		return
	}
	a.feeds.ServeFeedInfo(w, r, agent)
}

// exportRDV is an RDV in an usager's export: as an agent sees it, with the
// contact the RDV keeps for its notifications.
type exportRDV struct {
	RDVView
	Contact rdv.Contact `json:"contact"`
}

// handleUsagerExport gives an agent of an organisation that knows the
// usager what the organisation holds about it (RGPD right of access).
func (a *API) handleUsagerExport(w http.ResponseWriter, r *http.Request) {
	agent, ok := a.agent(w, r)
	if !ok {
		return
	}
	exp, err := a.booking.ExportUsager(r.Context(), agent, r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	cat, pub := a.booking.Catalog(), a.publicURL()
	resp := struct {
		Usager     *UsagerView `json:"usager"`
		RDVs       []exportRDV `json:"rdvs"`
		ExportedAt string      `json:"exported_at"`
	}{Usager: newUsagerView(exp.Usager), RDVs: make([]exportRDV, len(exp.RDVs)), ExportedAt: a.booking.Now().UTC().Format(time.RFC3339)}
	for i, x := range exp.RDVs {
		resp.RDVs[i] = exportRDV{RDVView: newRDVView(cat, &booking.Booked{RDV: x, Usager: exp.Usager}, viewAgent, pub), Contact: x.Contact}
	}
	w.Header().Set("Content-Disposition", `attachment; filename="usager-`+exp.Usager.ID+`.json"`)
	writeJSON(w, http.StatusOK, resp)
}

// handleUsagerErase erases an usager (RGPD right to erasure): 200 when
// every record is already deleted, 202 when they go once the
// cancellation notices of its future RDVs are out.
func (a *API) handleUsagerErase(w http.ResponseWriter, r *http.Request) {
	agent, ok := a.agent(w, r)
	if !ok {
		return
	}
	e, err := a.booking.EraseUsager(r.Context(), agent, r.PathValue("id"))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	status := http.StatusOK
	if !e.Done {
		status = http.StatusAccepted
	}
	writeJSON(w, status, struct {
		UsagerID      string `json:"usager_id"`
		RDVsCancelled int    `json:"rdvs_cancelled"`
		Erased        bool   `json:"erased"`
	}{e.UsagerID, e.Cancelled, e.Done})
}
