package served

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/emersion/go-ical"

	"rdvsync/caldav"
	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// entry is one RDV as the agent's served calendars show it.
type entry struct {
	rdv   *rdv.RDV
	event caldav.Event
}

// details is how much of the usager the agent's calendars carry: what its
// calendar block says, minimal without one (docs/design.md §6).
func details(a *catalog.Agent) caldav.Details {
	if a.Calendar != nil && a.Calendar.Details == string(caldav.DetailsFull) {
		return caldav.DetailsFull
	}
	return caldav.DetailsMinimal
}

// entries returns the agent's RDVs in the window, in start order.
func (s *Server) entries(ctx context.Context, cat *catalog.Catalog, a *catalog.Agent) ([]entry, error) {
	d := details(a)
	var rdvs []*rdv.RDV
	var usagers map[string]*rdv.Usager
	err := s.store.View(ctx, func(tx *store.ReadTx) error {
		var err error
		if rdvs, err = tx.AgentRDVs(a.ID, a.OrganisationIDs(), s.window()); err != nil {
			return err
		}
		usagers, err = loadUsagers(tx, a, d, rdvs)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("served: RDVs of agent %s: %w", a.ID, err)
	}
	out := make([]entry, 0, len(rdvs))
	for _, r := range rdvs {
		e, err := s.render(cat, r, usagers[r.ID], d)
		if err != nil {
			// One object that cannot be written must not take the
			// agent's whole feed or collection down with it.
			s.log.Error("served calendar: event skipped", "rdv_id", r.ID, "agent_id", a.ID, slog.Any("error", err))
			s.skipped.Inc()
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

// render builds the entry of r and checks that it encodes.
func (s *Server) render(cat *catalog.Catalog, r *rdv.RDV, u *rdv.Usager, d caldav.Details) (e entry, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("rdv %s: panic while rendering: %v", r.ID, p)
		}
	}()
	e = entry{r, caldav.NewEvent(cat, r, u, d)}
	if _, err := s.encode(e.event.Calendar("")); err != nil {
		return entry{}, fmt.Errorf("rdv %s: %w", r.ID, err)
	}
	return e, nil
}

// entry returns one RDV of the agent, or an error wrapping rdv.ErrNotFound
// when it is not in the agent's served calendar.
func (s *Server) entry(ctx context.Context, cat *catalog.Catalog, a *catalog.Agent, rdvID string) (entry, error) {
	d := details(a)
	var r *rdv.RDV
	var usagers map[string]*rdv.Usager
	err := s.store.View(ctx, func(tx *store.ReadTx) error {
		var err error
		if r, err = tx.RDV(rdvID); err != nil {
			return err
		}
		if !visible(a, r, s.window()) {
			return fmt.Errorf("rdv %s in the calendar of %s: %w", rdvID, a.ID, rdv.ErrNotFound)
		}
		usagers, err = loadUsagers(tx, a, d, []*rdv.RDV{r})
		return err
	})
	if err != nil {
		return entry{}, fmt.Errorf("served: %w", err)
	}
	return s.render(cat, r, usagers[r.ID], d)
}

// visible reports whether entries would list r for the agent.
func visible(a *catalog.Agent, r *rdv.RDV, from time.Time) bool {
	return slices.Contains(r.AgentIDs, a.ID) && slices.Contains(a.OrganisationIDs(), r.OrganisationID) && !r.StartsAt.Before(from)
}

// loadUsagers reads the usager of each of rdvs, by RDV id, as agent a's
// organisations see it (booking.UsagerSeenBy), when the details show them.
func loadUsagers(tx *store.ReadTx, a *catalog.Agent, d caldav.Details, rdvs []*rdv.RDV) (map[string]*rdv.Usager, error) {
	m := map[string]*rdv.Usager{}
	if d != caldav.DetailsFull {
		return m, nil
	}
	orgs := a.OrganisationIDs()
	for _, r := range rdvs {
		if r.UsagerID == "" {
			continue
		}
		u, err := booking.UsagerSeenBy(tx, r, orgs)
		if err != nil && !store.IsNotFound(err) {
			return nil, err
		}
		m[r.ID] = u // nil when gone: the event then shows no usager
	}
	return m, nil
}

// feedCalendar is the agent's whole calendar as one VCALENDAR with a
// VEVENT per RDV and no METHOD (a published calendar, not an iTIP message).
func feedCalendar(a *catalog.Agent, entries []entry) *ical.Calendar {
	cal := ical.NewCalendar()
	cal.Props.SetText(ical.PropVersion, "2.0")
	cal.Props.SetText(ical.PropProductID, caldav.ProdID)
	name := "RDV – " + a.FullName()
	for _, n := range []string{"X-WR-CALNAME", ical.PropName} {
		p := ical.NewProp(n)
		p.SetText(name)
		p.Params.Del(ical.ParamValue) // TEXT is the default (RFC 5545 §3.8.8.2, RFC 7986 §5.1)
		cal.Props.Set(p)
	}
	// How often subscribers should fetch again (RFC 7986 §5.7 requires the
	// VALUE parameter; X-PUBLISHED-TTL is what Outlook reads).
	refresh := ical.NewProp(ical.PropRefreshInterval)
	refresh.Value = "PT15M"
	refresh.Params.Set(ical.ParamValue, string(ical.ValueDuration))
	cal.Props.Set(refresh)
	ttl := ical.NewProp("X-PUBLISHED-TTL")
	ttl.Value = refresh.Value
	cal.Props.Set(ttl)
	for _, e := range entries {
		cal.Children = append(cal.Children, e.event.Calendar("").Children...)
	}
	if len(cal.Children) == 0 {
		// RFC 5545 §3.6 wants at least one component, and go-ical's
		// encoder enforces it: an agent without RDVs gets a calendar
		// holding only the (unused) UTC time zone.
		cal.Children = append(cal.Children, utcTimezone())
	}
	return cal
}

func utcTimezone() *ical.Component {
	std := ical.NewComponent(ical.CompTimezoneStandard)
	for name, value := range map[string]string{
		ical.PropDateTimeStart:      "19700101T000000",
		ical.PropTimezoneOffsetFrom: "+0000",
		ical.PropTimezoneOffsetTo:   "+0000",
		ical.PropTimezoneName:       "UTC",
	} {
		p := ical.NewProp(name)
		p.Value = value
		std.Props.Set(p)
	}
	tz := ical.NewComponent(ical.CompTimezone)
	tz.Props.SetText(ical.PropTimezoneID, "UTC")
	tz.Children = append(tz.Children, std)
	return tz
}

// encode is caldav.Encode into a byte slice.
func encode(cal *ical.Calendar) ([]byte, error) {
	var buf bytes.Buffer
	if err := caldav.Encode(&buf, cal); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// etag is the opaque, unquoted validator of an encoded body.
func etag(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:16])
}

// lastModified is the latest change of the entries (zero without any).
func lastModified(entries []entry) time.Time {
	var t time.Time
	for _, e := range entries {
		if e.rdv.UpdatedAt.After(t) {
			t = e.rdv.UpdatedAt
		}
	}
	return t
}

// serveICS writes an iCalendar body with its validators; http.ServeContent
// answers HEAD, If-None-Match (which wins) and If-Modified-Since.
func serveICS(w http.ResponseWriter, r *http.Request, body []byte, modTime time.Time) {
	h := w.Header()
	h.Set("Content-Type", "text/calendar; charset=utf-8")
	h.Set("Cache-Control", "private")
	h.Set("ETag", `"`+etag(body)+`"`)
	http.ServeContent(w, r, "", modTime, bytes.NewReader(body))
}
