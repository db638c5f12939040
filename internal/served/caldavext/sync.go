package caldavext

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
)

// syncCollection answers a DAV:sync-collection report (RFC 6578 §3).
//
// The Depth header is not checked: RFC 6578 §3.2 defines the report for
// Depth: 0 only, but python-caldav sends Depth: 1, and DAV:sync-level
// says what the client wants. A calendar collection has no child
// collections, so levels 1 and infinite (§3.3) are the same.
func (h *Handler) syncCollection(w http.ResponseWriter, r *http.Request, req *element) {
	var token string
	if t := req.child(nsDAV, "sync-token"); t != nil {
		token = t.value()
	}
	if l := req.child(nsDAV, "sync-level"); l != nil {
		if level := l.value(); level != "1" && level != "infinite" {
			http.Error(w, "sync-collection : sync-level 1 ou infinite (RFC 6578 §6.3).", http.StatusBadRequest)
			return
		}
	}
	limit := -1
	if l := req.child(nsDAV, "limit"); l != nil {
		n, err := strconv.Atoi(l.child(nsDAV, "nresults").value())
		if err != nil || n < 0 {
			http.Error(w, "sync-collection : limit/nresults doit être un entier (RFC 5323 §5.17).", http.StatusBadRequest)
			return
		}
		limit = n
	}
	if !h.reportOnCalendar(w, r, PrivilegeRead) {
		return
	}
	changes, err := h.Backend.SyncCollection(r.Context(), r.URL.Path, token)
	if err != nil {
		h.writeBackendError(w, r, err)
		return
	}
	if limit >= 0 && len(changes.Changed)+len(changes.Removed) > limit {
		// RFC 6578 §3.6 lets the server truncate and return a token of
		// the partial state; this one answers the whole change or
		// nothing, with the error of RFC 5323 §5.17.
		writeCondition(w, http.StatusInsufficientStorage, nsDAV, "number-of-matches-within-limits")
		return
	}
	prop := req.child(nsDAV, "prop")
	if prop == nil {
		prop = newElement(nsDAV, "prop")
	}
	var responses []*element
	if len(changes.Changed) > 0 {
		responses, err = h.members(r, prop, changes.Changed)
		if err != nil {
			h.internal(w, r, "sync-collection members", err)
			return
		}
	}
	// RFC 6578 §3.5.2: a removed member is a response with status 404.
	for _, p := range changes.Removed {
		responses = append(responses, newElement(nsDAV, "response",
			textElement(nsDAV, "href", hrefOf(p)),
			textElement(nsDAV, "status", "HTTP/1.1 404 Not Found")))
	}
	ms := newElement(nsDAV, "multistatus", responses...)
	ms.children = append(ms.children, textElement(nsDAV, "sync-token", changes.Token))
	writeXML(w, nil, http.StatusMultiStatus, ms)
}

// members gets the requested properties of the changed members with a
// calendar-multiget to the wrapped handler (RFC 4791 §7.9), so that they
// are what a multiget or PROPFIND returns, then completes them.
func (h *Handler) members(r *http.Request, prop *element, paths []string) ([]*element, error) {
	mg := newElement(nsCalDAV, "calendar-multiget", prop)
	for _, p := range paths {
		mg.children = append(mg.children, textElement(nsDAV, "href", hrefOf(p)))
	}
	body := mg.marshal()
	sub := r.Clone(r.Context())
	sub.Method = "REPORT"
	sub.Body, sub.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	sub.Header.Set("Content-Type", "application/xml; charset=utf-8")
	sub.Header.Set("Depth", "1")
	rec := record(h.Next, sub)
	if rec.status != http.StatusMultiStatus {
		return nil, fmt.Errorf("calendar-multiget of %d members: status %d", len(paths), rec.status)
	}
	ms, err := parseXML(bytes.NewReader(rec.body.Bytes()))
	if err != nil {
		return nil, err
	}
	var names []xml.Name
	for _, p := range prop.children {
		names = append(names, p.name)
	}
	responses := ms.all(nsDAV, "response")
	if err := h.completeResponses(r.Context(), responses, names, false); err != nil {
		return nil, err
	}
	return responses, nil
}

// hrefOf is the DAV:href of a path (RFC 4918 §8.3: escaped).
func hrefOf(p string) string { return (&url.URL{Path: p}).EscapedPath() }
