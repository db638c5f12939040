package httpapi

import (
	_ "embed"
	"net/http"
)

// openAPI is the OpenAPI 3 document of this API; a test checks that every
// route of Routes appears in it.
//
//go:embed openapi.json
var openAPI []byte

// OpenAPI returns the document.
func OpenAPI() []byte { return openAPI }

func (a *API) handleOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Write(openAPI)
}
