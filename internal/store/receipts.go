package store

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
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

// receiptV1 is format 1 of a receipt, JSON.
type receiptV1 struct {
	V int `json:"v"`
	Receipt
}

// receiptV2 is format 2 of a receipt (cbor.go). Its key holds the RDV id
// and the time, which the value repeats only when the key cannot (an
// instant before 1970).
type receiptV2 struct {
	Channel   word   `cbor:"1,keyasint,omitempty"`
	Transport word   `cbor:"2,keyasint,omitempty"`
	Event     word   `cbor:"3,keyasint,omitempty"`
	Recipient word   `cbor:"4,keyasint,omitempty"`
	AgentID   string `cbor:"5,keyasint,omitempty"`
	// MessageAfterRDV is the message id after "<rdv id>.", the form
	// notify gives it; MessageID is any other message id.
	MessageAfterRDV *string `cbor:"6,keyasint,omitempty"`
	MessageID       string  `cbor:"7,keyasint,omitempty"`
	Attempt         int     `cbor:"8,keyasint,omitempty"`
	Result          word    `cbor:"9,keyasint,omitempty"`
	Error           string  `cbor:"10,keyasint,omitempty"`
	At              *stamp  `cbor:"11,keyasint,omitempty"`
	Anonymised      bool    `cbor:"12,keyasint,omitempty"`
}

// receiptKeyLen is the length of a receipt key after its RDV id:
// \x00, <t at>, 8 bytes of sequence.
const receiptKeyLen = 1 + timeKeyLen + 8

// receiptPrefix starts the keys of the receipts of an RDV: its id packed
// (idKey) and \x00.
func receiptPrefix(rdvID string) []byte { return append(idKey(rdvID), 0) }

func receiptKey(r Receipt, seq uint64) []byte {
	k := append(receiptPrefix(r.RDVID), timeKey(r.At, "")...)
	return binary.BigEndian.AppendUint64(k, seq)
}

// splitReceiptKey returns the RDV id and the time of a receipt key.
func splitReceiptKey(k []byte) (rdvID string, at time.Time, err error) {
	n := len(k) - receiptKeyLen
	if n < 0 || k[n] != 0 {
		return "", time.Time{}, fmt.Errorf("receipt key of %d bytes", len(k))
	}
	return keyID(k[:n]), keyTime(k[n+1:]), nil
}

// encodeReceipt returns the stored form of r (format 2) for its key k.
func encodeReceipt(k []byte, r Receipt) ([]byte, error) {
	_, keyAt, err := splitReceiptKey(k)
	if err != nil {
		return nil, err
	}
	v := receiptV2{
		Channel: word(r.Channel), Transport: word(r.Transport), Event: word(r.Event), Recipient: word(r.Recipient),
		AgentID: r.AgentID, Attempt: r.Attempt, Result: word(r.Result), Error: r.Error, Anonymised: r.Anonymised,
	}
	if after, ok := strings.CutPrefix(r.MessageID, r.RDVID+"."); ok {
		v.MessageAfterRDV = &after
	} else {
		v.MessageID = r.MessageID
	}
	if !keyAt.Equal(r.At) {
		v.At = stampPtr(&r.At)
	}
	return marshalV2(&v)
}

// decodeReceipt reads the receipt stored under k, in format 2 or 1.
func decodeReceipt(k, b []byte) (Receipt, error) {
	if isV1(b) {
		var v receiptV1
		if err := json.Unmarshal(b, &v); err != nil {
			return Receipt{}, fmt.Errorf("decode: %w", err)
		}
		if v.V != recordV1 {
			return Receipt{}, fmt.Errorf("record version %d, want %d", v.V, recordV1)
		}
		return v.Receipt, nil
	}
	rdvID, at, err := splitReceiptKey(k)
	if err != nil {
		return Receipt{}, err
	}
	var v receiptV2
	if err := unmarshalV2(b, &v); err != nil {
		return Receipt{}, err
	}
	r := Receipt{
		RDVID: rdvID, Channel: string(v.Channel), Transport: string(v.Transport), Event: string(v.Event),
		Recipient: string(v.Recipient), AgentID: v.AgentID, MessageID: v.MessageID, Attempt: v.Attempt,
		Result: string(v.Result), Error: v.Error, At: at, Anonymised: v.Anonymised,
	}
	if v.MessageAfterRDV != nil {
		r.MessageID = rdvID + "." + *v.MessageAfterRDV
	}
	if v.At != nil {
		r.At = v.At.time()
	}
	return r, nil
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
	k := receiptKey(r, seq)
	val, err := encodeReceipt(k, r)
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
	prefix := receiptPrefix(rdvID)
	c := tx.bucket(bucketReceipts).Cursor()
	for k, v := c.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
		r, err := decodeReceipt(k, v)
		if err != nil {
			return nil, fmt.Errorf("store: receipts of rdv %s: %w", rdvID, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// EachReceipt calls fn with every receipt, by RDV (or refusal) id then
// time.
func (tx *ReadTx) EachReceipt(fn func(Receipt) error) error {
	return tx.bucket(bucketReceipts).ForEach(func(k, v []byte) error {
		r, err := decodeReceipt(k, v)
		if err != nil {
			return fmt.Errorf("store: receipts: %w", err)
		}
		return fn(r)
	})
}
