// Package pgtest starts throwaway PostgreSQL clusters for tests: initdb in a
// temporary folder, a postgres server on a free loopback port, a fresh
// database per test, everything removed at the end. No mock: the tests of
// the store's PostgreSQL backend and of the daemons sharing it talk to the
// real server (Debian's postgresql package, installed by `make test-deps`).
//
// A test package starts at most one shared cluster, on first use:
//
//	func TestMain(m *testing.M) { pgtest.Main(m) }
//
//	func TestX(t *testing.T) {
//		dsn := pgtest.DSN(t) // a new database, dropped when t ends
//		…
//	}
//
// A test that stops or restarts the server makes a cluster of its own with
// Start.
//
// initdb refuses to run as root, and tests run as root in CI: the server
// then runs as the unprivileged `postgres` system user that Debian's
// postgresql package creates.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Option changes how a cluster is configured.
type Option func(*config)

type config struct {
	fsync bool
}

// NoFsync turns off fsync and synchronous_commit: commits are an order of
// magnitude faster and a crash of the machine loses the cluster, which a
// test does not care about. Benchmarks leave fsync on (the default) so that
// a commit costs what it costs in production.
func NoFsync() Option { return func(c *config) { c.fsync = false } }

// Cluster is one running PostgreSQL server in a temporary folder.
type Cluster struct {
	dir  string // owned by the server's user; holds data/ and server.log
	port int
	cred *syscall.Credential // nil when the tests do not run as root
	bin  string
	cfg  config

	mu      sync.Mutex
	cmd     *exec.Cmd
	exited  chan struct{}
	admin   *pgx.Conn // to the postgres database, for CREATE/DROP DATABASE
	counter atomic.Int64
}

// Start initialises and starts a cluster; Stop removes it.
func Start(opts ...Option) (*Cluster, error) {
	cfg := config{fsync: true}
	for _, o := range opts {
		o(&cfg)
	}
	bin, err := binDir()
	if err != nil {
		return nil, err
	}
	c := &Cluster{bin: bin, cfg: cfg}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("pgtest: initdb refuses root and there is no postgres user to run it as: %w", err)
		}
		uid, _ := strconv.ParseUint(u.Uid, 10, 32)
		gid, _ := strconv.ParseUint(u.Gid, 10, 32)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	}
	c.dir, err = os.MkdirTemp("", "pgtest-")
	if err != nil {
		return nil, err
	}
	if c.cred != nil {
		if err := os.Chown(c.dir, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			os.RemoveAll(c.dir)
			return nil, err
		}
	}
	// -N: no fsync of the fresh files, the cluster is thrown away anyway;
	// trust: only this machine's loopback can reach it, for the test's life.
	initdb := c.command("initdb", "-D", c.dataDir(), "-N", "-A", "trust", "-U", "postgres",
		"--no-locale", "-E", "UTF8")
	if out, err := initdb.CombinedOutput(); err != nil {
		os.RemoveAll(c.dir)
		return nil, fmt.Errorf("pgtest: initdb: %w\n%s", err, out)
	}
	// Another process may take the free port between the probe and the
	// server's bind: try a few ports.
	for attempt := 0; ; attempt++ {
		if c.port, err = freePort(); err == nil {
			err = c.Restart()
		}
		if err == nil {
			return c, nil
		}
		if attempt == 4 || !strings.Contains(err.Error(), "could not bind") {
			c.Stop()
			return nil, err
		}
	}
}

func (c *Cluster) dataDir() string { return filepath.Join(c.dir, "data") }

func (c *Cluster) command(name string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(c.bin, name), args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "LC_ALL=C")
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	return cmd
}

// Restart starts the server again after StopServer (Start already started it).
func (c *Cluster) Restart() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cmd != nil {
		return errors.New("pgtest: the server is running")
	}
	fsync := "on"
	if !c.cfg.fsync {
		fsync = "off"
	}
	logPath := filepath.Join(c.dir, "server.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := c.command("postgres", "-D", c.dataDir(),
		"-c", "listen_addresses=127.0.0.1", "-c", "port="+strconv.Itoa(c.port),
		"-c", "unix_socket_directories=", "-c", "fsync="+fsync, "-c", "synchronous_commit="+fsync,
		"-c", "full_page_writes="+fsync, "-c", "max_connections=200",
		// The key-value tables hold every bucket: predicate locks of
		// serialisable transactions on many of their pages are promoted
		// to a lock on the whole relation, and then every writer
		// conflicts with every reader. More room keeps them fine-grained.
		"-c", "max_pred_locks_per_transaction=256")
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// The server must not outlive a test binary killed by a timeout: it is
	// killed when the thread that started it exits, so a goroutine locked
	// to its thread starts it and waits for it.
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
	started := make(chan error, 1)
	exited := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(exited)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("pgtest: start postgres: %w", err)
	}
	c.cmd, c.exited = cmd, exited
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		conn, err := pgx.Connect(ctx, c.dsn("postgres"))
		if err == nil {
			c.admin = conn
			return nil
		}
		select {
		case <-exited:
			c.cmd = nil
			log, _ := os.ReadFile(logPath)
			return fmt.Errorf("pgtest: postgres exited at start: %s", log)
		case <-ctx.Done():
			c.stopServer()
			return fmt.Errorf("pgtest: postgres did not accept connections within 30 s: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// StopServer stops the server (a fast shutdown: connections are cut), keeping
// its data for Restart.
func (c *Cluster) StopServer() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stopServer()
}

func (c *Cluster) stopServer() {
	if c.admin != nil {
		c.admin.Close(context.Background())
		c.admin = nil
	}
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-c.exited:
	case <-time.After(30 * time.Second):
		c.cmd.Process.Kill()
		<-c.exited
	}
	c.cmd = nil
}

