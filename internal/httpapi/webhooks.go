package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/rdv"
	"rdvsync/internal/webhook"
)

// WebhookDeliveries reports an outgoing endpoint's delivery log
// (*webhook.Service).
type WebhookDeliveries interface {
	Deliveries(ctx context.Context, endpointID string) (webhook.DeliveryReport, error)
}

// registerIncomingWebhooks adds the incoming prescription forms' route,
// outside /api/v1. It is not rate-limited per IP: every message is signed,
// and a form builder posts from few addresses.
func (a *API) registerIncomingWebhooks(mux *http.ServeMux) {
	mux.Handle("POST /webhooks/prescriptions/{source_id}", a.Wrap(http.HandlerFunc(a.handleIncomingWebhook)))
}

// WebhookRDVView renders the "data" of outgoing webhook events: the RDV as
// an agent sees it, without the usager's link, which lets whoever holds
// it cancel or move the RDV as the usager (a partner system must not).
func WebhookRDVView(cat *catalog.Catalog, b *booking.Booked) any {
	v := newRDVView(cat, b, viewAgent, cat.Config.Server.PublicURL)
	v.UsagerURL = ""
	return v
}

// WebhookUsagerView renders the "data" of outgoing User events in format
// rdvsync: the usager as an agent sees it.
func WebhookUsagerView(u *rdv.Usager) any { return newUsagerView(u) }

// handleIncomingWebhook books from a prescription form: 404 for an
// unknown source, 401 (nothing stored) for a bad signature, then exactly
// what POST /api/v1/rdvs answers an anonymous prescripteur. A Démarches
// Simplifiées source is called back instead (handleDSCallback).
func (a *API) handleIncomingWebhook(w http.ResponseWriter, r *http.Request) {
	cat := a.booking.Catalog()
	src, err := webhook.LookupIncoming(cat, r.PathValue("source_id"))
	if errors.Is(err, rdv.ErrNotFound) {
		writeErrorCode(w, http.StatusNotFound, "not_found", "Cette source de webhook n'existe pas.")
		return
	}
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if src.Signature == config.SignatureDemarchesSimplifiees {
		a.handleDSCallback(w, r, src)
		return
	}
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeErrorCode(w, http.StatusRequestEntityTooLarge, "body_too_large", "La requête dépasse 1 Mio.")
		return
	}
	if err != nil {
		writeErrorCode(w, http.StatusBadRequest, "bad_request", "La requête n'a pas pu être lue.")
		return
	}
	id, err := src.Verify(r.Header, body, a.booking.Now())
	if errors.Is(err, webhook.ErrMalformedPayload) {
		writeErrorCode(w, http.StatusBadRequest, "malformed_json", "Le corps du webhook n'est pas un JSON valide.")
		return
	}
	if err != nil {
		a.log.Warn("incoming webhook refused", "source_id", src.ID, "signature", src.Signature, slog.Any("error", err))
		if errors.Is(err, webhook.ErrTimestamp) {
			writeErrorCode(w, http.StatusUnauthorized, "invalid_timestamp", timestampMessage(src.Signature))
			return
		}
		writeErrorCode(w, http.StatusUnauthorized, "invalid_signature", signatureMessage(src.Signature))
		return
	}
	if len(id) > webhook.MaxIDLength {
		a.writeError(w, r, rdv.Invalid("webhook-id", "255 caractères au plus"))
		return
	}
	var sub webhook.Submission
	if src.Mapped() {
		sub, err = src.Map(cat, body)
		if errors.Is(err, webhook.ErrMalformedPayload) {
			writeErrorCode(w, http.StatusBadRequest, "malformed_json", "Le corps du webhook n'est pas un JSON valide.")
			return
		}
	} else {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if _, ok := a.decode(w, r, &sub.Request); !ok {
			return
		}
	}
	a.submit(w, r, src, sub, src.Idempotency(id, body), err)
}

