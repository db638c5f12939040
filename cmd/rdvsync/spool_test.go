package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
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
// and reads the .eml and .txt files it leaves beside the store, or in the
// folders notifications.email.spool_dir and notifications.sms.spool_dir
// name (the only place with a PostgreSQL store, which has no file to
// write beside). The retention job at start removes the old messages of
// those folders.
func TestDaemonSpoolsMailAndSMS(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	t.Run("beside the store", func(t *testing.T) {
		dir, bin, cfg, conf := daemonSetup(t)
		testDaemonSpools(t, bin, cfg, conf, filepath.Join(dir, "data", "mail"), filepath.Join(dir, "data", "sms"))
	})
	t.Run("spool_dir", func(t *testing.T) {
		dir, bin, cfg, conf := daemonSetup(t)
		const from = "    from: \"RDV Solidarités Pas-de-Calais <ne-pas-repondre@example.org>\"\n"
		if !bytes.Contains(conf, []byte(from)) {
			t.Fatalf("config.example.yaml no longer has %s", from)
		}
		// The mail folder relative to the configuration, the SMS one absolute.
		mailDir, smsDir := filepath.Join(dir, "relay", "mail"), filepath.Join(dir, "sms-out")
		conf = bytes.Replace(conf, []byte(from), []byte(from+"    spool_dir: relay/mail\n  sms: { spool_dir: \""+smsDir+"\" }\n"), 1)
		// Messages spooled 31 and 29 days ago (retention.spool: 30d).
		old, young := filepath.Join(mailDir, "old.eml"), filepath.Join(smsDir, "young.txt")
		for path, age := range map[string]int{old: 31, young: 29} {
			if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("spooled"), 0o600); err != nil {
				t.Fatal(err)
			}
			at := time.Now().AddDate(0, 0, -age)
			if err := os.Chtimes(path, at, at); err != nil {
				t.Fatal(err)
			}
		}
		d := testDaemonSpools(t, bin, cfg, conf, mailDir, smsDir)
		// The retention run at start goes on beside the requests.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			_, err := os.Stat(old)
			if errors.Is(err, fs.ErrNotExist) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("a message spooled 31 days ago in spool_dir is still there (%v)", err)
			}
		}
		if _, err := os.Stat(young); err != nil {
			t.Errorf("a message spooled 29 days ago is gone: %v", err)
		}
		if _, err := os.Stat(filepath.Join(dir, "data", "mail")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("mail spooled beside the store despite spool_dir (%v)", err)
		}
		if out := d.stdout.String(); !strings.Contains(out, "emails are written to "+mailDir+"\n") || !strings.Contains(out, "SMS are written to "+smsDir+"\n") {
			t.Errorf("the first screen does not name the spool folders:\n%s", out)
		}
	})
}

// testDaemonSpools runs the daemon on conf, books, and finds the messages
// in mailDir and smsDir.
func testDaemonSpools(t *testing.T, bin, cfg string, conf []byte, mailDir, smsDir string) *daemonProc {
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
	return d
}
