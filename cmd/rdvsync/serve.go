package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	sync2 "sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"rdvsync/internal/booking"
	"rdvsync/internal/calsync"
	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/httpapi"
	"rdvsync/internal/notify"
	"rdvsync/internal/outbox"
	"rdvsync/internal/ratelimit"
	"rdvsync/internal/served"
	"rdvsync/internal/store"
	"rdvsync/internal/web"
	"rdvsync/internal/webhook"
)

// shutdownTimeout bounds how long in-flight requests may take on SIGTERM.
const shutdownTimeout = 20 * time.Second

func runServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("serve", stderr)
	path := fs.String("config", "config.yaml", "configuration `file`")
	listen := fs.String("listen", "", "listen `address`, overriding server.listen")
	storePath := fs.String("store", "", "bbolt `file`, overriding store.path (mail/SMS spools go beside it)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logJSON := fs.Bool("log-json", false, "log JSON lines instead of text")
	noSync := fs.Bool("unsafe-no-fsync", false, "do not fsync the store (benchmarks only: acknowledged bookings may be lost on a crash)")
	demo := fs.Bool("demo", false, "serve agents that keep the published demo tokens (demo-token-<id>) on a non-loopback address too")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if _, err := os.Stat(*path); errors.Is(err, os.ErrNotExist) {
		// The container image has no configuration of its own: say what to do.
		fmt.Fprintf(stderr, "rdvsync serve: no configuration file at %s: write one (config.example.yaml shows every key) "+
			"and pass it with -config; in a container, mount it there (docker run -v ./config.yaml:%s:ro …)\n", *path, *path)
		return 1
	}
	var level slog.LevelVar
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "rdvsync serve: -log-level: %v\n", err)
		return 2
	}
	hopts := &slog.HandlerOptions{Level: &level}
	var logger *slog.Logger
	if *logJSON {
		logger = slog.New(slog.NewJSONHandler(stderr, hopts))
	} else {
		logger = slog.New(slog.NewTextHandler(stderr, hopts))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Take SIGHUP first: its default action would kill a daemon still
	// starting (a reload sent right after it announced its address).
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	d, err := newDaemon(ctx, daemonOptions{configPath: *path, listen: *listen, storePath: *storePath, noSync: *noSync, demo: *demo,
		log: logger, stdout: stdout})
	if err == nil {
		err = d.serve(ctx, hup)
		if cerr := d.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		logger.Error("rdvsync stopped", slog.Any("error", err))
		return 1
	}
	return 0
}

// daemonOptions are serve's flags and outputs.
type daemonOptions struct {
	configPath, listen, storePath string
	noSync                        bool
	demo                          bool // -demo: published demo tokens allowed off loopback
	log                           *slog.Logger
	stdout                        io.Writer
}

// daemon holds what serve wires together.
type daemon struct {
	daemonOptions
	configuredStore string // store.path of the file, before -store

	catalog    atomic.Pointer[catalog.Catalog]
	reloads    *prometheus.CounterVec // by result: ok, error
	lastReload prometheus.Gauge       // unix time of the configuration in use
	ready      atomic.Bool
	sync       *calsync.Service
	store      *store.Store
	feeds      *served.Server
	hooks      *webhook.Service

	// handler is every route of the daemon (API, pages, feeds, metrics,
	// admin); adminToken is the admin routes' token, written to the admin
	// file once the listener is known.
	handler    http.Handler
	adminToken string
	// stop ends the background jobs (cron, dispatcher, busy refresh) and
	// closes the store.
	stop func() error
}

// load reads and validates the configuration, logging every problem.
func (d *daemon) load() (*catalog.Catalog, error) {
	f, err := config.Load(d.configPath)
	if err != nil {
		var errs config.Errors
		if errors.As(err, &errs) {
			for _, e := range errs {
				d.log.Error("configuration error", "problem", e.Error())
			}
			return nil, fmt.Errorf("%s: %d configuration error(s)", d.configPath, len(errs))
		}
		return nil, err
	}
	d.configuredStore, _ = filepath.Abs(f.StorePath())
	if d.storePath != "" && f.Store.Postgres() {
		return nil, fmt.Errorf("-store names a bbolt file, but store.driver is postgres in %s: remove -store", d.configPath)
	}
	if d.storePath != "" {
		abs, err := filepath.Abs(d.storePath)
		if err != nil {
			return nil, fmt.Errorf("-store: %w", err)
		}
		f.Store.Path = abs
	}
	if d.listen != "" {
		f.Server.Listen = d.listen
	}
	cat, err := catalog.Build(f)
	if err != nil {
		return nil, err
	}
	if !d.demo {
		if err := refuseExposedDemo(cat); err != nil {
			return nil, err
		}
	}
	return cat, nil
}

