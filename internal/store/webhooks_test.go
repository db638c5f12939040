package store

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func webhookUpdate(t *testing.T, s *Store, fn func(tx *Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

// queue returns the ids queued under key ("" when the record is gone).
func queue(t *testing.T, s *Store, key string) (string, *OutboxRecord) {
	t.Helper()
	var (
		ids []string
		rec *OutboxRecord
	)
	view(t, s, func(tx *ReadTx) {
		r, err := tx.outboxRecord(key)
		if IsNotFound(err) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		items, err := QueuedItems(r)
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range items {
			ids = append(ids, it.ID)
		}
		rec = r
	})
	return strings.Join(ids, ","), rec
}

func claimOne(t *testing.T, s *Store, now time.Time) OutboxRecord {
	t.Helper()
	var recs []OutboxRecord
	webhookUpdate(t, s, func(tx *Tx) error {
		var err error
		recs, err = tx.ClaimDue(now, 10, time.Minute, nil)
		return err
	})
	if len(recs) != 1 {
		t.Fatalf("claimed %d records, want 1", len(recs))
	}
	return recs[0]
}

func item(id string) QueuedItem {
	return QueuedItem{ID: id, Data: json.RawMessage(`{"event":"` + id + `"}`)}
}

// TestOrderedItemsAreDeliveredOneByOne: every event enqueued reaches the
// sink, oldest first, none skipped by the collapsing of Enqueue and none
// handed out again once completed.
func TestOrderedItemsAreDeliveredOneByOne(t *testing.T) {
	s := openTest(t)
	const key = "webhook/partenaire/r1"
	rec := OutboxRecord{Key: key, Kind: "webhook", RDVID: "r1"}
	now := at(10, 0)
	webhookUpdate(t, s, func(tx *Tx) error {
		if err := tx.EnqueueItem(rec, item("created"), now); err != nil {
			return err
		}
		return tx.EnqueueItem(rec, item("moved"), now)
	})
	if ids, _ := queue(t, s, key); ids != "created,moved" {
		t.Fatalf("queue %q", ids)
	}

	// First delivery fails once, then succeeds; an event arrives meanwhile.
	got := claimOne(t, s, now)
	if items, _ := QueuedItems(&got); len(items) != 2 || items[0].ID != "created" {
		t.Fatalf("claimed payload %s", got.Payload)
	}
	webhookUpdate(t, s, func(tx *Tx) error {
		return tx.FailOutbox(key, got.Gen, now, "HTTP 500", now.Add(time.Second), false)
	})
	got = claimOne(t, s, now.Add(time.Second))
	webhookUpdate(t, s, func(tx *Tx) error { return tx.EnqueueItem(rec, item("cancelled"), now) })
	webhookUpdate(t, s, func(tx *Tx) error {
		if err := tx.CompleteItem(key, "created"); err != nil {
			return err
		}
		return tx.CompleteOutbox(key, got.Gen, now.Add(time.Second))
	})
	ids, r := queue(t, s, key)
	if ids != "moved,cancelled" || r.Attempts != 0 || r.LastError != "" {
		t.Fatalf("after the first success: queue %q, record %+v", ids, r)
	}

	// A completion replayed (or out of order) removes nothing.
	webhookUpdate(t, s, func(tx *Tx) error { return tx.CompleteItem(key, "created") })
	webhookUpdate(t, s, func(tx *Tx) error { return tx.CompleteItem(key, "cancelled") })
	if ids, _ := queue(t, s, key); ids != "moved,cancelled" {
		t.Fatalf("stale completions changed the queue: %q", ids)
	}

	for _, want := range []string{"moved", "cancelled"} {
		got = claimOne(t, s, now.Add(2*time.Second))
		items, _ := QueuedItems(&got)
		if items[0].ID != want {
			t.Fatalf("head %s, want %s", items[0].ID, want)
		}
		webhookUpdate(t, s, func(tx *Tx) error {
			if err := tx.CompleteItem(key, want); err != nil {
				return err
			}
			return tx.CompleteOutbox(key, got.Gen, now.Add(2*time.Second))
		})
	}
	if ids, r := queue(t, s, key); r != nil {
		t.Fatalf("record left after the last item: %q", ids)
	}
}

// TestDeadQueueComesBackInOrder: a new event for a dead queue revives it
// with its old events first.
func TestDeadQueueComesBackInOrder(t *testing.T) {
	s := openTest(t)
	const key = "webhook/partenaire/r2"
	rec := OutboxRecord{Key: key, Kind: "webhook", RDVID: "r2"}
	now := at(10, 0)
	webhookUpdate(t, s, func(tx *Tx) error { return tx.EnqueueItem(rec, item("created"), now) })
	got := claimOne(t, s, now)
	webhookUpdate(t, s, func(tx *Tx) error {
		return tx.FailOutbox(key, got.Gen, now, "gave up", now.Add(time.Hour), true)
	})
	if _, r := queue(t, s, key); !r.Dead {
		t.Fatal("record not dead")
	}
	webhookUpdate(t, s, func(tx *Tx) error { return tx.EnqueueItem(rec, item("updated"), now.Add(time.Minute)) })
	ids, r := queue(t, s, key)
	if ids != "created,updated" || r.Dead || r.Attempts != 0 {
		t.Fatalf("revived: queue %q, record %+v", ids, r)
	}
}

func TestWebhookStateIsNotAnAgentState(t *testing.T) {
	s := openTest(t)
	type doc struct{ N int }
	webhookUpdate(t, s, func(tx *Tx) error { return tx.PutWebhookState("partenaire", "deliveries", doc{N: 3}) })
	view(t, s, func(tx *ReadTx) {
		var d doc
		if err := tx.WebhookState("partenaire", "deliveries", &d); err != nil || d.N != 3 {
			t.Errorf("webhook state: %+v, %v", d, err)
		}
		if err := tx.AgentState("partenaire", "deliveries", &d); !IsNotFound(err) {
			t.Errorf("an agent named like the endpoint sees its state: %v", err)
		}
		if err := tx.WebhookState("autre", "deliveries", &d); !IsNotFound(err) {
			t.Errorf("unknown endpoint: %v", err)
		}
	})
}
