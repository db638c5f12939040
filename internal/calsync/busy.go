package calsync

import (
	"context"
	"log/slog"
	"strings"
	"time"

	"rdvsync/connectors"
	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
	"rdvsync/internal/store"
)

// busyState is the cached busy times of one agent's external calendar.
type busyState struct {
	// Fingerprint is the calendar the intervals were read from: those of
	// a calendar the agent no longer has do not count.
	Fingerprint string         `json:"fingerprint,omitempty"`
	Intervals   []rdv.Interval `json:"intervals"`
	RefreshedAt *time.Time     `json:"refreshed_at,omitempty"`
	LastError   string         `json:"last_error,omitempty"`
	LastErrorAt *time.Time     `json:"last_error_at,omitempty"`
}

// readsBusy tells whether the agent's busy times are read, and from which
// calendar ("" when they are not).
func readsBusy(a *catalog.Agent) string {
	if a == nil || a.Calendar == nil || !a.Calendar.ReadBusy {
		return ""
	}
	return Fingerprint(a)
}

// LoadBusy loads the cached busy times from the store (at start, and after
// a refresh): those of each agent's current calendar with read_busy.
func (s *Service) LoadBusy(ctx context.Context) error {
	cat := s.catalog()
	mb := slots.NewMemBusy()
	err := s.store.View(ctx, func(tx *store.ReadTx) error {
		for _, a := range cat.Agents {
			fp := readsBusy(a)
			if fp == "" {
				continue
			}
			var st busyState
			if err := tx.AgentState(a.ID, "busy", &st); err != nil {
				if store.IsNotFound(err) {
					continue
				}
				return err
			}
			if st.Fingerprint != "" && st.Fingerprint != fp {
				continue // read from the agent's former calendar
			}
			for _, iv := range st.Intervals {
				mb.Add(a.ID, iv)
			}
		}
		return nil
	})
	mb.Sort()
	s.busy.Store(mb)
	return err
}

// RunBusyRefresh reads the busy times of every calendar with read_busy at
// once, then every calendars.busy_refresh of the configuration in force,
// and, as soon as ConfigChanged reports them, those of the calendars a
// reload added or changed. Refreshes never overlap. It returns when ctx
// ends.
func (s *Service) RunBusyRefresh(ctx context.Context) {
	s.RefreshBusy(ctx)
	last := time.Now()
	for {
		timer := time.NewTimer(time.Until(last.Add(s.busyInterval())))
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-timer.C:
			s.RefreshBusy(ctx)
			last = time.Now()
		case <-s.busyWake:
			// The timer is made again from the interval now in force.
			timer.Stop()
			s.pendingMu.Lock()
			ids := s.busyPending
			s.busyPending = map[string]bool{}
			s.pendingMu.Unlock()
			if len(ids) > 0 {
				s.refreshBusy(ctx, func(a *catalog.Agent) bool { return ids[a.ID] })
			}
		}
	}
}

func (s *Service) busyInterval() time.Duration {
	if d := s.catalog().Config.Calendars.BusyRefresh.D(); d > 0 {
		return d
	}
	return config.DefaultBusyRefresh
}

// ConfigChanged is told of each reload (old is the configuration it
// replaced): RunBusyRefresh reads at once the busy times of calendars that
// start being read or now are another calendar, drops those of calendars
// no longer read, and takes a new calendars.busy_refresh into account.
func (s *Service) ConfigChanged(ctx context.Context, old *catalog.Catalog) {
	cat := s.catalog()
	dropped := false
	s.pendingMu.Lock()
	for _, a := range cat.Agents {
		if fp := readsBusy(a); fp != "" && fp != readsBusy(old.Agent(a.ID)) {
			s.busyPending[a.ID] = true
		}
	}
	for _, a := range old.Agents {
		if fp := readsBusy(a); fp != "" && fp != readsBusy(cat.Agent(a.ID)) {
			dropped = true
		}
	}
	s.pendingMu.Unlock()
	if dropped {
		if err := s.LoadBusy(ctx); err != nil {
			s.log.Error("dropping busy times of calendars no longer read", slog.Any("error", err))
		}
	}
	select {
	case s.busyWake <- struct{}{}:
	default: // already awake: it takes the pending set as it finds it
	}
}

