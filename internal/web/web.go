// Package web serves rdvsync's booking pages (docs/design.md §2 items 3–6, §5
// "HTML pages"): the prescripteur link /prendre_rdv?prescripteur=1 and the
// organisation link /org/{organisation_id} (adresse → service → motif →
// lieu → créneau → prescripteur → bénéficiaire → récapitulatif), the
// agents' sign-in and hand-off to prescription interne, the agent's page
// of an RDV ("Rendez-vous pris par") with its actions (move, cancel,
// status, context), and the usager's page of its RDV (move, cancel, book
// again, .ics).
//
// Pages are rendered on the server with html/template, in French, with
// the French State design system (DSFR) served from the binary, and work
// without JavaScript: the selection travels in GET query parameters so the
// back button works; the form steps post and redirect. Every POST passes
// http.CrossOriginProtection and carries a token bound to the visitor's
// cookie and to the form's action. Every response sets a strict
// Content-Security-Policy.
//
// The DSFR files under assets/dsfr and testdata/axe.min.js come from npm
// (package.json, package-lock.json at the top of the repository) and are
// committed, so building needs no npm; scripts/update-dsfr.sh refreshes
// them. The usager's address is sectorised by postal code and INSEE code:
// the configuration's communes table derives the INSEE code from the postal code and the
// commune's name, or the visitor types it.
package web

