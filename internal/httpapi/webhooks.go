package httpapi

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
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

// handleIncomingWebhook books from a signed prescription form: 404 for an
// unknown source, 401 (nothing stored) for a bad signature, then exactly
// what POST /api/v1/rdvs answers an anonymous prescripteur.
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
	if err != nil {
		a.log.Warn("incoming webhook refused", "source_id", src.ID, slog.Any("error", err))
		if errors.Is(err, webhook.ErrTimestamp) {
			writeErrorCode(w, http.StatusUnauthorized, "invalid_timestamp",
				"L'horodatage du webhook (en-tête webhook-timestamp) s'écarte de plus de 5 minutes de l'heure actuelle.")
			return
		}
		writeErrorCode(w, http.StatusUnauthorized, "invalid_signature",
			"Signature du webhook absente ou invalide (en-têtes webhook-id, webhook-timestamp et webhook-signature).")
		return
	}
	if len(id) > webhook.MaxIDLength {
		a.writeError(w, r, rdv.Invalid("webhook-id", "255 caractères au plus"))
		return
	}
	var req booking.BookRequest
	if src.Mapped() {
		req, err = src.Map(cat, body)
		if errors.Is(err, webhook.ErrMalformedPayload) {
			writeErrorCode(w, http.StatusBadRequest, "malformed_json", "Le corps du webhook n'est pas un JSON valide.")
			return
		}
		if err != nil {
			a.writeError(w, r, err)
			return
		}
	} else {
		r.Body = io.NopCloser(bytes.NewReader(body))
		if _, ok := a.decode(w, r, &req); !ok {
			return
		}
	}
	if err := webhook.CheckPrescription(&req); err != nil {
		a.writeError(w, r, err)
		return
	}
	b, err := a.booking.Book(r.Context(), booking.Caller{}, req, src.Idempotency(id, body))
	if err != nil {
		a.writeError(w, r, err)
		return
	}
	if b.Replayed {
		w.Header().Set("Idempotent-Replayed", "true")
	}
	writeJSON(w, http.StatusCreated, a.bookedView(booking.Caller{}, b, &req))
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
