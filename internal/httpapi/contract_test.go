package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"rdvsync/internal/httpapi"
)

// openAPIRouter loads the published document once for every test.
var openAPIRouter = sync.OnceValues(func() (routers.Router, error) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
	if err != nil {
		return nil, err
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, err
	}
	// The published document lets clients ignore fields added later; the
	// tests do not: a field the code sends (or accepts) must be documented.
	closed := map[*openapi3.Schema]bool{}
	for _, s := range doc.Components.Schemas {
		closeObjects(s, closed)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			if op.RequestBody != nil && op.RequestBody.Value != nil {
				for _, mt := range op.RequestBody.Value.Content {
					closeObjects(mt.Schema, closed)
				}
			}
			for _, resp := range op.Responses.Map() {
				for _, mt := range resp.Value.Content {
					closeObjects(mt.Schema, closed)
				}
			}
		}
	}
	return legacy.NewRouter(doc)
})

// flattenAllOf merges the properties and required fields of s's allOf
// members into s itself, so that closing s allows what any member allows
// (closing each member would refuse the others' fields). The members,
// shared through $ref, are left as they are.
func flattenAllOf(s *openapi3.Schema) {
	if len(s.AllOf) == 0 {
		return
	}
	members := s.AllOf
	s.AllOf = nil
	if s.Properties == nil {
		s.Properties = openapi3.Schemas{}
	}
	for _, m := range members {
		if m == nil || m.Value == nil {
			continue
		}
		flattenAllOf(m.Value)
		for name, p := range m.Value.Properties {
			if _, ok := s.Properties[name]; !ok {
				s.Properties[name] = p
			}
		}
		for _, r := range m.Value.Required {
			if !slices.Contains(s.Required, r) {
				s.Required = append(s.Required, r)
			}
		}
		if s.Type == nil {
			s.Type = m.Value.Type
		}
	}
}

// closeObjects sets additionalProperties: false on every object schema
// under ref that lists its properties and says nothing of others.
func closeObjects(ref *openapi3.SchemaRef, seen map[*openapi3.Schema]bool) {
	if ref == nil || ref.Value == nil || seen[ref.Value] {
		return
	}
	s := ref.Value
	seen[s] = true
	flattenAllOf(s)
	if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil {
		s.AdditionalProperties.Has = new(false)
	}
	for _, p := range s.Properties {
		closeObjects(p, seen)
	}
	closeObjects(s.Items, seen)
	closeObjects(s.AdditionalProperties.Schema, seen)
	for _, list := range []openapi3.SchemaRefs{s.AnyOf, s.OneOf} {
		for _, x := range list {
			closeObjects(x, seen)
		}
	}
}

// checkContract wraps the API so that every exchange of the tests is
// checked against internal/httpapi/openapi.json (kin-openapi's
// openapi3filter): every response must be one the document describes
// (status, headers, JSON body by its schema), and a request the document
// calls invalid must be refused with a 4xx. A field renamed in the code and
// not in the document, or the reverse, fails the test that exercised it.
// Paths outside the document (/healthz, /metrics, pages) pass through.
func checkContract(t testing.TB, h http.Handler) http.Handler {
	router, err := openAPIRouter()
	if err != nil {
		t.Fatalf("openapi.json: %v", err)
	}
	opts := &openapi3filter.Options{
		AuthenticationFunc:    openapi3filter.NoopAuthenticationFunc,
		IncludeResponseStatus: true, // an undocumented status is drift too
		MultiError:            true,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, params, err := router.FindRoute(r)
		if err != nil {
			h.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		check := r.Clone(context.Background())
		check.Body = io.NopCloser(bytes.NewReader(body))
		if len(bytes.TrimSpace(body)) == 0 {
			// An empty or blank chunked body (no Content-Length) is no
			// body, as the server reads it; the validator would decode it.
			check.Body, check.ContentLength = http.NoBody, 0
		}
		in := &openapi3filter.RequestValidationInput{Request: check, PathParams: params, Route: route, Options: opts}
		reqErr := openapi3filter.ValidateRequest(context.Background(), in)

		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		w.Write(rec.Body.Bytes())

		what := r.Method + " " + r.URL.Path
		if reqErr != nil && rec.Code < 400 {
			t.Errorf("OpenAPI: %s answered %d to a request the document calls invalid: %v\nrequest body: %s",
				what, rec.Code, oneLineErr(reqErr), body)
		}
		out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(), Options: opts}
		out.SetBodyBytes(rec.Body.Bytes())
		if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
			t.Errorf("OpenAPI: the response of %s (%d) is not the documented one: %v\nbody: %.600s", what, rec.Code, oneLineErr(err), rec.Body.Bytes())
		}
	})
}

func oneLineErr(err error) string { return strings.Join(strings.Fields(err.Error()), " ") }

// recordingTB keeps the errors of checkContract instead of failing.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

// TestContractCheckCatchesDrift: the check that wraps every API test
// notices a renamed field, an undocumented status and an invalid request
// accepted, and stays quiet on a documented exchange.
func TestContractCheckCatchesDrift(t *testing.T) {
	slot := `{"starts_at":"2026-12-03T09:00:00+01:00","ends_at":"2026-12-03T09:45:00+01:00","motif_id":"m","lieu_id":"l","organisation_id":"o"}`
	tests := []struct {
		name, path string
		status     int
		body       string
		want       string // in the error; "" for none
	}{
		{"documented", "/api/v1/slots?motif_id=m", 200, `{"slots":[` + slot + `]}`, ""},
		{"renamed field", "/api/v1/slots?motif_id=m", 200, `{"slots":[` + strings.Replace(slot, "starts_at", "startsAt", 1) + `]}`, "is not the documented one"},
		{"undocumented field", "/api/v1/slots?motif_id=m", 200, `{"slots":[` + strings.Replace(slot, "}", `,"agent_name":"A"}`, 1) + `]}`, "is not the documented one"},
		{"undocumented status", "/api/v1/slots?motif_id=m", 418, `{}`, "is not the documented one"},
		{"invalid request accepted", "/api/v1/slots?motif_id=m&from=demain", 200, `{"slots":[]}`, "calls invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &recordingTB{TB: t}
			h := checkContract(rec, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", tt.path, nil))
			got := strings.Join(rec.errs, "\n")
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("errors %q, want one with %q", got, tt.want)
			}
		})
	}
}