// RefreshBusy reads the busy times of every calendar with read_busy. A
// calendar that cannot be read keeps its last known busy times, and the
// failure is recorded for the sync status.
func (s *Service) RefreshBusy(ctx context.Context) {
	s.refreshBusy(ctx, func(*catalog.Agent) bool { return true })
}

func (s *Service) refreshBusy(ctx context.Context, which func(*catalog.Agent) bool) {
	s.busyMu.Lock()
	defer s.busyMu.Unlock()
	cat := s.catalog()
	now := s.now().UTC()
	for _, a := range cat.Agents {
		if readsBusy(a) == "" || !which(a) {
			continue
		}
		if err := s.refreshAgent(ctx, a, now); err != nil {
			s.log.Warn("reading busy times failed: keeping the last known ones", "agent_id", a.ID, slog.Any("error", err))
		}
	}
	if err := s.LoadBusy(ctx); err != nil && ctx.Err() == nil {
		s.log.Error("loading busy times", slog.Any("error", err))
	}
}

func (s *Service) refreshAgent(ctx context.Context, a *catalog.Agent, now time.Time) error {
	fp := Fingerprint(a)
	var st busyState
	s.store.View(ctx, func(tx *store.ReadTx) error { return tx.AgentState(a.ID, "busy", &st) })
	if st.Fingerprint != fp {
		st = busyState{Fingerprint: fp} // another calendar: nothing known of it yet
	}
	conn, err := s.connector(ctx, a)
	var busy []connectors.Busy
	if err == nil {
		busy, err = conn.Busy(ctx, now.Add(-24*time.Hour), now.Add(s.horizon))
	}
	if err != nil {
		st.LastError, st.LastErrorAt = err.Error(), &now
	} else {
		own := map[string]bool{}
		s.store.View(ctx, func(tx *store.ReadTx) error {
			for _, id := range tx.AgentRDVIDs(a.ID, now.Add(-24*time.Hour)) {
				own[ownKey(id)] = true
			}
			// Events we pushed and not yet removed (a cancellation in flight),
			// under the id they have (a Google event recreated after a purge
			// has another id than its RDV's).
			return tx.EachCalendarSync(a.ID, func(rdvID string, decode func(any) error) error {
				own[ownKey(rdvID)] = true
				var rec SyncRecord
				if decode(&rec) == nil && rec.EventID != "" {
					own[ownKey(rec.EventID)] = true
				}
				return nil
			})
		})
		st.Intervals = st.Intervals[:0]
		for _, b := range busy {
			if b.UID != "" && own[ownKey(b.UID)] {
				continue // our own event: already busy as an RDV
			}
			st.Intervals = append(st.Intervals, rdv.Interval{Start: b.Start.UTC(), End: b.End.UTC()})
		}
		st.RefreshedAt, st.LastError, st.LastErrorAt = &now, "", nil
	}
	if uerr := s.store.Update(ctx, func(tx *store.Tx) error { return tx.PutAgentState(a.ID, "busy", st) }); uerr != nil {
		return uerr
	}
	return err
}

// ownKey normalises an RDV id and a Google event id (the id without dashes) alike.
func ownKey(id string) string { return strings.ToLower(strings.ReplaceAll(id, "-", "")) }

// AppendAgentBusy implements slots.Busy with the cached external busy times.
func (s *Service) AppendAgentBusy(dst []rdv.Interval, agentID string, from, to time.Time) []rdv.Interval {
	return s.busy.Load().AppendAgentBusy(dst, agentID, from, to)
}
