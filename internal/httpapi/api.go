// Package httpapi serves the JSON API v1 of docs/design.md §5: catalogue, slots,
// bookings, cancellations, moves, statuses and usager search, plus
// /healthz, /readyz and /metrics. Handlers decode, validate, call booking
// and write one JSON shape; writeError is the single error mapping. No
// request, however malformed, gets a 5xx for its content.
package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"rdvsync/internal/booking"
	"rdvsync/internal/calsync"
	"rdvsync/internal/catalog"
	"rdvsync/internal/ratelimit"
	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
	"rdvsync/internal/webhook"
)

// MaxBodyBytes is the largest request body accepted (413 above).
const MaxBodyBytes = 1 << 20

// Options configure the API.
type Options struct {
	Booking *booking.Service
	Logger  *slog.Logger
	// Registerer receives the API's Prometheus metrics.
	Registerer prometheus.Registerer
	// Ready reports whether the daemon can serve (store open, config loaded).
	Ready func() error
	// RatePerMinute and RateBurst limit anonymous callers per client IP,
	// unless Anonymous is given.
	RatePerMinute, RateBurst int
	// Anonymous are the per-client buckets of anonymous callers, shared
	// with the booking pages so that a visitor has one budget.
	Anonymous *ratelimit.Buckets
	// Failures throttles failed authentications (Bearer tokens, usager
	// links) per client, shared with the sign-in page and CalDAV; default
	// a throttle of the API's own.
	Failures *ratelimit.Failures
	// Sync reports agents' calendar sync state.
	Sync SyncReporter
	// Receipts lists the notifications sent about an RDV.
	Receipts ReceiptLister
	// Feeds answers GET /api/v1/agents/{id}/feed.
	Feeds FeedInfo
	// Webhooks reports outgoing webhook endpoints' delivery logs.
	Webhooks WebhookDeliveries
	// Dossiers reads Démarches Simplifiées dossiers (default: webhook.NewDossiers()).
	Dossiers *webhook.Dossiers
}

// FeedInfo serves an agent its served-calendar addresses.
type FeedInfo interface {
	ServeFeedInfo(w http.ResponseWriter, r *http.Request, caller *catalog.Agent)
}

// ReceiptLister lists the delivery attempts of notifications about an RDV.
type ReceiptLister interface {
	Receipts(ctx context.Context, rdvID string) ([]store.Receipt, error)
}

// SyncReporter reports the calendar sync state of an agent.
type SyncReporter interface {
	Status(ctx context.Context, a *catalog.Agent) (calsync.AgentStatus, error)
}

// API is the HTTP handler of /api/v1 and the operational endpoints.
type API struct {
	booking  *booking.Service
	log      *slog.Logger
	metrics  *metrics
	limiter  *ratelimit.Buckets
	failures *ratelimit.Failures
	ready    func() error
	sync     SyncReporter
	receipts ReceiptLister
	feeds    FeedInfo
	webhooks WebhookDeliveries
	dossiers *webhook.Dossiers
}

