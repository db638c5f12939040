package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// fillStore writes n RDVs of camille-martin (config.example.yaml), back to
// back from tomorrow, into a new store at path, as a daemon would have.
func fillStore(t *testing.T, path string, n int) {
	t.Helper()
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Hour)
	start := now.Add(24 * time.Hour)
	u := &rdv.Usager{ID: "u1", FirstName: "Léa", LastName: "Dubois", CreatedAt: now, UpdatedAt: now}
	for i := 0; i < n; i += 500 {
		err := st.Update(context.Background(), func(tx *store.Tx) error {
			if err := tx.PutUsager(u); err != nil {
				return err
			}
			for j := i; j < min(n, i+500); j++ {
				s := start.Add(time.Duration(j) * 45 * time.Minute)
				if err := tx.PutRDV(&rdv.RDV{ID: fmt.Sprintf("00000000-0000-4000-8000-%012d", j), Status: rdv.StatusUnknown,
					StartsAt: s, EndsAt: s.Add(45 * time.Minute), MotifID: "rsa-orientation", LieuID: "mds-arras-centre",
					OrganisationID: "mds-arras", AgentIDs: []string{"camille-martin"}, UsagerID: "u1",
					CreatedBy: rdv.CreatedBy{Type: rdv.CreatedByAgent, AgentID: "camille-martin"}, Context: strings.Repeat("contexte ", 20),
					CreatedAt: now, UpdatedAt: now, UsagerToken: fmt.Sprint("tok", j), Version: 1}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// serveOrExit starts rdvsync serve and returns the daemon once it listens,
// or nil and its stderr when it exits first.
func serveOrExit(t *testing.T, bin, cfg string) (*daemonProc, string) {
	t.Helper()
	d := &daemonProc{stderr: &lockedBuffer{}, client: &http.Client{Timeout: 10 * time.Second}}
	d.cmd = exec.Command(bin, "serve", "-config", cfg, "-listen", "127.0.0.1:0", "-log-level", "warn")
	d.cmd.Stderr = d.stderr
	stdout, err := d.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
			d.cmd.Wait()
		}
	})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "rdvsync listening on "); ok {
				addr <- a
			}
		}
		io.Copy(io.Discard, stdout)
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if ok {
			d.url = a
			return d, ""
		}
		d.cmd.Wait()
		return nil, d.stderr.String()
	case <-time.After(15 * time.Second):
		t.Fatalf("the daemon neither listened nor exited; stderr:\n%s", d.stderr.String())
	}
	return nil, ""
}

// noTrace fails when out holds a Go panic trace.
func noTrace(t *testing.T, what, out string) {
	t.Helper()
	if strings.Contains(out, "goroutine ") || strings.Contains(out, "panic:") {
		t.Errorf("%s printed a panic trace:\n%s", what, out)
	}
}

