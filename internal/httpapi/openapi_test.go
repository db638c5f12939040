package httpapi_test

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"rdvsync/internal/httpapi"
)

// TestOpenAPI: the published document is valid OpenAPI 3 and describes
// exactly the routes the API serves, with their methods.
func TestOpenAPI(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(httpapi.OpenAPI())
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("validate: %v", err)
	}

	served := map[string]bool{}
	for _, rt := range httpapi.New(httpapi.Options{}).Routes() {
		method, path, ok := strings.Cut(rt.Pattern, " ")
		if !ok || !strings.HasPrefix(path, "/") {
			t.Errorf("route %q has no method", rt.Pattern)
			continue
		}
		served[method+" "+path] = true
		item := doc.Paths.Value(path)
		if item == nil {
			t.Errorf("%s: path %s is not in the OpenAPI document", rt.Pattern, path)
			continue
		}
		op := item.GetOperation(method)
		if op == nil {
			t.Errorf("%s: the OpenAPI document has no %s operation on %s", rt.Pattern, method, path)
			continue
		}
		if len(op.Responses.Map()) == 0 {
			t.Errorf("%s: no responses documented", rt.Pattern)
		}
	}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			if !served[method+" "+path] {
				t.Errorf("the OpenAPI document promises %s %s, which is not served", method, path)
			}
		}
	}
}

// TestOpenAPIServed: GET /api/v1/openapi.json returns the document.
func TestOpenAPIServed(t *testing.T) {
	s := newServer(t, serverOptions{})
	resp := s.must(http.StatusOK, req{method: "GET", path: "/api/v1/openapi.json"})
	if !slices.Equal(resp.body, httpapi.OpenAPI()) {
		t.Error("served document differs from httpapi.OpenAPI()")
	}
	if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("Content-Type %q", ct)
	}
}
