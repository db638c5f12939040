package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminCommandsFindTheDaemonsStore: admin commands read the store the
// configuration names; when the running daemon uses another file (serve
// -store), they refuse and say which, instead of showing that file's stale
// data; -json prints [] for nothing; healthcheck and version answer.
func TestAdminCommandsFindTheDaemonsStore(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	dir, bin, cfg, conf := daemonSetup(t)
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, errOut := runCLI(t, "sync-status", "-config", cfg)
	if want := "no store at " + filepath.Join(dir, "data", "rdvsync.db"); code != 1 || !strings.Contains(errOut, want) {
		t.Errorf("before the first start: exit %d, %q, want %q", code, errOut, want)
	}

	// A first daemon leaves the configured store behind; a second one runs on another file.
	first := startDaemon(t, bin, cfg)
	first.kill()
	first.cmd.Wait()
	other := filepath.Join(dir, "other", "rdvsync.db")
	d := startDaemon(t, bin, cfg, "-store", other)

	for _, args := range [][]string{{"sync-status", "-json"}, {"webhooks-status"}, {"feed-url", "-agent", "camille-martin"},
		{"check-store"}, {"backup", "-out", filepath.Join(dir, "copy.db")}} {
		code, out, errOut := runCLI(t, append(args, "-config", cfg)...)
		if code != 1 || !strings.Contains(errOut, "uses the store "+other) || !strings.Contains(errOut, "-store "+other) {
			t.Errorf("%s on the configured store while the daemon runs on another: exit %d\n%s%s", args[0], code, out, errOut)
		}
	}
	code, out, errOut := runCLI(t, "sync-status", "-json", "-config", cfg, "-store", other)
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("sync-status -json with no calendar: exit %d, %q %s", code, out, errOut)
	}
	code, out, errOut = runCLI(t, "webhooks-status", "-json", "-config", cfg, "-store", other)
	if code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("webhooks-status -json with no endpoint: exit %d, %q %s", code, out, errOut)
	}

	code, out, errOut = runCLI(t, "healthcheck", "-config", cfg)
	if code != 0 || !strings.Contains(out, "ready: "+d.url+"/readyz") {
		t.Errorf("healthcheck of a running daemon: exit %d, %q %s", code, out, errOut)
	}
	d.kill()
	d.cmd.Wait()
	if code, _, errOut := runCLI(t, "healthcheck", "-config", cfg); code != 1 || errOut == "" {
		t.Errorf("healthcheck of a stopped daemon: exit %d %s", code, errOut)
	}
	// Once that daemon is gone, its admin file does not stand in the way.
	if code, out, errOut := runCLI(t, "sync-status", "-json", "-config", cfg); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Errorf("sync-status after the daemon stopped: exit %d %q %s", code, out, errOut)
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := runCLI(t, "version")
	if code != 0 || !strings.HasPrefix(out, "rdvsync ") || !strings.Contains(out, " go1.") {
		t.Errorf("exit %d: %q", code, out)
	}
}
