package served

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-ical"
	dav "github.com/emersion/go-webdav/caldav"
	"github.com/prometheus/client_golang/prometheus"

	"rdvsync/caldav"
	"rdvsync/internal/catalog"
	"rdvsync/internal/ratelimit"
	"rdvsync/internal/served/caldavext"
	"rdvsync/internal/store"
)

// Paths of the served calendars, outside /api/v1.
const (
	// FeedPattern is the route of the ICS feeds; {file} is "<secret>.ics".
	FeedPattern = "GET /calendars/{file}"
	// DAVPrefix is the root of the CalDAV server.
	DAVPrefix = "/dav/"
	// WellKnownCalDAV is the RFC 6764 entry point, redirected to DAVPrefix.
	WellKnownCalDAV = "/.well-known/caldav"
	// FeedInfoPattern is the API route served by ServeFeedInfo.
	FeedInfoPattern = "GET /api/v1/agents/{id}/feed"
)

// Store is what the served calendars read, and where feed secrets live.
type Store interface {
	View(ctx context.Context, fn func(*store.ReadTx) error) error
	Update(ctx context.Context, fn func(*store.Tx) error) error
}

var _ Store = (*store.Store)(nil)

// Options tune New. The zero value is ready to use.
type Options struct {
	Logger *slog.Logger
	// Now is the clock that places the one-month window (default time.Now).
	Now func() time.Time
	// Failures throttles failed CalDAV sign-ins per client, shared with
	// the API and the pages (default: a throttle of the server's own).
	Failures *ratelimit.Failures
	// Registerer receives the served calendars' metrics (default: none).
	Registerer prometheus.Registerer
}

// Server serves the agents' ICS feeds and read-only CalDAV calendars. Use
// one Server per store: it indexes the feed secrets it hands out.
type Server struct {
	store   Store
	catalog func() *catalog.Catalog
	log     *slog.Logger
	now     func() time.Time
	fails   *ratelimit.Failures
	// encode writes one event's calendar; a test makes it fail to check
	// that a collection survives an object it cannot write.
	encode func(*ical.Calendar) ([]byte, error)
	// skipped counts the events left out of a feed or collection.
	skipped prometheus.Counter
	// root serves /dav/ and the calendars; principals serves
	// /dav/principals/ (go-webdav types a path by its depth).
	root, principals *dav.Handler
	// ext is the layer in front of them (reports and properties go-webdav
	// lacks).
	ext *caldavext.Handler

	// syncMu serialises the updates of the calendars' sync histories.
	syncMu sync.Mutex

	mu sync.Mutex
	// feeds maps sha256(secret) to the agent id; nil until first used.
	feeds map[[32]byte]string
}

// New returns a Server reading st, and the catalogue current at each
// request (it is swapped on reload).
func New(st Store, cat func() *catalog.Catalog, opts Options) *Server {
	s := &Server{store: st, catalog: cat, log: opts.Logger, now: opts.Now, fails: opts.Failures, encode: encode,
		skipped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rdvsync_served_events_skipped_total",
			Help: "RDVs left out of an ICS feed or CalDAV collection because their event could not be written (see the log for the rdv_id).",
		})}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(s.skipped)
	}
	if s.fails == nil {
		s.fails = ratelimit.NewFailures(0, 0)
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "served")
	if s.now == nil {
		s.now = time.Now
	}
	b := backend{s}
	s.root = &dav.Handler{Backend: b, Prefix: strings.TrimSuffix(DAVPrefix, "/")}
	s.principals = &dav.Handler{Backend: b, Prefix: DAVPrefix + "principals"}
	s.ext = &caldavext.Handler{Next: http.HandlerFunc(s.dispatchDAV), Backend: extBackend{b},
		ProdID: caldav.ProdID, Now: s.now, Logger: s.log}
	return s
}

// Route is one route of the served calendars.
type Route struct {
	Pattern string
	Handler http.Handler
}

// Routes lists the routes to mount on the daemon's mux, outside /api/v1.
// FeedInfoPattern is not among them: it needs the API's Bearer
// authentication (see ServeFeedInfo).
func (s *Server) Routes() []Route {
	return []Route{
		{FeedPattern, http.HandlerFunc(s.serveFeed)},
		{DAVPrefix, http.HandlerFunc(s.serveDAV)},
		{WellKnownCalDAV, http.HandlerFunc(s.serveWellKnown)},
	}
}

// Register mounts Routes on mux, each wrapped by wrap (logging, metrics).
func (s *Server) Register(mux *http.ServeMux, wrap func(http.Handler) http.Handler) {
	for _, rt := range s.Routes() {
		mux.Handle(rt.Pattern, wrap(rt.Handler))
	}
}

// window is the start of what the served calendars show.
func (s *Server) window() time.Time { return s.now().AddDate(0, -1, 0) }

// publicURL is the base of the links the API hands out.
func publicURL(cat *catalog.Catalog) string {
	return strings.TrimSuffix(cat.Config.Server.PublicURL, "/")
}

// writeError writes the API's error body (docs/design.md §5).
func writeError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}
