package postgres

import (
	"context"
	"flag"
	"testing"

	"rdvsync/internal/store/postgres/pgtest"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// Benchmarks measure commits as production makes them (fsync on);
	// tests need not wait for the disk.
	var opts []pgtest.Option
	if f := flag.Lookup("test.bench"); f == nil || f.Value.String() == "" {
		opts = append(opts, pgtest.NoFsync())
	}
	pgtest.Main(m, opts...)
}

// open opens a Backend on a new database, closed when t ends.
func open(t testing.TB, dsn string) *Backend {
	t.Helper()
	b, err := Open(context.Background(), dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}
