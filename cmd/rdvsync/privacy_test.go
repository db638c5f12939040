package main

import (
	"encoding/json"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The attacks of issue 10 §1, against the daemon as `rdvsync serve` runs
// it: bookings without an agent token, and agents of another
// organisation, neither read nor change an usager they did not create.

type apiSlot struct {
	StartsAt string `json:"starts_at"`
	LieuID   string `json:"lieu_id"`
	AgentID  string `json:"agent_id"`
}

// freeSlots returns the slots of a motif from three days ahead (outside
// the reminder window), as agent (or anonymously) sees them.
func freeSlots(t *testing.T, d *daemonProc, motif, agent string) []apiSlot {
	t.Helper()
	from := time.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	var out struct {
		Slots []apiSlot `json:"slots"`
	}
	if status := d.call(t, "GET", "/api/v1/slots?motif_id="+motif+"&from="+from, agent, nil, &out); status != http.StatusOK || len(out.Slots) < 4 {
		t.Fatalf("slots of %s: %d, %d slots", motif, status, len(out.Slots))
	}
	return out.Slots
}

// bookRaw books and returns the status and the raw response body.
func bookRaw(t *testing.T, d *daemonProc, agent string, body map[string]any) (int, string) {
	t.Helper()
	var raw json.RawMessage
	status := d.call(t, "POST", "/api/v1/rdvs", agent, body, &raw)
	return status, string(raw)
}

type bookedRDV struct {
	ID     string `json:"id"`
	Usager struct {
		ID          string `json:"id"`
		Email       string `json:"email"`
		PhoneNumber string `json:"phone_number"`
		Address     string `json:"address"`
		BirthDate   string `json:"birth_date"`
	} `json:"usager"`
}

func decodeBooked(t *testing.T, raw string) bookedRDV {
	t.Helper()
	var b bookedRDV
	if err := json.Unmarshal([]byte(raw), &b); err != nil {
		t.Fatalf("booking response: %v: %s", err, raw)
	}
	return b
}

// victimOf books, as camille-martin (MDS Arras), the victim's RDV with
// everything the MDS knows of her but an email.
func victimOf(t *testing.T, d *daemonProc, slot apiSlot) bookedRDV {
	t.Helper()
	status, raw := bookRaw(t, d, "camille-martin", map[string]any{"motif_id": "rsa-orientation", "lieu_id": slot.LieuID,
		"starts_at": slot.StartsAt, "agent_id": slot.AgentID,
		"usager": map[string]string{"first_name": "Léa", "last_name": "Dubois", "phone_number": "06 12 34 56 78",
			"address": "3 rue Ronville, 62000 Arras", "postal_code": "62000", "city_code": "62041", "birth_date": "1990-04-02"}})
	if status != http.StatusCreated {
		t.Fatalf("victim's booking: %d %s", status, raw)
	}
	return decodeBooked(t, raw)
}

// victimData is what must never reach anyone outside the MDS Arras.
var victimData = []string{"Ronville", "1990-04-02", "62041"}

// generatedID is an RDV or usager id (UUIDv7): its random hex digits may
// spell a postal or INSEE code by chance.
var generatedID = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// noVictimData fails if raw, its generated ids left out, holds any of
// victimData.
func noVictimData(t *testing.T, raw string) {
	t.Helper()
	text := generatedID.ReplaceAllString(raw, "<id>")
	for _, s := range victimData {
		if strings.Contains(text, s) {
			t.Errorf("the response holds the victim's %q: %s", s, raw)
		}
	}
}

func TestPrivacyAttacksOnUsagers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	dir, bin, cfg, conf := daemonSetup(t)
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, cfg)
	rsa := freeSlots(t, d, "rsa-orientation", "camille-martin")
	victim := victimOf(t, d, rsa[0])

	t.Run("anonymous usager booking with the victim's names and phone", func(t *testing.T) {
		pmi := freeSlots(t, d, "consultation-pmi", "")
		status, raw := bookRaw(t, d, "", map[string]any{"motif_id": "consultation-pmi", "lieu_id": pmi[0].LieuID, "starts_at": pmi[0].StartsAt,
			"usager": map[string]string{"first_name": "Léa", "last_name": "Dubois", "phone_number": "0612345678"}})
		if status != http.StatusCreated {
			t.Fatalf("booking: %d %s", status, raw)
		}
		noVictimData(t, raw)
		if b := decodeBooked(t, raw); b.Usager.ID == victim.Usager.ID || b.Usager.ID == "" {
			t.Errorf("the booking was given the victim's usager %q", b.Usager.ID)
		}
	})

	const attacker = "attaquant@example.net"
	t.Run("anonymous prescripteur adding an email to the victim", func(t *testing.T) {
		status, raw := bookRaw(t, d, "", map[string]any{"motif_id": "rsa-orientation", "lieu_id": rsa[1].LieuID, "starts_at": rsa[1].StartsAt,
			"usager":       map[string]string{"first_name": "Léa", "last_name": "DUBOIS", "phone_number": "+33612345678", "email": attacker},
			"prescripteur": map[string]string{"first_name": "Jean", "last_name": "Petit", "email": attacker}})
		if status != http.StatusCreated {
			t.Fatalf("booking: %d %s", status, raw)
		}
		noVictimData(t, raw)
		// The victim's usager is unchanged.
		var got bookedRDV
		if status := d.call(t, "GET", "/api/v1/rdvs/"+victim.ID, "camille-martin", nil, &got); status != http.StatusOK {
			t.Fatalf("victim's RDV: %d", status)
		}
		if got.Usager.Email != "" || got.Usager.Address != victim.Usager.Address {
			t.Errorf("the victim's usager was changed: %+v", got.Usager)
		}
		// The MDS moves the victim's RDV: she is told by SMS, the attacker
		// hears nothing about it.
		to := rsa[len(rsa)-1]
		var moved bookedRDV
		if status := d.call(t, "PATCH", "/api/v1/rdvs/"+victim.ID, "camille-martin", map[string]string{"starts_at": to.StartsAt}, &moved); status != http.StatusOK {
			t.Fatalf("move: %d", status)
		}
		waitFile(t, filepath.Join(dir, "data", "sms", victim.ID+".moved.v2.usager.txt"))
		// Agents' notices of the move are written too; wait for them so
		// that a mail to the attacker, if any, had its chance.
		time.Sleep(500 * time.Millisecond)
		mails, _ := filepath.Glob(filepath.Join(dir, "data", "mail", "*.eml"))
		for _, path := range mails {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := mail.ReadMessage(strings.NewReader(string(data)))
			if err != nil {
				t.Fatalf("%s: %v", filepath.Base(path), err)
			}
			if strings.Contains(msg.Header.Get("To"), attacker) && strings.HasPrefix(filepath.Base(path), victim.ID) {
				t.Errorf("a mail about the victim's RDV went to the attacker: %s", filepath.Base(path))
			}
			if strings.Contains(msg.Header.Get("To"), attacker) && strings.Contains(string(data), victim.ID) {
				t.Errorf("a mail to the attacker names the victim's RDV: %s", filepath.Base(path))
			}
		}
	})

	t.Run("agent of another organisation with the victim's names and phone", func(t *testing.T) {
		// Julie (médiathèque) books, élargir, at the MDS Arras.
		status, raw := bookRaw(t, d, "julie-lefebvre", map[string]any{"motif_id": "rsa-orientation", "lieu_id": rsa[2].LieuID,
			"starts_at": rsa[2].StartsAt, "usager": map[string]string{"first_name": "Lea", "last_name": "Dubois", "phone_number": "06 12 34 56 78"}})
		if status != http.StatusCreated {
			t.Fatalf("booking: %d %s", status, raw)
		}
		noVictimData(t, raw)
		if b := decodeBooked(t, raw); b.Usager.ID == victim.Usager.ID {
			t.Error("the médiathèque's agent was given the MDS's usager")
		}
		var found json.RawMessage
		if status := d.call(t, "GET", "/api/v1/usagers?q=dubois", "julie-lefebvre", nil, &found); status != http.StatusOK {
			t.Fatalf("search: %d", status)
		}
		if strings.Contains(string(found), victim.Usager.ID) || strings.Contains(string(found), "Ronville") {
			t.Errorf("the médiathèque's agent finds the MDS's usager: %s", found)
		}
	})
}

// waitFile waits up to 15 s for path to exist.
func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not written", filepath.Base(path))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
