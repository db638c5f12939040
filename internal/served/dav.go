package served

import (
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav"
	dav "github.com/emersion/go-webdav/caldav"

	"rdvsync/internal/catalog"
	"rdvsync/internal/ratelimit"
	"rdvsync/internal/rdv"
)

// calendarSlug names the one calendar of each agent.
const calendarSlug = "rdv"

func principalPath(agentID string) string { return DAVPrefix + "principals/" + agentID + "/" }
func homePath(agentID string) string      { return DAVPrefix + "calendars/" + agentID + "/" }
func calendarPath(agentID string) string  { return homePath(agentID) + calendarSlug + "/" }

// resource is what a /dav/ path names for the authenticated agent.
type resource int

const (
	resNone resource = iota // not the agent's: 404
	resRoot
	resPrincipal
	resHome
	resCalendar
	resObject
)

// classify tells what p is for the agent and returns its canonical form
// (collections end with a slash). Another agent's paths are resNone, like
// paths that do not exist.
func classify(p, agentID string) (resource, string) {
	rest, ok := strings.CutPrefix(p, DAVPrefix)
	if !ok {
		if p+"/" == DAVPrefix {
			return resRoot, DAVPrefix
		}
		return resNone, ""
	}
	if rest == "" {
		return resRoot, DAVPrefix
	}
	collection := strings.HasSuffix(rest, "/")
	parts := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if len(parts) < 2 || parts[1] != agentID {
		return resNone, ""
	}
	switch {
	case len(parts) == 2 && parts[0] == "principals":
		return resPrincipal, principalPath(agentID)
	case parts[0] != "calendars":
	case len(parts) == 2:
		return resHome, homePath(agentID)
	case parts[2] != calendarSlug:
	case len(parts) == 3:
		return resCalendar, calendarPath(agentID)
	case len(parts) == 4 && !collection && strings.HasSuffix(parts[3], ".ics") && len(parts[3]) > len(".ics"):
		return resObject, p
	}
	return resNone, ""
}

// owns reports whether p is in the agent's own part of the tree, where a
// write (say MKCALENDAR of a new calendar) is refused rather than unknown.
func owns(p, agentID string) bool {
	for _, own := range []string{homePath(agentID), principalPath(agentID)} {
		if strings.HasPrefix(p+"/", own) {
			return true
		}
	}
	return false
}

// readMethods are the only methods a read-only calendar accepts.
var readMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodOptions: true, "PROPFIND": true, "REPORT": true,
}

// davRequest is what the gate found, for the backend.
type davRequest struct {
	cat   *catalog.Catalog
	agent *catalog.Agent
}

type davKey struct{}

// serveDAV is the gate in front of go-webdav: authentication, the caller's
// own paths only, read-only methods.
func (s *Server) serveDAV(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodOptions {
		// The same answer everywhere, before authentication, as some
		// clients probe capabilities first (RFC 4791 §5.1).
		w.Header().Set("DAV", "1, 3, calendar-access")
		w.Header().Set("Allow", "OPTIONS, GET, HEAD, PROPFIND, REPORT")
		w.WriteHeader(http.StatusOK)
		return
	}
	cat := s.catalog()
	var a *catalog.Agent
	if id, token, ok := r.BasicAuth(); ok {
		// Credentials are throttled per client like every other way to
		// authenticate; a request without them (a client's first probe,
		// answered with the challenge) costs nothing.
		key := ratelimit.ClientKey(r, cat.Config.Server.Proxies)
		if wait := s.fails.Blocked(key, time.Now()); wait > 0 {
			s.log.Warn("CalDAV authentication throttled")
			w.Header().Set("Retry-After", strconv.Itoa(ratelimit.RetryAfter(wait)))
			http.Error(w, "Trop de tentatives d'authentification échouées : réessayez plus tard.", http.StatusTooManyRequests)
			return
		}
		if a = cat.AuthenticateAgent(id, token); a == nil {
			s.fails.Failed(key, time.Now())
		}
	}
	if a == nil {
		w.Header().Set("WWW-Authenticate", `Basic realm="rdvsync", charset="UTF-8"`)
		http.Error(w, "Identifiant d'agent et jeton d'API requis.", http.StatusUnauthorized)
		return
	}
	kind, canonical := classify(r.URL.Path, a.ID)
	switch {
	case !readMethods[r.Method] && (kind != resNone || owns(r.URL.Path, a.ID)):
		http.Error(w, "Ce calendrier est en lecture seule : les rendez-vous se gèrent dans rdvsync.", http.StatusForbidden)
		return
	case kind == resNone:
		http.Error(w, "Introuvable.", http.StatusNotFound)
		return
	}
	r = r.WithContext(context.WithValue(r.Context(), davKey{}, &davRequest{cat: cat, agent: a}))
	if canonical != r.URL.Path {
		u := *r.URL
		u.Path, u.RawPath = canonical, ""
		r.URL = &u
	}
	s.ext.ServeHTTP(w, r)
}

