package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rdvsync/internal/store"
)

func runCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestCheckConfig(t *testing.T) {
	code, out, errOut := runCLI(t, "check-config", "-config", "../../config.example.yaml")
	if code != 0 || !strings.Contains(out, "4 organisations") || !strings.Contains(out, "6 agents") {
		t.Fatalf("example: exit %d\n%s%s", code, out, errOut)
	}
	code, _, errOut = runCLI(t, "check-config", "-config", "../../internal/config/testdata/five-mistakes.yaml")
	if code != 1 || strings.Count(errOut, "five-mistakes.yaml:") != 7 || !strings.Contains(errOut, "6 error(s)") { // 6 errors and the summary
		t.Fatalf("five mistakes: exit %d\n%s", code, errOut)
	}
}

// TestSlotsCommand checks the admin's view of the example: the agent view
// of "Orientation RSA" in the week of Monday 7 December 2026, computed as
// on Tuesday 1 December at 10:00.
func TestSlotsCommand(t *testing.T) {
	code, out, errOut := runCLI(t, "slots", "-config", "../../config.example.yaml", "-motif", "rsa-orientation",
		"-from", "2026-12-07", "-agent", "-json", "-now", "2026-12-01T10:00:00+01:00")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var resp struct {
		Slots []struct {
			StartsAt string `json:"starts_at"`
			AgentID  string `json:"agent_id"`
			LieuID   string `json:"lieu_id"`
		} `json:"slots"`
	}
	if err := json.Unmarshal([]byte(out), &resp); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range resp.Slots {
		if s.LieuID != "mds-arras-centre" {
			t.Errorf("lieu %s", s.LieuID)
		}
		got = append(got, s.StartsAt[5:16]+" "+s.AgentID)
	}
	want := []string{
		// Monday: camille 9:00–12:00, thomas 9:00–10:30 (45 min slots).
		"12-07T09:00 camille-martin", "12-07T09:00 thomas-leroy", "12-07T09:45 camille-martin", "12-07T09:45 thomas-leroy",
		"12-07T10:30 camille-martin", "12-07T11:15 camille-martin",
		// Tuesday: thomas every other week from 6 January 2026, 14:00–17:00.
		"12-08T14:00 thomas-leroy", "12-08T14:45 thomas-leroy", "12-08T15:30 thomas-leroy", "12-08T16:15 thomas-leroy",
		// Thursday: camille 9:00–12:00.
		"12-10T09:00 camille-martin", "12-10T09:45 camille-martin", "12-10T10:30 camille-martin", "12-10T11:15 camille-martin",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("slots:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The table for people, public view: one line per start, French day names.
	code, out, _ = runCLI(t, "slots", "-config", "../../config.example.yaml", "-motif", "rsa-orientation",
		"-from", "2026-12-07", "-now", "2026-12-01T10:00:00+01:00")
	if code != 0 || !strings.Contains(out, "lundi  2026-12-07  09:00  09:45  MDS Arras Centre") || !strings.Contains(out, "12 slot(s)") {
		t.Errorf("table:\n%s", out)
	}
}

func TestGenDatasetPassesCheckConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dataset.yaml")
	if code, out, errOut := runCLI(t, "gen-dataset", "-out", path, "-organisations", "4", "-agents", "40", "-plages", "120"); code != 0 {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := runCLI(t, "check-config", "-config", path); code != 0 || !strings.Contains(out, "40 agents") {
		t.Fatalf("generated file: exit %d\n%s%s", code, out, errOut)
	}
}

// gen-dataset takes its sizes as flags, writes the RDVs into a new store
// with -store, and refuses impossible shapes with the reason.
func TestGenDatasetSizesAndStore(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "rdvsync.db")
	code, out, errOut := runCLI(t, "gen-dataset", "-out", filepath.Join(dir, "d.yaml"), "-organisations", "4", "-agents", "40",
		"-plages", "120", "-rdvs", "500", "-store", db)
	if code != 0 || !strings.Contains(out, "4 organisations, 40 agents") || !strings.Contains(out, "500 RDVs") {
		t.Fatalf("exit %d: %s%s", code, out, errOut)
	}
	st, err := store.Open(db, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	stats, err := st.Stats(context.Background())
	st.Close()
	if err != nil || stats.RDVs != 500 || stats.Usagers != 167 {
		t.Fatalf("store holds %+v (%v), want 500 RDVs and 167 usagers", stats, err)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-agents", "10"}, "at least 200 agents are needed"},
		{[]string{"-plages", "0"}, "-plages 0: must be at least 1"},
		{[]string{"-rdvs", "10"}, "-rdvs needs -store"},
		{[]string{"-organisations", "4", "-agents", "40", "-plages", "8", "-rdvs", "5000", "-store", filepath.Join(dir, "x.db")}, "of the 5000 RDVs asked fit"},
		{[]string{"-organisations", "4", "-agents", "40", "-plages", "120", "-store", db}, "the file exists"},
	} {
		code, out, errOut := runCLI(t, append([]string{"gen-dataset", "-out", filepath.Join(dir, "e.yaml")}, c.args...)...)
		if code != 2 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, %s%s; want exit 2 saying %q", c.args, code, out, errOut, c.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.db")); err == nil {
		t.Error("a refused shape left a store file")
	}
}
