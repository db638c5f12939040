package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"text/tabwriter"
	"time"

	"golang.org/x/oauth2"

	"rdvsync/internal/calsync"
	"rdvsync/internal/catalog"
	"rdvsync/internal/served"
	"rdvsync/internal/store"
	"rdvsync/internal/webhook"
)

// The admin commands (sync-status, sync-retry, feed-url, google-auth,
// webhooks-status, rdvs-ids) work whether the daemon runs or not. The daemon holds
// the store's lock, so while it runs they ask it over HTTP, at the address
// and with the token it writes at start beside the store (mode 0600):
// whoever may read the store directory may administer. The file also names
// the store the daemon runs on; a daemon started with -store on another
// file than the configuration's writes it beside the configured store too,
// so that a command reading the configuration refuses instead of showing
// another file's (stale) data.
const adminFile = "admin.json"

type adminInfo struct {
	Addr  string `json:"addr"`
	Token string `json:"token"`
	Store string `json:"store"` // absolute path of the daemon's bbolt file
}

// writeAdminFile writes the admin file in dir, and in each of also that
// exists (best effort: the configured store's directory may be read-only).
func writeAdminFile(dir, addr, token, storePath string, also ...string) error {
	abs, err := filepath.Abs(storePath)
	if err != nil {
		return fmt.Errorf("admin file: %w", err)
	}
	info := adminInfo{Addr: addr, Token: token, Store: abs}
	data, _ := json.Marshal(info)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("admin file: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, adminFile), data, 0o600); err != nil {
		return fmt.Errorf("admin file: %w", err)
	}
	for _, d := range also {
		if st, err := os.Stat(d); err != nil || !st.IsDir() || d == dir {
			continue
		}
		if other, err := readAdminFile(d); err == nil && other.Store != abs && other.alive() {
			continue // another daemon runs on the configured store: its file stays
		}
		os.WriteFile(filepath.Join(d, adminFile), data, 0o600)
	}
	return nil
}