// dispatchDAV serves a gated request, behind the caldavext layer.
func (s *Server) dispatchDAV(w http.ResponseWriter, r *http.Request) {
	req := r.Context().Value(davKey{}).(*davRequest)
	kind, _ := classify(r.URL.Path, req.agent.ID)
	get := r.Method == http.MethodGet || r.Method == http.MethodHead
	switch {
	case kind == resRoot && r.Method == "PROPFIND":
		s.propfindRoot(w, r, req.agent)
	case kind == resPrincipal:
		s.principals.ServeHTTP(w, r)
	case kind == resCalendar && get:
		s.serveAgentICS(w, r, req.cat, req.agent)
	case kind == resObject && get:
		s.serveObject(w, r, req.cat, req.agent)
	default:
		s.root.ServeHTTP(w, r)
	}
}

// serveWellKnown redirects RFC 6764 discovery to the CalDAV root, which
// then names the caller's principal.
func (s *Server) serveWellKnown(w http.ResponseWriter, r *http.Request) {
	http.Redirect(w, r, DAVPrefix, http.StatusMovedPermanently)
}

func (s *Server) serveObject(w http.ResponseWriter, r *http.Request, cat *catalog.Catalog, a *catalog.Agent) {
	e, err := s.entry(r.Context(), cat, a, objectUID(r.URL.Path))
	if errors.Is(err, rdv.ErrNotFound) {
		http.Error(w, "Introuvable.", http.StatusNotFound)
		return
	}
	if err != nil {
		s.internalError(w, err)
		return
	}
	_, body, err := object(calendarPath(a.ID), e)
	if err != nil {
		s.internalError(w, err)
		return
	}
	serveICS(w, r, body, e.rdv.UpdatedAt)
}

func objectUID(p string) string { return strings.TrimSuffix(path.Base(p), ".ics") }

// object is the calendar object resource of an entry and its body.
func object(calPath string, e entry) (dav.CalendarObject, []byte, error) {
	cal := e.event.Calendar("")
	body, err := encode(cal)
	if err != nil {
		return dav.CalendarObject{}, nil, err
	}
	return dav.CalendarObject{
		Path:          calPath + e.rdv.ID + ".ics",
		ModTime:       e.rdv.UpdatedAt,
		ContentLength: int64(len(body)),
		ETag:          etag(body),
		Data:          cal,
	}, body, nil
}

