package main

import (
	"fmt"
	"mime"
	"net/http"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDaemonSpoolsMailAndSMS runs the daemon on the example configuration
// (no SMTP server, no SMS provider), books a prescription through the API
// and reads the .eml and .txt files it leaves beside the store.
func TestDaemonSpoolsMailAndSMS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	dir, bin, cfg, conf := daemonSetup(t)
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, cfg)
	// Three days ahead at least, so the RDV is outside the reminder window.
	from := time.Now().AddDate(0, 0, 3).Format(time.DateOnly)
	var slots struct {
		Slots []struct {
			StartsAt string `json:"starts_at"`
			LieuID   string `json:"lieu_id"`
		} `json:"slots"`
	}
	if status := d.call(t, "GET", "/api/v1/slots?motif_id=rsa-orientation&from="+from, "", nil, &slots); status != http.StatusOK || len(slots.Slots) == 0 {
		t.Fatalf("slots: %d, %d", status, len(slots.Slots))
	}
	slot := slots.Slots[0]
	var booked struct {
		ID string `json:"id"`
	}
	body := map[string]any{"motif_id": "rsa-orientation", "lieu_id": slot.LieuID, "starts_at": slot.StartsAt,
		"usager":       map[string]string{"first_name": "Léa", "last_name": "Dubois", "phone_number": "06 12 34 56 78", "email": "lea.dubois@example.org"},
		"prescripteur": map[string]string{"first_name": "Jean", "last_name": "Petit", "email": "jean.petit@mediatheque.example.org"}}
	if status := d.call(t, "POST", "/api/v1/rdvs", "", body, &booked); status != http.StatusCreated {
		t.Fatalf("booking: %d", status)
	}
	mailDir, smsDir := filepath.Join(dir, "data", "mail"), filepath.Join(dir, "data", "sms")
	want := []string{
		filepath.Join(mailDir, booked.ID+".created.v1.usager.eml"),
		filepath.Join(mailDir, booked.ID+".created.v1.prescripteur.eml"),
		filepath.Join(smsDir, booked.ID+".created.v1.usager.txt"),
	}
	deadline := time.Now().Add(15 * time.Second)
	for _, path := range want {
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
	}
	f, err := os.Open(want[0])
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	if err != nil {
		t.Fatalf("the usager's .eml does not parse: %v", err)
	}
	subject, _ := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	if to := msg.Header.Get("To"); !strings.Contains(to, "lea.dubois@example.org") || !strings.Contains(subject, "confirmé") {
		t.Errorf("usager email: To %q, Subject %q", to, subject)
	}
	sms, err := os.ReadFile(want[2])
	if err != nil || !strings.Contains(string(sms), "+33612345678") || !strings.Contains(string(sms), "/rdv/"+booked.ID+"?token=") {
		t.Errorf("SMS file:\n%s", sms)
	}
	// The agent sees the receipts of these deliveries. A receipt is written
	// just after its file is spooled: wait for the three.
	var receipts struct {
		Receipts []struct{ Channel, Recipient, Result, Transport string } `json:"receipts"`
	}
	wantReceipts := []string{"email/usager/ok/spool", "email/prescripteur/ok/spool", "sms/usager/ok/spool"}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if status := d.call(t, "GET", "/api/v1/rdvs/"+booked.ID+"/receipts", "camille-martin", nil, &receipts); status != http.StatusOK {
			t.Fatalf("receipts: %d", status)
		}
		got := map[string]bool{}
		for _, r := range receipts.Receipts {
			got[fmt.Sprintf("%s/%s/%s/%s", r.Channel, r.Recipient, r.Result, r.Transport)] = true
		}
		missing := ""
		for _, k := range wantReceipts {
			if !got[k] {
				missing = k
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("receipt %s missing: %v", missing, receipts.Receipts)
		}
	}
}
