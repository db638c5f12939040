package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"rdvsync/internal/webhook"
)

// TestRdvsIDsStableAcrossRestartAndReload: the integer ids webhook
// receivers key their records on stay the same whether the daemon runs
// or not, across a restart and a reload that adds an object; a reload
// whose rdvs_id takes an id rdvsync gave another object is refused.
func TestRdvsIDsStableAcrossRestartAndReload(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	_, bin, cfg, example := daemonSetup(t)
	if err := os.WriteFile(cfg, example, 0o600); err != nil {
		t.Fatal(err)
	}
	ids := func() map[string]int64 {
		t.Helper()
		code, out, errOut := runCLI(t, "rdvs-ids", "-config", cfg, "-json")
		if code != 0 {
			t.Fatalf("rdvs-ids: exit %d: %s", code, errOut)
		}
		var list []webhook.IDMapping
		if err := json.Unmarshal([]byte(out), &list); err != nil {
			t.Fatal(err)
		}
		m := map[string]int64{}
		for _, x := range list {
			m[x.Kind+"/"+x.ID] = x.RdvsID
		}
		return m
	}
	// The daemon stopped: the command reads (and fills) the store itself.
	before := ids()
	if before["organisation/mds-arras"] != 352 || before["motif/rsa-orientation"] != 1719 || before["lieu/mds-arras-centre"] != 1 ||
		before["agent/nadia-morel"] != 6 || len(before) != 4+3+4+7+6 {
		t.Fatalf("ids of the example: %v", before)
	}

	d := startDaemon(t, bin, cfg, "-log-level", "info")
	var slots struct {
		Slots []struct {
			StartsAt string `json:"starts_at"`
			LieuID   string `json:"lieu_id"`
		} `json:"slots"`
	}
	from := time.Now().AddDate(0, 0, 1).Format(time.DateOnly)
	if status := d.call(t, "GET", "/api/v1/slots?motif_id=rsa-orientation&from="+from, "camille-martin", nil, &slots); status != http.StatusOK || len(slots.Slots) == 0 {
		t.Fatalf("slots: %d %+v", status, slots)
	}
	var booked struct {
		ID     string `json:"id"`
		RdvsID int64  `json:"rdvs_id"`
		Usager struct {
			RdvsID int64 `json:"rdvs_id"`
		} `json:"usager"`
	}
	s := slots.Slots[0]
	if status := d.call(t, "POST", "/api/v1/rdvs", "camille-martin", map[string]any{"motif_id": "rsa-orientation", "lieu_id": s.LieuID,
		"starts_at": s.StartsAt, "usager": map[string]string{"first_name": "Léa", "last_name": "Dubois"}}, &booked); status != http.StatusCreated {
		t.Fatalf("book: %d", status)
	}
	if booked.RdvsID != 1 || booked.Usager.RdvsID != 1 {
		t.Fatalf("the first RDV and usager: rdvs_id %d and %d, want 1 and 1", booked.RdvsID, booked.Usager.RdvsID)
	}
	// Running: the command asks the daemon.
	if got := ids(); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("ids through the daemon:\n%v\nwant\n%v", got, before)
	}

	// A reload adding a lieu: the others keep theirs, the new one gets the next.
	withLieu := bytes.Replace(example, []byte("\nmotifs:\n"),
		[]byte("\n  - { id: mds-arras-nord, organisation: mds-arras, name: \"MDS Arras Nord\", address: \"2 rue Nord, 62000 Arras\" }\nmotifs:\n"), 1)
	os.WriteFile(cfg, withLieu, 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, d, "the reload", func() bool { return strings.Contains(d.stderr.String(), "configuration reloaded") })
	after := ids()
	if after["lieu/mds-arras-nord"] != 5 || len(after) != len(before)+1 {
		t.Errorf("after adding a lieu: %v", after)
	}
	for k, v := range before {
		if after[k] != v {
			t.Errorf("%s: %d after the reload, was %d", k, after[k], v)
		}
	}

	// A reload giving MDS Lens the id rdvsync gave MDS Arras Centre is refused.
	clash := bytes.Replace(withLieu, []byte("{ id: mds-lens-centre, organisation"), []byte("{ id: mds-lens-centre, rdvs_id: 1, organisation"), 1)
	os.WriteFile(cfg, clash, 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, d, "the refused reload", func() bool { return strings.Contains(d.stderr.String(), "configuration reload failed") })
	if !strings.Contains(d.stderr.String(), `lieu \"mds-lens-centre\": rdvs_id 1 was allocated by rdvsync to lieu \"mds-arras-centre\"`) {
		t.Errorf("the refusal does not say why:\n%s", d.stderr.String())
	}

	// After a restart, the RDV keeps its id.
	os.WriteFile(cfg, withLieu, 0o600)
	d.cmd.Process.Signal(syscall.SIGTERM)
	d.cmd.Wait()
	d = startDaemon(t, bin, cfg)
	var again struct {
		RdvsID int64 `json:"rdvs_id"`
	}
	if status := d.call(t, "GET", "/api/v1/rdvs/"+booked.ID, "camille-martin", nil, &again); status != http.StatusOK || again.RdvsID != 1 {
		t.Errorf("after a restart: %d, rdvs_id %d", status, again.RdvsID)
	}
	if got := ids(); fmt.Sprint(got) != fmt.Sprint(after) {
		t.Errorf("ids after a restart:\n%v\nwant\n%v", got, after)
	}
}

func waitUntil(t *testing.T, d *daemonProc, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; daemon stderr:\n%s", what, d.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