// TestDamagedStores: a zero-byte store was served as a new one, a store
// cut in half panicked at start, 4 KiB of random bytes in the middle let
// the daemon report ready and then panic on GET /rdvs. Each now gives a
// clear error, a failing /readyz and a failing check-store, never a trace.
func TestDamagedStores(t *testing.T) {
	dir, bin, cfg, conf := daemonSetup(t)
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "data", "rdvsync.db")
	os.MkdirAll(filepath.Dir(path), 0o700)
	checkStore := func(what string) string {
		t.Helper()
		code, out, errOut := runCLI(t, "check-store", "-store", path)
		if code != 1 || !strings.Contains(out+errOut, "PROBLEM") {
			t.Errorf("check-store on %s: exit %d\n%s%s", what, code, out, errOut)
		}
		noTrace(t, "check-store", out+errOut)
		return out
	}

	t.Run("zero-byte file", func(t *testing.T) {
		os.WriteFile(path, nil, 0o600)
		d, stderr := serveOrExit(t, bin, cfg)
		if d != nil {
			t.Fatal("the daemon serves an empty file")
		}
		if !strings.Contains(stderr, "empty") || !strings.Contains(stderr, path) {
			t.Errorf("no clear error:\n%s", stderr)
		}
		noTrace(t, "serve", stderr)
		if fi, _ := os.Stat(path); fi.Size() != 0 {
			t.Error("the daemon wrote the empty file")
		}
		checkStore("an empty file")
		os.Remove(path)
	})

	t.Run("truncated to half", func(t *testing.T) {
		fillStore(t, path, 3000)
		fi, _ := os.Stat(path)
		os.Truncate(path, fi.Size()/2)
		d, stderr := serveOrExit(t, bin, cfg)
		if d != nil {
			t.Fatal("the daemon serves a truncated file")
		}
		if !strings.Contains(stderr, "truncated") || !strings.Contains(stderr, "backup") {
			t.Errorf("no clear error:\n%s", stderr)
		}
		noTrace(t, "serve", stderr)
		checkStore("a truncated file")
		os.Remove(path)
	})

	t.Run("random bytes in the middle", func(t *testing.T) {
		fillStore(t, path, 3000)
		scramble(t, path)
		d, stderr := serveOrExit(t, bin, cfg)
		if d != nil {
			t.Fatal("the daemon serves a damaged file")
		}
		if !strings.Contains(stderr, "damaged") || !strings.Contains(stderr, "check-store") {
			t.Errorf("no clear error:\n%s", stderr)
		}
		noTrace(t, "serve", stderr)
		checkStore("a damaged file")
		os.Remove(path)
	})

	t.Run("random bytes while serving", func(t *testing.T) {
		fillStore(t, path, 3000)
		// Found before the daemon locks the file; it does not rewrite RDVs
		// at start.
		off := livePage(t, path)
		d, stderr := serveOrExit(t, bin, cfg)
		if d == nil {
			t.Fatalf("serve: %s", stderr)
		}
		if status := d.call(t, "GET", "/readyz", "", nil, nil); status != http.StatusOK {
			t.Fatalf("/readyz on a sound store: %d", status)
		}
		scrambleAt(t, path, off)
		from := time.Now().Format("2006-01-02")
		to := time.Now().AddDate(0, 0, 200).Format("2006-01-02")
		if status := d.call(t, "GET", "/api/v1/rdvs?from="+from+"&to="+to, "camille-martin", nil, nil); status != http.StatusServiceUnavailable {
			t.Errorf("GET /rdvs on a damaged store: %d, want 503", status)
		}
		if status := d.call(t, "GET", "/readyz", "", nil, nil); status != http.StatusServiceUnavailable {
			t.Errorf("/readyz on a damaged store: %d, want 503", status)
		}
		if status := d.call(t, "GET", "/healthz", "", nil, nil); status != http.StatusOK {
			t.Errorf("the daemon died: /healthz %d", status)
		}
		// While the daemon runs, check-store checks a copy it takes.
		out := checkStore("a damaged file held by the daemon")
		if !strings.Contains(out, "running daemon") {
			t.Errorf("check-store does not say it checked the daemon's copy:\n%s", out)
		}
		noTrace(t, "serve", d.stderr.String())
		d.cmd.Process.Signal(os.Interrupt)
		d.cmd.Wait()
		os.Remove(path)
	})
}

// scramble writes 4 KiB of random bytes over livePage.
func scramble(t *testing.T, path string) {
	t.Helper()
	scrambleAt(t, path, livePage(t, path))
}

// livePage is the offset of the page that holds the record of the RDV in
// the middle of a fillStore of 3 000: a live page every listing reads.
// (The page in the middle of the file may be free, or hold an index a
// listing does not read, depending on the records' sizes and on which
// pages bbolt's freelist handed out.) No daemon may hold the file.
func livePage(t *testing.T, path string) int64 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, PreLoadFreelist: true})
	if err != nil {
		t.Fatal(err)
	}
	// A leaf holds each key followed by its value: the RDV's id, then the
	// format byte (2) of its record. Stale copies sit in free pages.
	record := fmt.Appendf(nil, "00000000-0000-4000-8000-%012d\x02", 1500)
	var off int64 = -1
	db.View(func(tx *bolt.Tx) error {
		for from := 0; off < 0; {
			i := bytes.Index(data[from:], record)
			if i < 0 {
				break
			}
			page := (from + i) / 4096
			if info, err := tx.Page(page); err == nil && info != nil && info.Type == "leaf" {
				off = int64(page) * 4096
			}
			from += i + len(record)
		}
		return nil
	})
	db.Close()
	if off < 0 {
		t.Fatal("no live page holds rdv 1500")
	}
	return off
}

