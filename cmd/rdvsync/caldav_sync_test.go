package main

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDaemonCalDAVSyncCollection runs the daemon on the example
// configuration and synchronises Camille's served calendar with
// python-caldav's objects_by_sync_token (RFC 6578): after a first
// synchronisation, an RDV booked and then cancelled through the API is
// the only thing the next one reports, still there, STATUS:CANCELLED.
func TestDaemonCalDAVSyncCollection(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	script, err := filepath.Abs(filepath.Join("..", "..", "internal", "served", "testdata", "caldav_sync.py"))
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import caldav").Run(); err != nil {
		if os.Getenv("RDVSYNC_SKIP_CLIENTS") == "1" {
			t.Skip("python3-caldav not found and RDVSYNC_SKIP_CLIENTS=1")
		}
		t.Fatal("python3-caldav not found: install it with make test-deps, or set RDVSYNC_SKIP_CLIENTS=1 to skip")
	}
	_, bin, cfg, conf := daemonSetup(t)
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, cfg)
	const agent = "camille-martin"
	sync := func(token string) (objs, gone []string, next string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/usr/bin/python3", script, d.url+"/dav/", agent, "demo-token-"+agent, token)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir(), "LANG=C.UTF-8", "NO_PROXY=*", "no_proxy=*", "PYTHONDONTWRITEBYTECODE=1"}
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("caldav_sync.py: %v\n%s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			switch kind, rest, _ := strings.Cut(line, " "); kind {
			case "OBJ":
				objs = append(objs, rest)
			case "GONE":
				gone = append(gone, rest)
			case "TOKEN":
				next = rest
			}
		}
		return objs, gone, next
	}
	before, _, token := sync("")
	if token == "" {
		t.Fatal("no sync token")
	}

	from := time.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	var slots struct {
		Slots []struct {
			StartsAt string `json:"starts_at"`
			LieuID   string `json:"lieu_id"`
		} `json:"slots"`
	}
	if status := d.call(t, "GET", "/api/v1/slots?motif_id=rsa-orientation&agent_id="+agent+"&from="+from, agent, nil, &slots); status != http.StatusOK || len(slots.Slots) == 0 {
		t.Fatalf("slots: %d, %d", status, len(slots.Slots))
	}
	var booked struct {
		ID       string   `json:"id"`
		AgentIDs []string `json:"agent_ids"`
	}
	body := map[string]any{"motif_id": "rsa-orientation", "lieu_id": slots.Slots[0].LieuID, "starts_at": slots.Slots[0].StartsAt,
		"agent_id": agent, "usager": map[string]string{"first_name": "Léa", "last_name": "Dubois", "phone_number": "06 12 34 56 78"}}
	if status := d.call(t, "POST", "/api/v1/rdvs", agent, body, &booked); status != http.StatusCreated {
		t.Fatalf("booking: %d", status)
	}
	if status := d.call(t, "POST", "/api/v1/rdvs/"+booked.ID+"/cancel", agent, map[string]string{}, nil); status != http.StatusOK {
		t.Fatalf("cancel: %d", status)
	}
	objs, gone, next := sync(token)
	if want := booked.ID + ".ics " + booked.ID + " CANCELLED"; len(objs) != 1 || objs[0] != want || len(gone) != 0 {
		t.Errorf("sync after booking and cancelling: objects %v, gone %v; want [%s] and none (calendar had %d objects)", objs, gone, want, len(before))
	}
	if next == token {
		t.Errorf("the sync token did not change")
	}
	if objs, gone, _ := sync(next); len(objs)+len(gone) != 0 {
		t.Errorf("sync from the new token: %v %v, want nothing", objs, gone)
	}
}
