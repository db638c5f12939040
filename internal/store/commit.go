package store

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// committer is group commit for Update. Callers queue their functions; one
// goroutine runs every function queued so far in a single bbolt transaction
// and a single fsync, while the next group queues up behind it.
//
// bbolt's own DB.Batch does the same but first waits MaxBatchDelay (10 ms)
// for a batch to fill: that delay is added to every booking and caps one
// writer at 100 commits per second. Here a lone writer commits at once and
// groups grow with the load, up to maxGroup.
type committer struct {
	db   *bolt.DB
	path string

	mu      sync.Mutex
	queue   []*pendingCall
	running bool
}

const maxGroup = 512

type pendingCall struct {
	ctx  context.Context
	fn   func(*bolt.Tx) error
	done chan error // buffered: the committer never blocks on a caller
}

// errRunAlone tells a caller that its function failed inside a group; it
// must run again in a transaction of its own, where its error is its own.
var errRunAlone = errors.New("store: function failed in a group, run it alone")

// update runs fn in a write transaction, grouped with concurrent calls.
func (c *committer) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	call := &pendingCall{ctx: ctx, fn: fn, done: make(chan error, 1)}
	c.mu.Lock()
	c.queue = append(c.queue, call)
	if !c.running {
		c.running = true
		go c.run()
	}
	c.mu.Unlock()

	// The caller waits even if ctx ends meanwhile: once fn is queued, only
	// the committer knows whether its writes will be committed.
	err := <-call.done
	if err == errRunAlone {
		// Run here, not in the committer's goroutine, so that a panicking
		// fn panics in its caller.
		if err := ctx.Err(); err != nil {
			return err
		}
		return c.db.Update(fn)
	}
	return err
}

func (c *committer) run() {
	// A damaged page may point outside the memory map: fault as a panic,
	// which commit turns into ErrDamaged, rather than kill the daemon.
	debug.SetPanicOnFault(true)
	for {
		c.mu.Lock()
		group := c.queue
		if len(group) > maxGroup {
			group, c.queue = group[:maxGroup:maxGroup], group[maxGroup:]
		} else {
			c.queue = nil
		}
		if len(group) == 0 {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		c.commit(group)
	}
}

// commit runs group in one transaction. A function that fails (or panics)
// is taken out and told to run alone, and the transaction is retried
// without it, so the others never commit writes that depended on a
// rolled-back one.
func (c *committer) commit(group []*pendingCall) {
	group = slices.DeleteFunc(group, func(call *pendingCall) bool {
		if err := call.ctx.Err(); err != nil {
			call.done <- err
			return true
		}
		return false
	})
	for len(group) > 0 {
		failed := -1
		err := guard(c.path, "write", func() error {
			return c.db.Update(func(tx *bolt.Tx) error {
				for i, call := range group {
					if err := callSafely(call.fn, tx); err != nil {
						failed = i
						return err
					}
				}
				return nil
			})
		})
		if failed >= 0 {
			group[failed].done <- errRunAlone
			group = slices.Delete(group, failed, failed+1)
			continue
		}
		for _, call := range group {
			call.done <- err
		}
		return
	}
}

func callSafely(fn func(*bolt.Tx) error, tx *bolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	return fn(tx)
}
