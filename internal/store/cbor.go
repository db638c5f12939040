package store

import (
	"encoding/base64"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"
)

// Stored records of format 2 are one byte, recordV2, followed by a CBOR
// map (RFC 8949) with small integer keys: the record's version is its
// first byte, a key name costs one byte instead of its JSON spelling, and
// times, UUIDs and tokens are stored as numbers and bytes instead of text.
// Format 1 (JSON, "{" first) is still read: the migrations before 9 read
// both formats and write format 2, and migration 9 rewrites what is left.

const recordV2 = 2

var (
	cborEnc = mustEncMode()
	// cborDec refuses a map key it does not know: a record written by a
	// newer rdvsync with a field this one would drop is an error, not a
	// silent loss.
	cborDec = mustDecMode()
)

func mustEncMode() cbor.EncMode {
	m, err := cbor.EncOptions{}.EncMode()
	if err != nil {
		panic(err)
	}
	return m
}

func mustDecMode() cbor.DecMode {
	m, err := cbor.DecOptions{
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return m
}

// marshalV2 encodes v behind the format byte.
func marshalV2(v any) ([]byte, error) {
	b, err := cborEnc.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append([]byte{recordV2}, b...), nil
}

// unmarshalV2 decodes a format 2 record into v.
func unmarshalV2(b []byte, v any) error {
	if len(b) == 0 || b[0] != recordV2 {
		return fmt.Errorf("record format %s, want %d", formatOf(b), recordV2)
	}
	if err := cborDec.Unmarshal(b[1:], v); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// formatOf names the format byte of a record for an error message.
func formatOf(b []byte) string {
	switch {
	case len(b) == 0:
		return "empty"
	case b[0] == '{':
		return "1 (JSON)"
	}
	return fmt.Sprintf("%d", b[0])
}

// isV1 reports whether a stored record is in format 1 (JSON).
func isV1(b []byte) bool { return len(b) > 0 && b[0] == '{' }

// stamp is an instant stored as unix seconds (a CBOR integer), or as
// [seconds, nanoseconds] when it has a fraction of a second: exact, in
// 5 or 11 bytes instead of 30 to 37 of RFC 3339 text.
type stamp time.Time

func stampOf(t time.Time) stamp { return stamp(t.UTC()) }

func (s stamp) time() time.Time { return time.Time(s) }

func (s stamp) MarshalCBOR() ([]byte, error) {
	t := time.Time(s)
	if ns := t.Nanosecond(); ns != 0 {
		return cborEnc.Marshal([2]int64{t.Unix(), int64(ns)})
	}
	return cborEnc.Marshal(t.Unix())
}

func (s *stamp) UnmarshalCBOR(b []byte) error {
	if len(b) > 0 && b[0]>>5 == 4 { // an array
		var a [2]int64
		if err := cborDec.Unmarshal(b, &a); err != nil {
			return err
		}
		if a[1] <= 0 || a[1] >= 1e9 {
			return fmt.Errorf("instant: %d nanoseconds", a[1])
		}
		*s = stamp(time.Unix(a[0], a[1]).UTC())
		return nil
	}
	var sec int64
	if err := cborDec.Unmarshal(b, &sec); err != nil {
		return err
	}
	*s = stamp(time.Unix(sec, 0).UTC())
	return nil
}

func stampPtr(t *time.Time) *stamp {
	if t == nil {
		return nil
	}
	s := stampOf(*t)
	return &s
}

func (s *stamp) timePtr() *time.Time {
	if s == nil {
		return nil
	}
	t := s.time()
	return &t
}

// words are the values of enumerated fields (RDV status, who booked,
// receipt channel, transport, event, recipient, result), stored as their
// index here. Append only: an index, once written, means its word for
// ever. A value not listed is stored as text.
var words = []string{
	"", "unknown", "seen", "noshow", "excused", "revoked",
	"agent", "usager", "prescripteur",
	"email", "sms", "smtp", "spool", "http",
	"created", "moved", "cancelled", "reopened", "reminder", "refused",
	"ok", "failed", "skipped",
}

var wordIndex = func() map[string]uint64 {
	m := make(map[string]uint64, len(words))
	for i, w := range words {
		m[w] = uint64(i)
	}
	return m
}()

// word is a string stored as its index in words when it has one.
type word string

func (w word) MarshalCBOR() ([]byte, error) {
	if i, ok := wordIndex[string(w)]; ok {
		return cborEnc.Marshal(i)
	}
	return cborEnc.Marshal(string(w))
}

func (w *word) UnmarshalCBOR(b []byte) error {
	if len(b) > 0 && b[0]>>5 == 0 { // an unsigned integer
		var i uint64
		if err := cborDec.Unmarshal(b, &i); err != nil {
			return err
		}
		if i >= uint64(len(words)) {
			return fmt.Errorf("word %d unknown to this rdvsync", i)
		}
		*w = word(words[i])
		return nil
	}
	var s string
	if err := cborDec.Unmarshal(b, &s); err != nil {
		return err
	}
	*w = word(s)
	return nil
}

// packUUID returns the 16 bytes of id when it is a UUID in canonical
// form (lower case, hyphens), which is how rdvsync writes the ids it
// makes; other ids (imported, configured) stay text.
func packUUID(id string) ([]byte, bool) {
	u, err := uuid.Parse(id)
	if err != nil || u.String() != id {
		return nil, false
	}
	return u[:], true
}

func unpackUUID(b []byte) (string, error) {
	u, err := uuid.FromBytes(b)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

// packToken returns the bytes of a token in unpadded base64url, the form
// booking gives usagers' link tokens, when it decodes and encodes back to
// the same text.
func packToken(tok string) ([]byte, bool) {
	b, err := base64URL.DecodeString(tok)
	if err != nil || len(b) == 0 || base64URL.EncodeToString(b) != tok {
		return nil, false
	}
	return b, true
}

var base64URL = base64.RawURLEncoding

// packedText stores s as bytes when pack can, else as text: the decoder
// takes whichever field is present.
func packedText(s string, pack func(string) ([]byte, bool)) (packed []byte, text string) {
	if b, ok := pack(s); ok {
		return b, ""
	}
	return nil, s
}

// packedIDMark starts an id packed in a key: UTF-8 text never starts
// with 0xFF, so a key part that does is no text id.
const packedIDMark = 0xFF

// idKey is an RDV id as the keys of org_rdvs, agent_busy, usager_rdvs,
// reminders, reminder_by_rdv and receipts hold it: the mark and the 16
// bytes of a UUID in canonical form, any other id as text. Hex text and bytes sort alike,
// so UUIDs keep their order.
func idKey(id string) []byte {
	if b, ok := packUUID(id); ok {
		return append([]byte{packedIDMark}, b...)
	}
	return []byte(id)
}

// keyID is the id of an idKey.
func keyID(k []byte) string {
	if len(k) == 17 && k[0] == packedIDMark {
		if id, err := unpackUUID(k[1:]); err == nil {
			return id
		}
	}
	return string(k)
}
