package main

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"rdvsync/internal/dataset"
	"rdvsync/internal/store"
	"rdvsync/internal/store/postgres"
	"rdvsync/internal/store/postgres/pgtest"
)

// migrate-store copies a store file into an empty database, prints both
// counts per bucket, refuses a second copy, and the daemon's store opened
// on the database reads what the file held.
func TestMigrateStore(t *testing.T) {
	d := dataset.Generate(1, dataset.Params{Organisations: 2, Agents: 10, Plages: 20, RDVs: 300})
	path := filepath.Join(t.TempDir(), "rdvsync.db")
	src, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := d.WriteStore(context.Background(), src, time.Now()); err != nil {
		t.Fatal(err)
	}
	want, err := src.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	src.Close()
	dsn := pgtest.DSN(t)

	code, out, errOut := runCLI(t, "migrate-store", "-from", path, "-to-dsn", dsn)
	if code != 0 {
		t.Fatalf("exit %d\n%s%s", code, out, errOut)
	}
	line := regexp.MustCompile(`(?m)^  (\S+)\s+(\d+) copied\s+(\d+) in the target$`)
	rows := line.FindAllStringSubmatch(out, -1)
	if len(rows) < 10 {
		t.Fatalf("counts per bucket missing:\n%s", out)
	}
	for _, r := range rows {
		if r[2] != r[3] {
			t.Errorf("bucket %s: %s copied, %s in the target", r[1], r[2], r[3])
		}
		if r[1] == "rdvs" && r[2] != "300" {
			t.Errorf("rdvs: %s copied, want 300", r[2])
		}
	}

	if code, _, errOut := runCLI(t, "migrate-store", "-from", path, "-to-dsn", dsn); code != 1 || !strings.Contains(errOut, "not empty") {
		t.Errorf("second copy: exit %d, %s", code, errOut)
	}

	be, err := postgres.Open(context.Background(), dsn, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := store.New(context.Background(), be, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer got.Close()
	stats, err := got.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if stats.RDVs != want.RDVs || stats.Usagers != want.Usagers {
		t.Errorf("the database holds %d RDVs and %d usagers, the file %d and %d", stats.RDVs, stats.Usagers, want.RDVs, want.Usagers)
	}
}