// Stop stops the server and removes its folder.
func (c *Cluster) Stop() {
	c.StopServer()
	os.RemoveAll(c.dir)
}

func (c *Cluster) dsn(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", c.port, db)
}

// DSN creates a new empty database and returns its connection string; the
// database is dropped when t ends (its connections are cut).
func (c *Cluster) DSN(t testing.TB) string {
	t.Helper()
	name := fmt.Sprintf("test_%d_%d", os.Getpid(), c.counter.Add(1))
	if err := c.admin1(func(conn *pgx.Conn) error {
		_, err := conn.Exec(context.Background(), "CREATE DATABASE "+name)
		return err
	}); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	t.Cleanup(func() {
		c.admin1(func(conn *pgx.Conn) error {
			_, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			return err
		})
	})
	return c.dsn(name)
}

func (c *Cluster) admin1(fn func(*pgx.Conn) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.admin == nil {
		return errors.New("pgtest: the server is stopped")
	}
	return fn(c.admin)
}

var shared struct {
	main    bool // Main or Configure was called: TestMain will stop the cluster
	once    sync.Once
	opts    []Option
	cluster *Cluster
	err     error
}

// Main runs the package's tests (call it from TestMain) with opts for the
// shared cluster, which starts at the first DSN, and stops it at the end.
func Main(m *testing.M, opts ...Option) {
	shared.opts = opts
	shared.main = true
	code := m.Run()
	if shared.cluster != nil {
		shared.cluster.Stop()
	}
	os.Exit(code)
}

// DSN returns a new database of the package's shared cluster (see Main),
// starting the cluster on first use. Without PostgreSQL's server binaries
// the test fails: CI installs them, and a silently skipped backend would
// hide its bugs.
func DSN(t testing.TB) string {
	t.Helper()
	if !shared.main {
		t.Fatal("pgtest: the package's TestMain must call pgtest.Main (or Configure, then StopShared after the tests)")
	}
	shared.once.Do(func() {
		shared.cluster, shared.err = Start(shared.opts...)
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.cluster.DSN(t)
}

// binDir finds the server's binaries: $PGTEST_BINDIR, Debian's
// /usr/lib/postgresql/<newest>/bin, or initdb on the PATH.
func binDir() (string, error) {
	if d := os.Getenv("PGTEST_BINDIR"); d != "" {
		return d, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool {
		vi, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[i])))
		vj, _ := strconv.Atoi(filepath.Base(filepath.Dir(dirs[j])))
		return vi > vj
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", errors.New("pgtest: PostgreSQL server binaries (initdb, postgres) not found: install the postgresql package (make test-deps) or set PGTEST_BINDIR")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Configure sets the options of the package's shared cluster, for a
// TestMain that does more than Main (call it before the first DSN, and
// StopShared after the tests).
func Configure(opts ...Option) {
	shared.opts = opts
	shared.main = true
}

// StopShared stops the package's shared cluster if a test started it.
func StopShared() {
	if shared.cluster != nil {
		shared.cluster.Stop()
	}
}

// NewDatabase creates a database that lives as long as the cluster (for
// benchmarks that seed it once) and returns its connection string.
func (c *Cluster) NewDatabase(name string) (string, error) {
	err := c.admin1(func(conn *pgx.Conn) error {
		_, err := conn.Exec(context.Background(), "CREATE DATABASE "+pgx.Identifier{name}.Sanitize())
		return err
	})
	if err != nil {
		return "", fmt.Errorf("pgtest: create database %s: %w", name, err)
	}
	return c.dsn(name), nil
}

// CloneDatabase creates a database copied from template (which must have
// no open connection), dropped when t ends, and returns its connection
// string.
func (c *Cluster) CloneDatabase(t testing.TB, template string) string {
	t.Helper()
	name := fmt.Sprintf("clone_%d_%d", os.Getpid(), c.counter.Add(1))
	if err := c.admin1(func(conn *pgx.Conn) error {
		_, err := conn.Exec(context.Background(), "CREATE DATABASE "+name+" TEMPLATE "+pgx.Identifier{template}.Sanitize())
		return err
	}); err != nil {
		t.Fatalf("pgtest: copy database %s: %v", template, err)
	}
	t.Cleanup(func() {
		c.admin1(func(conn *pgx.Conn) error {
			_, err := conn.Exec(context.Background(), "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)")
			return err
		})
	})
	return c.dsn(name)
}

// RunTwice runs a package's tests (call it from TestMain) on the embedded
// store, then, if they pass, sets *onPostgres and runs them again with the
// shared cluster (fsync off) for their PostgreSQL stores: one behaviour
// suite for both backends. RDVSYNC_STORE_TESTS=bbolt keeps the first run
// only.
func RunTwice(m *testing.M, onPostgres *bool) {
	code := m.Run()
	if code != 0 || os.Getenv("RDVSYNC_STORE_TESTS") == "bbolt" {
		os.Exit(code)
	}
	fmt.Println("=== the same tests again, on PostgreSQL")
	*onPostgres = true
	Main(m, NoFsync())
}
