package caldav

import (
	"bufio"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/emersion/go-ical"

	"rdvsync/internal/freetext"
)

// ProdID is the PRODID of every calendar rdvsync writes.
const ProdID = "-//rdvsync//RDV//FR"

// iTIP methods (RFC 5546) of the .ics attached to emails.
const (
	MethodRequest = "REQUEST"
	MethodCancel  = "CANCEL"
)

// Calendar returns the iCalendar object of the event: a VCALENDAR with one
// VEVENT whose times are in UTC.
//
// method is empty for objects stored in a calendar collection: RFC 4791
// §4.1 says they "MUST NOT specify the iCalendar METHOD property". Emails
// pass MethodRequest or MethodCancel. The event never has ATTENDEE or
// ORGANIZER: a CalDAV server that supports scheduling (RFC 6638) would
// otherwise send invitations on our behalf.
func (e Event) Calendar(method string) *ical.Calendar {
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, ProdID)
	if method != "" {
		cal.Props.SetText(ical.PropMethod, method)
	}

	ev := ical.NewEvent()
	ev.Props.SetText(ical.PropUID, e.UID)
	stamp := e.Stamp
	if stamp.IsZero() {
		// DTSTAMP is required; an event built without one was revised now.
		stamp = time.Now()
	}
	ev.Props.SetDateTime(ical.PropDateTimeStamp, stamp.UTC())
	seq := ical.NewProp(ical.PropSequence)
	seq.Value = strconv.Itoa(e.Sequence)
	ev.Props.Set(seq)
	ev.Props.SetDateTime(ical.PropDateTimeStart, e.Start.UTC())
	ev.Props.SetDateTime(ical.PropDateTimeEnd, e.End.UTC())
	setText(ev.Props, ical.PropSummary, e.Summary)
	if e.Location != "" {
		setText(ev.Props, ical.PropLocation, e.Location)
	}
	if e.Description != "" {
		setText(ev.Props, ical.PropDescription, e.Description)
	}
	if e.URL != "" {
		if u, err := url.Parse(e.URL); err == nil {
			ev.Props.SetURI(ical.PropURL, u)
		}
	}
	if e.Cancelled {
		ev.SetStatus(ical.EventCancelled)
	} else {
		ev.SetStatus(ical.EventConfirmed)
	}
	ev.Props.SetText(ical.PropTransparency, "OPAQUE")
	cal.Children = append(cal.Children, ev.Component)
	return cal
}

// setText sets a TEXT property from data that may not have come through
// the edge's normalisation (stored by an older rdvsync, or from the
// configuration): go-ical refuses a CR in a value and RFC 5545 §3.3.11
// excludes control characters but TAB from TEXT, so a CR becomes a line
// break and other controls are dropped rather than failing the whole
// calendar.
func setText(props ical.Props, name, value string) {
	props.SetText(name, freetext.Printable(value, true))
}

// Encode writes cal with go-ical's encoder, folding content lines longer
// than 75 octets as RFC 5545 §3.1 asks (go-ical does not fold), without
// ever splitting a UTF-8 sequence.
func Encode(w io.Writer, cal *ical.Calendar) error {
	bw := bufio.NewWriter(w)
	f := &folder{w: bw}
	if err := ical.NewEncoder(f).Encode(cal); err != nil {
		return fmt.Errorf("encode iCalendar: %w", err)
	}
	if err := f.flush(); err != nil {
		return err
	}
	return bw.Flush()
}

// maxLineOctets is the longest content line RFC 5545 §3.1 allows, CRLF
// excluded.
const maxLineOctets = 75

// folder folds the CRLF-terminated content lines written to it.
type folder struct {
	w    *bufio.Writer
	line []byte
}

func (f *folder) Write(p []byte) (int, error) {
	for i, b := range p {
		f.line = append(f.line, b)
		if b == '\n' {
			if err := f.flush(); err != nil {
				return i, err
			}
		}
	}
	return len(p), nil
}

// flush writes the pending line: the first chunk holds up to 75 octets,
// each continuation a space plus up to 74.
func (f *folder) flush() error {
	line := f.line
	f.line = f.line[:0]
	eol := ""
	if n := len(line); n >= 2 && line[n-2] == '\r' && line[n-1] == '\n' {
		line, eol = line[:n-2], "\r\n"
	}
	limit := maxLineOctets
	for len(line) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(line[cut]) {
			cut--
		}
		f.w.Write(line[:cut])
		f.w.WriteString("\r\n ")
		line = line[cut:]
		limit = maxLineOctets - 1
	}
	f.w.Write(line)
	_, err := f.w.WriteString(eol)
	return err
}
