package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"rdvsync/internal/store"
)

// levelCounter is a slog handler counting records at ERROR, and keeping
// their messages.
type levelCounter struct {
	mu     sync.Mutex
	errors []string
	infos  map[string]int
}

func (h *levelCounter) Enabled(context.Context, slog.Level) bool { return true }
func (h *levelCounter) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *levelCounter) WithGroup(string) slog.Handler            { return h }
func (h *levelCounter) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r.Level >= slog.LevelError {
		msg := r.Message
		r.Attrs(func(a slog.Attr) bool { msg += " " + a.String(); return true })
		h.errors = append(h.errors, msg)
	}
	if h.infos == nil {
		h.infos = map[string]int{}
	}
	h.infos[r.Message]++
	return nil
}

// A booking whose client is gone (context canceled) is logged below ERROR,
// counted with status 499, and a retry with its Idempotency-Key gets it.
func TestClientGoneIsNotAServerError(t *testing.T) {
	logs := &levelCounter{}
	ld := startLoadDaemon(t, benchDataset(), loadOptions{fsync: true, log: slog.New(logs)})
	todo, err := ld.data.FreeSlots(time.Now(), 160, false)
	if err != nil {
		t.Fatal(err)
	}

	// Deterministic: the request reaches the handler with its client gone.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/rdvs", strings.NewReader(string(bookBody(todo[0], 0)))).WithContext(ctx)
	req.Header.Set("Authorization", "Bearer dataset-token-"+todo[0].Agent.ID)
	req.Header.Set("Idempotency-Key", "gone-0")
	rec := httptest.NewRecorder()
	ld.handler.ServeHTTP(rec, req)
	if rec.Code != 499 {
		t.Errorf("booking with the client gone: status %d, want 499", rec.Code)
	}

	// Black box: 32 clients over HTTP, each request abandoned after a
	// random delay of up to a few commits, as wrk does when it stops.
	client := &http.Client{}
	var next atomic.Int64
	next.Store(1)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for {
				n := int(next.Add(1) - 1)
				if n >= len(todo) {
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(rand.IntN(30_000))*time.Microsecond)
				_, _, err := ld.book(ctx, client, todo[n], n, fmt.Sprintf("gone-%d", n))
				cancel()
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()

	// Every key retried: the booking is there (kept, or made now), once.
	for n := range todo {
		status, body, err := ld.book(context.Background(), client, todo[n], n, fmt.Sprintf("gone-%d", n))
		if err != nil {
			t.Fatal(err)
		}
		if status != http.StatusCreated {
			t.Fatalf("retry of booking %d: %d %s", n, status, body)
		}
	}
	var rdvs int
	ld.store.View(context.Background(), func(tx *store.ReadTx) error {
		for _, a := range ld.data.Catalog.Agents {
			rdvs += len(tx.AgentRDVIDs(a.ID, time.Now()))
		}
		return nil
	})
	if rdvs != len(todo) {
		t.Errorf("%d RDVs in store after %d bookings retried with their keys", rdvs, len(todo))
	}

	resp, err := http.Get(ld.url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var metrics strings.Builder
	if _, err := io.Copy(&metrics, resp.Body); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(metrics.String(), `rdvsync_http_requests_total{route="POST /api/v1/rdvs",status="499"}`) {
		t.Errorf("no request counted as 499 in /metrics")
	}
	if strings.Contains(metrics.String(), `rdvsync_http_requests_total{route="POST /api/v1/rdvs",status="500"}`) {
		t.Errorf("a request counted as 500 in /metrics")
	}
	logs.mu.Lock()
	defer logs.mu.Unlock()
	if len(logs.errors) > 0 {
		t.Errorf("%d ERROR log records under load, first: %s", len(logs.errors), logs.errors[0])
	}
	t.Logf("%d requests canceled by the client reached a handler", logs.infos["request canceled by the client"])
}
