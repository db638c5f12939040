package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"rdvsync/internal/dataset"
	"rdvsync/internal/slots"
	"rdvsync/internal/store"
)

// The département of docs/design.md §8 (40 organisations, 400 agents, 1 200
// plages, 100 000 RDVs), generated once per process.
var benchDataset = sync.OnceValue(func() *dataset.Dataset { return dataset.Generate(1, dataset.Params{}) })

// loadDaemon is a daemon built by newDaemon, as `serve` builds it, on the
// dataset's configuration with every effect on: email and SMS
// notifications to the spool, an outgoing webhook and, for every agent, a
// CalDAV calendar, both answered by peers on loopback. It serves on a
// loopback listener with serve's own http.Server.
type loadDaemon struct {
	*daemon
	url, dir string
	data     *dataset.Dataset
	peer     *effectPeer
	stopOnce func() error // stops the server and the daemon, once
}

// effectPeer answers the webhook POSTs and the CalDAV PUTs, counting them.
type effectPeer struct {
	webhooks, puts atomic.Int64
}

func (p *effectPeer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	switch {
	case r.URL.Path == "/hook":
		p.webhooks.Add(1)
		w.WriteHeader(http.StatusOK)
	case r.Method == http.MethodPut:
		p.puts.Add(1)
		w.Header().Set("ETag", fmt.Sprintf(`"%d"`, time.Now().UnixNano()))
		w.WriteHeader(http.StatusCreated)
	case r.Method == http.MethodDelete:
		w.WriteHeader(http.StatusNoContent)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

var agentLine = regexp.MustCompile(`(?m)^(  - \{ id: (agent-[^,]+),.*) \}$`)

// loadOptions say how to start a loadDaemon.
type loadOptions struct {
	seeded string // store file copied before start; "" for an empty store
	dsn    string // a PostgreSQL database instead of a store file
	fsync  bool
	log    *slog.Logger // default: discard
}

// startLoadDaemon writes the configuration, copies the seeded store and
// starts the daemon.
func startLoadDaemon(tb testing.TB, d *dataset.Dataset, o loadOptions) *loadDaemon {
	tb.Helper()
	dir := tb.TempDir()
	peer := &effectPeer{}
	ps := httptest.NewServer(peer)
	tb.Cleanup(ps.Close)
	if err := os.WriteFile(filepath.Join(dir, "hook-secret"), []byte("whsec_bench-secret-0123456789abcdef\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "caldav-password"), []byte("secret\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	agents := agentLine.ReplaceAllString(string(d.YAML()),
		fmt.Sprintf(`$1, calendar: { caldav: { url: "%s/dav/$2/", username: "$2", password_file: caldav-password } } }`, ps.URL))
	storeYAML := "store:\n  path: rdvsync.db"
	if o.dsn != "" {
		storeYAML = fmt.Sprintf("store:\n  driver: postgres\n  dsn: %q", o.dsn)
	}
	cfg := fmt.Sprintf(`server:
  listen: "127.0.0.1:0"
  public_url: "http://127.0.0.1:8080"
%s
notifications:
  reminder_before: 48h
  email:
    from: "RDV Solidarités <ne-pas-repondre@example.org>"
    spool_dir: mail
  sms:
    spool_dir: sms
webhooks:
  outgoing:
    - { id: bench, url: "%s/hook", secret_file: hook-secret, allow_private: true }
%s`, storeYAML, ps.URL, agents)
	path := filepath.Join(dir, "rdvsync.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
	if o.seeded != "" {
		if err := copyFile(o.seeded, filepath.Join(dir, "rdvsync.db")); err != nil {
			tb.Fatal(err)
		}
	}
	dm, err := newDaemon(context.Background(), daemonOptions{configPath: path, noSync: !o.fsync, log: o.log})
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := dm.httpServer()
	go srv.Serve(ln)
	dm.ready.Store(true)
	ld := &loadDaemon{daemon: dm, url: "http://" + ln.Addr().String(), dir: dir, data: d, peer: peer}
	ld.stopOnce = sync.OnceValue(func() error {
		srv.Close()
		return dm.Close()
	})
	tb.Cleanup(func() {
		if err := ld.stopOnce(); err != nil {
			tb.Error(err)
		}
	})
	return ld
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o600)
}

// seededDir holds seededStore's file; TestMain removes it.
var seededDir string

// seededStore is a store file holding the dataset's 100 000 RDVs, written
// once per process and copied by each run.
var seededStore = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "rdvsync-daemonbench-")
	if err != nil {
		return "", err
	}
	seededDir = dir
	path := filepath.Join(dir, "seeded.db")
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		return "", err
	}
	d := benchDataset()
	err = d.WriteStore(context.Background(), st, time.Now())
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	return path, err
})