// propfindRoot answers PROPFIND on /dav/ with the caller's principal
// (RFC 5397), under the root's own href.
func (s *Server) propfindRoot(w http.ResponseWriter, r *http.Request, a *catalog.Agent) {
	var req struct {
		Prop *struct {
			Names []struct{ XMLName xml.Name } `xml:",any"`
		} `xml:"DAV: prop"`
		PropName *struct{} `xml:"DAV: propname"`
	}
	if err := xml.NewDecoder(r.Body).Decode(&req); err != nil && !errors.Is(err, io.EOF) {
		http.Error(w, "Corps PROPFIND illisible.", http.StatusBadRequest)
		return
	}
	known := map[xml.Name]any{
		{Space: "DAV:", Local: "current-user-principal"}: xmlHref{Href: principalPath(a.ID)},
		{Space: "DAV:", Local: "resourcetype"}:           xmlCollection{},
	}
	var found, missing []any
	switch {
	case req.Prop != nil:
		for _, n := range req.Prop.Names {
			if v, ok := known[n.XMLName]; ok {
				found = append(found, xmlProp{n.XMLName, v})
			} else {
				missing = append(missing, xmlProp{n.XMLName, nil})
			}
		}
	default: // allprop, propname, or no body (allprop, RFC 4918 §9.1)
		for n, v := range known {
			if req.PropName != nil {
				v = nil
			}
			found = append(found, xmlProp{n, v})
		}
	}
	resp := xmlResponse{Href: DAVPrefix}
	if len(found) > 0 {
		resp.Propstats = append(resp.Propstats, xmlPropstat{Props: xmlProps{found}, Status: "HTTP/1.1 200 OK"})
	}
	if len(missing) > 0 {
		resp.Propstats = append(resp.Propstats, xmlPropstat{Props: xmlProps{missing}, Status: "HTTP/1.1 404 Not Found"})
	}
	w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
	w.WriteHeader(http.StatusMultiStatus)
	io.WriteString(w, xml.Header)
	if err := xml.NewEncoder(w).Encode(xmlMultistatus{Responses: []xmlResponse{resp}}); err != nil {
		s.log.Warn("writing a PROPFIND response", slog.Any("error", err))
	}
}

// The RFC 4918 §14 elements of a one-resource multistatus.
type (
	xmlMultistatus struct {
		XMLName   xml.Name      `xml:"DAV: multistatus"`
		Responses []xmlResponse `xml:"response"`
	}
	xmlResponse struct {
		Href      string        `xml:"href"`
		Propstats []xmlPropstat `xml:"propstat"`
	}
	xmlPropstat struct {
		Props  xmlProps `xml:"prop"`
		Status string   `xml:"status"`
	}
	xmlProps struct {
		Items []any `xml:",any"`
	}
	// xmlProp is a property element; a nil Value leaves it empty.
	xmlProp struct {
		XMLName xml.Name
		Value   any `xml:",any"`
	}
	xmlHref struct {
		XMLName xml.Name `xml:"DAV: href"`
		Href    string   `xml:",chardata"`
	}
	// xmlCollection is the value of DAV:resourcetype for a collection.
	xmlCollection struct {
		XMLName xml.Name `xml:"DAV: collection"`
	}
)

// backend is the read-only dav.Backend of the gated requests.
type backend struct{ s *Server }

var _ dav.Backend = backend{}

var (
	errNotFound = webdav.NewHTTPError(http.StatusNotFound, nil)
	errReadOnly = webdav.NewHTTPError(http.StatusForbidden, errors.New("read-only calendar"))
)

func (b backend) request(ctx context.Context) (*davRequest, error) {
	if req, ok := ctx.Value(davKey{}).(*davRequest); ok {
		return req, nil
	}
	return nil, webdav.NewHTTPError(http.StatusUnauthorized, nil)
}

// internal logs err and hides it from the client.
func (b backend) internal(err error) error {
	b.s.log.Error("serving a CalDAV request", slog.Any("error", err))
	return webdav.NewHTTPError(http.StatusInternalServerError, nil)
}

func (b backend) CurrentUserPrincipal(ctx context.Context) (string, error) {
	req, err := b.request(ctx)
	if err != nil {
		return "", err
	}
	return principalPath(req.agent.ID), nil
}

func (b backend) CalendarHomeSetPath(ctx context.Context) (string, error) {
	req, err := b.request(ctx)
	if err != nil {
		return "", err
	}
	return homePath(req.agent.ID), nil
}

