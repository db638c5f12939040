package main

import (
	"net/http"
	"os"
	"strconv"
	"testing"
)

// TestDaemonSharesLimits: the running daemon counts one budget per client
// across the API and the pages, and one failed-authentication throttle
// across API tokens and CalDAV.
func TestDaemonSharesLimits(t *testing.T) {
	_, bin, cfg, conf := daemonSetup(t)
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, cfg)
	get := func(path string, set func(*http.Request)) *http.Response {
		t.Helper()
		req, _ := http.NewRequest("GET", d.url+path, nil)
		if set != nil {
			set(req)
		}
		resp, err := d.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for i := range 10 {
		if resp := get("/api/v1/rdvs", func(r *http.Request) { r.Header.Set("Authorization", "Bearer guess"+strconv.Itoa(i)) }); resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("wrong token %d: %d", i, resp.StatusCode)
		}
	}
	resp := get("/dav/", func(r *http.Request) { r.SetBasicAuth("camille-martin", "demo-token-camille-martin") })
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Errorf("CalDAV after 10 wrong API tokens: %d, want 429 with Retry-After", resp.StatusCode)
	}
	// server.rate_limit of the example: bursts of 30 anonymous requests.
	for i := range 30 {
		if resp := get("/api/v1/catalog", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("anonymous request %d: %d", i, resp.StatusCode)
		}
	}
	if resp := get("/prendre_rdv?prescripteur=1", nil); resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("booking page after the API budget is spent: %d, want 429", resp.StatusCode)
	}
}