// bookBody is the POST /api/v1/rdvs body booking sl for usager n.
func bookBody(sl slots.Slot, n int) []byte {
	body := map[string]any{
		"motif_id": sl.Motif.ID, "starts_at": sl.Start.Format(time.RFC3339), "agent_id": sl.Agent.ID,
		"usager": map[string]string{"first_name": "Usager", "last_name": fmt.Sprintf("Bench %d", n),
			"email": fmt.Sprintf("bench%d@example.org", n), "phone_number": fmt.Sprintf("06%08d", 12_000_000+n)},
		"context": "Orientation suite à la demande de la médiathèque, besoin d'aide pour les démarches RSA.",
	}
	if sl.Lieu != nil {
		body["lieu_id"] = sl.Lieu.ID
	}
	b, _ := json.Marshal(body)
	return b
}

// book posts one booking and returns its status.
func (ld *loadDaemon) book(ctx context.Context, client *http.Client, sl slots.Slot, n int, idemKey string) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ld.url+"/api/v1/rdvs", bytes.NewReader(bookBody(sl, n)))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer dataset-token-"+sl.Agent.ID)
	req.Header.Set("Content-Type", "application/json")
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// bookAll books slots from clients concurrent clients and returns the
// latency of each booking.
func (ld *loadDaemon) bookAll(tb testing.TB, todo []slots.Slot, clients int) []time.Duration {
	tb.Helper()
	return bookAcross(tb, []*loadDaemon{ld}, todo, clients)
}

// bookAcross is bookAll over daemons sharing one store, as a load
// balancer spreads requests: booking n goes to daemon n mod len(lds).
func bookAcross(tb testing.TB, lds []*loadDaemon, todo []slots.Slot, clients int) []time.Duration {
	tb.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	defer client.CloseIdleConnections()
	var (
		next      atomic.Int64
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, len(todo))
		wg        sync.WaitGroup
	)
	for range clients {
		wg.Go(func() {
			var mine []time.Duration
			defer func() { mu.Lock(); latencies = append(latencies, mine...); mu.Unlock() }()
			for {
				n := int(next.Add(1) - 1)
				if n >= len(todo) {
					return
				}
				start := time.Now()
				status, body, err := lds[n%len(lds)].book(context.Background(), client, todo[n], n, "")
				mine = append(mine, time.Since(start))
				if err != nil {
					tb.Error(err)
					return
				}
				if status != http.StatusCreated {
					tb.Errorf("booking %s of %s: %d %s", todo[n].Start.Format(time.RFC3339), todo[n].Agent.ID, status, body)
					return
				}
			}
		})
	}
	wg.Wait()
	slices.Sort(latencies)
	return latencies
}

// quantile of sorted latencies, in milliseconds.
func quantile(sorted []time.Duration, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	return float64(sorted[min(len(sorted)-1, int(q*float64(len(sorted))))].Microseconds()) / 1000
}