func signatureMessage(scheme string) string {
	switch scheme {
	case config.SignatureTally:
		return "Signature du webhook absente ou invalide (en-tête Tally-Signature)."
	case config.SignatureTypeform:
		return "Signature du webhook absente ou invalide (en-tête Typeform-Signature)."
	}
	return "Signature du webhook absente ou invalide (en-têtes webhook-id, webhook-timestamp et webhook-signature)."
}

func timestampMessage(scheme string) string {
	switch scheme {
	case config.SignatureTally:
		return "La réponse au formulaire (createdAt) date de plus de 5 minutes, ou s'écarte de l'heure actuelle."
	case config.SignatureTypeform:
		return "La réponse au formulaire (submitted_at) date de plus de 5 minutes, ou s'écarte de l'heure actuelle."
	}
	return "L'horodatage du webhook (en-tête webhook-timestamp) s'écarte de plus de 5 minutes de l'heure actuelle."
}

// submit books a mapped submission (mapErr: what the mapping refused) and
// answers. A form builder shows its user nothing of the answer: when a
// form of one (not a Standard Webhooks relay, which reads our answers) is
// refused for its content, the prescripteur it names is told by email.
func (a *API) submit(w http.ResponseWriter, r *http.Request, src *webhook.Incoming, sub webhook.Submission, idem *booking.Idempotency, mapErr error) {
	req := &sub.Request
	err := mapErr
	if err == nil {
		err = webhook.CheckPrescription(req)
	}
	var b *booking.Booked
	switch {
	case err != nil:
		// A message refused before keeps its first answer.
		if prev, perr := a.booking.Replayed(r.Context(), idem); perr != nil || prev != nil {
			b, err = prev, perr
		}
	case sub.FirstAvailable:
		b, err = a.booking.BookFirstAvailable(r.Context(), booking.Caller{}, *req, sub.NotBefore, idem)
	default:
		b, err = a.booking.Book(r.Context(), booking.Caller{}, *req, idem)
	}
	if err != nil {
		if src.Signature != config.SignatureStandardWebhooks {
			err = a.tellPrescripteur(r, src, req, idem, err)
		}
		a.writeError(w, r, err)
		return
	}
	if b.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusCreated, a.bookedView(booking.Caller{}, b, req))
}

// tellPrescripteur records a refusal for content (refusal) with the email
// to the prescripteur, when the submission names a valid address, and
// returns the error to answer: the refusal recorded first for this message
// when a concurrent delivery of it won.
func (a *API) tellPrescripteur(r *http.Request, src *webhook.Incoming, req *booking.BookRequest, idem *booking.Idempotency, err error) error {
	status, body, ok := refusal(err)
	if !ok || req.Prescripteur == nil {
		return err
	}
	email, valid := booking.ValidEmail(req.Prescripteur.Email)
	if !valid {
		return err
	}
	raw, jerr := json.Marshal(body)
	if jerr != nil {
		return err
	}
	ref := &booking.Refusal{Idempotency: idem, Source: src.ID, Status: status, Response: append(raw, '\n'),
		MotifID: req.MotifID, Prescripteur: *req.Prescripteur, Fields: body.Error.Fields, NoSlot: errors.Is(err, booking.ErrNoSlot)}
	ref.Prescripteur.Email = email
	if u := req.Usager; u != nil {
		ref.UsagerName = strings.TrimSpace(u.FirstName + " " + u.LastName)
		if n := []rune(ref.UsagerName); len(n) > 200 {
			ref.UsagerName = string(n[:200])
		}
	}
	recorded, rerr := a.booking.RecordRefusal(r.Context(), ref)
	if rerr != nil {
		return rerr
	}
	if !recorded {
		// A concurrent delivery of this message answered first: its
		// refusal is the answer.
		if _, perr := a.booking.Replayed(r.Context(), idem); perr != nil {
			return perr
		}
	}
	return err
}