// New builds the API. Register its routes on a mux with Register.
func New(opts Options) *API {
	a := &API{booking: opts.Booking, log: opts.Logger, ready: opts.Ready, sync: opts.Sync, receipts: opts.Receipts, feeds: opts.Feeds, webhooks: opts.Webhooks, dossiers: opts.Dossiers}
	if a.dossiers == nil {
		a.dossiers = webhook.NewDossiers()
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	a.log = a.log.With("component", "httpapi")
	a.metrics = newMetrics(opts.Registerer)
	a.limiter, a.failures = opts.Anonymous, opts.Failures
	if a.limiter == nil {
		a.limiter = ratelimit.PerMinute(opts.RatePerMinute, opts.RateBurst)
	}
	if a.failures == nil {
		a.failures = ratelimit.NewFailures(0, 0)
	}
	return a
}

// Routes lists every route of the API, in one place.
func (a *API) Routes() []Route {
	return []Route{
		{"GET /api/v1/catalog", a.handleCatalog, true},
		{"GET /api/v1/slots", a.handleSlots, true},
		{"GET /api/v1/slots/next", a.handleNextSlot, true},
		{"POST /api/v1/rdvs", a.handleBook, true},
		{"GET /api/v1/rdvs", a.handleList, false},
		{"GET /api/v1/rdvs/{id}", a.handleGet, true},
		{"PATCH /api/v1/rdvs/{id}", a.handleMove, true},
		{"POST /api/v1/rdvs/{id}/cancel", a.handleCancel, true},
		{"POST /api/v1/rdvs/{id}/status", a.handleStatus, false},
		{"GET /api/v1/rdvs/{id}/receipts", a.handleReceipts, false},
		{"GET /api/v1/usagers", a.handleUsagers, false},
		{"GET /api/v1/usagers/{id}/export", a.handleUsagerExport, false},
		{"DELETE /api/v1/usagers/{id}", a.handleUsagerErase, false},
		{"GET /api/v1/agents/{id}/sync", a.handleAgentSync, false},
		{"GET /api/v1/agents/{id}/feed", a.handleAgentFeed, false},
		{"GET /api/v1/webhooks/{id}/deliveries", a.handleWebhookDeliveries, false},
		{"GET /api/v1/openapi.json", a.handleOpenAPI, false},
	}
}

// Route is one API route; Public routes are rate-limited for anonymous callers.
type Route struct {
	Pattern string
	Handler http.HandlerFunc
	Public  bool
}

// Register adds the API routes and the operational endpoints to mux,
// wrapped with logging, metrics, recovery and limits.
func (a *API) Register(mux *http.ServeMux) {
	for _, rt := range a.Routes() {
		h := http.Handler(rt.Handler)
		if rt.Public {
			h = a.rateLimit(h)
		}
		h = a.throttleFailures(h)
		mux.Handle(rt.Pattern, a.Wrap(h))
	}
	a.registerIncomingWebhooks(mux)
	mux.Handle("GET /healthz", a.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})))
	mux.Handle("GET /readyz", a.Wrap(http.HandlerFunc(a.handleReady)))
	mux.Handle("GET /metrics", a.metrics.handler())
	// Unknown paths under /api/ get the JSON error body, not a text 404.
	// This catch-all matches every method, so it also answers a known path
	// called with another method: that is a 405, found by asking a mux of
	// the routes alone which methods the path has.
	routes := http.NewServeMux()
	var methods []string
	for _, rt := range a.Routes() {
		routes.Handle(rt.Pattern, http.NotFoundHandler())
		if m, _, _ := strings.Cut(rt.Pattern, " "); !slices.Contains(methods, m) {
			methods = append(methods, m)
		}
	}
	mux.Handle("/api/", a.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range methods {
			if _, pattern := routes.Handler(&http.Request{Method: m, URL: r.URL, Host: r.Host}); pattern != "" {
				allow = append(allow, m)
			}
		}
		if len(allow) > 0 {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			writeErrorCode(w, http.StatusMethodNotAllowed, "method_not_allowed", "Cette méthode n'est pas acceptée à cette adresse d'API.")
			return
		}
		writeErrorCode(w, http.StatusNotFound, "not_found", "Cette adresse d'API n'existe pas.")
	})))
}

func (a *API) handleReady(w http.ResponseWriter, r *http.Request) {
	if a.ready != nil {
		if err := a.ready(); err != nil {
			a.log.Warn("not ready", slog.Any("error", err))
			writeErrorCode(w, http.StatusServiceUnavailable, "not_ready", "Le service n'est pas prêt (démarrage, arrêt ou incident).")
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

// statusWriter records the status for logs and metrics.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Wrap adds recovery, the body size limit, the request log (method, route,
// status, duration: no query strings, they may hold tokens) and metrics.
func (a *API) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		r.Body = http.MaxBytesReader(sw, r.Body, MaxBodyBytes)
		defer func() {
			if p := recover(); p != nil {
				a.log.Error("panic in handler", "method", r.Method, "route", r.Pattern, "panic", p)
				if sw.status == 0 {
					writeErrorCode(sw, http.StatusInternalServerError, "internal", "Une erreur interne est survenue.")
				}
			}
			route := r.Pattern
			if route == "" {
				route = "unmatched"
			}
			d := time.Since(start)
			a.metrics.observeRequest(route, sw.status, d)
			level := slog.LevelInfo
			if route == "GET /healthz" || route == "GET /readyz" {
				// Probes come every few seconds: at INFO they would drown the log.
				level = slog.LevelDebug
			}
			a.log.Log(r.Context(), level, "request", "method", r.Method, "route", route, "status", sw.status, "duration_ms", float64(d.Microseconds())/1000)
		}()
		h.ServeHTTP(sw, r)
	})
}