// refuseExposedDemo refuses agents that keep the example configuration's
// published tokens when the daemon listens beyond loopback: anyone who read
// the README could sign in as them and read the usagers' data.
func refuseExposedDemo(cat *catalog.Catalog) error {
	demo := cat.DemoAgents()
	if len(demo) == 0 || loopbackOnly(cat.Config.Server.Listen) {
		return nil
	}
	return fmt.Errorf("%d agent(s) (%s first) keep the published demo token %s<agent id> and server.listen %q is not a loopback address: "+
		"give them their own tokens (token_sha256 or token_file), listen on 127.0.0.1, or pass -demo to serve the demo anyway",
		len(demo), demo[0].ID, catalog.DemoTokenPrefix, cat.Config.Server.Listen)
}

// loopbackOnly reports whether a listen address accepts loopback
// connections only ("localhost" or a loopback IP; an empty host is every
// interface).
func loopbackOnly(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// newDaemon builds the daemon exactly as `serve` runs it: store, booking
// service with its effects (calendar pushes, notifications, webhooks), the
// outbox dispatcher, cron jobs and busy-time refresh running, and the HTTP
// handler of every route. Benchmarks use it too, so that they measure the
// path users run. Close stops it.
func newDaemon(ctx context.Context, opts daemonOptions) (_ *daemon, err error) {
	if opts.log == nil {
		opts.log = slog.New(slog.DiscardHandler)
	}
	if opts.stdout == nil {
		opts.stdout = io.Discard
	}
	d := &daemon{daemonOptions: opts}
	cat, err := d.load()
	if err != nil {
		return nil, err
	}
	d.catalog.Store(cat)
	cfg := cat.Config
	storePath := cfg.StoreName()
	st, err := openStore(ctx, cfg, store.Options{NoSync: d.noSync, Logger: d.log})
	if err != nil {
		return nil, err
	}
	closeStore := func() error {
		if err := st.Close(); err != nil {
			d.log.Error("closing store", slog.Any("error", err))
			return err
		}
		d.log.Info("store closed", "store", storePath)
		return nil
	}
	d.stop = closeStore
	defer func() {
		if err != nil {
			d.stop()
		}
	}()

	// Integer ids for RDV Solidarités' webhook receivers: every configured
	// object gets its own before anything is sent.
	if _, err := webhook.AssignIDs(ctx, st, cat); err != nil {
		return nil, fmt.Errorf("rdvs_id: %w", err)
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	d.registerMetrics(reg)

	// Calendar sync: an outbox record per (RDV, agent calendar) written with
	// each change, delivered after commit by the dispatcher.
	sync := calsync.New(st, d.catalog.Load, openConnector(st, d.catalog.Load, ""), calsync.Options{Logger: d.log})
	// Notifications: email and SMS records in the same transaction, the
	// reminders in a time index moved to the outbox by cron.
	notifier, err := notify.New(st, d.catalog.Load, notify.Options{Logger: d.log, Registerer: reg})
	if err != nil {
		return nil, err
	}
	// Outgoing webhooks: ordered events per (endpoint, RDV), signed both ways.
	hooks := webhook.New(st, d.catalog.Load, webhook.Options{Render: httpapi.WebhookRDVView, RenderUsager: httpapi.WebhookUsagerView, Logger: d.log})
	sinks := map[string]outbox.Sink{calsync.Kind: sync, webhook.Kind: hooks}
	maps.Copy(sinks, notifier.Sinks())
	dispatchOpts := outbox.Options{Logger: d.log, Registerer: reg}
	if lease := cfg.Store.DeliveryLease.D(); cfg.Store.Postgres() {
		// A delivery must end (or time out) well before another replica
		// may take it over.
		dispatchOpts.Lease, dispatchOpts.Timeout = lease, min(60*time.Second, lease*3/4)
	}
	dispatcher := outbox.New(st, sinks, dispatchOpts)
	sync.SetKick(dispatcher.Kick)
	notifier.SetKick(dispatcher.Kick)
	hooks.SetKick(dispatcher.Kick)
	if err := sync.LoadBusy(ctx); err != nil {
		return nil, fmt.Errorf("load cached busy times: %w", err)
	}

	// One budget per client for anonymous callers of the API and the
	// pages, and one failed-authentication throttle for every credential
	// (API tokens, usager links, sign-in form, CalDAV).
	anonymous := ratelimit.PerMinute(cfg.Server.RateLimit.PerMinute, cfg.Server.RateLimit.Burst)
	failures := ratelimit.NewFailures(0, 0)

	// Served calendars: secret ICS feeds and the read-only CalDAV server.
	d.feeds = served.New(st, d.catalog.Load, served.Options{Logger: d.log, Failures: failures, Registerer: reg})

	var api *httpapi.API
	svc := booking.New(d.catalog.Load, st, booking.Options{Logger: d.log,
		Observer: observerFunc(func(o string) { api.BookingOutcome(o) }),
		Effects:  []booking.Effect{sync, notifier, hooks}, Refusals: []booking.RefusalEffect{notifier}, ExternalBusy: sync})
	api = httpapi.New(httpapi.Options{
		Booking: svc, Sync: sync, Receipts: notifier, Feeds: d.feeds, Webhooks: hooks, Logger: d.log, Registerer: reg,
		Anonymous: anonymous, Failures: failures,
		Ready: func() error {
			if !d.ready.Load() {
				return errors.New("daemon not ready")
			}
			// Not ready either once the store cannot be read (a damaged file).
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			return st.Health(ctx)
		},
	})
	d.sync, d.store, d.hooks = sync, st, hooks

	mux := http.NewServeMux()
	api.Register(mux)
	d.feeds.Register(mux, api.Wrap)
	// The booking pages (prescripteur link, organisation link, agents, usager).
	var webKey []byte
	if err := st.Update(ctx, func(tx *store.Tx) error {
		var err error
		webKey, err = tx.DaemonSecret("web", 32)
		return err
	}); err != nil {
		return nil, err
	}
	web.New(web.Options{Booking: svc, Store: st, Catalog: d.catalog.Load, Logger: d.log, Wrap: api.Wrap, Key: webKey, Mailer: notifier,
		Anonymous: anonymous, Failures: failures,
		SecureCookies: strings.HasPrefix(cfg.Server.PublicURL, "https://")}).Register(mux)
	d.adminToken = newAdminToken()
	d.registerAdmin(mux, d.adminToken)
	d.registerStoreAdmin(mux, d.adminToken)
	d.handler = mux

	loops, stopLoops := context.WithCancel(context.Background())
	var wg sync2.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); dispatcher.Run(loops) }()
	if err := sync.Backfill(ctx); err != nil {
		d.log.Error("calendar backfill", slog.Any("error", err))
	}
	wg.Add(1)
	go func() { defer wg.Done(); sync.RunBusyRefresh(loops) }()
	sched, err := d.schedule(loops, st, svc, notifier)
	if err != nil {
		stopLoops()
		wg.Wait()
		return nil, err
	}
	sched.Start()
	d.stop = func() error {
		// Stop order: cron jobs, then the dispatcher (deliveries in flight
		// finish or their lease expires), then the store.
		<-sched.Stop().Done()
		stopLoops()
		wg.Wait()
		d.log.Info("background jobs stopped")
		return closeStore()
	}
	return d, nil
}