import (
	"bytes"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/ratelimit"
	"rdvsync/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Options configure the pages.
type Options struct {
	// Key signs form tokens and confirmation links (32 bytes or more). The
	// daemon keeps one in the store so that a restart does not expire the
	// forms open in browsers; without it a random key is made.
	Key []byte
	// Store keeps the agents' sessions and sign-in links (required): the
	// daemon's store, so that every replica on it accepts them and a
	// restart signs nobody out.
	Store Store

	Booking *booking.Service
	// Catalog returns the snapshot in force; default Booking.Catalog.
	Catalog func() *catalog.Catalog
	Logger  *slog.Logger
	// PublicURL is the base of the usager's link shown to agents; default
	// the configuration's server.public_url.
	PublicURL string
	// SecureCookies marks every cookie Secure (the daemon is served over
	// HTTPS, directly or behind a proxy).
	SecureCookies bool
	// Wrap wraps every route (request log, metrics, recovery), e.g.
	// (*httpapi.API).Wrap.
	Wrap func(http.Handler) http.Handler
	// Now is the clock; default Booking.Now.
	Now func() time.Time
	// Anonymous are the per-client buckets of visitors who are not signed
	// in, shared with the API (default: buckets of the pages' own, at
	// server.rate_limit's defaults).
	Anonymous *ratelimit.Buckets
	// Failures throttles failed authentications per client, shared with
	// the API and CalDAV (default: a throttle of the pages' own).
	Failures *ratelimit.Failures
	// Mailer sends agents their sign-in links (auth.email_link); nil: no
	// sign-in by email.
	Mailer SignInMailer
	// HTTPClient calls the OpenID Provider of auth.oidc; default a client
	// with the usual timeouts.
	HTTPClient *http.Client
}

// Web serves the booking pages.
type Web struct {
	booking   *booking.Service
	catalog   func() *catalog.Catalog
	log       *slog.Logger
	publicURL string
	secure    bool
	wrap      func(http.Handler) http.Handler
	now       func() time.Time
	pages     map[string]*template.Template
	key       []byte // signs CSRF tokens and confirmation links
	sessions  *sessions
	origin    *http.CrossOriginProtection
	anonymous *ratelimit.Buckets
	failures  *ratelimit.Failures

	// Agents' sign-in (signin.go, oidc.go).
	mailer                    SignInMailer
	links                     *tickets[linkTicket]
	linkPerIP, linkPerAddress *ratelimit.Buckets
	rp                        *relyingParty
	flows                     *tickets[oidcFlow]
	oidcPerIP                 *ratelimit.Buckets
}

// What a visitor's next request needs is in the store (sessions, links,
// OpenID Connect sign-ins: tickets.go) or in its own cookies, signed with
// the key every replica reads from the store (CSRF tokens, confirmation
// links). Three things stay in the process, each safe to lose or to hold
// per replica:
//   - the rate limits (anonymous, failures, linkPerIP, linkPerAddress,
//     oidcPerIP) count the requests this replica serves: behind a load
//     balancer of N replicas a client gets at most N times each limit,
//     still a bound, without a store write per request;
//   - the OpenID Provider's discovery document (rp), the same for every
//     replica and fetched again after a restart;
//   - the parsed templates.

// New builds the pages. Register their routes on a mux with Register.
func New(opts Options) *Web {
	w := &Web{booking: opts.Booking, catalog: opts.Catalog, log: opts.Logger, publicURL: strings.TrimSuffix(opts.PublicURL, "/"),
		secure: opts.SecureCookies, wrap: opts.Wrap, now: opts.Now,
		origin: http.NewCrossOriginProtection(), anonymous: opts.Anonymous, failures: opts.Failures,
		mailer: opts.Mailer, rp: &relyingParty{client: opts.HTTPClient}}
	if opts.Store == nil {
		panic("web: Options.Store is nil")
	}
	w.sessions = &sessions{st: opts.Store, kind: kindSession}
	w.links = &tickets[linkTicket]{st: opts.Store, kind: kindLink, max: maxPendingSignIns}
	w.flows = &tickets[oidcFlow]{st: opts.Store, kind: kindOIDC, max: maxPendingSignIns}
	w.linkPerIP, w.linkPerAddress = newLinkThrottles()
	w.oidcPerIP = newOIDCThrottle()
	if w.rp.client == nil {
		w.rp.client = &http.Client{Timeout: oidcTimeout}
	}
	if w.anonymous == nil {
		w.anonymous = ratelimit.PerMinute(0, 0)
	}
	if w.failures == nil {
		w.failures = ratelimit.NewFailures(0, 0)
	}
	if w.catalog == nil {
		w.catalog = opts.Booking.Catalog
	}
	if w.now == nil {
		w.now = opts.Booking.Now
	}
	if w.log == nil {
		w.log = slog.New(slog.DiscardHandler)
	}
	w.log = w.log.With("component", "web")
	if w.wrap == nil {
		w.wrap = func(h http.Handler) http.Handler { return h }
	}
	if w.key = opts.Key; len(w.key) < 32 {
		w.key = make([]byte, 32)
		rand.Read(w.key)
	}
	w.pages = parsePages()
	return w
}

// Route is one route of the pages.
type Route struct {
	Pattern string
	Handler http.Handler
}

// Routes lists every route of the pages, in one place.
func (w *Web) Routes() []Route {
	p := func(h pageHandler) http.Handler { return w.page(h) }
	// l: pages that compute slots or submit a form, under the anonymous
	// callers' limit.
	l := func(h pageHandler) http.Handler { return w.page(w.limited(h)) }
	return []Route{
		{"GET /{$}", p(w.handleHome)},
		{"GET /prendre_rdv", l(w.handleWizard)},
		{"GET /org/{organisation_id}", l(w.handleWizard)},
		{"GET /prendre_rdv/prescripteur", p(w.handlePrescripteurForm)},
		{"POST /prendre_rdv/prescripteur", l(w.handlePrescripteurSubmit)},
		{"GET /prendre_rdv/beneficiaire", p(w.handleBeneficiaireForm)},
		{"POST /prendre_rdv/beneficiaire", l(w.handleBeneficiaireSubmit)},
		{"POST /prendre_rdv/confirmer", l(w.handleConfirm)},
		{"GET /prendre_rdv/confirmation", p(w.handleConfirmation)},
		{"GET /prendre_rdv/prescription_interne", p(w.handleInterneForm)},
		{"POST /prendre_rdv/prescription_interne", l(w.handleInterneSubmit)},
		{"GET /agents/connexion", p(w.handleLoginForm)},
		{"POST /agents/connexion", l(w.handleLogin)},
		{"POST /agents/deconnexion", p(w.handleLogout)},
		{"POST /agents/connexion/lien", p(w.handleLinkRequest)},
		{"GET /agents/connexion/lien", p(w.handleLinkPage)},
		{"POST /agents/connexion/lien/valider", p(w.handleLinkSignIn)},
		{"GET /agents/connexion/oidc", p(w.handleOIDCStart)},
		{"GET " + oidcCallbackPath, p(w.handleOIDCCallback)},
		{"GET /agents/agenda", p(w.handleAgenda)},
		{"GET /agents", p(w.handleAgentHome)},
		{"GET /agents/prescriptions", p(w.handlePrescriptions)},
		{"GET /agents/trouver", p(w.handleFind)},
		{"GET /agents/rdvs/{id}", p(w.handleAgentRDV)},
		{"GET /agents/rdvs/{id}/annuler", p(w.handleAgentCancelForm)},
		{"POST /agents/rdvs/{id}/annuler", p(w.handleAgentCancel)},
		{"GET /agents/rdvs/{id}/deplacer", p(w.handleAgentMoveForm)},
		{"POST /agents/rdvs/{id}/deplacer", p(w.handleAgentMove)},
		{"GET /agents/rdvs/{id}/statut", p(w.handleAgentStatusForm)},
		{"POST /agents/rdvs/{id}/statut", p(w.handleAgentStatus)},
		{"GET /agents/rdvs/{id}/contexte", p(w.handleAgentContextForm)},
		{"POST /agents/rdvs/{id}/contexte", p(w.handleAgentContext)},
		{"GET /rdv/{id}", p(w.handleUsagerRDV)},
		{"GET /rdv/{id}/annulation", p(w.handleUsagerCancelForm)},
		{"POST /rdv/{id}/annulation", l(w.handleUsagerCancel)},
		{"GET /rdv/{id}/deplacement", l(w.handleUsagerMoveForm)},
		{"POST /rdv/{id}/deplacement", l(w.handleUsagerMove)},
		{"GET /rdv/{id}/nouveau", l(w.handleRebookForm)},
		{"POST /rdv/{id}/nouveau", l(w.handleRebook)},
		{"GET /rdv/{id}/rdv.ics", p(w.handleUsagerICS)},
		{"GET /assets/", w.assets()},
		{"GET /favicon.ico", w.favicon()},
	}
}

// Register adds the routes to mux, each wrapped by Options.Wrap.
func (w *Web) Register(mux *http.ServeMux) {
	for _, rt := range w.Routes() {
		mux.Handle(rt.Pattern, w.wrap(rt.Handler))
	}
}

// contentSecurityPolicy allows nothing but this origin's stylesheets,
// fonts and images (DSFR inlines a few images as data: URIs), no script
// at all is needed, and no other site may frame the pages or receive
// their forms.
const contentSecurityPolicy = "default-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; " +
	"base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

// securityHeaders are set on every response, assets included.
func securityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
}

