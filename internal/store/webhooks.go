package store

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"rdvsync/internal/rdv"
)

// Ordered outbox records. Enqueue collapses a record into the latest state
// of its RDV, which suits sinks that push a state (calendars). Webhook
// receivers hear events instead — created, then updated, then updated
// again — and must hear each of them, in order. EnqueueItem keeps such a
// FIFO in the record's Payload: a JSON array of QueuedItem, oldest first.
// The sink delivers the first item and, on success, removes it with
// CompleteItem before the dispatcher completes the record:
//
//   - items remain: CompleteItem bumps Gen, so the dispatcher's
//     CompleteOutbox sees a newer generation and keeps the record, due at
//     once, with a fresh attempt count, for the next item;
//   - none remain: Gen is untouched and CompleteOutbox deletes the record
//     (unless EnqueueItem added one meanwhile, which bumped Gen).
//
// A process that dies between CompleteItem and CompleteOutbox leaves the
// remaining items, and never the delivered one, to the next run.
//
// Endpoint documents (a webhook endpoint's delivery log) are kept in the
// agent_state bucket under "webhook:<endpoint id>": agent ids cannot hold
// ':' (config id pattern), so they never collide with an agent's. The
// entries of a delivery log have a key each, "webhook:<endpoint id>",
// "delivery", then the entry's sequence number in 16 hex digits (no 0
// byte, so EachAgentState never mistakes one for a document): a delivery
// writes its entry instead of decoding and re-encoding the whole log
// inside the group commit every booking waits on.

// QueuedItem is one entry of an ordered outbox record.
type QueuedItem struct {
	ID   string          `json:"id"`
	Data json.RawMessage `json:"data"`
}

// QueuedItems decodes the FIFO of an ordered record, oldest first.
func QueuedItems(r *OutboxRecord) ([]QueuedItem, error) {
	if len(r.Payload) == 0 {
		return nil, nil
	}
	var items []QueuedItem
	if err := json.Unmarshal(r.Payload, &items); err != nil {
		return nil, fmt.Errorf("store: decode queued items of %s: %w", r.Key, err)
	}
	return items, nil
}

func setQueuedItems(r *OutboxRecord, items []QueuedItem) error {
	if items == nil {
		items = []QueuedItem{}
	}
	b, err := json.Marshal(items)
	if err != nil {
		return fmt.Errorf("store: encode queued items of %s: %w", r.Key, err)
	}
	r.Payload = b
	return nil
}

// EnqueueItem appends item to the FIFO of the record r.Key (created when
// absent), in the caller's transaction. Like Enqueue it makes the record
// due now and brings a dead one back with a fresh retry budget — its
// earlier items first, so order holds. r.Payload is ignored.
func (tx *Tx) EnqueueItem(r OutboxRecord, item QueuedItem, now time.Time) error {
	if item.ID == "" {
		return fmt.Errorf("store: queued item of %s: empty id", r.Key)
	}
	var items []QueuedItem
	prev, err := tx.outboxRecord(r.Key)
	switch {
	case err == nil:
		if items, err = QueuedItems(prev); err != nil {
			return err
		}
	case !errors.Is(err, rdv.ErrNotFound):
		return err
	}
	if err := setQueuedItems(&r, append(items, item)); err != nil {
		return err
	}
	return tx.Enqueue(r, now)
}