// caller authenticates the request: a Bearer token names an agent (a bad
// token is an error, not anonymity); ?token= is an usager's link.
func (a *API) caller(r *http.Request) (booking.Caller, error) {
	var c booking.Caller
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := strings.CutPrefix(h, "Bearer ")
		if !ok || strings.TrimSpace(tok) == "" {
			return c, rdv.ErrUnauthenticated
		}
		if c.Agent = a.booking.Catalog().AgentByToken(strings.TrimSpace(tok)); c.Agent == nil {
			return c, rdv.ErrUnauthenticated
		}
		return c, nil
	}
	c.UsagerToken = r.URL.Query().Get("token")
	return c, nil
}

// agent requires an authenticated agent.
func (a *API) agent(w http.ResponseWriter, r *http.Request) (*catalog.Agent, bool) {
	c, err := a.caller(r)
	if err == nil && c.Agent == nil {
		err = rdv.ErrUnauthenticated
	}
	if err != nil {
		writeErrorCode(w, http.StatusUnauthorized, "unauthenticated", "Un jeton d'agent est requis (en-tête Authorization: Bearer …).")
		return nil, false
	}
	return c.Agent, true
}

// decode reads a JSON body strictly: one object, known fields only.
func (a *API) decode(w http.ResponseWriter, r *http.Request, v any) ([]byte, bool) {
	return a.decodeBody(w, r, v, false)
}

// decodeOptional is decode for a body the operation may go without: an
// empty one (no Content-Length, or chunked with no data) leaves v as is.
func (a *API) decodeOptional(w http.ResponseWriter, r *http.Request, v any) bool {
	_, ok := a.decodeBody(w, r, v, true)
	return ok
}

func (a *API) decodeBody(w http.ResponseWriter, r *http.Request, v any, optional bool) ([]byte, bool) {
	body, err := io.ReadAll(r.Body)
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		writeErrorCode(w, http.StatusRequestEntityTooLarge, "body_too_large", "La requête dépasse 1 Mio.")
		return nil, false
	}
	if err != nil {
		writeErrorCode(w, http.StatusBadRequest, "bad_request", "La requête n'a pas pu être lue.")
		return nil, false
	}
	if optional && len(bytes.TrimSpace(body)) == 0 {
		return body, true
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeErrorCode(w, http.StatusBadRequest, "malformed_json", "Le corps de la requête n'est pas un JSON valide pour cette opération : "+jsonProblem(err))
		return nil, false
	}
	if dec.More() {
		writeErrorCode(w, http.StatusBadRequest, "malformed_json", "Le corps de la requête contient plusieurs valeurs JSON.")
		return nil, false
	}
	return body, true
}

// jsonProblem describes a decoding error in French without echoing input.
func jsonProblem(err error) string {
	var typeErr *json.UnmarshalTypeError
	var syntaxErr *json.SyntaxError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field == "":
		return "le corps doit être un objet JSON."
	case errors.As(err, &typeErr):
		return "le champ « " + typeErr.Field + " » n'a pas le bon type (" + jsonKind(typeErr.Value) + " au lieu de " + goKind(typeErr.Type) + ")."
	case errors.As(err, &syntaxErr):
		return "erreur de syntaxe."
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "champ inconnu " + strings.TrimPrefix(err.Error(), "json: unknown field ") + "."
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "corps vide ou incomplet."
	}
	return "structure inattendue."
}

// jsonKind names in French the kind of a JSON value ("number", "string 12"…).
func jsonKind(value string) string {
	kind, _, _ := strings.Cut(value, " ")
	switch kind {
	case "string":
		return "texte"
	case "number":
		return "nombre"
	case "array":
		return "tableau"
	case "object":
		return "objet"
	case "bool":
		return "booléen"
	}
	return "valeur"
}

// goKind names in French the JSON kind a Go type expects, without
// printing Go type names.
func goKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "texte"
	case reflect.Bool:
		return "booléen"
	case reflect.Struct, reflect.Map:
		return "objet"
	case reflect.Slice, reflect.Array:
		return "tableau"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "nombre"
	}
	return "autre type"
}