func (b backend) calendar(a *catalog.Agent) dav.Calendar {
	return dav.Calendar{
		Path:                  calendarPath(a.ID),
		Name:                  "RDV",
		Description:           "Rendez-vous de " + a.FullName() + " (rdvsync, lecture seule)",
		SupportedComponentSet: []string{ical.CompEvent},
	}
}

func (b backend) ListCalendars(ctx context.Context) ([]dav.Calendar, error) {
	req, err := b.request(ctx)
	if err != nil {
		return nil, err
	}
	return []dav.Calendar{b.calendar(req.agent)}, nil
}

func (b backend) GetCalendar(ctx context.Context, p string) (*dav.Calendar, error) {
	req, err := b.request(ctx)
	if err != nil {
		return nil, err
	}
	if kind, _ := classify(p, req.agent.ID); kind != resCalendar {
		return nil, errNotFound
	}
	cal := b.calendar(req.agent)
	return &cal, nil
}

func (b backend) GetCalendarObject(ctx context.Context, p string, _ *dav.CalendarCompRequest) (*dav.CalendarObject, error) {
	req, err := b.request(ctx)
	if err != nil {
		return nil, err
	}
	if kind, _ := classify(p, req.agent.ID); kind != resObject {
		return nil, errNotFound
	}
	e, err := b.s.entry(ctx, req.cat, req.agent, objectUID(p))
	if errors.Is(err, rdv.ErrNotFound) {
		return nil, errNotFound
	}
	if err != nil {
		return nil, b.internal(err)
	}
	co, _, err := object(calendarPath(req.agent.ID), e)
	if err != nil {
		return nil, b.internal(err)
	}
	return &co, nil
}

func (b backend) ListCalendarObjects(ctx context.Context, p string, _ *dav.CalendarCompRequest) ([]dav.CalendarObject, error) {
	req, err := b.request(ctx)
	if err != nil {
		return nil, err
	}
	if kind, _ := classify(p, req.agent.ID); kind != resCalendar {
		return nil, errNotFound
	}
	entries, err := b.s.entries(ctx, req.cat, req.agent)
	if err != nil {
		return nil, b.internal(err)
	}
	objects := make([]dav.CalendarObject, 0, len(entries))
	for _, e := range entries {
		co, _, err := object(calendarPath(req.agent.ID), e)
		if err != nil {
			return nil, b.internal(err)
		}
		objects = append(objects, co)
	}
	return objects, nil
}

// QueryCalendarObjects answers calendar-query on the calendar and, as RFC
// 4791 §7.8 allows, on one of its events.
func (b backend) QueryCalendarObjects(ctx context.Context, p string, q *dav.CalendarQuery) ([]dav.CalendarObject, error) {
	req, err := b.request(ctx)
	if err != nil {
		return nil, err
	}
	var all []dav.CalendarObject
	if classifyKind(p, req.agent.ID) == resObject {
		co, err := b.GetCalendarObject(ctx, p, &q.CompRequest)
		if err != nil {
			return nil, err
		}
		all = []dav.CalendarObject{*co}
	} else if all, err = b.ListCalendarObjects(ctx, p, &q.CompRequest); err != nil {
		return nil, err
	}
	var out []dav.CalendarObject
	for _, co := range all {
		ok, err := matchComp(q.CompFilter, co.Data.Component)
		if err != nil {
			return nil, webdav.NewHTTPError(http.StatusBadRequest, err)
		}
		if ok {
			out = append(out, co)
		}
	}
	return out, nil
}

func (b backend) CreateCalendar(context.Context, *dav.Calendar) error { return errReadOnly }

func (b backend) PutCalendarObject(context.Context, string, *ical.Calendar, *dav.PutCalendarObjectOptions) (*dav.CalendarObject, error) {
	return nil, errReadOnly
}

func (b backend) DeleteCalendarObject(context.Context, string) error { return errReadOnly }
