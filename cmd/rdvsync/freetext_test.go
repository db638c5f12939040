package main

import (
	"bytes"
	"io"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rdvsync/caldav/caldavtest"
)

// TestDaemonTakesAwkwardText books, through the running daemon, what people
// really type: a context on two lines as a browser sends it (CRLF) and a
// name with a double quote. The agent's calendar carries the usager
// (details: full) and is pushed to a real CalDAV server (Radicale). Before
// free text was normalised, the CR made the agent's feed and /dav/ answer
// 500, the push fail until dead-lettered and the agent's email fail; the
// quote made the usager's email fail ("mail: no angle-addr").
func TestDaemonTakesAwkwardText(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	radicale := caldavtest.StartRadicale(t)
	dir, bin, cfg, conf := daemonSetup(t)
	if err := os.WriteFile(filepath.Join(dir, "caldav-password"), []byte(radicale.Password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const camilleLine = "    rdv_notifications_level: others\n"
	if !bytes.Contains(conf, []byte(camilleLine)) {
		t.Fatal("config.example.yaml no longer sets camille-martin's rdv_notifications_level")
	}
	conf = bytes.Replace(conf, []byte(camilleLine), []byte(camilleLine+"    calendar:\n"+
		"      caldav: { url: \""+radicale.CalendarURL+"\", username: "+radicale.Username+", password_file: caldav-password }\n"+
		"      details: full\n"), 1)
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, cfg)

	from := time.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	var slots struct {
		Slots []struct {
			StartsAt string `json:"starts_at"`
			AgentID  string `json:"agent_id"`
		} `json:"slots"`
	}
	if status := d.call(t, "GET", "/api/v1/slots?motif_id=rsa-orientation&lieu_id=mds-arras-centre&from="+from, "camille-martin", nil, &slots); status != http.StatusOK {
		t.Fatalf("slots: %d", status)
	}
	start := ""
	for _, s := range slots.Slots {
		if s.AgentID == "camille-martin" {
			start = s.StartsAt
			break
		}
	}
	if start == "" {
		t.Fatal("no slot of camille-martin")
	}
	var booked struct {
		ID string `json:"id"`
	}
	body := map[string]any{"motif_id": "rsa-orientation", "lieu_id": "mds-arras-centre", "starts_at": start, "agent_id": "camille-martin",
		"usager":       map[string]string{"first_name": "Léa", "last_name": `O"Brien`, "email": "lea.obrien@example.org"},
		"prescripteur": map[string]string{"first_name": "Jean", "last_name": "Petit", "email": "jean.petit@mediatheque.example.org"},
		"context":      "Première ligne\r\nSeconde ligne"}
	if status := d.call(t, "POST", "/api/v1/rdvs", "", body, &booked); status != http.StatusCreated {
		t.Fatalf("booking: %d", status)
	}

	// The served calendars.
	var feed struct {
		ICSURL string `json:"ics_url"`
	}
	if status := d.call(t, "GET", "/api/v1/agents/camille-martin/feed", "camille-martin", nil, &feed); status != http.StatusOK {
		t.Fatalf("feed info: %d", status)
	}
	u := d.url + feed.ICSURL[strings.Index(feed.ICSURL, "/calendars/"):]
	ics := fetch(t, d, "GET", u, "", http.StatusOK)
	if !strings.Contains(strings.ReplaceAll(ics, "\r\n ", ""), `Contexte : Première ligne\nSeconde ligne`) {
		t.Errorf("the feed lacks the two-line context:\n%s", ics)
	}
	propfind := `<?xml version="1.0"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`
	if ms := fetch(t, d, "PROPFIND", d.url+"/dav/calendars/camille-martin/rdv/", propfind, http.StatusMultiStatus); !strings.Contains(ms, booked.ID+".ics") {
		t.Errorf("/dav/ lacks the RDV:\n%s", ms)
	}

	// The push to Radicale and the emails.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var st struct{ Synced, Dead, Failing int }
		d.call(t, "GET", "/api/v1/agents/camille-martin/sync", "camille-martin", nil, &st)
		if st.Dead > 0 || st.Failing > 0 {
			t.Fatalf("calendar push failing: %+v", st)
		}
		if st.Synced == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the RDV never reached Radicale: %+v", st)
		}
		time.Sleep(100 * time.Millisecond)
	}
	mailDir := filepath.Join(dir, "data", "mail")
	for _, who := range []string{"usager", "agent-camille-martin"} {
		path := filepath.Join(mailDir, booked.ID+".created.v1."+who+".eml")
		for {
			if _, err := os.Stat(path); err == nil {
				break
			}
			if time.Now().After(deadline) {
				entries, _ := os.ReadDir(mailDir)
				t.Fatalf("%s not spooled (mail dir: %v)", filepath.Base(path), entries)
			}
			time.Sleep(50 * time.Millisecond)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		msg, err := mail.ReadMessage(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s email: %v", who, err)
		}
		to, err := msg.Header.AddressList("To")
		if err != nil || len(to) != 1 {
			t.Fatalf("%s email To %q: %v", who, msg.Header.Get("To"), err)
		}
		if who == "usager" && to[0].Name != `Léa O"Brien` {
			t.Errorf("usager email To name %q", to[0].Name)
		}
	}
}

// fetch sends a request with camille-martin's credentials (Basic, for
// /dav/) and returns the body, failing unless the status is want.
func fetch(t *testing.T, d *daemonProc, method, url, body string, want int) string {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("camille-martin", "demo-token-camille-martin")
	if body != "" {
		req.Header.Set("Content-Type", "application/xml")
		req.Header.Set("Depth", "1")
	}
	resp, err := d.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d, want %d\n%s", method, req.URL.Path, resp.StatusCode, want, data)
	}
	return string(data)
}
