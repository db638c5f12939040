package store

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"
)

// Tickets are the short-lived random ids the booking pages hand to a
// browser or send by email (agent sessions, sign-in links, OpenID
// Connect sign-ins under way), each standing for a small value. They are
// kept here, not in the process, so that every replica on one store
// accepts them and a restart signs nobody out. A ticket is stored under
// the SHA-256 of its id: a copy of the store (a backup) holds no id that
// could be replayed as a live session or link.
//
//	tickets        <kind>\x00<sha256 id>            → <t expires><value>
//	ticket_expiry  <kind>\x00<t expires><sha256 id> → ·
//
// ticket_expiry lets LiveTickets count one kind's live tickets from now
// on, and PurgeTickets find the expired ones, with one Seek each.

// ticketKeys returns the key of the ticket id of kind in tickets and the
// prefix of its kind in ticket_expiry.
func ticketKeys(kind, id string) (key, kindPrefix []byte, err error) {
	if kind == "" || strings.IndexByte(kind, 0) >= 0 {
		return nil, nil, fmt.Errorf("store: ticket kind %q: empty or contains NUL", kind)
	}
	sum := sha256.Sum256([]byte(id))
	kindPrefix = joinKey(kind, "")
	return append(bytes.Clone(kindPrefix), sum[:]...), kindPrefix, nil
}

// expiryKey is the ticket_expiry entry of the ticket whose tickets key is
// key and which expires at expires.
func expiryKey(kindPrefix, key []byte, expires time.Time) []byte {
	return append(append(bytes.Clone(kindPrefix), timeKey(expires, "")...), key[len(kindPrefix):]...)
}

// PutTicket stores value under the ticket id of kind until expires,
// replacing a ticket of that id.
func (tx *Tx) PutTicket(kind, id string, value []byte, expires time.Time) error {
	key, prefix, err := ticketKeys(kind, id)
	if err != nil {
		return err
	}
	if err := tx.deleteTicket(key, prefix); err != nil {
		return err
	}
	v := append(timeKey(expires, ""), value...)
	if err := tx.bucket(bucketTickets).Put(key, v); err != nil {
		return fmt.Errorf("store: ticket of kind %s: %w", kind, err)
	}
	if err := tx.bucket(bucketTicketExpiry).Put(expiryKey(prefix, key, expires), nil); err != nil {
		return fmt.Errorf("store: %s: %w", bucketTicketExpiry, err)
	}
	return nil
}

// Ticket returns the value of the ticket id of kind if it is live at now
// (now is before its expiry).
func (tx *ReadTx) Ticket(kind, id string, now time.Time) ([]byte, bool) {
	key, _, err := ticketKeys(kind, id)
	if err != nil {
		return nil, false
	}
	v := tx.bucket(bucketTickets).Get(key)
	if len(v) < timeKeyLen || !now.Before(keyTime(v)) {
		return nil, false
	}
	return bytes.Clone(v[timeKeyLen:]), true
}

// TakeTicket returns the value of the ticket id of kind if it is live at
// now, and deletes the ticket either way: a ticket is used once. Two
// transactions taking one ticket are serialised by the store: one gets
// it, the other finds it gone.
func (tx *Tx) TakeTicket(kind, id string, now time.Time) ([]byte, bool, error) {
	v, ok := tx.Ticket(kind, id, now)
	if err := tx.DeleteTicket(kind, id); err != nil {
		return nil, false, err
	}
	return v, ok, nil
}

// DeleteTicket deletes the ticket id of kind, if any.
func (tx *Tx) DeleteTicket(kind, id string) error {
	key, prefix, err := ticketKeys(kind, id)
	if err != nil {
		return err
	}
	return tx.deleteTicket(key, prefix)
}

func (tx *Tx) deleteTicket(key, kindPrefix []byte) error {
	tickets := tx.bucket(bucketTickets)
	v := tickets.Get(key)
	if v == nil {
		return nil
	}
	if len(v) >= timeKeyLen {
		if err := tx.bucket(bucketTicketExpiry).Delete(expiryKey(kindPrefix, key, keyTime(v))); err != nil {
			return fmt.Errorf("store: %s: %w", bucketTicketExpiry, err)
		}
	}
	if err := tickets.Delete(key); err != nil {
		return fmt.Errorf("store: %s: %w", bucketTickets, err)
	}
	return nil
}

// LiveTickets counts the tickets of kind live at now, up to limit (a
// bound on tickets waiting costs no more than limit keys read).
func (tx *ReadTx) LiveTickets(kind string, now time.Time, limit int) int {
	_, prefix, err := ticketKeys(kind, "")
	if err != nil {
		return 0
	}
	// Live means expires after now: seek past the ticket expiring at now.
	n := 0
	c := tx.bucket(bucketTicketExpiry).Cursor()
	for k, _ := c.Seek(append(bytes.Clone(prefix), timeKey(now.Add(time.Nanosecond), "")...)); k != nil && bytes.HasPrefix(k, prefix) && n < limit; k, _ = c.Next() {
		n++
	}
	return n
}

// PurgeTickets deletes the tickets expired at now, of every kind, and
// returns how many it deleted.
func (tx *Tx) PurgeTickets(now time.Time) (int, error) {
	expiry := tx.bucket(bucketTicketExpiry)
	// Collect first: deleting under a cursor may skip the next key.
	var old [][]byte
	c := expiry.Cursor()
	k, _ := c.First()
	for k != nil {
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			return 0, fmt.Errorf("store: %s: a key without a kind", bucketTicketExpiry)
		}
		kind := k[:i+1]
		for ; k != nil && bytes.HasPrefix(k, kind); k, _ = c.Next() {
			if len(k) < len(kind)+timeKeyLen || now.Before(keyTime(k[len(kind):])) {
				break
			}
			old = append(old, bytes.Clone(k))
		}
		// The next kind: past every key of this one.
		k, _ = c.Seek(append(bytes.Clone(kind[:i]), 1))
	}
	tickets := tx.bucket(bucketTickets)
	for _, k := range old {
		i := bytes.IndexByte(k, 0) + 1
		if err := tickets.Delete(append(bytes.Clone(k[:i]), k[i+timeKeyLen:]...)); err != nil {
			return 0, fmt.Errorf("store: purge tickets: %w", err)
		}
		if err := expiry.Delete(k); err != nil {
			return 0, fmt.Errorf("store: purge tickets: %w", err)
		}
	}
	return len(old), nil
}

// createTicketBuckets is migration 8.
func createTicketBuckets(tx KVTx) error {
	for _, name := range [][]byte{bucketTickets, bucketTicketExpiry} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}
