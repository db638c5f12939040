package caldavext

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-webdav/caldav"
)

// The XML namespaces of the elements this package reads and writes.
const (
	nsDAV    = "DAV:"
	nsCalDAV = "urn:ietf:params:xml:ns:caldav"
	nsCS     = "http://calendarserver.org/ns/"
)

// Privileges of RFC 3744 §3 and RFC 4791 §6.1.1, for Resource.Privileges.
var (
	PrivilegeRead         = xml.Name{Space: nsDAV, Local: "read"}
	PrivilegeReadFreeBusy = xml.Name{Space: nsCalDAV, Local: "read-free-busy"}
)

// Kind is what a resource is, which decides the reports and properties
// offered on it.
type Kind int

const (
	// KindCollection is a collection that is not a calendar: the root, a
	// principal, a calendar home.
	KindCollection Kind = iota
	// KindCalendar is a calendar collection (RFC 4791 §4.2).
	KindCalendar
	// KindObject is a calendar object resource (RFC 4791 §4.1).
	KindObject
)

// Resource is what the layer needs to know of a resource.
type Resource struct {
	Kind Kind
	// Privileges are the current user's on the resource, served as
	// DAV:current-user-privilege-set (RFC 3744 §5.4).
	Privileges []xml.Name
}

// SyncChanges answers a sync-collection report (RFC 6578 §3.5).
type SyncChanges struct {
	// Token is the collection's sync token now. RFC 6578 §4 wants a URI.
	Token string
	// Changed are the paths of the members added or changed since the
	// client's token: every member for an initial synchronisation.
	Changed []string
	// Removed are the paths of the members removed since the client's
	// token (none for an initial synchronisation).
	Removed []string
}

// Errors a Backend returns to say what went wrong; others are answered 500.
var (
	// ErrNotFound: no such resource for this user (404).
	ErrNotFound = errors.New("caldavext: not found")
	// ErrInvalidSyncToken: the client's token was never issued for this
	// collection, or is too old to compute changes from (403 with the
	// DAV:valid-sync-token precondition, RFC 6578 §3.2).
	ErrInvalidSyncToken = errors.New("caldavext: invalid sync token")
)

// Backend is what the layer needs from the server's storage. Paths are
// URL paths as the wrapped handler uses them.
type Backend interface {
	// Resource describes the resource at path, or returns ErrNotFound.
	Resource(ctx context.Context, path string) (*Resource, error)
	// SyncToken returns the current sync token of a calendar collection;
	// it must change whenever a member is added, changed or removed.
	SyncToken(ctx context.Context, path string) (string, error)
	// SyncCollection returns the changes of a calendar collection since
	// token ("" for an initial synchronisation), or ErrInvalidSyncToken.
	SyncCollection(ctx context.Context, path, token string) (*SyncChanges, error)
	// QueryCalendarObjects is caldav.Backend's; the free-busy report reads
	// the events of its time range through it.
	QueryCalendarObjects(ctx context.Context, path string, query *caldav.CalendarQuery) ([]caldav.CalendarObject, error)
}

// Handler is the layer. Next is go-webdav's caldav.Handler (or whatever
// serves the server's resources); Backend is required.
type Handler struct {
	Next    http.Handler
	Backend Backend
	// ProdID is the PRODID of free-busy answers (RFC 5545 §3.7.3).
	ProdID string
	// Now is the clock of DTSTAMP in free-busy answers (default time.Now).
	Now func() time.Time
	// Logger receives the errors answered 500 (default: discarded).
	Logger *slog.Logger
}

// maxBodyBytes bounds the request bodies the layer reads: a PROPFIND or a
// REPORT is a few kilobytes, a multiget of a thousand hrefs about 100 KB.
const maxBodyBytes = 1 << 20

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case "PROPFIND", "REPORT", "PROPPATCH", "MKCOL", "MKCALENDAR":
	default:
		h.Next.ServeHTTP(w, r)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	switch {
	case err != nil:
		http.Error(w, "Corps de requête illisible.", http.StatusBadRequest)
		return
	case len(body) > maxBodyBytes:
		http.Error(w, "Corps de requête trop grand.", http.StatusRequestEntityTooLarge)
		return
	}
	r = r.Clone(r.Context())
	r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	if len(bytes.TrimSpace(body)) == 0 {
		// go-webdav refuses an empty body with an XML Content-Type, which
		// RFC 4918 §9.1 says is allprop for PROPFIND.
		r.Header.Del("Content-Type")
		h.Next.ServeHTTP(w, r)
		return
	}
	if !isXML(r.Header.Get("Content-Type")) {
		r.Header.Set("Content-Type", "application/xml; charset=utf-8")
	}
	req, err := parseXML(bytes.NewReader(body))
	if err != nil || !req.namesWellFormed() {
		http.Error(w, "Corps XML illisible.", http.StatusBadRequest)
		return
	}
	switch {
	case r.Method == "REPORT" && req.is(nsCalDAV, "free-busy-query"):
		h.freeBusy(w, r, req)
	case r.Method == "REPORT" && req.is(nsDAV, "sync-collection"):
		h.syncCollection(w, r, req)
	case r.Method == "REPORT" && !req.is(nsCalDAV, "calendar-query") && !req.is(nsCalDAV, "calendar-multiget"):
		// go-webdav answers 400; RFC 3253 §3.6 has a precondition for it.
		writeCondition(w, http.StatusForbidden, nsDAV, "supported-report")
	case r.Method == "PROPFIND" || r.Method == "REPORT":
		h.complete(w, r, req)
	default:
		h.Next.ServeHTTP(w, r)
	}
}

