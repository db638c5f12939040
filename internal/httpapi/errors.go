package httpapi

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"

	"rdvsync/internal/booking"
	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// apiError is the body of every error response (docs/design.md §5).
type apiError struct {
	Error errorBody `json:"error"`
}

type errorBody struct {
	Code    string            `json:"code"`
	Message string            `json:"message"`
	Fields  map[string]string `json:"fields,omitempty"`
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

// writeErrorCode writes an error with an explicit code and French message.
func writeErrorCode(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, apiError{Error: errorBody{Code: code, Message: message}})
}

// writeError maps a use-case error to its status and body. This is the
// only place where errors become HTTP; a 500 says nothing internal, the
// log says what happened (without personal data).
func (a *API) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var refused *booking.RefusedError
	if errors.As(err, &refused) {
		// The first answer to this message, as it was.
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.Header().Set("Idempotent-Replayed", "true")
		w.WriteHeader(refused.Status)
		w.Write(refused.Body)
		return
	}
	if status, body, ok := refusal(err); ok {
		writeJSON(w, status, body)
		return
	}
	if booking.ClientGone(r.Context(), err) {
		// Not a server error: the client stopped waiting. What was
		// committed stays (an Idempotency-Key retry returns it).
		a.log.Info("request canceled by the client", "method", r.Method, "route", r.Pattern)
		w.WriteHeader(booking.StatusClientClosedRequest)
		return
	}
	switch {
	case errors.Is(err, rdv.ErrIdempotencyReuse):
		writeErrorCode(w, http.StatusUnprocessableEntity, "idempotency_key_reused", "Cette clé Idempotency-Key a déjà servi pour une autre requête.")
	case errors.Is(err, booking.ErrAlreadyCancelled):
		writeErrorCode(w, http.StatusConflict, "rdv_cancelled", "Ce rendez-vous est annulé.")
	case errors.Is(err, rdv.ErrConflict):
		writeErrorCode(w, http.StatusConflict, "conflict", "Ce rendez-vous ne peut pas être modifié dans son état actuel.")
	case errors.Is(err, booking.ErrTooLate):
		writeErrorCode(w, http.StatusForbidden, "too_late", "Ce rendez-vous commence dans moins de 4 heures : contactez directement le service pour l'annuler ou le déplacer.")
	case errors.Is(err, booking.ErrNotCancellable):
		writeErrorCode(w, http.StatusForbidden, "not_cancellable", "Ce rendez-vous ne peut pas être annulé ou déplacé en ligne : contactez directement le service.")
	case booking.IsMotifNotBookable(err):
		writeErrorCode(w, http.StatusForbidden, "motif_not_bookable", "Ce motif ne peut pas être réservé en ligne par vous.")
	case errors.Is(err, rdv.ErrUnauthenticated):
		writeErrorCode(w, http.StatusUnauthorized, "unauthenticated", "Identifiants manquants ou invalides.")
	case errors.Is(err, rdv.ErrForbidden):
		writeErrorCode(w, http.StatusForbidden, "forbidden", "Vous n'avez pas accès à cette ressource.")
	case errors.Is(err, rdv.ErrNotFound):
		writeErrorCode(w, http.StatusNotFound, "not_found", "Ressource introuvable.")
	case errors.Is(err, store.ErrDamaged):
		// The daemon goes on (other reads may work) but says it is not
		// ready; the operator restores a backup.
		a.log.Error("request failed: store damaged", "method", r.Method, "route", r.Pattern, slog.Any("error", err))
		writeErrorCode(w, http.StatusServiceUnavailable, "unavailable", "Le service est momentanément indisponible. Réessayez plus tard.")
	case errors.Is(err, store.ErrUnavailable):
		// The database cannot be reached (or kept refusing): nothing was
		// acknowledged, the client may retry with its Idempotency-Key.
		a.log.Error("request failed: store unavailable", "method", r.Method, "route", r.Pattern, slog.Any("error", err))
		w.Header().Set("Retry-After", "5")
		writeErrorCode(w, http.StatusServiceUnavailable, "unavailable", "Le service est momentanément indisponible. Réessayez plus tard.")
	default:
		a.log.Error("request failed", "method", r.Method, "route", r.Pattern, slog.Any("error", err))
		writeErrorCode(w, http.StatusInternalServerError, "internal", "Une erreur interne est survenue. Réessayez dans quelques instants.")
	}
}

// refusal is the answer to a booking refused for its content: invalid
// fields (422), no slot (409). These are what a form's prescripteur is
// told about by email (see handleIncomingWebhook).
func refusal(err error) (int, apiError, bool) {
	var inv *rdv.InvalidError
	switch {
	case errors.As(err, &inv):
		return http.StatusUnprocessableEntity, apiError{Error: errorBody{
			Code: "invalid_fields", Message: "Certains champs sont invalides.", Fields: inv.Fields}}, true
	case errors.Is(err, booking.ErrNoSlot):
		return http.StatusConflict, apiError{Error: errorBody{Code: "no_slot_available",
			Message: "Aucun créneau n'est libre pour ce motif dans le délai de réservation en ligne."}}, true
	case errors.Is(err, rdv.ErrSlotUnavailable):
		return http.StatusConflict, apiError{Error: errorBody{Code: "slot_unavailable", Message: "Ce créneau n'est plus disponible."}}, true
	}
	return 0, apiError{}, false
}
