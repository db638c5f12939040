package caldav

import (
	"bytes"
	"context"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/emersion/go-ical"
)

// The calendar-query REPORT is built here rather than with go-webdav's
// caldav.Client.QueryCalendar, which (v0.6.0) drops prop-filters without
// a word, cannot ask for the whole object (Xandikos 0.2 answers its
// <allcomp/> with empty components) and fails on weak ETags.

// calendarQuery is the body of a calendar-query REPORT (RFC 4791 §9.5)
// asking for the ETag and the whole calendar data of the objects with a
// VEVENT matching the filter.
type calendarQuery struct {
	XMLName xml.Name `xml:"urn:ietf:params:xml:ns:caldav calendar-query"`
	Prop    struct {
		GetETag      struct{} `xml:"DAV: getetag"`
		CalendarData struct{} `xml:"urn:ietf:params:xml:ns:caldav calendar-data"`
	} `xml:"DAV: prop"`
	Filter struct {
		Calendar struct {
			Name  string      `xml:"name,attr"`
			Event eventFilter `xml:"urn:ietf:params:xml:ns:caldav comp-filter"`
		} `xml:"urn:ietf:params:xml:ns:caldav comp-filter"`
	} `xml:"urn:ietf:params:xml:ns:caldav filter"`
}

// eventFilter is the VEVENT comp-filter (RFC 4791 §9.7.1).
type eventFilter struct {
	Name      string       `xml:"name,attr"`
	TimeRange *timeRange   `xml:"urn:ietf:params:xml:ns:caldav time-range,omitempty"`
	Props     []propFilter `xml:"urn:ietf:params:xml:ns:caldav prop-filter,omitempty"`
}

// timeRange is CALDAV:time-range (RFC 4791 §9.9), in UTC.
type timeRange struct {
	Start string `xml:"start,attr"`
	End   string `xml:"end,attr"`
}

// propFilter is an empty prop-filter: "the property is defined".
type propFilter struct {
	Name string `xml:"name,attr"`
}

func newTimeRange(from, to time.Time) *timeRange {
	const utc = "20060102T150405Z"
	return &timeRange{Start: from.UTC().Format(utc), End: to.UTC().Format(utc)}
}

// multistatus is the part of a 207 response (RFC 4918 §14.16) we read.
type multistatus struct {
	Responses []struct {
		Href     string `xml:"DAV: href"`
		Propstat []struct {
			Status string `xml:"DAV: status"`
			Prop   struct {
				GetETag      string `xml:"DAV: getetag"`
				CalendarData string `xml:"urn:ietf:params:xml:ns:caldav calendar-data"`
			} `xml:"DAV: prop"`
		} `xml:"DAV: propstat"`
	} `xml:"DAV: response"`
}

// query runs a calendar-query REPORT on the collection and decodes every
// object it returns. An object that is not valid iCalendar fails the
// whole query, naming it: ignoring it would hide a busy time.
func (c *Client) query(ctx context.Context, event eventFilter) ([]Object, error) {
	var q calendarQuery
	q.Filter.Calendar.Name = ical.CompCalendar
	event.Name = ical.CompEvent
	q.Filter.Calendar.Event = event
	body := bytes.NewBufferString(xml.Header)
	if err := xml.NewEncoder(body).Encode(&q); err != nil {
		return nil, fmt.Errorf("caldav: encode calendar-query: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, "REPORT", c.calendar.String(), body)
	if err != nil {
		return nil, fmt.Errorf("caldav: %w", err)
	}
	req.Header.Set("Content-Type", "application/xml; charset=utf-8")
	req.Header.Set("Depth", "1")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer closeBody(resp)
	where := "REPORT " + redact(req.URL)
	if resp.StatusCode != http.StatusMultiStatus {
		return nil, fmt.Errorf("caldav: %s: status %d, want 207 Multi-Status", where, resp.StatusCode)
	}
	var ms multistatus
	if err := xml.NewDecoder(resp.Body).Decode(&ms); err != nil {
		return nil, fmt.Errorf("caldav: %s: decode multistatus: %w", where, err)
	}
	objs := make([]Object, 0, len(ms.Responses))
	for _, r := range ms.Responses {
		href, err := url.Parse(strings.TrimSpace(r.Href))
		if err != nil {
			return nil, fmt.Errorf("caldav: %s: href %q: %w", where, r.Href, err)
		}
		for _, ps := range r.Propstat {
			if !strings.Contains(ps.Status, " 200 ") || ps.Prop.CalendarData == "" {
				continue
			}
			cal, err := ical.NewDecoder(strings.NewReader(ps.Prop.CalendarData)).Decode()
			if err != nil {
				return nil, fmt.Errorf("caldav: %s: object %s: %w", where, href.Path, err)
			}
			objs = append(objs, Object{
				Name:     href.Path[strings.LastIndex(href.Path, "/")+1:],
				Href:     href.Path,
				ETag:     strings.TrimSpace(ps.Prop.GetETag),
				Calendar: cal,
			})
		}
	}
	return objs, nil
}
