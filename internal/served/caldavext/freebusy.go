package caldavext

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/emersion/go-ical"
	"github.com/emersion/go-webdav/caldav"
)

// utcFormat is the form of time-range bounds (RFC 4791 §9.9) and of
// FREEBUSY periods (RFC 5545 §3.8.2.6: UTC).
const utcFormat = "20060102T150405Z"

// freeBusy answers a CALDAV:free-busy-query report (RFC 4791 §7.10) with
// a VFREEBUSY of the busy time of the collection's events in the range.
func (h *Handler) freeBusy(w http.ResponseWriter, r *http.Request, req *element) {
	tr := req.child(nsCalDAV, "time-range")
	start, end, ok := timeRange(tr)
	if !ok {
		http.Error(w, "free-busy-query : time-range avec start et end requis (RFC 4791 §7.10).", http.StatusBadRequest)
		return
	}
	// RFC 4791 §6.1.1: CALDAV:read-free-busy, which DAV:read aggregates.
	if !h.reportOnCalendar(w, r, PrivilegeReadFreeBusy, PrivilegeRead) {
		return
	}
	ctx := r.Context()
	objs, err := h.Backend.QueryCalendarObjects(ctx, r.URL.Path, &caldav.CalendarQuery{
		CompRequest: caldav.CalendarCompRequest{Name: ical.CompCalendar, AllProps: true, AllComps: true},
		CompFilter: caldav.CompFilter{Name: ical.CompCalendar, Comps: []caldav.CompFilter{
			{Name: ical.CompEvent, Start: start, End: end}}},
	})
	if err != nil {
		h.writeBackendError(w, r, err)
		return
	}
	now := time.Now
	if h.Now != nil {
		now = h.Now
	}
	cal := freeBusyCalendar(h.ProdID, r.URL.Path, now().UTC(), start, end, busyPeriods(objs, start, end))
	var buf bytes.Buffer
	if err := ical.NewEncoder(&buf).Encode(cal); err != nil {
		h.internal(w, r, "encode a VFREEBUSY", err)
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	w.Write(fold(buf.Bytes()))
}

// timeRange reads a CALDAV:time-range with both bounds, start before end.
func timeRange(tr *element) (start, end time.Time, ok bool) {
	if tr == nil {
		return start, end, false
	}
	s, okStart := tr.attr("start")
	e, okEnd := tr.attr("end")
	if !okStart || !okEnd {
		return start, end, false
	}
	start, errStart := time.Parse(utcFormat, s)
	end, errEnd := time.Parse(utcFormat, e)
	return start, end, errStart == nil && errEnd == nil && end.After(start)
}

// period is a busy interval with its FBTYPE (RFC 5545 §3.2.9).
type period struct {
	fbType     string
	start, end time.Time
}

// busyPeriods applies RFC 4791 §7.10: an event is busy unless it is
// TRANSP:TRANSPARENT or STATUS:CANCELLED, and BUSY-TENTATIVE when
// STATUS:TENTATIVE; periods are cut to the range and merged per type.
func busyPeriods(objs []caldav.CalendarObject, start, end time.Time) []period {
	var all []period
	for _, o := range objs {
		if o.Data == nil {
			continue
		}
		for _, ev := range o.Data.Events() {
			transp, _ := ev.Props.Text(ical.PropTransparency)
			status, _ := ev.Props.Text(ical.PropStatus)
			if strings.EqualFold(transp, "TRANSPARENT") || strings.EqualFold(status, "CANCELLED") {
				continue
			}
			fbType := "BUSY"
			if strings.EqualFold(status, "TENTATIVE") {
				fbType = "BUSY-TENTATIVE"
			}
			evStart, err1 := ev.DateTimeStart(time.UTC)
			evEnd, err2 := ev.DateTimeEnd(time.UTC)
			if err1 != nil || err2 != nil {
				continue
			}
			evStart, evEnd = maxTime(evStart, start), minTime(evEnd, end)
			if evEnd.After(evStart) {
				all = append(all, period{fbType, evStart.UTC(), evEnd.UTC()})
			}
		}
	}
	slices.SortFunc(all, func(a, b period) int {
		return cmp.Or(strings.Compare(a.fbType, b.fbType), a.start.Compare(b.start))
	})
	var merged []period
	for _, p := range all {
		if n := len(merged); n > 0 && merged[n-1].fbType == p.fbType && !p.start.After(merged[n-1].end) {
			merged[n-1].end = maxTime(merged[n-1].end, p.end)
			continue
		}
		merged = append(merged, p)
	}
	slices.SortStableFunc(merged, func(a, b period) int { return a.start.Compare(b.start) })
	return merged
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// freeBusyCalendar is the VCALENDAR answering a free-busy-query: one
// VFREEBUSY spanning the range, one FREEBUSY property per period, as in
// RFC 4791 §7.10's example (Python's icalendar cannot read a list of
// periods in one property). Its UID,
// required by RFC 5545 §3.6.4, is the same for the same question.
func freeBusyCalendar(prodID, path string, now, start, end time.Time, periods []period) *ical.Calendar {
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, cmp.Or(prodID, "-//caldavext//free-busy//EN"))
	fb := ical.NewComponent(ical.CompFreeBusy)
	sum := sha256.Sum256([]byte(path + "\x00" + start.Format(utcFormat) + "\x00" + end.Format(utcFormat)))
	fb.Props.SetText(ical.PropUID, hex.EncodeToString(sum[:16]))
	fb.Props.SetDateTime(ical.PropDateTimeStamp, now)
	fb.Props.SetDateTime(ical.PropDateTimeStart, start)
	fb.Props.SetDateTime(ical.PropDateTimeEnd, end)
	for _, p := range periods {
		prop := ical.NewProp(ical.PropFreeBusy)
		prop.Value = p.start.Format(utcFormat) + "/" + p.end.Format(utcFormat)
		prop.Params.Set(ical.ParamFreeBusyType, p.fbType)
		fb.Props.Add(prop)
	}
	cal.Children = append(cal.Children, fb)
	return cal
}