// scrambleAt writes 4 KiB of random bytes at offset, through a file
// descriptor of its own.
func scrambleAt(t *testing.T, path string, off int64) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4096)
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range buf {
		buf[i] = byte(rnd.Uint32())
	}
	if _, err := f.WriteAt(buf, off); err != nil {
		t.Fatal(err)
	}
}

// TestBackupOfRunningDaemon: rdvsync backup takes a copy of a running
// daemon's store that opens as a valid store with the same RDVs;
// check-store on the running daemon says OK; a backup never overwrites.
func TestBackupOfRunningDaemon(t *testing.T) {
	dir, bin, cfg, conf := daemonSetup(t)
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "data", "rdvsync.db")
	fillStore(t, path, 200)
	d, stderr := serveOrExit(t, bin, cfg)
	if d == nil {
		t.Fatalf("serve: %s", stderr)
	}
	// A booking through the API, after start, is in the backup too.
	var slots struct {
		Slots []struct {
			StartsAt string `json:"starts_at"`
		} `json:"slots"`
	}
	// (The filled RDVs take camille-martin's next 6 days.)
	d.call(t, "GET", "/api/v1/slots?motif_id=rsa-orientation&lieu_id=mds-arras-centre&from="+time.Now().AddDate(0, 0, 10).Format("2006-01-02")+
		"&to="+time.Now().AddDate(0, 0, 30).Format("2006-01-02"), "camille-martin", nil, &slots)
	if len(slots.Slots) == 0 {
		t.Fatal("no slot to book")
	}
	if status := d.call(t, "POST", "/api/v1/rdvs", "camille-martin", map[string]any{"motif_id": "rsa-orientation", "lieu_id": "mds-arras-centre",
		"starts_at": slots.Slots[0].StartsAt, "usager": map[string]any{"first_name": "Tom", "last_name": "Durand"}}, nil); status != http.StatusCreated {
		t.Fatalf("booking: %d", status)
	}
	want := countRDVs(t, d)
	if want != 201 {
		t.Fatalf("%d RDVs listed, want 201", want)
	}

	out := filepath.Join(dir, "backup.db")
	code, stdout, errOut := runCLI(t, "backup", "-config", cfg, "-out", out)
	if code != 0 || !strings.Contains(stdout, "running daemon") {
		t.Fatalf("backup: exit %d\n%s%s", code, stdout, errOut)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, mode %v, want 0600", err, fi.Mode())
	}
	rep, err := store.Check(out)
	if err != nil || !rep.OK() || rep.RDVs != want {
		t.Errorf("the backup: %v, %+v; want %d RDVs and no problem", err, rep, want)
	}
	if code, _, errOut := runCLI(t, "backup", "-config", cfg, "-out", out); code == 0 || !strings.Contains(errOut, "exists") {
		t.Errorf("a second backup to the same file: exit %d %s", code, errOut)
	}
	if code, stdout, errOut := runCLI(t, "check-store", "-config", cfg); code != 0 || !strings.Contains(stdout, "OK") {
		t.Errorf("check-store of a sound running daemon: exit %d\n%s%s", code, stdout, errOut)
	}
	d.cmd.Process.Signal(os.Interrupt)
	d.cmd.Wait()
	// Offline: restoring is copying the backup in place of the store.
	if code, stdout, errOut := runCLI(t, "check-store", "-store", out); code != 0 {
		t.Errorf("check-store of the backup, offline: exit %d\n%s%s", code, stdout, errOut)
	}
	off := filepath.Join(dir, "offline.db")
	if code, stdout, errOut := runCLI(t, "backup", "-store", path, "-out", off); code != 0 || !strings.Contains(stdout, "store file") {
		t.Errorf("offline backup: exit %d\n%s%s", code, stdout, errOut)
	}
}

// countRDVs counts the RDVs of the daemon's store through the API.
func countRDVs(t *testing.T, d *daemonProc) int {
	t.Helper()
	var list struct {
		RDVs []struct{ ID string } `json:"rdvs"`
	}
	from := time.Now().Format("2006-01-02")
	to := time.Now().AddDate(0, 0, 300).Format("2006-01-02")
	if status := d.call(t, "GET", "/api/v1/rdvs?from="+from+"&to="+to, "camille-martin", nil, &list); status != http.StatusOK {
		t.Fatalf("GET /rdvs: %d", status)
	}
	return len(list.RDVs)
}
