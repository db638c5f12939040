package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the demo output shown in README.md")

// readmeURL is where the README's commands expect `make run`.
const readmeURL = "http://127.0.0.1:8080"

// TestDemo runs what the README tells a newcomer to run, against a real
// daemon on the example configuration: scripts/demo.sh (whose output the
// README shows), and the README's curl walkthrough itself, pasted into bash.
// Dates come from the day the test runs, so a README that works only on
// some days fails here.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	for _, tool := range []string{"bash", "curl", "jq"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed by scripts/demo.sh and the README (make test-deps installs it)", tool)
		}
	}
	_, bin, cfg, conf := daemonSetup(t)
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, cfg)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}

	t.Run("script", func(t *testing.T) {
		out := runBash(t, "", "../../scripts/demo.sh", d.url)
		for _, want := range []string{"HTTP 201", "HTTP 409", `"code": "slot_unavailable"`, `"status": "revoked"`, `"created_by": "prescripteur"`} {
			if !strings.Contains(out, want) {
				t.Errorf("the demo's output lacks %s:\n%s", want, out)
			}
		}
		// Run twice: the demo cancels what it booked, so it finds the same slot again.
		again := runBash(t, "", "../../scripts/demo.sh", d.url)
		if first, second := firstSlot(out), firstSlot(again); first == "" || first != second {
			t.Errorf("second run booked %q, first %q: the demo leaves the slot taken", second, first)
		}
		shown := strings.ReplaceAll(out, d.url, readmeURL)
		begin, end := "<!-- demo-output:begin -->\n```text\n", "```\n<!-- demo-output:end -->"
		i, j := bytes.Index(readme, []byte(begin)), bytes.Index(readme, []byte(end))
		if i < 0 || j < i {
			t.Fatalf("README.md lacks the demo output block (%q … %q)", begin, end)
		}
		if *update {
			// The first line is blank: drop it, so the block starts with the first step.
			fresh := slices.Concat(readme[:i+len(begin)], []byte(strings.TrimPrefix(shown, "\n")), readme[j:])
			if err := os.WriteFile("../../README.md", fresh, 0o644); err != nil {
				t.Fatal(err)
			}
			return
		}
		if got, want := demoSteps(string(readme[i+len(begin):j])), demoSteps(shown); !slices.Equal(got, want) {
			t.Errorf("README.md shows the steps\n%s\nthe demo prints\n%s\n(go test ./cmd/rdvsync -run TestDemo -update)",
				strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	})

	t.Run("readme walkthrough", func(t *testing.T) {
		const marker = "<!-- walkthrough: cmd/rdvsync/demo_test.go runs this block against a real daemon -->\n```sh\n"
		i := bytes.Index(readme, []byte(marker))
		if i < 0 {
			t.Fatal("README.md lacks the walkthrough block")
		}
		block, _, ok := strings.Cut(string(readme[i+len(marker):]), "\n```\n")
		if !ok {
			t.Fatal("the walkthrough block is not closed")
		}
		out := runBash(t, strings.ReplaceAll(block, readmeURL, d.url))
		for _, want := range []string{`"id": "rsa-orientation"`, `"type": "prescripteur"`, `"status": "revoked"`, "/rdv/"} {
			if !strings.Contains(out, want) {
				t.Errorf("the README walkthrough's output lacks %s:\n%s", want, out)
			}
		}
		if strings.Contains(out, `"id": null`) || strings.Contains(out, "error") {
			t.Errorf("the README walkthrough failed somewhere:\n%s", out)
		}
	})
}

// runBash runs script (or, when empty, the file args[0]) with bash -eu and
// pipefail, and returns its standard output; a failure fails the test.
func runBash(t *testing.T, script string, args ...string) string {
	t.Helper()
	var cmd *exec.Cmd
	if script != "" {
		cmd = exec.Command("bash", "-euo", "pipefail", "-c", script)
	} else {
		cmd = exec.Command("bash", args...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

var (
	instant = regexp.MustCompile(`\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d[+-]\d\d:\d\d)?`)
	startRe = regexp.MustCompile(`"starts_at": "([^"]+)"`)
)

// demoSteps is the demo's step titles, dates and times left out.
func demoSteps(out string) []string {
	var steps []string
	for line := range strings.Lines(out) {
		if title, ok := strings.CutPrefix(line, "### "); ok {
			steps = append(steps, instant.ReplaceAllString(strings.TrimSpace(title), "…"))
		}
	}
	return steps
}

func firstSlot(out string) string {
	if m := startRe.FindStringSubmatch(out); m != nil {
		return m[1]
	}
	return ""
}
