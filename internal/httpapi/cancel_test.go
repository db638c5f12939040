package httpapi_test

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// The cancel body is optional (docs/api.md). A client that streams its
// body (Transfer-Encoding: chunked) and has nothing to say sends no
// Content-Length and a zero-length chunk: still no reason given, not a
// malformed JSON.
func TestCancelWithEmptyChunkedBody(t *testing.T) {
	s := newServer(t, serverOptions{})
	for _, tc := range []struct{ name, chunks string }{
		{"no chunk", "0\r\n\r\n"},
		{"blank chunk", "2\r\n \n\r\n0\r\n\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			booked := decodeJSON[rdvJSON](t, s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs",
				body: prescription("rsa-orientation", "mds-arras-centre", "2026-12-07T09:00:00+01:00", "")}))
			u, _ := url.Parse(s.URL)
			conn, err := net.Dial("tcp", u.Host)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			raw := "POST /api/v1/rdvs/" + booked.ID + "/cancel HTTP/1.1\r\nHost: " + u.Host + "\r\n" +
				"Authorization: Bearer " + token("camille-martin") + "\r\nContent-Type: application/json\r\n" +
				"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + tc.chunks
			if _, err := conn.Write([]byte(raw)); err != nil {
				t.Fatal(err)
			}
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body strings.Builder
			bufio.NewReader(resp.Body).WriteTo(&body)
			if resp.StatusCode != http.StatusOK || !strings.Contains(body.String(), `"status":"revoked"`) {
				t.Errorf("cancel with an empty chunked body: %d %s", resp.StatusCode, body.String())
			}
		})
	}
}