// isXML reports whether a Content-Type is one go-webdav reads as XML.
func isXML(contentType string) bool {
	t, _, _ := mime.ParseMediaType(contentType)
	return t == "application/xml" || t == "text/xml"
}

// complete passes a PROPFIND or REPORT to Next and completes its
// multistatus: the layer's properties, folded calendar-data.
func (h *Handler) complete(w http.ResponseWriter, r *http.Request, req *element) {
	rec := record(h.Next, r)
	if rec.status != http.StatusMultiStatus {
		rec.replay(w)
		return
	}
	ms, err := parseXML(bytes.NewReader(rec.body.Bytes()))
	if err != nil {
		h.internal(w, r, "parse the wrapped handler's multistatus", err)
		return
	}
	var names []xml.Name
	if prop := req.child(nsDAV, "prop"); prop != nil {
		for _, p := range prop.children {
			names = append(names, p.name)
		}
	}
	if err := h.completeResponses(r.Context(), ms.all(nsDAV, "response"), names, req.child(nsDAV, "propname") != nil); err != nil {
		h.internal(w, r, "complete a multistatus", err)
		return
	}
	writeXML(w, rec.header, http.StatusMultiStatus, ms)
}

// layerProps are the properties this package serves.
var (
	propSupportedReportSet = xml.Name{Space: nsDAV, Local: "supported-report-set"}
	propPrivilegeSet       = xml.Name{Space: nsDAV, Local: "current-user-privilege-set"}
	propSyncToken          = xml.Name{Space: nsDAV, Local: "sync-token"}
	propCTag               = xml.Name{Space: nsCS, Local: "getctag"}
	layerProps             = []xml.Name{propSupportedReportSet, propPrivilegeSet, propSyncToken, propCTag}
)

// completeResponses adds to each response the layer's properties among
// names (all of them for a propname request) and folds calendar-data.
func (h *Handler) completeResponses(ctx context.Context, responses []*element, names []xml.Name, propname bool) error {
	var want []xml.Name
	for _, n := range layerProps {
		if propname || slices.Contains(names, n) {
			want = append(want, n)
		}
	}
	for _, resp := range responses {
		for _, ps := range resp.all(nsDAV, "propstat") {
			for _, data := range ps.child(nsDAV, "prop").all(nsCalDAV, "calendar-data") {
				data.text = string(fold([]byte(data.text)))
			}
		}
		if len(want) == 0 || len(resp.all(nsDAV, "propstat")) == 0 {
			continue
		}
		p, err := hrefPath(resp.child(nsDAV, "href"))
		if err != nil {
			return err
		}
		res, err := h.Backend.Resource(ctx, p)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		for _, n := range want {
			v, err := h.propValue(ctx, p, res, n)
			if err != nil {
				return err
			}
			if v == nil {
				continue // not defined on this resource: as go-webdav said
			}
			if propname {
				v = newElement(n.Space, n.Local)
			}
			setProp(resp, v)
		}
	}
	return nil
}

// hrefPath is the path of a DAV:href, which may be a full URL.
func hrefPath(href *element) (string, error) {
	if href == nil {
		return "", errors.New("caldavext: a response without href")
	}
	u, err := url.Parse(strings.TrimSpace(href.text))
	if err != nil {
		return "", err
	}
	return u.Path, nil
}

// propValue is the value of one of the layer's properties on a resource,
// or nil when the property is not defined there.
func (h *Handler) propValue(ctx context.Context, p string, res *Resource, n xml.Name) (*element, error) {
	switch n {
	case propSupportedReportSet:
		// RFC 3253 §3.1.5; RFC 4791 §7 for the CalDAV reports, RFC 6578
		// §3.1 for sync-collection.
		v := newElement(nsDAV, n.Local)
		for _, report := range reports(res.Kind) {
			v.children = append(v.children, newElement(nsDAV, "supported-report",
				newElement(nsDAV, "report", newElement(report.Space, report.Local))))
		}
		return v, nil
	case propPrivilegeSet:
		v := newElement(nsDAV, n.Local)
		for _, priv := range res.Privileges {
			v.children = append(v.children, newElement(nsDAV, "privilege", newElement(priv.Space, priv.Local)))
		}
		return v, nil
	case propSyncToken, propCTag:
		if res.Kind != KindCalendar {
			return nil, nil
		}
		token, err := h.Backend.SyncToken(ctx, p)
		if err != nil {
			return nil, err
		}
		return textElement(n.Space, n.Local, token), nil
	}
	return nil, nil
}