// Close stops the background jobs and closes the store.
func (d *daemon) Close() error { return d.stop() }

// httpServer is the daemon's HTTP server, its timeouts included.
func (d *daemon) httpServer() *http.Server {
	return &http.Server{Handler: d.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 60 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(d.log.Handler(), slog.LevelWarn)}
}

// serve listens and serves until ctx ends (then finishes the requests in
// flight), reloading the configuration on every SIGHUP.
func (d *daemon) serve(ctx context.Context, hup <-chan os.Signal) error {
	cat := d.catalog.Load()
	cfg := cat.Config
	addr := cfg.Server.Listen
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	// The admin file lives beside the bbolt file, which only this process
	// may open. A PostgreSQL store has no such file and no such lock.
	if storePath := cfg.StorePath(); !cfg.Store.Postgres() {
		if err := writeAdminFile(filepath.Dir(storePath), ln.Addr().String(), d.adminToken, storePath, filepath.Dir(d.configuredStore)); err != nil {
			ln.Close()
			return err
		}
	}

	srv := d.httpServer()
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	d.ready.Store(true)
	d.log.Info("rdvsync serving", "addr", ln.Addr().String(), "public_url", cfg.Server.PublicURL, "store", cfg.StoreName(),
		"organisations", len(cat.Organisations), "agents", len(cat.Agents), "motifs", len(cat.Motifs))
	fmt.Fprintf(d.stdout, "rdvsync listening on http://%s\n", ln.Addr())
	d.firstScreen(cat, ln.Addr())

	for {
		select {
		case <-hup:
			d.reload()
		case err := <-serveErr:
			d.ready.Store(false)
			return fmt.Errorf("http server: %w", err)
		case <-ctx.Done():
			d.ready.Store(false)
			d.log.Info("shutting down: finishing in-flight requests")
			sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
			err := srv.Shutdown(sctx)
			cancel()
			if err != nil && !errors.Is(err, http.ErrServerClosed) {
				return fmt.Errorf("http shutdown: %w", err)
			}
			return nil
		}
	}
}

