package store

import (
	"context"
	"testing"

	"rdvsync/internal/store/postgres"
	"rdvsync/internal/store/postgres/pgtest"
)

// onPostgres is set while the package's tests run a second time, on
// PostgreSQL: one behaviour suite for both backends (docs/design.md §9).
// openTest then gives a store on a fresh database of a throwaway cluster;
// the tests of what only a file has (pages, damage, compaction, the
// in-memory busy index, migrations of old files) skip themselves.
var onPostgres bool

func TestMain(m *testing.M) { pgtest.RunTwice(m, &onPostgres) }

// fileOnly skips a test of what only the bbolt file has.
func fileOnly(t testing.TB) {
	t.Helper()
	if onPostgres {
		t.Skip("bbolt file only")
	}
}

// rawPostgresBackend is a fresh database with no store schema.
func rawPostgresBackend(t testing.TB) Backend {
	t.Helper()
	be, err := postgres.Open(context.Background(), pgtest.DSN(t), postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return be
}

func openPostgres(t testing.TB) *Store {
	t.Helper()
	be := rawPostgresBackend(t)
	s, err := New(context.Background(), be, nil)
	if err != nil {
		be.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}
