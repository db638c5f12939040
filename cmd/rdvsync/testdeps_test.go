package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestTestDepsWaitsForAptLocks runs scripts/test-deps.sh with fake dpkg,
// apt-get and go commands: the package is missing, and another apt run
// holds the package lists' lock for the first update. The script must wait
// and try again rather than fail, and ask apt-get to wait for the dpkg lock.
func TestTestDepsWaitsForAptLocks(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("the script calls sudo when not root")
	}
	bin := t.TempDir()
	log := filepath.Join(bin, "apt.log")
	fakes := map[string]string{
		"dpkg": "exit 1\n", // nothing is installed
		"apt-get": `echo "$*" >> ` + log + `
case "$*" in
*update*)
	if [ ! -e ` + bin + `/locked-once ]; then
		touch ` + bin + `/locked-once
		echo "E: Could not get lock /var/lib/apt/lists/lock. It is held by process 4242 (apt-get)" >&2
		exit 100
	fi;;
esac
exit 0
`,
		"go": "exit 0\n",
	}
	for name, body := range fakes {
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"+body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("bash", "../../scripts/test-deps.sh", "jq")
	cmd.Env = append(os.Environ(), "PATH="+bin+":/usr/bin:/bin", "TEST_DEPS_RETRY_SECONDS=0")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("test-deps.sh failed while apt was busy: %v\n%s", err, out)
	}
	calls, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSpace(string(calls)), "\n")
	if len(lines) != 3 || !strings.Contains(string(out), "waiting") {
		t.Fatalf("apt-get calls:\n%s\noutput:\n%s", calls, out)
	}
	for _, l := range lines {
		if !strings.Contains(l, "-o DPkg::Lock::Timeout=600") {
			t.Errorf("apt-get %s: does not wait for the dpkg lock", l)
		}
	}
	if !strings.Contains(lines[2], "install -y -qq jq") {
		t.Errorf("last call %q, want the install of jq", lines[2])
	}
}
