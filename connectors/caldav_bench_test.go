package connectors_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"rdvsync/caldav"
	"rdvsync/caldav/caldavtest"
	"rdvsync/connectors"
)

// davBenchEvents is how many RDVs one benchmark operation pushes.
const davBenchEvents = 1000

// BenchmarkCalDAVPush pushes 1 000 new RDVs into an empty Radicale
// calendar through the connector, and the same 1 000 bodies with plain
// net/http PUTs (If-None-Match: *, Basic auth, ETag read), against the
// same server in the same run: the difference is what the connector
// costs over the wire protocol. One op is 1 000 events; events/s and
// ns/event are reported for each.
//
//	go test -run '^$' -bench CalDAVPush -benchtime 1x ./connectors/
func BenchmarkCalDAVPush(b *testing.B) {
	srv := caldavtest.StartRadicale(b)
	cat := davCatalog(b)
	events := make([]caldav.Event, davBenchEvents)
	bodies := make([][]byte, davBenchEvents)
	for i := range events {
		r := davRDV(fmt.Sprintf("00000000-0000-4000-8000-%012d", i))
		r.StartsAt = r.StartsAt.Add(time.Duration(i) * time.Hour)
		r.EndsAt = r.EndsAt.Add(time.Duration(i) * time.Hour)
		events[i] = caldav.NewEvent(cat, r, nil, caldav.DetailsMinimal)
		var buf bytes.Buffer
		if err := caldav.Encode(&buf, events[i].Calendar("")); err != nil {
			b.Fatal(err)
		}
		bodies[i] = buf.Bytes()
	}
	ctx := context.Background()
	calendars := 0
	// run times push over a fresh calendar per op, so both variants
	// create into an empty collection.
	run := func(b *testing.B, push func(b *testing.B, calendarURL string)) float64 {
		for range b.N {
			b.StopTimer()
			calendars++
			url := srv.MakeCalendar(b, fmt.Sprintf("bench-%d", calendars))
			b.StartTimer()
			push(b, url)
		}
		perSecond := float64(b.N*davBenchEvents) / b.Elapsed().Seconds()
		b.ReportMetric(perSecond, "events/s")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*davBenchEvents), "ns/event")
		return perSecond
	}

	var viaConnector, viaHTTP float64
	b.Run("connector", func(b *testing.B) {
		b.ReportAllocs()
		viaConnector = run(b, func(b *testing.B, url string) {
			conn, err := connectors.NewCalDAV(connectors.CalDAVConfig{URL: url, Username: srv.Username, Password: srv.Password})
			if err != nil {
				b.Fatal(err)
			}
			for _, ev := range events {
				if st, err := conn.Put(ctx, ev, connectors.State{}); err != nil || st.ETag == "" {
					b.Fatalf("push %s: %+v, %v", ev.UID, st, err)
				}
			}
		})
	})
	b.Run("net_http", func(b *testing.B) {
		b.ReportAllocs()
		viaHTTP = run(b, func(b *testing.B, url string) {
			for i, body := range bodies {
				req, err := http.NewRequestWithContext(ctx, http.MethodPut, url+events[i].UID+".ics", bytes.NewReader(body))
				if err != nil {
					b.Fatal(err)
				}
				req.SetBasicAuth(srv.Username, srv.Password)
				req.Header.Set("Content-Type", "text/calendar; charset=utf-8")
				req.Header.Set("If-None-Match", "*")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusCreated || resp.Header.Get("ETag") == "" {
					b.Fatalf("PUT %s: %s, ETag %q", req.URL.Path, resp.Status, resp.Header.Get("ETag"))
				}
			}
		})
	})
	if viaConnector > 0 && viaHTTP > 0 {
		b.Logf("Radicale, %d new events: connector %.0f events/s, net/http %.0f events/s (connector at %.1f%% of plain PUTs)",
			davBenchEvents, viaConnector, viaHTTP, 100*viaConnector/viaHTTP)
	}
}
