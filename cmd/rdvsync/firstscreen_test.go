package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestFirstScreen checks what `make run` shows a newcomer: where to book,
// how to sign in as an agent (only with the published demo tokens) and
// where the emails and SMS go; and that the published demo tokens are
// refused beyond loopback unless -demo says so.
func TestFirstScreen(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	dir, bin, cfg, conf := daemonSetup(t)
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, cfg)
	out := waitStdout(t, d, "SMS are written")
	for _, want := range []string{
		d.url + "/prendre_rdv?prescripteur=1",
		d.url + "/agents/connexion, e.g. camille-martin with the demo token demo-token-camille-martin",
		"emails are written to " + filepath.Join(dir, "data", "mail"),
		"SMS are written to " + filepath.Join(dir, "data", "sms"),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the first screen lacks %q:\n%s", want, out)
		}
	}

	// Real tokens: never printed, and any listen address is fine.
	sum := sha256.Sum256([]byte("a-real-secret-token"))
	own := regexp.MustCompile(`token_sha256: "[0-9a-f]{64}"`).ReplaceAll(conf, []byte(`token_sha256: "`+hex.EncodeToString(sum[:])+`"`))
	ownCfg := filepath.Join(dir, "own.yaml")
	if err := os.WriteFile(ownCfg, own, 0o600); err != nil {
		t.Fatal(err)
	}
	d.kill()
	d.cmd.Wait()
	d2 := startDaemon(t, bin, ownCfg, "-listen", "0.0.0.0:0")
	out = waitStdout(t, d2, "SMS are written")
	if strings.Contains(out, "token") || !strings.Contains(out, "/prendre_rdv?prescripteur=1") {
		t.Errorf("first screen with real tokens:\n%s", out)
	}
	d2.kill()
	d2.cmd.Wait()

	// The demo tokens on every interface: refused, unless -demo.
	cmd := exec.Command(bin, "serve", "-config", cfg, "-listen", "0.0.0.0:0")
	msg, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(msg), "published demo token") || !strings.Contains(string(msg), "-demo") {
		t.Errorf("demo tokens on 0.0.0.0: err %v\n%s", err, msg)
	}
	d3 := startDaemon(t, bin, cfg, "-listen", "0.0.0.0:0", "-demo")
	waitStdout(t, d3, "demo-token-camille-martin")
}

// TestServeWithoutConfiguration: the container image has none of its own.
func TestServeWithoutConfiguration(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "config.yaml")
	code, _, errOut := runCLI(t, "serve", "-config", missing)
	if code != 1 || !strings.Contains(errOut, "no configuration file at "+missing) || !strings.Contains(errOut, "mount it") {
		t.Errorf("exit %d: %s", code, errOut)
	}
}

// waitStdout waits until the daemon's standard output holds want.
func waitStdout(t *testing.T, d *daemonProc, want string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		out := d.stdout.String()
		if strings.Contains(out, want) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("stdout lacks %q:\n%s", want, out)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