// assets serves the embedded stylesheets, fonts and icons. No directory
// listings: a path ending in / is a 404.
func (w *Web) assets() http.Handler {
	sub, err := fs.Sub(assetFS, "assets")
	if err != nil {
		panic(err)
	}
	files := http.StripPrefix("/assets/", http.FileServerFS(sub))
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		securityHeaders(rw.Header())
		if strings.HasSuffix(r.URL.Path, "/") {
			http.NotFound(rw, r)
			return
		}
		rw.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(rw, r)
	})
}

func (w *Web) favicon() http.Handler {
	ico, err := assetFS.ReadFile("assets/dsfr/favicon/favicon.ico")
	if err != nil {
		panic(err)
	}
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		securityHeaders(rw.Header())
		rw.Header().Set("Content-Type", "image/x-icon")
		rw.Header().Set("Cache-Control", "public, max-age=86400")
		rw.Write(ico)
	})
}

// pageHandler serves one page for a request whose visitor, agent session
// and (for POST) CSRF token are known.
type pageHandler func(rw http.ResponseWriter, r *http.Request, c *reqCtx)

// reqCtx is what every page handler knows about its request.
type reqCtx struct {
	cat     *catalog.Catalog
	visitor string         // the visitor cookie: CSRF tokens are bound to it
	agent   *catalog.Agent // the signed-in agent, or nil
	session string         // the agent session id, "" when signed out
}

// maxFormBytes bounds a form body; the longest form holds a 2 000
// character context.
const maxFormBytes = 64 << 10

// page sets the security headers, the visitor cookie and the agent
// session, and refuses a POST that comes from another site or lacks the
// form's token.
func (w *Web) page(h pageHandler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		hd := rw.Header()
		securityHeaders(hd)
		hd.Set("Cache-Control", "no-store")
		c := &reqCtx{cat: w.catalog()}
		// A bug in a page shows the HTML error page (the daemon goes on;
		// the log says what failed, without personal data).
		defer func() {
			if p := recover(); p != nil {
				w.internalError(rw, r, c, fmt.Errorf("panic: %v", p))
			}
		}()
		c.visitor = w.visitorID(rw, r)
		var err error
		if c.agent, c.session, err = w.agentSession(r, c.cat); err != nil {
			w.internalError(rw, r, c, err)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(rw, r.Body, maxFormBytes)
			if err := w.origin.Check(r); err != nil {
				w.log.Warn("cross-origin form refused", "route", r.Pattern)
				w.renderError(rw, r, c, http.StatusForbidden, "Formulaire refusé",
					"Ce formulaire a été envoyé depuis un autre site. Revenez sur la page de rendez-vous et recommencez.")
				return
			}
			if err := r.ParseForm(); err != nil {
				w.renderError(rw, r, c, http.StatusBadRequest, "Formulaire illisible", "Le formulaire envoyé n'a pas pu être lu.")
				return
			}
			if !w.checkCSRF(r, c.visitor) {
				w.log.Warn("form without a valid token refused", "route", r.Pattern)
				w.renderError(rw, r, c, http.StatusForbidden, "Formulaire expiré",
					"Ce formulaire a expiré ou ne provient pas de ce site. Revenez à la page précédente, rechargez-la et recommencez.")
				return
			}
		}
		h(rw, r, c)
	})
}

