package served

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"
)

// davTargets are the resources a CalDAV client sends PROPFIND and REPORT
// bodies to.
var davTargets = []string{
	DAVPrefix, principalPath(camille), homePath(camille), calendarPath(camille),
	objectPath(camille, rdvNext), objectPath(camille, "missing"),
}

// FuzzDAVBody sends any PROPFIND or REPORT body to the served calendars of
// an authenticated agent: the XML parsing (go-webdav's and ours) answers
// with a client error or a multistatus, never a server error or a panic.
func FuzzDAVBody(f *testing.F) {
	fx := newFixture(f, "http://127.0.0.1:8080")
	f.Fuzz(func(t *testing.T, target uint8, report bool, depth string, body []byte) {
		method := "PROPFIND"
		if report {
			method = "REPORT"
		}
		r := httptest.NewRequest(method, davTargets[int(target)%len(davTargets)], bytes.NewReader(body))
		r.SetBasicAuth(camille, camilleToken)
		r.Header.Set("Content-Type", "application/xml")
		if depth != "" {
			r.Header["Depth"] = []string{depth}
		}
		w := httptest.NewRecorder()
		fx.mux.ServeHTTP(w, r)
		if w.Code >= http.StatusInternalServerError {
			t.Fatalf("%s %s (Depth %q): %d %s", method, r.URL.Path, depth, w.Code, w.Body)
		}
	})
}
