package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"
)

// Receipt is the trace of one notification delivery attempt (docs/design.md §7:
// every message leaves a receipt). It names the kind of recipient, never
// its address or the message body.
type Receipt struct {
	RDVID     string    `json:"rdv_id"`
	Channel   string    `json:"channel"`            // email | sms
	Transport string    `json:"transport"`          // smtp | spool | http
	Event     string    `json:"event"`              // created | moved | cancelled | reminder
	Recipient string    `json:"recipient"`          // usager | prescripteur | agent
	AgentID   string    `json:"agent_id,omitempty"` // when Recipient is agent
	MessageID string    `json:"message_id"`         // the same on every attempt of one message
	Attempt   int       `json:"attempt"`            // 1 for the first attempt
	Result    string    `json:"result"`             // ok | failed | skipped
	Error     string    `json:"error,omitempty"`    // why it failed or was skipped
	At        time.Time `json:"at"`
	// Anonymised is set by the retention job, which empties Error and
	// AgentID once the receipt is older than retention.receipts.
	Anonymised bool `json:"anonymised,omitempty"`
}

type receiptV1 struct {
	V int `json:"v"`
	Receipt
}

// AddReceipt records r under its RDV, after the receipts already there.
func (tx *Tx) AddReceipt(r Receipt) error {
	if r.RDVID == "" {
		return fmt.Errorf("store: add receipt: empty rdv id")
	}
	r.At = r.At.UTC()
	b := tx.bucket(bucketReceipts)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("store: receipts: %w", err)
	}
	k := append(joinKey(r.RDVID, ""), timeKey(r.At, "")...)
	k = binary.BigEndian.AppendUint64(k, seq)
	val, err := json.Marshal(receiptV1{V: recordV1, Receipt: r})
	if err != nil {
		return fmt.Errorf("store: encode receipt: %w", err)
	}
	if err := b.Put(k, val); err != nil {
		return fmt.Errorf("store: receipts: %w", err)
	}
	return nil
}

// Receipts returns the receipts of an RDV, oldest first (empty, not an
// error, when there are none).
func (tx *ReadTx) Receipts(rdvID string) ([]Receipt, error) {
	out := []Receipt{}
	prefix := joinKey(rdvID, "")
	c := tx.bucket(bucketReceipts).Cursor()
	for k, v := c.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
		var r receiptV1
		if err := json.Unmarshal(v, &r); err != nil {
			return nil, fmt.Errorf("store: receipts of rdv %s: decode: %w", rdvID, err)
		}
		if r.V != recordV1 {
			return nil, fmt.Errorf("store: receipts of rdv %s: record version %d, want %d", rdvID, r.V, recordV1)
		}
		out = append(out, r.Receipt)
	}
	return out, nil
}

// EachReceipt calls fn with every receipt, by RDV (or refusal) id then
// time.
func (tx *ReadTx) EachReceipt(fn func(Receipt) error) error {
	return tx.bucket(bucketReceipts).ForEach(func(_, v []byte) error {
		var r receiptV1
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("store: receipts: decode: %w", err)
		}
		return fn(r.Receipt)
	})
}
