package served

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"rdvsync/internal/rdv"
)

// BenchmarkSyncCollectionPoll is a client's poll of a busy agent's
// calendar: 1 000 RDVs in the window, nothing changed. A sync-collection
// from the current token renders the calendar to compare it with its
// history, as a PROPFIND of every ETag renders it to list them.
func BenchmarkSyncCollectionPoll(b *testing.B) {
	f := newFixture(b, "")
	var rdvs []*rdv.RDV
	base := fixtureRDVs()[0]
	for i := range 1000 {
		r := *base
		r.ID = fmt.Sprintf("b1000000-0000-4000-8000-%012d", i)
		r.StartsAt = time.Date(2026, 12, 2, 8, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Hour)
		r.EndsAt = r.StartsAt.Add(45 * time.Minute)
		rdvs = append(rdvs, &r)
	}
	f.put(b, rdvs...)
	token := f.syncCollection(b, "").token
	for _, bc := range []struct{ name, method, depth, body string }{
		{"sync-collection", "REPORT", "0", syncBody(token)},
		// What a client without sync-collection does at each poll, for
		// comparison.
		{"propfind-etags", "PROPFIND", "1", `<d:propfind xmlns:d="DAV:"><d:prop><d:getetag/></d:prop></d:propfind>`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				resp, _ := f.camilleDAV(b, bc.method, calendarPath(camille), bc.depth, bc.body)
				if resp.StatusCode != http.StatusMultiStatus {
					b.Fatal(resp.Status)
				}
			}
		})
	}
}
