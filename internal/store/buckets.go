package store

import (
	"encoding/binary"
	"math"
	"time"
)

// Bucket names (see the tree in doc.go).
var (
	bucketMeta              = []byte("meta")
	bucketRDVs              = []byte("rdvs")
	bucketUsagers           = []byte("usagers")
	bucketUsagerEmail       = []byte("usager_email")
	bucketUsagerNamePhone   = []byte("usager_name_phone")
	bucketUsagerSearch      = []byte("usager_search")
	bucketAgentBusy         = []byte("agent_busy")
	bucketOrgRDVs           = []byte("org_rdvs")
	bucketIdempotency       = []byte("idempotency")
	bucketIdempotencyByTime = []byte("idempotency_by_time")
	bucketOutbox            = []byte("outbox")
	bucketOutboxDue         = []byte("outbox_due")
	bucketCalendarSync      = []byte("calendar_sync")
	bucketAgentState        = []byte("agent_state")
	bucketUsagerOrgs        = []byte("usager_orgs")
	bucketReminders         = []byte("reminders")
	bucketReminderByRDV     = []byte("reminder_by_rdv")
	bucketReceipts          = []byte("receipts")
	bucketRdvsIDs           = []byte("rdvs_ids")
	bucketUsagerRDVs        = []byte("usager_rdvs")
	bucketErasures          = []byte("erasures")
	bucketTickets           = []byte("tickets")
	bucketTicketExpiry      = []byte("ticket_expiry")
)

// Keys of the meta bucket.
var (
	keySchemaVersion  = []byte("schema_version")
	keyMaxRDVDuration = []byte("max_rdv_duration")
)

// timeKeyLen is the length of the time prefix of index keys.
const timeKeyLen = 8

var (
	minKeyTime = time.Unix(0, 0)
	maxKeyTime = time.Unix(0, math.MaxInt64)
)

// keyNanos is t in unix nanoseconds, clamped to [1970, 2262] so that open
// bounds such as time.Time{} still seek to the right place.
func keyNanos(t time.Time) uint64 {
	switch {
	case t.Before(minKeyTime):
		return 0
	case t.After(maxKeyTime):
		return math.MaxInt64
	}
	return uint64(t.UnixNano())
}

// timeKey returns the 8-byte big-endian time prefix followed by suffix.
func timeKey(t time.Time, suffix string) []byte {
	k := make([]byte, timeKeyLen, timeKeyLen+len(suffix))
	binary.BigEndian.PutUint64(k, keyNanos(t))
	return append(k, suffix...)
}

// keyTime decodes the time prefix of an index key (or an 8-byte value).
func keyTime(b []byte) time.Time {
	return time.Unix(0, int64(binary.BigEndian.Uint64(b[:timeKeyLen]))).UTC()
}

func uint64Bytes(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

// joinKey joins parts with NUL bytes, which normalised names, emails, phones,
// ids and scopes never contain.
func joinKey(parts ...string) []byte {
	n := len(parts) - 1
	for _, p := range parts {
		n += len(p)
	}
	k := make([]byte, 0, n)
	for i, p := range parts {
		if i > 0 {
			k = append(k, 0)
		}
		k = append(k, p...)
	}
	return k
}