// firstScreen tells whoever just ran `make run` what to open: the booking
// page, the agents' sign-in with a demo agent (only when the published demo
// tokens are configured: a real token is never printed), and where emails
// and SMS go when no provider is configured.
func (d *daemon) firstScreen(cat *catalog.Catalog, addr net.Addr) {
	base := "http://" + addr.String()
	if tcp, ok := addr.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() && cat.Config.Server.PublicURL != "" {
		base = strings.TrimSuffix(cat.Config.Server.PublicURL, "/")
	}
	fmt.Fprintf(d.stdout, "  booking page (prescripteur link): %s/prendre_rdv?prescripteur=1\n", base)
	if demo := cat.DemoAgents(); len(demo) > 0 {
		fmt.Fprintf(d.stdout, "  agents sign in at %s/agents/connexion, e.g. %s with the demo token %s%s\n",
			base, demo[0].ID, catalog.DemoTokenPrefix, demo[0].ID)
	}
	n := cat.Config.Notifications
	if n.Email.SMTP == nil {
		fmt.Fprintf(d.stdout, "  no SMTP server: emails are written to %s\n", cat.Config.MailSpoolDir())
	}
	if n.SMS.Webhook == nil {
		fmt.Fprintf(d.stdout, "  no SMS provider: SMS are written to %s\n", cat.Config.SMSSpoolDir())
	}
}

// registerMetrics registers the daemon's own series: what runs, and how
// configuration reloads went (a failed reload keeps the old configuration
// silently for the users: only the log and these series tell).
func (d *daemon) registerMetrics(reg prometheus.Registerer) {
	bi := readBuildInfo()
	build := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rdvsync_build_info", Help: "Always 1; the labels say which build runs.",
	}, []string{"version", "revision", "goversion"})
	build.WithLabelValues(bi.Version, bi.Revision, bi.GoVersion).Set(1)
	d.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rdvsync_config_reloads_total", Help: "Configuration reloads (SIGHUP) by result: ok, error.",
	}, []string{"result"})
	d.reloads.WithLabelValues("ok")
	d.reloads.WithLabelValues("error")
	d.lastReload = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "rdvsync_config_last_reload_success_timestamp_seconds",
		Help: "When the configuration in use was loaded (start or last successful reload), in unix seconds.",
	})
	d.lastReload.SetToCurrentTime()
	reg.MustRegister(build, d.reloads, d.lastReload)
}

// reload swaps in a new catalogue; an invalid file keeps the old one.
func (d *daemon) reload() {
	cat, err := d.load()
	if err != nil {
		d.reloads.WithLabelValues("error").Inc()
		d.log.Error("configuration reload failed: keeping the previous configuration", slog.Any("error", err))
		return
	}
	if _, err := webhook.AssignIDs(context.Background(), d.store, cat); err != nil {
		d.reloads.WithLabelValues("error").Inc()
		d.log.Error("configuration reload failed: keeping the previous configuration", slog.Any("error", fmt.Errorf("rdvs_id: %w", err)))
		return
	}
	d.reloads.WithLabelValues("ok").Inc()
	d.lastReload.SetToCurrentTime()
	prev := d.catalog.Load()
	old := prev.Config
	if cat.Config.Server.Listen != old.Server.Listen || cat.Config.Server.RateLimit != old.Server.RateLimit ||
		cat.Config.Store.Driver != old.Store.Driver || cat.Config.StorePath() != old.StorePath() || cat.Config.StoreDSN() != old.StoreDSN() {
		d.log.Warn("server.listen, server.rate_limit and store changes take effect at the next restart")
	}
	d.catalog.Store(cat)
	if err := d.sync.Backfill(context.Background()); err != nil {
		d.log.Error("calendar backfill after reload", slog.Any("error", err))
	}
	// Busy times of a calendar just added or changed are read now, not at
	// the next period: until then the agent's slots would ignore them.
	d.sync.ConfigChanged(context.Background(), prev)
	d.log.Info("configuration reloaded", "organisations", len(cat.Organisations), "agents", len(cat.Agents), "motifs", len(cat.Motifs))
}

type observerFunc func(string)

func (f observerFunc) BookingOutcome(o string) { f(o) }
