// Package testenv builds what many tests need: the example configuration
// (optionally edited), a temporary store, and a running clock. It is for
// tests only.
package testenv

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/store"
	"rdvsync/internal/store/postgres"
	"rdvsync/internal/store/postgres/pgtest"
)

// Root returns the repository root (the directory of go.mod).
func Root(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("testenv: go.mod not found above the test's directory")
		}
		dir = parent
	}
}

// ExampleYAML returns config.example.yaml with each (old, new) replacement
// applied once; an old text that is not there fails the test, so a change
// of the example cannot silently void a test.
func ExampleYAML(t testing.TB, replacements ...string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(Root(t), "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	y := string(data)
	for i := 0; i+1 < len(replacements); i += 2 {
		if !strings.Contains(y, replacements[i]) {
			t.Fatalf("testenv: config.example.yaml no longer contains %q", replacements[i])
		}
		y = strings.Replace(y, replacements[i], replacements[i+1], 1)
	}
	return y
}

// Example builds the catalogue of config.example.yaml after the
// replacements (see ExampleYAML). The file is parsed as if it were in a
// temporary directory, where relative secret files can be written.
func Example(t testing.TB, replacements ...string) *catalog.Catalog {
	t.Helper()
	return Build(t, filepath.Join(t.TempDir(), "config.yaml"), ExampleYAML(t, replacements...))
}

// Build parses yaml as the file path and builds its catalogue.
func Build(t testing.TB, path, yaml string) *catalog.Catalog {
	t.Helper()
	f, err := config.Parse(path, []byte(yaml))
	if err != nil {
		t.Fatalf("configuration:\n%v", err)
	}
	cat, err := catalog.Build(f)
	if err != nil {
		t.Fatal(err)
	}
	return cat
}

// Store opens a store in a temporary directory (no fsync), or, during the
// PostgreSQL run of BothStores, on a fresh database; closed at the end of
// the test.
func Store(t testing.TB) *store.Store {
	t.Helper()
	if onPostgres {
		be, err := postgres.Open(context.Background(), pgtest.DSN(t), postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		st, err := store.New(context.Background(), be, nil)
		if err != nil {
			be.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "rdvsync.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

var onPostgres bool

// BothStores runs a package's tests (call it from TestMain) on the
// embedded store, then, if they pass, again with Store giving PostgreSQL
// stores of a throwaway cluster: the tests that exercise transactions
// prove the same behaviour on both backends (docs/design.md §9).
// RDVSYNC_STORE_TESTS=bbolt keeps the first run only.
func BothStores(m *testing.M) { pgtest.RunTwice(m, &onPostgres) }

// RunningClock starts at start and runs with real time, so that retries
// and leases come due while what the test books stays in the future.
func RunningClock(start time.Time) func() time.Time {
	began := time.Now()
	return func() time.Time { return start.Add(time.Since(began)) }
}
