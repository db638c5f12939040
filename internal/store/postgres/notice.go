package postgres

import (
	"context"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// notifyChannel carries change notices between the processes sharing a
// database: "<process id> <hex bucket> <hex bucket>…".
const notifyChannel = "rdvsync_changes"

// notices is what Watch needs: the watches, the listener of other
// processes' notices, and the announcer of this process's commits.
//
// Every process announces its commits to the buckets that any process
// watches, listed in kv_watch: a command run once (migrate-store, an admin
// command) wakes the daemons without watching anything itself.
//
// A notice is sent after the commit, by the announcer, in a statement of
// its own, rather than by pg_notify in the transaction: PostgreSQL
// serialises the commits of transactions that notify (a lock held until
// their commit is flushed), which halved the commits per second of
// concurrent writers (BenchmarkUpdate10Puts). The announcer sends one
// notice for all the commits made since its last: a process that dies
// between a commit and its notice leaves the others to find the change at
// their next poll.
type notices struct {
	mu        sync.Mutex
	watches   []watch
	announced map[string]bool // the buckets in kv_watch at Open, and this process's watches
	dirty     map[string]bool // announced buckets written by commits not announced yet
	wake      chan struct{}   // to the announcer, when dirty is not empty
	listening bool
	ctx       context.Context // until Close
	stop      context.CancelFunc
	done      sync.WaitGroup
}

type watch struct {
	buckets map[string]bool
	fn      func()
}

// startNotices reads the watched buckets and starts the announcer.
func (b *Backend) startNotices(ctx context.Context) error {
	n := &b.notices
	n.announced = map[string]bool{}
	rows, err := b.pool.Query(ctx, "SELECT bucket FROM kv_watch")
	if err != nil {
		return err
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return err
	}
	for _, name := range names {
		n.announced[string(name)] = true
	}
	n.wake = make(chan struct{}, 1)
	n.ctx, n.stop = context.WithCancel(context.Background())
	n.done.Add(1)
	go b.announceLoop(n.ctx)
	return nil
}

func (b *Backend) watched(top string) bool {
	b.notices.mu.Lock()
	defer b.notices.mu.Unlock()
	return b.notices.announced[top]
}

// Watch calls fn after another process committed a transaction that wrote
// to one of buckets (top-level names; a write in a nested bucket counts for
// its top-level bucket). The processes opened before Watch registered the
// buckets in kv_watch do not announce their writes to them until they are
// opened again: daemons watch at start. Notices come through LISTEN on a
// connection of their own, reconnected when lost; after a reconnection
// every fn is called once, as notices may have been missed. Watch returns
// once the first LISTEN was attempted, so that a commit after it is
// noticed.
func (b *Backend) Watch(buckets [][]byte, fn func()) {
	n := &b.notices
	w := watch{buckets: map[string]bool{}, fn: fn}
	for _, name := range buckets {
		w.buckets[string(name)] = true
	}
	for name := range w.buckets {
		_, err := b.side.Exec(n.ctx, "INSERT INTO kv_watch (bucket) VALUES ($1) ON CONFLICT DO NOTHING", []byte(name))
		if err != nil {
			b.log.Warn("watched bucket not registered: commands run apart will not announce their writes to it", "error", err)
		}
	}
	n.mu.Lock()
	n.watches = append(n.watches, w)
	for name := range w.buckets {
		n.announced[name] = true
	}
	var ready chan struct{}
	if !n.listening {
		n.listening = true
		ready = make(chan struct{})
		n.done.Add(1)
		go b.listenLoop(n.ctx, ready)
	}
	n.mu.Unlock()
	if ready != nil {
		<-ready
	}
}

// announce queues a notice for the watched buckets a commit wrote.
func (b *Backend) announce(written map[string]bool) {
	if len(written) == 0 {
		return
	}
	n := &b.notices
	n.mu.Lock()
	if n.dirty == nil {
		n.dirty = map[string]bool{}
	}
	for name := range written {
		n.dirty[name] = true
	}
	n.mu.Unlock()
	select {
	case n.wake <- struct{}{}:
	default: // the announcer is already woken
	}
}

func (b *Backend) announceLoop(ctx context.Context) {
	defer b.notices.done.Done()
	for {
		select {
		case <-b.notices.wake:
			b.sendNotice(ctx)
		case <-ctx.Done():
			// Close: what was committed is announced.
			last, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			b.sendNotice(last)
			cancel()
			return
		}
	}
}

func (b *Backend) sendNotice(ctx context.Context) {
	n := &b.notices
	n.mu.Lock()
	dirty := n.dirty
	n.dirty = nil
	n.mu.Unlock()
	if len(dirty) == 0 {
		return
	}
	var p strings.Builder
	p.WriteString(b.id)
	for name := range dirty {
		p.WriteByte(' ')
		p.WriteString(hex.EncodeToString([]byte(name)))
	}
	if _, err := b.side.Exec(ctx, "SELECT pg_notify($1, $2)", notifyChannel, p.String()); err != nil {
		b.log.Warn("change notice not sent: other processes will see the change at their next poll", "error", err)
	}
}

// stopNotices sends the last notice and stops listening.
func (b *Backend) stopNotices() {
	n := &b.notices
	if n.stop != nil {
		n.stop()
		n.done.Wait()
	}
}

func (b *Backend) listenLoop(ctx context.Context, ready chan struct{}) {
	defer b.notices.done.Done()
	pause := 100 * time.Millisecond
	markReady := sync.OnceFunc(func() { close(ready) })
	for first := true; ; first = false {
		err := b.listenOnce(ctx, markReady, !first)
		markReady()
		if ctx.Err() != nil {
			return
		}
		b.log.Warn("change notices: connection lost, reconnecting", "error", err, "pause", pause)
		select {
		case <-ctx.Done():
			return
		case <-time.After(pause):
		}
		pause = min(2*pause, 10*time.Second)
	}
}

// listenOnce connects, listens and dispatches notices until the connection
// fails; it calls ready once listening.
func (b *Backend) listenOnce(ctx context.Context, ready func(), reconnected bool) error {
	conn, err := pgx.ConnectConfig(ctx, b.listen)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "LISTEN "+notifyChannel); err != nil {
		return err
	}
	ready()
	if reconnected {
		b.dispatch(nil)
	}
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		own, names := b.parseNotice(n.Payload)
		if !own {
			b.dispatch(names)
		}
	}
}

// parseNotice reads a notice's payload; own is true for this process's.
func (b *Backend) parseNotice(payload string) (own bool, names map[string]bool) {
	fields := strings.Fields(payload)
	if len(fields) == 0 || fields[0] == b.id {
		return true, nil
	}
	names = map[string]bool{}
	for _, f := range fields[1:] {
		if name, err := hex.DecodeString(f); err == nil {
			names[string(name)] = true
		}
	}
	return false, names
}

// dispatch calls the watches of names (nil: every watch).
func (b *Backend) dispatch(names map[string]bool) {
	n := &b.notices
	n.mu.Lock()
	var fns []func()
	for _, w := range n.watches {
		for name := range w.buckets {
			if names == nil || names[name] {
				fns = append(fns, w.fn)
				break
			}
		}
	}
	n.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}
