package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"rdvsync/internal/config"
	"rdvsync/internal/store"
	"rdvsync/internal/store/postgres"
)

// openStore opens the store the configuration names: its bbolt file, or
// its PostgreSQL database. It is the only place that knows which backend
// runs (docs/design.md §9); everything else gets a *store.Store.
func openStore(ctx context.Context, cfg *config.File, opts store.Options) (*store.Store, error) {
	if !cfg.Store.Postgres() {
		return store.Open(cfg.StorePath(), opts)
	}
	b, err := postgres.Open(ctx, cfg.StoreDSN(), postgres.Options{Logger: opts.Logger})
	if err != nil {
		return nil, fmt.Errorf("store %s: %w", cfg.StoreName(), err)
	}
	st, err := store.New(ctx, b, opts.Logger)
	if err != nil {
		b.Close()
		return nil, fmt.Errorf("store %s: %w", cfg.StoreName(), err)
	}
	return st, nil
}

// runMigrateStore copies a bbolt store file into an empty PostgreSQL
// database, for a move from one daemon to replicas (docs/deployment.md).
func runMigrateStore(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate-store", flag.ContinueOnError)
	fs.SetOutput(stderr)
	from := fs.String("from", "", "the bbolt store file to copy (stop the daemon first)")
	toDSN := fs.String("to-dsn", "", "connection string of the empty PostgreSQL database (keep the password in ~/.pgpass or PGPASSWORD)")
	toEnv := fs.String("to-dsn-env", "", "name of an environment variable holding the connection string, instead of -to-dsn")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	dsn := *toDSN
	if *toEnv != "" {
		dsn = os.Getenv(*toEnv)
		if dsn == "" {
			fmt.Fprintf(stderr, "rdvsync migrate-store: the environment variable %s is empty or unset\n", *toEnv)
			return 2
		}
	}
	if *from == "" || dsn == "" || (*toDSN != "" && *toEnv != "") {
		fmt.Fprintln(stderr, "rdvsync migrate-store: give -from FILE and one of -to-dsn or -to-dsn-env")
		return 2
	}
	if _, err := os.Stat(*from); err != nil {
		fmt.Fprintf(stderr, "rdvsync migrate-store: %v\n", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	src, err := store.Open(*from, store.Options{LockTimeout: 300 * time.Millisecond, Logger: log})
	if errors.Is(err, store.ErrLocked) {
		fmt.Fprintf(stderr, "rdvsync migrate-store: %v: stop the daemon first, so that nothing is written during the copy\n", err)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync migrate-store: %v\n", err)
		return 1
	}
	defer src.Close()
	ctx := context.Background()
	dst, err := postgres.Open(ctx, dsn, postgres.Options{Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync migrate-store: %v\n", err)
		return 1
	}
	defer dst.Close()
	abs, _ := filepath.Abs(*from)
	fmt.Fprintf(stdout, "copying %s into %s\n", abs, dst.Name())
	began := time.Now()
	counts, err := src.CopyTo(ctx, dst, func(c store.CopyCount) {
		fmt.Fprintf(stdout, "  %-22s %9d copied %9d in the target\n", c.Bucket, c.Source, c.Target)
	})
	if errors.Is(err, store.ErrTargetNotEmpty) {
		fmt.Fprintf(stderr, "rdvsync migrate-store: %v: give an empty database (a copy never merges two stores)\n", err)
		return 1
	}
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync migrate-store: %v\n", err)
		return 1
	}
	total, bad := 0, 0
	for _, c := range counts {
		total += c.Source
		if c.Source != c.Target {
			bad++
		}
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "rdvsync migrate-store: %d buckets differ between the file and the database (see above): do not start the daemons on it\n", bad)
		return 1
	}
	fmt.Fprintf(stdout, "%d keys copied in %s; set store.driver: postgres and start the daemons\n", total, time.Since(began).Round(time.Millisecond))
	return 0
}