// waitDrained waits until the outbox holds nothing to deliver (every
// effect delivered or given up) and returns when that happened. It reads
// only the first key of the due index: a scan would compete with the
// dispatcher it waits for.
func (ld *loadDaemon) waitDrained(tb testing.TB, limit time.Duration) time.Time {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for {
		var pending bool
		err := ld.store.View(context.Background(), func(tx *store.ReadTx) error {
			_, pending = tx.NextOutboxDue()
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		if !pending {
			return time.Now()
		}
		if time.Now().After(deadline) {
			tb.Fatalf("outbox records still pending %v after the last booking", limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// spooled counts the messages in a spool directory ("mail", "sms").
func (ld *loadDaemon) spooled(tb testing.TB, kind string) int {
	tb.Helper()
	entries, err := os.ReadDir(filepath.Join(ld.dir, kind))
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") {
			n++
		}
	}
	return n
}

// rawBoltRate is the raw bbolt rate of the design's physical limit: one
// db.Update per 600-byte put, fsync on, from clients writers, in puts/s.
func rawBoltRate(tb testing.TB, dir string, clients, puts int) float64 {
	tb.Helper()
	db, err := bolt.Open(filepath.Join(dir, "raw.db"), 0o600, nil)
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		tb.Fatal(err)
	}
	val := bytes.Repeat([]byte("x"), 600)
	return concurrentRate(tb, clients, puts, func(n int64) error {
		return db.Update(func(tx *bolt.Tx) error {
			return tx.Bucket([]byte("b")).Put(fmt.Appendf(nil, "%016d", n), val)
		})
	})
}

// concurrentRate runs write(n) for n in [1, total] from clients
// goroutines and returns the writes per second.
func concurrentRate(tb testing.TB, clients, total int, write func(n int64) error) float64 {
	tb.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				n := next.Add(1)
				if n > int64(total) {
					return
				}
				if err := write(n); err != nil {
					tb.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return float64(total) / time.Since(start).Seconds()
}

// BenchmarkDaemonBook books distinct free slots through the daemon users
// run (newDaemon: the wiring of `rdvsync serve`, effects and dispatcher
// running) over real HTTP on loopback, 32 concurrent clients, fsync on, the
// département's 100 000 RDVs in store. Every booking writes its
// confirmations (email and SMS), its calendar push and its webhook, which
// the dispatcher delivers meanwhile to the spool and to loopback peers.
//
// Reported: bookings/s, p50 and p99 of one POST; drain-s, how long after
// the last booking the last effect was delivered, and effects/s, the
// delivery rate over the whole run; raw-puts/s, bbolt with one transaction
// per put on the same disk in the same run (mean of a measure just before
// and one just after the bookings), and raw-ratio, bookings/s over that
// (goal: ≥ 0.5).
func BenchmarkDaemonBook(b *testing.B) {
	d := benchDataset()
	seeded, err := seededStore()
	if err != nil {
		b.Fatal(err)
	}
	ld := startLoadDaemon(b, d, loadOptions{seeded: seeded, fsync: true})
	todo, err := d.FreeSlots(time.Now(), b.N, true)
	if err != nil {
		b.Fatal(err)
	}
	const clients = 32
	// The raw rate just before and just after the bookings: the disk is
	// shared, and its speed drifts within a run.
	rawBefore := rawBoltRate(b, b.TempDir(), clients, 2000)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	latencies := ld.bookAll(b, todo, clients)
	booked := time.Since(start)
	b.StopTimer()
	drained := ld.waitDrained(b, 5*time.Minute)
	b.ReportMetric(float64(b.N)/booked.Seconds(), "bookings/s")
	b.ReportMetric(quantile(latencies, 0.50), "p50-ms")
	b.ReportMetric(quantile(latencies, 0.99), "p99-ms")
	b.ReportMetric(drained.Sub(start.Add(booked)).Seconds(), "drain-s")
	effects := ld.spooled(b, "mail") + ld.spooled(b, "sms") + int(ld.peer.webhooks.Load()+ld.peer.puts.Load())
	b.ReportMetric(float64(effects)/drained.Sub(start).Seconds(), "effects/s")
	raw := (rawBefore + rawBoltRate(b, b.TempDir(), clients, 2000)) / 2
	b.ReportMetric(raw, "raw-puts/s")
	b.ReportMetric(float64(b.N)/booked.Seconds()/raw, "raw-ratio")
}

// storeSizes are the sizes of a store file as the daemon left it and
// compacted, and the compacted file's pages in use (bbolt grows a file by
// doubling, then by 16 MiB: its size overstates small stores), in total
// and per top-level bucket (its nested buckets included).
type storeSizes struct {
	file, compacted, pages int64
	buckets                map[string]bucketSize
}

// bucketSize is what one top-level bucket takes in a compacted file:
// its pages (branch and leaf, inline buckets counted in their parent)
// and the bytes of its keys and values.
type bucketSize struct {
	pages, keys, values int64
}

// sizes stops ld and returns the sizes of its store file.
func (ld *loadDaemon) sizes(tb testing.TB) storeSizes {
	tb.Helper()
	if err := ld.stopOnce(); err != nil {
		tb.Fatal(err)
	}
	path := filepath.Join(ld.dir, "rdvsync.db")
	before, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	done, err := store.Compact(path, path+".compact")
	if err != nil {
		tb.Fatal(err)
	}
	done()
	after, err := os.Stat(path + ".compact")
	if err != nil {
		tb.Fatal(err)
	}
	db, err := bolt.Open(path+".compact", 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	sz := storeSizes{file: before.Size(), compacted: after.Size(), buckets: map[string]bucketSize{}}
	db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, b *bolt.Bucket) error {
			s := b.Stats()
			bs := bucketSize{pages: int64(s.BranchAlloc + s.LeafAlloc)}
			countKV(b, &bs)
			sz.buckets[string(name)] = bs
			sz.pages += bs.pages
			return nil
		})
	})
	return sz
}

// countKV adds the key and value bytes of b and its nested buckets to bs.
func countKV(b *bolt.Bucket, bs *bucketSize) {
	b.ForEach(func(k, v []byte) error {
		bs.keys += int64(len(k))
		if v == nil {
			countKV(b.Bucket(k), bs)
		}
		bs.values += int64(len(v))
		return nil
	})
}

// BenchmarkStoreSizePerRDV books b.N RDVs (each with a new usager)
// through the daemon's API into an empty store, with every effect, waits
// until every effect is delivered (delivered outbox records are deleted),
// stops the daemon and compacts the file. Reported, per RDV, over the
// store of the same daemon with no booking (the configuration's ids,
// secrets: 0.1 MB): the growth of the file as the daemon left it
// (file-B/rdv) and after rdvsync compact (compact-B/rdv), that is RDV,
// usager, indexes, receipts, calendar sync state, reminders; and the
// compacted pages in use (pages-B/rdv), which file sizes round up. The goal is
// ≤ 1 500 bytes per RDV in steady state.
func BenchmarkStoreSizePerRDV(b *testing.B) {
	d := benchDataset()
	base := startLoadDaemon(b, d, loadOptions{}).sizes(b)
	ld := startLoadDaemon(b, d, loadOptions{})
	todo, err := d.FreeSlots(time.Now(), b.N, false)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	ld.bookAll(b, todo, 32)
	ld.waitDrained(b, 10*time.Minute)
	b.StopTimer()
	sz := ld.sizes(b)
	perRDV := func(v, base int64) float64 { return float64(v-base) / float64(b.N) }
	b.ReportMetric(perRDV(sz.file, base.file), "file-B/rdv")
	b.ReportMetric(perRDV(sz.compacted, base.compacted), "compact-B/rdv")
	b.ReportMetric(perRDV(sz.pages, base.pages), "pages-B/rdv")
	// Where the pages go: each bucket that grows by ≥ 20 B per RDV,
	// with its keys and values (the rest is page headers and free
	// space at the end of pages).
	for _, name := range slices.Sorted(maps.Keys(sz.buckets)) {
		bs, bb := sz.buckets[name], base.buckets[name]
		if perRDV(bs.pages, bb.pages) < 20 {
			continue
		}
		b.ReportMetric(perRDV(bs.pages, bb.pages), name+"-B/rdv")
		b.ReportMetric(perRDV(bs.keys, bb.keys), name+"-keys-B/rdv")
		b.ReportMetric(perRDV(bs.values, bb.values), name+"-values-B/rdv")
	}
	b.ReportMetric(float64(base.compacted), "base-B")
}
