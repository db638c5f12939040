package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"rdvsync/internal/testenv"
)

// TestBboltCommandsRefusePostgres: with store.driver postgres, the
// commands that work on a bbolt file (backup, check-store, compact, serve
// -store) say which PostgreSQL tool does their job instead of failing on a
// missing file, and check-config names the database without its password.
func TestBboltCommandsRefusePostgres(t *testing.T) {
	const password = "mot-de-passe-pg"
	t.Setenv("RDVSYNC_TEST_DSN", "postgres://rdvsync:"+password+"@127.0.0.1:5432/rdvsync?sslmode=disable")
	dir := t.TempDir()
	const from = "    from: \"RDV Solidarités Pas-de-Calais <ne-pas-repondre@example.org>\"\n"
	cfg := filepath.Join(dir, "config.yaml")
	yaml := testenv.ExampleYAML(t,
		"  path: \"data/rdvsync.db\"", "  driver: postgres\n  dsn_env: RDVSYNC_TEST_DSN",
		from, from+"    spool_dir: spool/mail\n  sms: { spool_dir: spool/sms }\n")
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCLI(t, "check-config", "-config", cfg)
	want := "store PostgreSQL postgres://rdvsync@127.0.0.1:5432/rdvsync?sslmode=disable (from $RDVSYNC_TEST_DSN); " +
		"email spooled to " + filepath.Join(dir, "spool", "mail") + "; SMS spooled to " + filepath.Join(dir, "spool", "sms")
	if code != 0 || !strings.Contains(out, want) {
		t.Errorf("check-config: exit %d\n%s%s\nwant the line: %s", code, out, errOut, want)
	}
	if strings.Contains(out+errOut, password) {
		t.Errorf("check-config prints the database password:\n%s%s", out, errOut)
	}

	tests := []struct {
		args []string
		want string
	}{
		{[]string{"backup", "-out", filepath.Join(dir, "backup.db")}, "pg_dump"},
		{[]string{"check-store"}, "pg_amcheck"},
		{[]string{"compact"}, "VACUUM"},
	}
	for _, tt := range tests {
		code, out, errOut := runCLI(t, append(tt.args, "-config", cfg)...)
		prefix := "rdvsync " + tt.args[0] + ": this command works on a bbolt store file, and the store of " + cfg + " is PostgreSQL (store.driver: postgres): "
		if code != 1 || !strings.HasPrefix(errOut, prefix) || !strings.Contains(errOut, tt.want) || !strings.Contains(errOut, "docs/deployment.md") {
			t.Errorf("%s: exit %d, stdout %q, stderr:\n%s\nwant %s… naming %s", tt.args[0], code, out, errOut, prefix, tt.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the refused commands left files: %v", entries)
	}

	code, _, errOut = runCLI(t, "serve", "-config", cfg, "-store", filepath.Join(dir, "other.db"), "-listen", "127.0.0.1:0")
	if code != 1 || !strings.Contains(errOut, "-store names a bbolt file, but store.driver is postgres") {
		t.Errorf("serve -store with postgres: exit %d\n%s", code, errOut)
	}
}
