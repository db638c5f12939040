package store

import (
	"fmt"

	"rdvsync/internal/freetext"
)

// normalizeLineBreaks is migration 6. Before the edge normalised free text
// (package freetext), a context typed in the booking page kept the CRLF
// browsers send, and a CR is what the iCalendar encoder refuses: such an
// RDV broke its agent's feed, CalDAV collection, calendar push and emails.
// The multi-line fields of every stored RDV get LF line breaks, as
// booking now writes them.
func normalizeLineBreaks(tx KVTx) error {
	b := tx.Bucket(bucketRDVs)
	changed := map[string][]byte{}
	err := b.ForEach(func(k, v []byte) error {
		r, err := decodeRDV(k, v)
		if err != nil {
			return fmt.Errorf("rdv %s: %w", k, err)
		}
		ctx, reason := freetext.Multiline(r.Context), freetext.Multiline(r.CancelReason)
		if ctx == r.Context && reason == r.CancelReason {
			return nil
		}
		r.Context, r.CancelReason = ctx, reason
		nv, err := encodeRDV(r)
		if err != nil {
			return fmt.Errorf("rdv %s: %w", k, err)
		}
		changed[string(k)] = nv
		return nil
	})
	if err != nil {
		return err
	}
	// bbolt forbids writing a bucket while iterating it.
	for k, v := range changed {
		if err := b.Put([]byte(k), v); err != nil {
			return err
		}
	}
	return nil
}
