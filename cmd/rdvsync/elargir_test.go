package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Issue 10 §1, second rule, against the daemon as `rdvsync serve` runs
// it: an agent of the MDS Arras books, "élargir", at the MDS Lens an
// usager the MDS Arras recorded with her address, birth date and email,
// typing only her names and phone. Everything the MDS Lens is given of
// her — its agents' API answers, pages, served calendars, the calendar
// pushed to its agent, its webhook endpoints — holds that contact and
// nothing of the MDS Arras's record; the MDS Arras keeps its record whole.

// lensPeer is the MDS Lens's side of the network: its partner's webhook
// receiver and Sophie Dupont's CalDAV server. It keeps every body.
type lensPeer struct {
	mu     sync.Mutex
	bodies []peerRequest
}

type peerRequest struct {
	method, path string
	body         []byte
}

func (p *lensPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	p.mu.Lock()
	p.bodies = append(p.bodies, peerRequest{r.Method, r.URL.Path, body})
	p.mu.Unlock()
	switch r.Method {
	case http.MethodPut:
		w.Header().Set("ETag", fmt.Sprintf(`"%d"`, time.Now().UnixNano()))
		w.WriteHeader(http.StatusCreated)
	case http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	case http.MethodPost:
		w.WriteHeader(http.StatusOK)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

// waitFor waits up to 15 s until n requests match.
func (p *lensPeer) waitFor(t *testing.T, what string, n int, match func(peerRequest) bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := 0
		p.mu.Lock()
		for _, r := range p.bodies {
			if match(r) {
				got++
			}
		}
		p.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %d of %d requests received", what, got, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *lensPeer) requests() []peerRequest {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]peerRequest(nil), p.bodies...)
}

func TestElargirGivesTheOtherOrganisationOnlyTheContact(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	peer := &lensPeer{}
	ps := httptest.NewServer(peer)
	t.Cleanup(ps.Close)
	dir, bin, cfg, conf := daemonSetup(t)
	for name, content := range map[string]string{"partner.secret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n", "caldav-password": "secret\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// Sophie Dupont (MDS Lens) has her RDVs with the usager's details in
	// the calendar pushed to her server and in her served calendars; the
	// MDS Lens's partner hears of its RDVs and usagers in both formats.
	for old, repl := range map[string]string{
		"    rdv_notifications_level: soon\n": "    rdv_notifications_level: soon\n    calendar:\n" +
			"      caldav: { url: \"" + ps.URL + "/dav/sophie/\", username: sophie, password_file: caldav-password }\n      details: full\n",
		"  outgoing: []\n": "  outgoing:\n" +
			"    - { id: lens-rdvs, url: \"" + ps.URL + "/hooks/rdvs\", secret_file: partner.secret, allow_private: true, organisations: [mds-lens], subscriptions: [rdv, user] }\n" +
			"    - { id: lens-native, url: \"" + ps.URL + "/hooks/native\", secret_file: partner.secret, allow_private: true, organisations: [mds-lens], format: rdvsync, subscriptions: [rdv, user] }\n",
	} {
		if !bytes.Contains(conf, []byte(old)) {
			t.Fatalf("config.example.yaml no longer has %q", old)
		}
		conf = bytes.Replace(conf, []byte(old), []byte(repl), 1)
	}
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, cfg)

	// The MDS Arras's record of Léa-Marie.
	rsa := freeSlots(t, d, "rsa-orientation", "camille-martin")
	status, raw := bookRaw(t, d, "camille-martin", map[string]any{"motif_id": "rsa-orientation", "lieu_id": rsa[0].LieuID,
		"starts_at": rsa[0].StartsAt, "agent_id": rsa[0].AgentID,
		"usager": map[string]string{"first_name": "Léa-Marie", "last_name": "Dubois", "phone_number": "06 12 34 56 78",
			"email": "lea.dubois@example.org", "address": "3 rue Ronville, 62000 Arras", "postal_code": "62000",
			"city_code": "62041", "birth_date": "1990-04-02"}})
	if status != http.StatusCreated {
		t.Fatalf("the MDS Arras's booking: %d %s", status, raw)
	}
	recorded := decodeBooked(t, raw)
	// What only the MDS Arras recorded: her address, postal and INSEE
	// codes, birth date, email, and the spelling of her first name.
	arrasOnly := []string{"Ronville", "62000", "62041", "1990-04-02", "lea.dubois@example.org", "Léa-Marie"}

	// Camille books her, élargir, with Sophie at the MDS Lens, typing
	// only her names and phone.
	var lens []apiSlot
	for _, s := range freeSlots(t, d, "accompagnement-social-lens", "camille-martin") {
		if s.AgentID == "sophie-dupont" {
			lens = append(lens, s)
		}
	}
	if len(lens) < 4 {
		t.Fatalf("%d slots of Sophie Dupont", len(lens))
	}
	status, raw = bookRaw(t, d, "camille-martin", map[string]any{"motif_id": "accompagnement-social-lens", "lieu_id": lens[0].LieuID,
		"starts_at": lens[0].StartsAt, "agent_id": "sophie-dupont",
		"usager": map[string]string{"first_name": "Lea Marie", "last_name": "DUBOIS", "phone_number": "0612345678"}})
	if status != http.StatusCreated {
		t.Fatalf("élargir booking: %d %s", status, raw)
	}
	elargi := decodeBooked(t, raw)
	if elargi.Usager.ID != recorded.Usager.ID {
		t.Fatalf("the élargir booking is not linked to the MDS Arras's usager: %s", raw)
	}

	// B reads it: every answer holds the contact, nothing the MDS Arras recorded.
	seen := map[string]string{} // what → body
	get := func(what, path, agent string) string {
		t.Helper()
		var body json.RawMessage
		if status := d.call(t, "GET", path, agent, nil, &body); status != http.StatusOK {
			t.Fatalf("%s: GET %s: %d", what, path, status)
		}
		seen[what] = string(body)
		return string(body)
	}
	body := get("B's RDV", "/api/v1/rdvs/"+elargi.ID, "sophie-dupont")
	if !strings.Contains(body, `"first_name":"Lea Marie"`) || !strings.Contains(body, "+33612345678") {
		t.Errorf("B's agent does not see the contact it was given: %s", body)
	}
	from, to := time.Now().Format(time.DateOnly), time.Now().AddDate(0, 0, 60).Format(time.DateOnly)
	body = get("B's listing", "/api/v1/rdvs?organisation_id=mds-lens&from="+from+"&to="+to, "karim-benali")
	if !strings.Contains(body, elargi.ID) {
		t.Errorf("the MDS Lens's listing misses the RDV: %s", body)
	}
	body = get("B's search", "/api/v1/usagers?q=dubois", "sophie-dupont")
	if strings.Contains(body, recorded.Usager.ID) {
		t.Errorf("the MDS Lens's agent finds the MDS Arras's usager: %s", body)
	}
	if status := d.call(t, "GET", "/api/v1/usagers/"+recorded.Usager.ID+"/export", "sophie-dupont", nil, nil); status != http.StatusNotFound {
		t.Errorf("the MDS Lens's agent exports the MDS Arras's usager: %d, want 404", status)
	}

	// B's agent books the same names and phone itself: a new usager of
	// its own, nothing of the MDS Arras's.
	status, raw = bookRaw(t, d, "sophie-dupont", map[string]any{"motif_id": "accompagnement-social-lens", "lieu_id": lens[1].LieuID,
		"starts_at": lens[1].StartsAt, "agent_id": "sophie-dupont",
		"usager": map[string]string{"first_name": "Léa Marie", "last_name": "Dubois", "phone_number": "06 12 34 56 78"}})
	if status != http.StatusCreated {
		t.Fatalf("B's own booking: %d %s", status, raw)
	}
	seen["B's own booking"] = raw
	if decodeBooked(t, raw).Usager.ID == recorded.Usager.ID {
		t.Error("the MDS Lens's booking reused the MDS Arras's usager")
	}

	// B moves the élargir RDV: the change is pushed and told again.
	var moved json.RawMessage
	if status := d.call(t, "PATCH", "/api/v1/rdvs/"+elargi.ID, "sophie-dupont", map[string]string{"starts_at": lens[2].StartsAt}, &moved); status != http.StatusOK {
		t.Fatalf("B moves the RDV: %d", status)
	}
	seen["B's move"] = string(moved)
	body = get("B's search after the move", "/api/v1/usagers?q=dubois", "sophie-dupont")
	if strings.Contains(body, recorded.Usager.ID) {
		t.Errorf("after its move, the MDS Lens's agent finds the MDS Arras's usager: %s", body)
	}

	// B's served calendars.
	var feed struct {
		ICSURL    string `json:"ics_url"`
		CalDAVURL string `json:"caldav_url"`
	}
	if status := d.call(t, "GET", "/api/v1/agents/sophie-dupont/feed", "sophie-dupont", nil, &feed); status != http.StatusOK {
		t.Fatalf("feed: %d", status)
	}
	local := func(u string) string { return strings.Replace(u, "http://127.0.0.1:8080", d.url, 1) }
	fetch := func(what string, req *http.Request) {
		t.Helper()
		res, err := d.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		b = bytes.ReplaceAll(b, []byte("\r\n "), nil) // unfolded (RFC 5545 §3.1)
		if res.StatusCode != http.StatusOK || !strings.Contains(string(b), "Lea Marie DUBOIS") {
			t.Errorf("%s: %d, the contact missing:\n%s", what, res.StatusCode, b)
		}
		seen[what] = string(b)
	}
	req, _ := http.NewRequest(http.MethodGet, local(feed.ICSURL), nil)
	fetch("B's ICS feed", req)
	req, _ = http.NewRequest(http.MethodGet, local(feed.CalDAVURL)+elargi.ID+".ics", nil)
	req.SetBasicAuth("sophie-dupont", "demo-token-sophie-dupont")
	fetch("B's CalDAV object", req)

	// B's pages.
	pc := newPageClient(t, d.url)
	tok := pc.csrf("/agents/connexion", "/agents/connexion")
	if res := pc.post("/agents/connexion", url.Values{"csrf": {tok}, "identifiant": {"sophie-dupont"}, "jeton": {"demo-token-sophie-dupont"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	day := lens[2].StartsAt[:10]
	for what, path := range map[string]string{
		"B's RDV page":    "/agents/rdvs/" + elargi.ID,
		"B's agenda page": "/agents/agenda?semaine=" + day,
		"B's usager search page": "/prendre_rdv/prescription_interne?agent=1&org=mds-lens&service=social&motif=accompagnement-social-lens" +
			"&lieu=mds-lens-centre&date=" + day + "&creneau=" + url.QueryEscape(lens[3].StartsAt) + "&q=dubois",
	} {
		res := pc.get(path)
		if res.StatusCode != http.StatusOK {
			t.Errorf("%s: %d", what, res.StatusCode)
		}
		seen[what] = res.body
	}
	if !strings.Contains(seen["B's RDV page"], "Lea Marie DUBOIS") {
		t.Errorf("B's RDV page does not show the contact:\n%s", seen["B's RDV page"])
	}

	// B's webhook endpoints and Sophie's calendar server: the élargir
	// RDV created then moved, in both formats, and its event pushed twice.
	for _, hook := range []string{"/hooks/rdvs", "/hooks/native"} {
		peer.waitFor(t, hook, 2, func(r peerRequest) bool {
			return r.path == hook && bytes.Contains(r.body, []byte(elargi.ID)) && bytes.Contains(r.body, []byte(`"model":"Rdv"`))
		})
	}
	peer.waitFor(t, "calendar pushes", 2, func(r peerRequest) bool {
		return r.method == http.MethodPut && strings.HasSuffix(r.path, elargi.ID+".ics")
	})
	for _, r := range peer.requests() {
		what := r.method + " " + r.path
		if strings.HasPrefix(r.path, "/hooks/") && bytes.Contains(r.body, []byte(`"model":"User"`)) {
			var ev struct {
				Data struct {
					FirstName string `json:"first_name"`
				} `json:"data"`
			}
			json.Unmarshal(r.body, &ev)
			if ev.Data.FirstName != "Léa Marie" { // the usager the MDS Lens recorded itself
				t.Errorf("%s: a User event about an usager the MDS Lens did not record: %s", what, r.body)
			}
		}
		seen[what+" #"+fmt.Sprint(len(seen))] = string(r.body)
	}
	var rdvs struct {
		Data struct {
			Users []map[string]any `json:"users"`
		} `json:"data"`
	}
	for _, r := range peer.requests() {
		if r.path == "/hooks/rdvs" && bytes.Contains(r.body, []byte(elargi.ID)) {
			if err := json.Unmarshal(r.body, &rdvs); err != nil || len(rdvs.Data.Users) != 1 {
				t.Fatalf("RDV Solidarités payload: %v: %s", err, r.body)
			}
			u := rdvs.Data.Users[0]
			if u["first_name"] != "Lea Marie" || u["address"] != nil || u["birth_date"] != nil || u["email"] != nil {
				t.Errorf("the partner's user is not the contact: %v", u)
			}
		}
	}

	for what, body := range seen {
		body = strings.ReplaceAll(body, "\r\n ", "")      // unfold iCalendar lines (RFC 5545 §3.1)
		body = generatedID.ReplaceAllString(body, "<id>") // random hex may spell a code
		for _, s := range arrasOnly {
			if strings.Contains(body, s) {
				t.Errorf("%s holds %q, which only the MDS Arras recorded:\n%s", what, s, body)
			}
		}
	}

	if status := d.call(t, "DELETE", "/api/v1/usagers/"+recorded.Usager.ID, "sophie-dupont", nil, nil); status != http.StatusNotFound {
		t.Errorf("the MDS Lens's agent erases the MDS Arras's usager: %d, want 404", status)
	}

	// The MDS Arras keeps seeing its whole record, the élargir RDV included.
	for what, path := range map[string]string{
		"A's search":     "/api/v1/usagers?q=dubois",
		"A's export":     "/api/v1/usagers/" + recorded.Usager.ID + "/export",
		"A's prescribed": "/api/v1/rdvs/" + elargi.ID,
	} {
		if body := get(what, path, "camille-martin"); !strings.Contains(body, "Ronville") || !strings.Contains(body, "1990-04-02") {
			t.Errorf("%s: the MDS Arras's record is not whole: %s", what, body)
		}
	}
}