// view is what the layout shows around every page.
type view struct {
	// Page names the page (data-page on <main>), for tests and styles.
	Page  string
	Title string
	// Errors makes the title start with "Erreur : " (RGAA: a form sent
	// back with errors says so in the title).
	Errors      bool
	Agent       *catalog.Agent
	LogoutToken string
	Body        any
}

// render writes page name with status.
func (w *Web) render(rw http.ResponseWriter, r *http.Request, c *reqCtx, status int, name string, v view) {
	t := w.pages[name]
	if t == nil {
		panic("web: no page " + name)
	}
	if v.Page == "" {
		v.Page = name
	}
	v.Agent = c.agent
	if c.agent != nil {
		v.LogoutToken = w.csrfToken(c.visitor, "/agents/deconnexion")
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		w.log.Error("render page", "page", name, slog.Any("error", err))
		http.Error(rw, "Une erreur interne est survenue.", http.StatusInternalServerError)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.WriteHeader(status)
	rw.Write(buf.Bytes())
}

// errorBody is the body of the error page.
type errorBody struct {
	Status  int
	Heading string
	Message string
}

func (w *Web) renderError(rw http.ResponseWriter, r *http.Request, c *reqCtx, status int, heading, message string) {
	w.render(rw, r, c, status, "error", view{Title: heading, Body: errorBody{Status: status, Heading: heading, Message: message}})
}

func (w *Web) notFound(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	w.renderError(rw, r, c, http.StatusNotFound, "Page introuvable",
		"Cette page n'existe pas, ou le lien que vous avez suivi est incomplet ou n'est plus valable.")
}

// internalError logs err (no personal data: the route and the error) and
// shows a page that says nothing internal.
func (w *Web) internalError(rw http.ResponseWriter, r *http.Request, c *reqCtx, err error) {
	if booking.ClientGone(r.Context(), err) {
		// Not a server error: the visitor left. What was committed stays.
		w.log.Info("page canceled by the client", "method", r.Method, "route", r.Pattern)
		rw.WriteHeader(booking.StatusClientClosedRequest)
		return
	}
	w.log.Error("page failed", "method", r.Method, "route", r.Pattern, slog.Any("error", err))
	if errors.Is(err, store.ErrDamaged) || errors.Is(err, store.ErrUnavailable) {
		// As the API: 503 while the operator restores a backup or the
		// database comes back.
		w.renderError(rw, r, c, http.StatusServiceUnavailable, "Service indisponible",
			"Le service de rendez-vous est momentanément indisponible. Réessayez plus tard.")
		return
	}
	w.renderError(rw, r, c, http.StatusInternalServerError, "Erreur technique",
		"Une erreur est survenue de notre côté. Réessayez dans quelques instants.")
}

// redirect answers a POST or a GET with 303 See Other to a local URL.
func redirect(rw http.ResponseWriter, r *http.Request, url string) {
	http.Redirect(rw, r, url, http.StatusSeeOther)
}

// publicBase is the base of absolute links.
func (w *Web) publicBase(cat *catalog.Catalog) string {
	if w.publicURL != "" {
		return w.publicURL
	}
	return strings.TrimSuffix(cat.Config.Server.PublicURL, "/")
}

func (w *Web) handleHome(rw http.ResponseWriter, r *http.Request, c *reqCtx) {
	w.render(rw, r, c, http.StatusOK, "home", view{Title: "Prendre rendez-vous"})
}

// parsePages parses each page with the layout and the shared partials.
func parsePages() map[string]*template.Template {
	base := template.Must(template.New("").ParseFS(templateFS, "templates/layout.html", "templates/partials.html"))
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		panic(err)
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		pages[name] = template.Must(template.Must(base.Clone()).ParseFS(templateFS, n))
	}
	return pages
}