// handleDSCallback books from a Démarches Simplifiées callback, which
// proves nothing by itself: 404 for another procedure than the source's,
// 200 "ignored" for a change to a state that does not book, else the
// dossier is read from DS's API and booked only if the API confirms it.
func (a *API) handleDSCallback(w http.ResponseWriter, r *http.Request, src *webhook.Incoming) {
	cb, err := webhook.ParseDSCallback(r)
	if err != nil {
		writeErrorCode(w, http.StatusBadRequest, "bad_request", "Rappel Démarches Simplifiées invalide : procedure_id, dossier_id et state sont attendus.")
		return
	}
	log := a.log.With("source_id", src.ID, "procedure", cb.Procedure, "dossier", cb.Dossier)
	if cb.Procedure != src.DS.Procedure {
		log.Warn("demarches simplifiees callback for another procedure")
		writeErrorCode(w, http.StatusNotFound, "not_found", "Cette procédure n'est pas configurée pour cette source.")
		return
	}
	if cb.State != src.DS.State {
		writeJSON(w, http.StatusOK, map[string]string{"result": "ignored",
			"message": "Ce changement d'état du dossier ne prend pas de rendez-vous (état attendu : " + src.DS.State + ")."})
		return
	}
	key, keyBody := webhook.DSIdempotencyKey(cb)
	idem := src.Idempotency(key, keyBody)
	// A dossier booked (or refused) before keeps its answer, whatever
	// state it has reached since.
	if prev, err := a.booking.Replayed(r.Context(), idem); err != nil || prev != nil {
		if err != nil {
			a.writeError(w, r, err)
			return
		}
		w.Header().Set("Idempotent-Replayed", "true")
		writeJSON(w, http.StatusCreated, a.bookedView(booking.Caller{}, prev, &booking.BookRequest{}))
		return
	}
	d, err := a.dossiers.Fetch(r.Context(), src.DS, cb.Dossier)
	switch {
	case errors.Is(err, rdv.ErrNotFound):
		log.Warn("demarches simplifiees callback for a dossier the API does not know")
		writeErrorCode(w, http.StatusNotFound, "not_found", "L'API Démarches Simplifiées ne connaît pas ce dossier.")
		return
	case err != nil:
		log.Error("reading a demarches simplifiees dossier", slog.Any("error", err))
		writeErrorCode(w, http.StatusBadGateway, "upstream_unavailable", "Le dossier n'a pas pu être lu depuis Démarches Simplifiées : réessayez plus tard.")
		return
	}
	if why := d.Confirms(src.DS, cb); why != "" {
		log.Warn("demarches simplifiees callback not confirmed by the API", "reason", why)
		writeErrorCode(w, http.StatusConflict, "dossier_not_confirmed",
			"L'API Démarches Simplifiées ne confirme pas ce rappel (procédure ou état du dossier) : aucun rendez-vous n'est pris.")
		return
	}
	sub, err := src.Map(a.booking.Catalog(), d.Document)
	if errors.Is(err, webhook.ErrMalformedPayload) {
		a.writeError(w, r, err)
		return
	}
	a.submit(w, r, src, sub, idem, err)
}

// handleWebhookDeliveries shows an outgoing endpoint's delivery log to the
// agents of its organisations (any agent for an endpoint without).
func (a *API) handleWebhookDeliveries(w http.ResponseWriter, r *http.Request) {
	deliveries := a.webhooks
	agent, ok := a.agent(w, r)
	if !ok {
		return
	}
	cat := a.booking.Catalog()
	ep := webhook.Endpoint(cat, r.PathValue("id"))
	if ep == nil {
		writeErrorCode(w, http.StatusNotFound, "not_found", "Ce webhook sortant n'existe pas.")
		return
	}
	if len(ep.Organisations) > 0 && !slices.ContainsFunc(agent.Organisations, func(o *catalog.Organisation) bool {
		return slices.Contains(ep.Organisations, o.ID)
	}) {
		writeErrorCode(w, http.StatusForbidden, "forbidden", "Ce webhook sortant concerne d'autres organisations que les vôtres.")
		return
	}
	if deliveries == nil {
		a.writeError(w, r, errors.New("outgoing webhooks not wired"))
		return
	}
	rep, err := deliveries.Deliveries(r.Context(), ep.ID)
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}