// reports are the reports served on a kind of resource.
func reports(k Kind) []xml.Name {
	query := xml.Name{Space: nsCalDAV, Local: "calendar-query"}
	multiget := xml.Name{Space: nsCalDAV, Local: "calendar-multiget"}
	switch k {
	case KindCalendar:
		return []xml.Name{query, multiget, {Space: nsCalDAV, Local: "free-busy-query"}, {Space: nsDAV, Local: "sync-collection"}}
	case KindObject:
		return []xml.Name{query, multiget}
	}
	return nil
}

// setProp puts v in the 200 propstat of resp, removing it from the
// others (go-webdav answers 404 for the properties it does not know).
func setProp(resp *element, v *element) {
	var ok *element
	kept := resp.children[:0]
	for _, c := range resp.children {
		if !c.is(nsDAV, "propstat") {
			kept = append(kept, c)
			continue
		}
		prop := c.child(nsDAV, "prop")
		if prop != nil {
			props := prop.children[:0]
			for _, p := range prop.children {
				if p.name != v.name {
					props = append(props, p)
				}
			}
			prop.children = props
		}
		if status := c.child(nsDAV, "status"); status != nil && statusCode(status.text) == http.StatusOK {
			ok = c
		} else if prop == nil || len(prop.children) == 0 {
			continue // a propstat left empty
		}
		kept = append(kept, c)
	}
	resp.children = kept
	if ok == nil {
		ok = newElement(nsDAV, "propstat", newElement(nsDAV, "prop"), textElement(nsDAV, "status", "HTTP/1.1 200 OK"))
		resp.children = append(resp.children, ok)
	}
	prop := ok.child(nsDAV, "prop")
	prop.children = append(prop.children, v)
}

// statusCode reads the code of a status line "HTTP/1.1 200 OK".
func statusCode(line string) int {
	fields := strings.Fields(line)
	if len(fields) < 2 {
		return 0
	}
	code, _ := strconv.Atoi(fields[1])
	return code
}

// writeXML writes a multistatus or error document with the wrapped
// handler's headers (none when header is nil).
func writeXML(w http.ResponseWriter, header http.Header, status int, doc *element) {
	for k, v := range header {
		w.Header()[k] = v
	}
	body := doc.marshal()
	w.Header().Set("Content-Type", `application/xml; charset="utf-8"`)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	w.Write(body)
}

// writeCondition answers status with a DAV:error body naming a
// precondition or postcondition (RFC 4918 §16).
func writeCondition(w http.ResponseWriter, status int, space, local string) {
	writeXML(w, nil, status, newElement(nsDAV, "error", newElement(space, local)))
}

// reportOnCalendar checks that the request is sent to a calendar
// collection on which the user holds one of privs, and answers the error
// otherwise: 403 with DAV:supported-report (RFC 3253 §3.6) or
// DAV:need-privileges (RFC 3744 §7.1.1).
func (h *Handler) reportOnCalendar(w http.ResponseWriter, r *http.Request, privs ...xml.Name) bool {
	res, err := h.Backend.Resource(r.Context(), r.URL.Path)
	if err != nil {
		h.writeBackendError(w, r, err)
		return false
	}
	if res.Kind != KindCalendar {
		writeCondition(w, http.StatusForbidden, nsDAV, "supported-report")
		return false
	}
	for _, p := range privs {
		if slices.Contains(res.Privileges, p) {
			return true
		}
	}
	writeCondition(w, http.StatusForbidden, nsDAV, "need-privileges")
	return false
}

// writeBackendError answers a Backend error.
func (h *Handler) writeBackendError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, ErrNotFound):
		http.Error(w, "Introuvable.", http.StatusNotFound)
	case errors.Is(err, ErrInvalidSyncToken):
		writeCondition(w, http.StatusForbidden, nsDAV, "valid-sync-token")
	default:
		h.internal(w, r, "backend", err)
	}
}

func (h *Handler) internal(w http.ResponseWriter, r *http.Request, what string, err error) {
	if h.Logger != nil {
		h.Logger.Error("caldavext: "+what, "method", r.Method, slog.Any("error", err))
	}
	http.Error(w, "Erreur interne, réessayez dans quelques instants.", http.StatusInternalServerError)
}

// recorder keeps a response of the wrapped handler to complete it.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func record(next http.Handler, r *http.Request) *recorder {
	rec := &recorder{header: http.Header{}}
	next.ServeHTTP(rec, r)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	rec.header.Del("Content-Length")
	return rec
}

func (rec *recorder) Header() http.Header { return rec.header }

func (rec *recorder) WriteHeader(status int) {
	if rec.status == 0 {
		rec.status = status
	}
}

func (rec *recorder) Write(p []byte) (int, error) {
	rec.WriteHeader(http.StatusOK)
	return rec.body.Write(p)
}

// replay writes the recorded response unchanged.
func (rec *recorder) replay(w http.ResponseWriter) {
	for k, v := range rec.header {
		w.Header()[k] = v
	}
	w.WriteHeader(rec.status)
	w.Write(rec.body.Bytes())
}