// CompleteItem removes the delivered item id from the head of the FIFO of
// key. It is a no-op when the record is gone or id is no longer its head
// (already completed): an item is never removed out of order.
func (tx *Tx) CompleteItem(key, id string) error {
	r, err := tx.outboxRecord(key)
	if errors.Is(err, rdv.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	items, err := QueuedItems(r)
	if err != nil {
		return err
	}
	if len(items) == 0 || items[0].ID != id {
		return nil
	}
	items = items[1:]
	if len(items) > 0 {
		r.Gen++
	}
	if err := setQueuedItems(r, items); err != nil {
		return err
	}
	due := r.dueAt()
	return tx.putOutbox(r, &due)
}

func webhookStateKey(endpointID string) string { return "webhook:" + endpointID }

// WebhookState decodes the document name of a webhook endpoint into v, or
// returns an error wrapping rdv.ErrNotFound.
func (tx *ReadTx) WebhookState(endpointID, name string, v any) error {
	return tx.AgentState(webhookStateKey(endpointID), name, v)
}

// PutWebhookState stores the document name of a webhook endpoint.
func (tx *Tx) PutWebhookState(endpointID, name string, v any) error {
	return tx.PutAgentState(webhookStateKey(endpointID), name, v)
}

func webhookDeliveryKey(endpointID string, seq uint64) []byte {
	return joinKey(webhookStateKey(endpointID), "delivery", fmt.Sprintf("%016x", seq))
}

// WebhookDelivery decodes the entry seq of an endpoint's delivery log into
// v, or returns an error wrapping rdv.ErrNotFound.
func (tx *ReadTx) WebhookDelivery(endpointID string, seq uint64, v any) error {
	b := tx.bucket(bucketAgentState).Get(webhookDeliveryKey(endpointID, seq))
	if b == nil {
		return fmt.Errorf("webhook delivery %d: %w", seq, rdv.ErrNotFound)
	}
	return getState(b, v)
}

// PutWebhookDelivery stores the entry seq of an endpoint's delivery log.
func (tx *Tx) PutWebhookDelivery(endpointID string, seq uint64, v any) error {
	b, err := putState(v)
	if err != nil {
		return err
	}
	return tx.bucket(bucketAgentState).Put(webhookDeliveryKey(endpointID, seq), b)
}

// DeleteWebhookDeliveries deletes the entries from to to (excluded) of an
// endpoint's delivery log.
func (tx *Tx) DeleteWebhookDeliveries(endpointID string, from, to uint64) error {
	b := tx.bucket(bucketAgentState)
	for seq := from; seq < to; seq++ {
		if err := b.Delete(webhookDeliveryKey(endpointID, seq)); err != nil {
			return err
		}
	}
	return nil
}

// webhookAttemptPrefix starts the keys of an endpoint's delivery log
// entries, which sort by the time of the attempt.
func webhookAttemptPrefix(endpointID string) []byte {
	return joinKey(webhookStateKey(endpointID), "attempt", "")
}

// PutWebhookAttempt stores an entry of an endpoint's delivery log under
// the time of the attempt and name (unique among the attempts of that
// time). Concurrent deliveries write distinct keys and read none: they
// never conflict over the log.
func (tx *Tx) PutWebhookAttempt(endpointID string, at time.Time, name string, v any) error {
	b, err := putState(v)
	if err != nil {
		return err
	}
	return tx.bucket(bucketAgentState).Put(append(webhookAttemptPrefix(endpointID), timeKey(at, name)...), b)
}

// EachWebhookAttempt calls fn with the entries of an endpoint's delivery
// log, newest first, until fn returns false.
func (tx *ReadTx) EachWebhookAttempt(endpointID string, fn func(decode func(v any) error) (more bool, err error)) error {
	_, err := tx.eachWebhookAttempt(endpointID, fn)
	return err
}

// eachWebhookAttempt is EachWebhookAttempt; it returns the keys it showed.
func (tx *ReadTx) eachWebhookAttempt(endpointID string, fn func(decode func(v any) error) (bool, error)) ([][]byte, error) {
	prefix := webhookAttemptPrefix(endpointID)
	// prefix ends with 0x00: past is the first key after all of them.
	past := append(bytes.Clone(prefix[:len(prefix)-1]), 1)
	c := tx.bucket(bucketAgentState).Cursor()
	var k, v []byte
	if k, _ = c.Seek(past); k == nil {
		k, v = c.Last()
	} else {
		k, v = c.Prev()
	}
	var keys [][]byte
	for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
		keys = append(keys, bytes.Clone(k))
		val := v
		more, err := fn(func(dst any) error { return getState(val, dst) })
		if err != nil || !more {
			return keys, err
		}
	}
	return keys, nil
}

// TrimWebhookAttempts deletes the entries of an endpoint's delivery log
// but the newest keep, calling gone with each of them first, newest first,
// and returns how many it kept.
func (tx *Tx) TrimWebhookAttempts(endpointID string, keep int, gone func(decode func(v any) error) error) (int, error) {
	n := 0
	keys, err := tx.eachWebhookAttempt(endpointID, func(decode func(any) error) (bool, error) {
		n++
		if n <= keep {
			return true, nil
		}
		return true, gone(decode)
	})
	if err != nil {
		return 0, err
	}
	b := tx.bucket(bucketAgentState)
	kept := min(keep, len(keys))
	for _, k := range keys[kept:] {
		if err := b.Delete(k); err != nil {
			return 0, err
		}
	}
	return kept, nil
}
