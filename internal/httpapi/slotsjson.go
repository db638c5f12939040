package httpapi

import (
	"bytes"
	"encoding/json"
	"net/http"
	"time"

	"rdvsync/internal/slots"
)

// writeSlots writes the body of GET /api/v1/slots: the bytes writeJSON
// would write for NewSlotsResponse(found), without reflection nor one
// SlotView per slot. A month of "élargir" is thousands of slots, and
// encoding/json took longer over them than the search that found them.
func writeSlots(w http.ResponseWriter, found []slots.Slot) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(appendSlotsJSON(make([]byte, 0, 16+200*len(found)), found))
}

// appendSlotsJSON appends {"slots":[…]} and a newline, as SlotsResponse
// encodes with encoding/json and SetEscapeHTML(false).
func appendSlotsJSON(dst []byte, found []slots.Slot) []byte {
	dst = append(dst, `{"slots":[`...)
	for i, s := range found {
		if i > 0 {
			dst = append(dst, ',')
		}
		loc := s.Motif.Organisation.Location
		dst = append(dst, `{"starts_at":"`...)
		dst = s.Start.In(loc).AppendFormat(dst, time.RFC3339)
		dst = append(dst, `","ends_at":"`...)
		dst = s.End.In(loc).AppendFormat(dst, time.RFC3339)
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
