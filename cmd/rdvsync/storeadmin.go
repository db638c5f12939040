package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"rdvsync/internal/store"
)

// The store commands: check-store reports damage and broken invariants,
// backup takes a consistent copy. Both read the file themselves when no
// daemon runs; while one runs (it holds bbolt's lock) they ask it for a
// copy of its store over the admin endpoint, as the other admin commands
// do.

// registerStoreAdmin serves GET /admin/v1/backup: a consistent copy of the
// store, streamed from one read transaction while the daemon goes on.
func (d *daemon) registerStoreAdmin(mux *http.ServeMux, token string) {
	mux.HandleFunc("GET /admin/v1/backup", adminAuth(token)(func(w http.ResponseWriter, r *http.Request) {
		// A large store takes longer than the server's write timeout.
		_ = http.NewResponseController(w).SetWriteDeadline(time.Time{})
		w.Header().Set("Content-Type", "application/octet-stream")
		n, err := d.store.Backup(r.Context(), w)
		if err != nil {
			// Headers are gone: the client sees a short copy, which its
			// check refuses.
			d.log.Error("admin backup", slog.Any("error", err))
			return
		}
		d.log.Info("store backup sent", "bytes", n)
	}))
}

// storeFlags are the flags naming the store file.
type storeFlags struct {
	config, store *string
}

func addStoreFlags(fs interface {
	String(name, value, usage string) *string
}) storeFlags {
	return storeFlags{
		config: fs.String("config", "config.yaml", "configuration `file` (for store.path)"),
		store:  fs.String("store", "", "bbolt `file`, overriding store.path (then no configuration is read)"),
	}
}

// postgresTools says, per bbolt-only command, what does its job when the
// store is a PostgreSQL database.
var postgresTools = map[string]string{
	"backup": "back up the database with pg_dump (and archive its WAL for point-in-time recovery)",
	"check-store": "PostgreSQL checks its own pages (data checksums; pg_amcheck for indexes), " +
		"and the database itself refuses overlapping RDVs",
	"compact": "PostgreSQL reuses freed space itself (autovacuum; VACUUM FULL gives it back to the file system)",
}

// path is the store file: -store, or the configuration's store.path. A
// configuration whose store is PostgreSQL is refused with the tool to
// use instead: cmd names the command.
func (f storeFlags) path(cmd string, stderr io.Writer) (string, bool) {
	if *f.store != "" {
		abs, err := filepath.Abs(*f.store)
		if err != nil {
			fmt.Fprintf(stderr, "rdvsync: -store: %v\n", err)
			return "", false
		}
		return abs, true
	}
	cat, ok := loadCatalog(*f.config, stderr)
	if !ok {
		return "", false
	}
	if cat.Config.Store.Postgres() {
		fmt.Fprintf(stderr, "rdvsync %s: this command works on a bbolt store file, and the store of %s is PostgreSQL (store.driver: postgres): %s; see docs/deployment.md\n",
			cmd, *f.config, postgresTools[cmd])
		return "", false
	}
	path, err := filepath.Abs(cat.Config.StorePath())
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync: store.path: %v\n", err)
		return "", false
	}
	return path, sameStoreAsDaemon(path, path, stderr)
}

// copyStore writes a consistent copy of the store at path to out (created
// 0600: it holds personal data), from the file itself or, when a daemon
// holds it, from the daemon; live says which.
func copyStore(path, out string) (live bool, err error) {
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return false, err
	}
	_, err = store.BackupFile(path, f)
	if errors.Is(err, store.ErrLocked) {
		live = true
		var resp *http.Response
		if resp, err = askDaemon(filepath.Dir(path), http.MethodGet, "/admin/v1/backup", nil, 30*time.Minute); err == nil {
			_, err = io.Copy(f, resp.Body)
			resp.Body.Close()
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out)
	}
	return live, err
}

func runBackup(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("backup", stderr)
	sf := addStoreFlags(fs)
	out := fs.String("out", "", "backup `file` to write (required; must not exist)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *out == "" {
		fmt.Fprintln(stderr, "rdvsync backup: -out is required")
		return 2
	}
	path, ok := sf.path("backup", stderr)
	if !ok {
		return 1
	}
	dst, err := filepath.Abs(*out)
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync backup: -out: %v\n", err)
		return 2
	}
	if _, err := os.Stat(dst); err == nil {
		fmt.Fprintf(stderr, "rdvsync backup: %s exists: choose a new file (a backup never overwrites)\n", dst)
		return 2
	}
	// Write beside the destination, check, then rename: a backup file that
	// exists is complete and sound.
	tmp := dst + ".part"
	live, err := copyStore(path, tmp)
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync backup: %v\n", err)
		return 1
	}
	rep, err := store.Check(tmp)
	if err == nil && !rep.OK() {
		err = fmt.Errorf("the copy is not sound (%d problem(s), first: %s): run rdvsync check-store -store %s", len(rep.Problems)+rep.More, rep.Problems[0], path)
	}
	if err == nil {
		err = os.Rename(tmp, dst)
	}
	if err != nil {
		os.Remove(tmp)
		fmt.Fprintf(stderr, "rdvsync backup: %v\n", err)
		return 1
	}
	from := "the store file"
	if live {
		from = "the running daemon"
	}
	fmt.Fprintf(stdout, "backup of %s written to %s: %d RDVs, %d usagers, %d bytes, check passed\n", from, dst, rep.RDVs, rep.Usagers, rep.SizeBytes)
	return 0
}

func runCheckStore(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("check-store", stderr)
	sf := addStoreFlags(fs)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	path, ok := sf.path("check-store", stderr)
	if !ok {
		return 1
	}
	rep, err := store.Check(path)
	live := false
	if errors.Is(err, store.ErrLocked) {
		// The daemon holds the file: check a consistent copy of it.
		live = true
		tmp := filepath.Join(filepath.Dir(path), ".check-store-"+strconv.Itoa(os.Getpid())+".db")
		if _, err = copyStore(path, tmp); err == nil {
			rep, err = store.Check(tmp)
			os.Remove(tmp)
			if rep != nil {
				rep.Path = path
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync check-store: %v\n", err)
		return 1
	}
	if *asJSON {
		if code := printJSON(stdout, stderr, rep); code != 0 {
			return code
		}
	} else {
		printCheckReport(stdout, rep, live)
	}
	if !rep.OK() {
		return 1
	}
	return 0
}

func printCheckReport(w io.Writer, rep *store.CheckReport, live bool) {
	how := "file"
	if live {
		how = "copy taken from the running daemon"
	}
	fmt.Fprintf(w, "store %s (%s): schema version %d, %d RDVs, %d usagers, %d bytes\n", rep.Path, how, rep.SchemaVersion, rep.RDVs, rep.Usagers, rep.SizeBytes)
	if rep.OK() {
		fmt.Fprintln(w, "OK: pages, free list and indexes are consistent; no agent has overlapping RDVs")
		return
	}
	for _, p := range rep.Problems {
		fmt.Fprintln(w, "PROBLEM:", p)
	}
	if rep.More > 0 {
		fmt.Fprintf(w, "… and %d more problem(s)\n", rep.More)
	}
	fmt.Fprintf(w, "%d problem(s): stop rdvsync and restore the last backup (see README, \"Backups\")\n", len(rep.Problems)+rep.More)
}
