package main

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadAndGracefulShutdown runs the daemon, reloads a changed
// configuration with SIGHUP, refuses a broken one (the old configuration
// stays and every error is logged), then stops on SIGTERM with the store
// closed cleanly.
func TestReloadAndGracefulShutdown(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	_, bin, cfg, example := daemonSetup(t)
	if err := os.WriteFile(cfg, example, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, cfg, "-log-level", "info")
	motifName := func() string {
		var body struct {
			Motifs []struct{ ID, Name string } `json:"motifs"`
		}
		if status := d.call(t, "GET", "/api/v1/catalog?organisation_id=mds-arras", "camille-martin", nil, &body); status != http.StatusOK {
			t.Fatalf("catalog: %d", status)
		}
		for _, m := range body.Motifs {
			if m.ID == "rsa-orientation" {
				return m.Name
			}
		}
		return ""
	}
	if got := motifName(); got != "Orientation RSA" {
		t.Fatalf("before reload: %q", got)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; daemon stderr:\n%s", what, d.stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	renamed := bytes.Replace(example, []byte(`name: "Orientation RSA"`), []byte(`name: "Orientation RSA (nouveau parcours)"`), 1)
	os.WriteFile(cfg, renamed, 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor("the reload", func() bool { return motifName() == "Orientation RSA (nouveau parcours)" })

	broken := append(bytes.Clone(renamed), []byte("\ncolour: blue\nmotifs2: []\n")...)
	os.WriteFile(cfg, broken, 0o600)
	d.cmd.Process.Signal(syscall.SIGHUP)
	waitFor("the refused reload", func() bool { return strings.Contains(d.stderr.String(), "configuration reload failed") })
	if got := motifName(); got != "Orientation RSA (nouveau parcours)" {
		t.Errorf("a broken file replaced the configuration: %q", got)
	}
	for _, want := range []string{`unknown key \"colour\"`, `unknown key \"motifs2\"`} {
		if !strings.Contains(d.stderr.String(), want) {
			t.Errorf("the log does not name %s:\n%s", want, d.stderr.String())
		}
	}

	// The metrics tell a monitoring system what the log told.
	resp, err := d.client.Get(d.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`rdvsync_config_reloads_total{result="ok"} 1`, `rdvsync_config_reloads_total{result="error"} 1`,
		"rdvsync_config_last_reload_success_timestamp_seconds ", `rdvsync_build_info{goversion="go`, `rdvsync_outbox_dead{kind="webhook"} 0`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the daemon did not stop within 30 s of SIGTERM")
	}
	if !strings.Contains(d.stderr.String(), "store closed") {
		t.Errorf("the store was not closed cleanly:\n%s", d.stderr.String())
	}
}
