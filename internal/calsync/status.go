package calsync

import (
	"context"
	"strings"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/store"
)

// Failure is an outbox record of the agent that has failed at least once.
type Failure struct {
	RDVID         string     `json:"rdv_id"`
	Attempts      int        `json:"attempts"`
	LastError     string     `json:"last_error"`
	LastAttemptAt *time.Time `json:"last_attempt_at,omitempty"`
	NextAttemptAt *time.Time `json:"next_attempt_at,omitempty"`
	Dead          bool       `json:"dead"`
}

// BusyStatus is the state of the busy-time reading of a calendar.
type BusyStatus struct {
	Enabled     bool       `json:"enabled"`
	Intervals   int        `json:"intervals"`
	RefreshedAt *time.Time `json:"refreshed_at"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// AgentStatus is the sync state of one agent's external calendar
// (GET /api/v1/agents/{id}/sync, rdvsync sync-status).
type AgentStatus struct {
	AgentID     string     `json:"agent_id"`
	Connector   string     `json:"connector"` // caldav, google or none
	Details     string     `json:"details,omitempty"`
	Pending     int        `json:"pending"` // waiting for delivery, failing ones included
	Failing     int        `json:"failing"` // failed at least once, will retry
	Dead        int        `json:"dead"`    // given up: see failures, then sync-retry
	Synced      int        `json:"synced"`  // RDVs currently in the calendar
	LastSuccess *time.Time `json:"last_success"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
	Failures    []Failure  `json:"failures"`
	Busy        BusyStatus `json:"busy"`
}

// Status reports the sync state of an agent.
func (s *Service) Status(ctx context.Context, a *catalog.Agent) (AgentStatus, error) {
	st := AgentStatus{AgentID: a.ID, Connector: "none", Failures: []Failure{}}
	if c := a.Calendar; c != nil {
		st.Details, st.Busy.Enabled = c.Details, c.ReadBusy
		if c.CalDAV != nil {
			st.Connector = "caldav"
		} else if c.Google != nil {
			st.Connector = "google"
		}
	}
	err := s.store.View(ctx, func(tx *store.ReadTx) error {
		err := tx.EachOutbox(Kind+"/"+a.ID+"/", func(r *store.OutboxRecord) error {
			if r.Dead {
				st.Dead++
			} else {
				st.Pending++
			}
			if r.Attempts > 0 {
				if !r.Dead {
					st.Failing++
				}
				f := Failure{RDVID: r.RDVID, Attempts: r.Attempts, LastError: trimErr(r.LastError), LastAttemptAt: r.LastAttemptAt, Dead: r.Dead}
				if !r.Dead {
					next := r.NextAttemptAt
					f.NextAttemptAt = &next
				}
				st.Failures = append(st.Failures, f)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if err := tx.EachCalendarSync(a.ID, func(string, func(any) error) error { st.Synced++; return nil }); err != nil {
			return err
		}
		var as agentSync
		if err := tx.AgentState(a.ID, "calendar_sync", &as); err == nil {
			st.LastSuccess, st.LastError, st.LastErrorAt = as.LastSuccess, as.LastError, as.LastErrorAt
		}
		var bs busyState
		if err := tx.AgentState(a.ID, "busy", &bs); err == nil && (bs.Fingerprint == "" || bs.Fingerprint == Fingerprint(a)) {
			st.Busy.Intervals, st.Busy.RefreshedAt, st.Busy.LastError, st.Busy.LastErrorAt = len(bs.Intervals), bs.RefreshedAt, bs.LastError, bs.LastErrorAt
		}
		return nil
	})
	return st, err
}

// RetryDead re-queues the dead records of one agent ("" = every agent).
func (s *Service) RetryDead(ctx context.Context, agentID string) (int, error) {
	prefix := Kind + "/"
	if agentID != "" {
		prefix += agentID + "/"
	}
	var n int
	err := s.store.Update(ctx, func(tx *store.Tx) error {
		var err error
		n, err = tx.RetryDead(prefix, s.now())
		return err
	})
	if n > 0 {
		s.kick()
	}
	return n, err
}

// trimErr keeps error texts short in listings.
func trimErr(s string) string {
	if len(s) > 300 {
		return strings.TrimSpace(s[:300]) + "…"
	}
	return s
}
