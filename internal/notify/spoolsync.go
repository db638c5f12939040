package notify

import "sync"

// spoolSyncs makes spool files durable in groups: the deliveries running at
// once (up to 32) each write and rename their file, then wait for one sync
// that started after their rename (syncSpoolDir: on Linux one syncfs(2) for
// the whole group instead of an fsync per file and none for the directory).
var spoolSyncs = &groupSyncs{syncs: map[string]*groupSync{}, sync: syncSpoolDir}

type groupSyncs struct {
	mu    sync.Mutex
	syncs map[string]*groupSync // by directory
	sync  func(dir string) error
}

func (gs *groupSyncs) wait(dir string) error {
	gs.mu.Lock()
	g := gs.syncs[dir]
	if g == nil {
		g = &groupSync{sync: func() error { return gs.sync(dir) }}
		gs.syncs[dir] = g
	}
	gs.mu.Unlock()
	return g.wait()
}

// groupSync runs sync for its waiters, one run at a time: a waiter joins
// the next run, which starts after it called wait, never one under way.
type groupSync struct {
	mu   sync.Mutex
	next *syncRun // the run the waiters arriving now join
	busy bool     // a goroutine is running syncs
	sync func() error
}

type syncRun struct {
	done chan struct{}
	err  error
}

func (g *groupSync) wait() error {
	g.mu.Lock()
	if g.next == nil {
		g.next = &syncRun{done: make(chan struct{})}
	}
	r := g.next
	if !g.busy {
		g.busy = true
		go g.run()
	}
	g.mu.Unlock()
	<-r.done
	return r.err
}

func (g *groupSync) run() {
	for {
		g.mu.Lock()
		r := g.next
		g.next = nil
		if r == nil {
			g.busy = false
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()
		r.err = g.sync()
		close(r.done)
	}
}
