package httpapi

import (
	"bytes"
	"encoding/json"
	"math"
	"net/http"
	"time"

	"rdvsync/internal/slots"
)

// writeSlots writes the body of GET /api/v1/slots: the bytes writeJSON
// would write for NewSlotsResponse(found), without reflection nor one
// SlotView per slot. A month of "élargir" is thousands of slots, and
// encoding/json took longer over them than the search that found them.
// The body is written in chunks of about slotsChunk bytes rather than
// built whole: a month of a national élargir is 10 MB of JSON.
func writeSlots(w http.ResponseWriter, found []slots.Slot) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	buf := appendSlotsJSON(make([]byte, 0, min(slotsChunk+512, 16+200*len(found))), found, func(b []byte) { w.Write(b) })
	w.Write(buf)
}

const slotsChunk = 32 << 10

// appendSlotsJSON appends {"slots":[…]} and a newline, as SlotsResponse
// encodes with encoding/json and SetEscapeHTML(false). When flush is not
// nil, it is given the bytes so far each time they pass slotsChunk, and
// the returned bytes are the rest.
func appendSlotsJSON(dst []byte, found []slots.Slot, flush func([]byte)) []byte {
	dst = append(dst, `{"slots":[`...)
	var zone zoneCache
	for i, s := range found {
		if i > 0 {
			dst = append(dst, ',')
		}
		if flush != nil && len(dst) >= slotsChunk {
			flush(dst)
			dst = dst[:0]
		}
		loc := s.Motif.Organisation.Location
		dst = append(dst, `{"starts_at":"`...)
		dst = zone.appendRFC3339(dst, s.Start, loc)
		dst = append(dst, `","ends_at":"`...)
		dst = zone.appendRFC3339(dst, s.End, loc)
		dst = append(dst, `","motif_id":`...)
		dst = appendJSONString(dst, s.Motif.ID)
		if s.Lieu != nil && s.Lieu.ID != "" {
			dst = append(dst, `,"lieu_id":`...)
			dst = appendJSONString(dst, s.Lieu.ID)
		}
		dst = append(dst, `,"organisation_id":`...)
		dst = appendJSONString(dst, s.Motif.Organisation.ID)
		if s.Agent != nil && s.Agent.ID != "" {
			dst = append(dst, `,"agent_id":`...)
			dst = appendJSONString(dst, s.Agent.ID)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}\n"...)
}

// appendJSONString appends s as a JSON string. Configuration ids are
// plain ASCII ([A-Za-z0-9_.-]) and are copied; anything else goes through
// encoding/json, so the bytes are always its own.
func appendJSONString(dst []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			var b bytes.Buffer
			enc := json.NewEncoder(&b)
			enc.SetEscapeHTML(false)
			enc.Encode(s)
			return append(dst, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}

// zoneCache remembers the last zone period looked up: the slots of a
// search are sorted by start, and nearly all of them fall in one period
// of one or a few zones, whose lookup costs more than the formatting.
type zoneCache struct {
	loc        *time.Location
	from, till int64 // Unix seconds; till 0: no end
	offset     int64
	// The last local day converted, and its date.
	days     int64
	dayKnown bool
	y, m, d  int
}

// appendRFC3339 appends t in loc as t.In(loc).AppendFormat(dst,
// time.RFC3339) does, for the years 0000–9999.
func (z *zoneCache) appendRFC3339(dst []byte, t time.Time, loc *time.Location) []byte {
	sec := t.Unix()
	// Organisations load their zone each: compare names, not pointers.
	if z.loc == nil || (loc != z.loc && loc.String() != z.loc.String()) || sec < z.from || (z.till != 0 && sec >= z.till) {
		lt := t.In(loc)
		_, off := lt.Zone()
		from, till := lt.ZoneBounds()
		z.loc, z.offset, z.from, z.till = loc, int64(off), math.MinInt64, 0
		if !from.IsZero() {
			z.from = from.Unix()
		}
		if !till.IsZero() {
			z.till = till.Unix()
		}
	}
	local := sec + z.offset
	days, rem := local/86400, local%86400
	if rem < 0 {
		days, rem = days-1, rem+86400
	}
	if days != z.days || !z.dayKnown {
		z.days, z.dayKnown = days, true
		z.y, z.m, z.d = civil(days)
	}
	y, m, d := z.y, z.m, z.d
	if y < 0 || y > 9999 {
		return t.In(loc).AppendFormat(dst, time.RFC3339)
	}
	dst = append4(dst, y)
	dst = append(dst, '-')
	dst = append2(dst, m)
	dst = append(dst, '-')
	dst = append2(dst, d)
	dst = append(dst, 'T')
	dst = append2(dst, int(rem/3600))
	dst = append(dst, ':')
	dst = append2(dst, int(rem/60%60))
	dst = append(dst, ':')
	dst = append2(dst, int(rem%60))
	if z.offset == 0 {
		return append(dst, 'Z')
	}
	off, sign := z.offset/60, byte('+')
	if off < 0 {
		off, sign = -off, '-'
	}
	dst = append(dst, sign)
	dst = append2(dst, int(off/60))
	dst = append(dst, ':')
	return append2(dst, int(off%60))
}

// civil converts days since 1970-01-01 to a proleptic Gregorian date
// (H. Hinnant's days_from_civil, inverted).
func civil(days int64) (y, m, d int) {
	z := days + 719468
	era := z / 146097
	if z < 0 && z%146097 != 0 {
		era--
	}
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = int(doy - (153*mp+2)/5 + 1)
	m = int(mp + 3)
	if m > 12 {
		m -= 12
	}
	y = int(yoe + era*400)
	if m <= 2 {
		y++
	}
	return y, m, d
}

func append2(dst []byte, v int) []byte { return append(dst, byte('0'+v/10), byte('0'+v%10)) }

func append4(dst []byte, v int) []byte {
	return append(dst, byte('0'+v/1000), byte('0'+v/100%10), byte('0'+v/10%10), byte('0'+v%10))
}