// newAdminToken is a fresh random token for the admin routes.
func newAdminToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// adminAuth lets through the requests that carry the admin token.
func adminAuth(token string) func(http.HandlerFunc) http.HandlerFunc {
	return func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			got, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			if subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
				http.Error(w, "admin token required", http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
}

func readAdminFile(dir string) (adminInfo, error) {
	var info adminInfo
	data, err := os.ReadFile(filepath.Join(dir, adminFile))
	if err == nil {
		err = json.Unmarshal(data, &info)
	}
	return info, err
}

// storeExists reports whether the store a status command would read
// exists: opening it would create an empty one and show nothing, as if all
// were well (the daemon may run on another file). Commands that write
// (google-auth, feed-url, rdvs-ids) may come before the daemon's first
// start and create it.
func storeExists(path, storePath string, stderr io.Writer) bool {
	cat, ok := loadCatalog(path, stderr)
	if !ok {
		return false
	}
	if cat.Config.Store.Postgres() {
		return true // the database exists or openStore says why not
	}
	target := cat.Config.StorePath()
	if storePath != "" {
		target = storePath
	}
	target, _ = filepath.Abs(target)
	if _, err := os.Stat(target); errors.Is(err, os.ErrNotExist) {
		fmt.Fprintf(stderr, "rdvsync: no store at %s: the daemon creates it at its first start; "+
			"if it runs on another file (serve -store), pass the same -store\n", target)
		return false
	}
	return true
}

// sameStoreAsDaemon reports whether an admin command may work on target,
// a store file, given the store the configuration names. A daemon started
// with -store on another file leaves its admin file beside the configured
// store too: if it still runs, target is probably not what the operator
// means (its data is stale), and the command refuses, naming the file and
// the -store to pass.
func sameStoreAsDaemon(configured, target string, stderr io.Writer) bool {
	info, err := readAdminFile(filepath.Dir(configured))
	if err != nil || info.Store == "" || info.Store == target || !info.alive() {
		return true
	}
	fmt.Fprintf(stderr, "rdvsync: the running daemon (%s) uses the store %s, not %s: run this command with -store %s\n",
		info.Addr, info.Store, target, info.Store)
	return false
}

// alive reports whether the daemon of an admin file still answers.
func (info adminInfo) alive() bool {
	resp, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + info.Addr + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func (d *daemon) registerAdmin(mux *http.ServeMux, token string) {
	auth := adminAuth(token)
	mux.HandleFunc("GET /admin/v1/sync", auth(func(w http.ResponseWriter, r *http.Request) {
		list, err := syncStatuses(r.Context(), d.catalog.Load(), d.sync)
		if err != nil {
			d.log.Error("admin sync status", slog.Any("error", err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(list)
	}))
	mux.HandleFunc("POST /admin/v1/sync/retry", auth(func(w http.ResponseWriter, r *http.Request) {
		n, err := d.sync.RetryDead(r.Context(), r.URL.Query().Get("agent"))
		if err != nil {
			d.log.Error("admin sync retry", slog.Any("error", err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		d.log.Info("dead calendar pushes re-queued", "count", n)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int{"requeued": n})
	}))
	mux.HandleFunc("GET /admin/v1/webhooks", auth(func(w http.ResponseWriter, r *http.Request) {
		list, err := webhook.Status(r.Context(), d.store, d.catalog.Load())
		if err != nil {
			d.log.Error("admin webhooks status", slog.Any("error", err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(list)
	}))
	mux.HandleFunc("POST /admin/v1/webhooks/retry", auth(func(w http.ResponseWriter, r *http.Request) {
		n, err := d.hooks.RetryDead(r.Context(), r.URL.Query().Get("endpoint"))
		if err != nil {
			d.log.Error("admin webhooks retry", slog.Any("error", err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]int{"requeued": n})
	}))
	mux.HandleFunc("GET /admin/v1/rdvs-ids", auth(func(w http.ResponseWriter, r *http.Request) {
		list, err := rdvsIDs(r.Context(), d.catalog.Load(), d.store)
		if err != nil {
			d.log.Error("admin rdvs ids", slog.Any("error", err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(list)
	}))
	mux.HandleFunc("POST /admin/v1/feed-url", auth(func(w http.ResponseWriter, r *http.Request) {
		res, err := feedURL(r.Context(), d.feeds, r.URL.Query().Get("agent"), r.URL.Query().Get("rotate") == "1")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(res)
	}))
	mux.HandleFunc("POST /admin/v1/google-token", auth(func(w http.ResponseWriter, r *http.Request) {
		agent := d.catalog.Load().Agent(r.URL.Query().Get("agent"))
		var tok oauth2.Token
		if agent == nil || json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&tok) != nil || tok.RefreshToken == "" {
			http.Error(w, "unknown agent or bad token", http.StatusBadRequest)
			return
		}
		if err := (calsync.TokenStore{Store: d.store}).SaveToken(r.Context(), agent.ID, &tok); err != nil {
			d.log.Error("admin google token", slog.Any("error", err))
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		d.sync.ForgetConnector(agent.ID)
		n, _ := d.sync.RetryDead(r.Context(), agent.ID)
		d.log.Info("google token stored", "agent_id", agent.ID, "requeued", n)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]string{"saved": agent.ID})
	}))
}

func syncStatuses(ctx context.Context, cat *catalog.Catalog, sync *calsync.Service) ([]calsync.AgentStatus, error) {
	var out []calsync.AgentStatus
	for _, a := range cat.Agents {
		if a.Calendar == nil {
			continue
		}
		st, err := sync.Status(ctx, a)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, nil
}

// adminLocal is an admin operation run on the store directly.
type adminLocal func(context.Context, *catalog.Catalog, *store.Store) (any, error)

// adminCall runs local against the store when no daemon holds it, or calls
// the running daemon's admin endpoint.
func adminCall(path, storePath string, stderr io.Writer, local func(context.Context, *catalog.Catalog, *calsync.Service) (any, error), method, endpoint string, out any) bool {
	return adminCallBody(path, storePath, stderr, func(ctx context.Context, cat *catalog.Catalog, st *store.Store) (any, error) {
		return local(ctx, cat, calsync.New(st, func() *catalog.Catalog { return cat }, nil, calsync.Options{}))
	}, method, endpoint, nil, out)
}

// runLocal runs an admin command against an open store and decodes its
// result into out as the daemon's answer would be.
func runLocal(ctx context.Context, cat *catalog.Catalog, st *store.Store, local adminLocal, out any, stderr io.Writer) bool {
	v, err := local(ctx, cat, st)
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync: %v\n", err)
		return false
	}
	b, _ := json.Marshal(v)
	json.Unmarshal(b, out)
	return true
}

// adminCallBody is adminCall with a request body for the daemon.
func adminCallBody(path, storePath string, stderr io.Writer, local adminLocal, method, endpoint string, body []byte, out any) bool {
	cat, ok := loadCatalog(path, stderr)
	if !ok {
		return false
	}
	ctx := context.Background()
	if cat.Config.Store.Postgres() {
		// Every replica and this command share the database: no lock,
		// no daemon to ask.
		st, err := openStore(ctx, cat.Config, store.Options{})
		if err != nil {
			fmt.Fprintf(stderr, "rdvsync: %v\n", err)
			return false
		}
		defer st.Close()
		return runLocal(ctx, cat, st, local, out, stderr)
	}
	configured := cat.Config.StorePath()
	if storePath != "" {
		cat.Config.Store.Path, _ = filepath.Abs(storePath)
	}
	target, _ := filepath.Abs(cat.Config.StorePath())
	if !sameStoreAsDaemon(configured, target, stderr) {
		return false
	}
	st, err := store.Open(target, store.Options{LockTimeout: 300 * time.Millisecond})
	if err == nil {
		defer st.Close()
		return runLocal(ctx, cat, st, local, out, stderr)
	}
	if !errors.Is(err, store.ErrLocked) {
		fmt.Fprintf(stderr, "rdvsync: %v\n", err)
		return false
	}
	resp, err := askDaemon(filepath.Dir(target), method, endpoint, bytes.NewReader(body), 30*time.Second)
	if err != nil {
		fmt.Fprintf(stderr, "rdvsync: %v\n", err)
		return false
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		fmt.Fprintf(stderr, "rdvsync: bad answer from the daemon: %v\n", err)
		return false
	}
	return true
}

// askDaemon sends a request to the daemon that holds the store of dir, with
// the address and token of its admin file; an answer other than 200 is an
// error.
func askDaemon(dir, method, endpoint string, body io.Reader, timeout time.Duration) (*http.Response, error) {
	info, err := readAdminFile(dir)
	if err != nil {
		return nil, fmt.Errorf("the daemon holds the store but its admin file is unreadable: %w", err)
	}
	req, err := http.NewRequest(method, "http://"+info.Addr+endpoint, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+info.Token)
	resp, err := (&http.Client{Timeout: timeout}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("the daemon holds the store but does not answer on %s: %w", info.Addr, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("the daemon answered %s", resp.Status)
	}
	return resp, nil
}

func runSyncStatus(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("sync-status", stderr)
	path := fs.String("config", "config.yaml", "configuration `file`")
	asJSON := fs.Bool("json", false, "print JSON")
	storePath := fs.String("store", "", "bbolt `file`, overriding store.path")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if !storeExists(*path, *storePath, stderr) {
		return 1
	}
	var list []calsync.AgentStatus
	ok := adminCall(*path, *storePath, stderr, func(ctx context.Context, cat *catalog.Catalog, s *calsync.Service) (any, error) {
		return syncStatuses(ctx, cat, s)
	}, http.MethodGet, "/admin/v1/sync", &list)
	if !ok {
		return 1
	}
	if *asJSON {
		return printJSON(stdout, stderr, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no agent has an external calendar")
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "AGENT\tCONNECTOR\tSYNCED\tPENDING\tFAILING\tDEAD\tLAST SUCCESS\tLAST ERROR")
	dead := 0
	for _, s := range list {
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\n", s.AgentID, s.Connector, s.Synced, s.Pending, s.Failing, s.Dead, localTime(s.LastSuccess), oneLine(s.LastError))
		dead += s.Dead
	}
	tw.Flush()
	for _, s := range list {
		for _, f := range s.Failures {
			state := "retrying"
			if f.Dead {
				state = "DEAD"
			}
			fmt.Fprintf(stdout, "  %s rdv %s: %s after %d attempt(s): %s\n", s.AgentID, f.RDVID, state, f.Attempts, oneLine(f.LastError))
		}
	}
	if dead > 0 {
		fmt.Fprintln(stdout, "fix the cause, then: rdvsync sync-retry -config", *path)
	}
	return 0
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// localTime prints an optional instant for the admin tables.
func localTime(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// printJSON prints v indented, as the -json flags do; an empty list is
// [] (never null), so scripts can iterate over it.
func printJSON(stdout, stderr io.Writer, v any) int {
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Slice && rv.IsNil() {
		v = []any{}
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(stderr, "rdvsync: %v\n", err)
		return 1
	}
	return 0
}

func runSyncRetry(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("sync-retry", stderr)
	path := fs.String("config", "config.yaml", "configuration `file`")
	agent := fs.String("agent", "", "only this agent `id` (default: every agent)")
	storePath := fs.String("store", "", "bbolt `file`, overriding store.path")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var res struct {
		Requeued int `json:"requeued"`
	}
	ok := adminCall(*path, *storePath, stderr, func(ctx context.Context, cat *catalog.Catalog, s *calsync.Service) (any, error) {
		n, err := s.RetryDead(ctx, *agent)
		return map[string]int{"requeued": n}, err
	}, http.MethodPost, "/admin/v1/sync/retry?agent="+*agent, &res)
	if !ok {
		return 1
	}
	fmt.Fprintf(stdout, "%d calendar push(es) re-queued\n", res.Requeued)
	return 0
}

type feedURLResult struct {
	ICSURL string `json:"ics_url"`
}

func feedURL(ctx context.Context, feeds *served.Server, agentID string, rotate bool) (feedURLResult, error) {
	var (
		u   string
		err error
	)
	if rotate {
		u, err = feeds.RotateFeed(ctx, agentID)
	} else {
		u, err = feeds.FeedURL(ctx, agentID)
	}
	return feedURLResult{ICSURL: u}, err
}

// runFeedURL prints (and with -rotate replaces) an agent's secret ICS feed address.
func runFeedURL(args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("feed-url", stderr)
	path := fs.String("config", "config.yaml", "configuration `file`")
	agent := fs.String("agent", "", "agent `id` (required)")
	rotate := fs.Bool("rotate", false, "replace the secret: the old address stops working at once")
	storePath := fs.String("store", "", "bbolt `file`, overriding store.path")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *agent == "" {
		fmt.Fprintln(stderr, "rdvsync feed-url: -agent is required")
		return 2
	}
	rot := ""
	if *rotate {
		rot = "1"
	}
	var res feedURLResult
	ok := adminCallBody(*path, *storePath, stderr, func(ctx context.Context, cat *catalog.Catalog, st *store.Store) (any, error) {
		return feedURL(ctx, served.New(st, func() *catalog.Catalog { return cat }, served.Options{}), *agent, *rotate)
	}, http.MethodPost, "/admin/v1/feed-url?agent="+url.QueryEscape(*agent)+"&rotate="+rot, nil, &res)
	if !ok {
		return 1
	}
	fmt.Fprintln(stdout, res.ICSURL)
	return 0
}
