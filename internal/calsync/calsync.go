// Package calsync keeps agents' external calendars in step with their RDVs
// (docs/design.md §6). It records one outbox record per (RDV, agent with a
// calendar) in the transaction of every RDV change (Effect), delivers
// them through the agent's connector (Sink): the current state of the RDV
// is pushed — created or updated while the RDV is active and the agent
// still on it, deleted otherwise — so collapsed or repeated deliveries
// converge. It also backfills a newly connected calendar, refreshes the
// busy times of calendars with read_busy, and reports sync state.
package calsync

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"rdvsync/caldav"
	"rdvsync/connectors"
	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/outbox"
	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
	"rdvsync/internal/store"
)

// Kind is the outbox kind of calendar pushes.
const Kind = "calendar"

// Factory opens the connector of an agent's calendar configuration.
type Factory func(ctx context.Context, agent *catalog.Agent) (connectors.Connector, error)

// Options configure a Service.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// BusyHorizon is how far ahead busy times are read (default 92 days).
	BusyHorizon time.Duration
}

// Service is the calendar sync of the daemon.
type Service struct {
	store   *store.Store
	catalog func() *catalog.Catalog
	factory Factory
	log     *slog.Logger
	now     func() time.Time
	horizon time.Duration
	kick    func()

	mu    sync.Mutex
	conns map[string]cachedConn // by agent id

	busy     atomic.Pointer[slots.MemBusy]
	busyMu   sync.Mutex    // one busy-time refresh at a time
	busyWake chan struct{} // RunBusyRefresh has something to do

	pendingMu   sync.Mutex
	busyPending map[string]bool // agents whose calendar a reload added or changed
}

type cachedConn struct {
	fingerprint string
	conn        connectors.Connector
}

// New returns the calendar sync service.
func New(st *store.Store, cat func() *catalog.Catalog, factory Factory, opts Options) *Service {
	s := &Service{store: st, catalog: cat, factory: factory, log: opts.Logger, now: opts.Now,
		horizon: opts.BusyHorizon, conns: map[string]cachedConn{}, kick: func() {},
		busyWake: make(chan struct{}, 1), busyPending: map[string]bool{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.log = s.log.With("component", "calsync")
	if s.now == nil {
		s.now = time.Now
	}
	if s.horizon <= 0 {
		s.horizon = 92 * 24 * time.Hour
	}
	s.busy.Store(slots.NewMemBusy())
	return s
}

// SetKick sets the function that wakes the outbox dispatcher.
func (s *Service) SetKick(kick func()) { s.kick = kick }

// Key is the outbox key of (agent, RDV).
func Key(agentID, rdvID string) string { return Kind + "/" + agentID + "/" + rdvID }

// Fingerprint identifies a calendar configuration: a change means another
// calendar, which gets a backfill and a new connector.
func Fingerprint(c *catalog.Agent) string {
	cal := c.Calendar
	if cal == nil {
		return ""
	}
	switch {
	case cal.CalDAV != nil:
		return "caldav " + cal.CalDAV.URL + " " + cal.CalDAV.Username + " " + cal.Details
	case cal.Google != nil:
		return "google " + cal.Google.CalendarID + " " + cal.Google.CredentialsFile + " " + cal.Details
	}
	return ""
}

// OnChange implements booking.Effect: one outbox record per agent with a
// calendar, before or after the change. A deleted RDV (no After) is
// pushed as a deletion; the sync record of an agent whose calendar is no
// longer configured is dropped at once.
func (s *Service) OnChange(tx *store.Tx, c booking.Change) error {
	before, after, now := c.Before, c.After, c.Now
	cat := s.catalog()
	if after == nil {
		for _, id := range before.AgentIDs {
			if a := cat.Agent(id); a == nil || a.Calendar == nil {
				if err := tx.DeleteCalendarSync(id, before.ID); err != nil {
					return err
				}
				continue
			}
			if err := tx.Enqueue(store.OutboxRecord{Key: Key(id, before.ID), Kind: Kind, AgentID: id, RDVID: before.ID}, now); err != nil {
				return err
			}
		}
		return nil
	}
	var ids []string
	if before != nil {
		ids = append(ids, before.AgentIDs...)
	}
	if after != nil {
		ids = append(ids, after.AgentIDs...)
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		a := cat.Agent(id)
		if a == nil || a.Calendar == nil {
			continue
		}
		if err := tx.Enqueue(store.OutboxRecord{Key: Key(id, after.ID), Kind: Kind, AgentID: id, RDVID: after.ID}, now); err != nil {
			return err
		}
	}
	return nil
}

// Committed implements booking.Effect.
func (s *Service) Committed() { s.kick() }

// SyncRecord is what is remembered of one RDV in one agent's calendar.
type SyncRecord struct {
	connectors.State
	Fingerprint string    `json:"fingerprint"`
	Sequence    int       `json:"sequence"`
	PushedAt    time.Time `json:"pushed_at"`
}

// agentSync is the per-agent sync summary kept in the store.
type agentSync struct {
	LastSuccess *time.Time `json:"last_success,omitempty"`
	LastError   string     `json:"last_error,omitempty"`
	LastErrorAt *time.Time `json:"last_error_at,omitempty"`
}

// connector returns the agent's connector, reopening it when its
// configuration changed.
func (s *Service) connector(ctx context.Context, a *catalog.Agent) (connectors.Connector, error) {
	fp := Fingerprint(a)
	s.mu.Lock()
	c, ok := s.conns[a.ID]
	s.mu.Unlock()
	if ok && c.fingerprint == fp {
		return c.conn, nil
	}
	conn, err := s.factory(ctx, a)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.conns[a.ID] = cachedConn{fingerprint: fp, conn: conn}
	s.mu.Unlock()
	return conn, nil
}

// ForgetConnector drops the cached connector of an agent (new credentials).
func (s *Service) ForgetConnector(agentID string) {
	s.mu.Lock()
	delete(s.conns, agentID)
	s.mu.Unlock()
}

// Deliver implements outbox.Sink: bring the agent's calendar in line with
// the RDV as it is now.
func (s *Service) Deliver(ctx context.Context, rec store.OutboxRecord) error {
	err := s.deliver(ctx, rec)
	s.recordOutcome(ctx, rec.AgentID, err)
	if errors.Is(err, connectors.ErrPermanent) {
		return fmt.Errorf("%w: %w", outbox.ErrPermanent, err)
	}
	var ra *connectors.RetryAfterError
	if errors.As(err, &ra) {
		return retryAfter{ra}
	}
	return err
}

type retryAfter struct{ *connectors.RetryAfterError }

func (r retryAfter) RetryAfter() time.Duration { return r.After }

func (s *Service) deliver(ctx context.Context, rec store.OutboxRecord) error {
	cat := s.catalog()
	agent := cat.Agent(rec.AgentID)
	if agent == nil || agent.Calendar == nil {
		return nil // the calendar was removed from the configuration
	}
	conn, err := s.connector(ctx, agent)
	if err != nil {
		return fmt.Errorf("%w: open calendar of agent %s: %w", connectors.ErrPermanent, agent.ID, err)
	}
	var (
		r    *rdv.RDV
		u    *rdv.Usager
		prev SyncRecord
	)
	err = s.store.View(ctx, func(tx *store.ReadTx) error {
		var err error
		if err := tx.CalendarSync(rec.AgentID, rec.RDVID, &prev); err != nil && !store.IsNotFound(err) {
			return err
		}
		if r, err = tx.RDV(rec.RDVID); store.IsNotFound(err) {
			r = nil // deleted (retention, erasure): remove it from the calendar
			return nil
		} else if err != nil {
			return err
		}
		// The agent's calendar shows the usager as its organisations see it.
		if u, err = booking.UsagerSeenBy(tx, r, agent.OrganisationIDs()); err != nil && !store.IsNotFound(err) {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	fp := Fingerprint(agent)
	if prev.Fingerprint != fp {
		prev = SyncRecord{} // another calendar: what we knew of the old one is moot
	}
	if r != nil && r.Active() && slices.Contains(r.AgentIDs, agent.ID) {
		ev := caldav.NewEvent(cat, r, u, caldav.Details(agent.Calendar.Details))
		state, err := conn.Put(ctx, ev, prev.State)
		if err != nil {
			return err
		}
		next := SyncRecord{State: state, Fingerprint: fp, Sequence: ev.Sequence, PushedAt: s.now().UTC()}
		return outbox.Persist(ctx, s.store, func(tx *store.Tx) error { return tx.PutCalendarSync(agent.ID, r.ID, next) })
	}
	if err := conn.Delete(ctx, rec.RDVID, prev.State); err != nil {
		return err
	}
	return outbox.Persist(ctx, s.store, func(tx *store.Tx) error { return tx.DeleteCalendarSync(agent.ID, rec.RDVID) })
}

// recordOutcome keeps the agent's last success or error, in the
// transaction that records the delivery's outcome (outbox.Persist).
func (s *Service) recordOutcome(ctx context.Context, agentID string, err error) {
	now := s.now().UTC()
	uerr := outbox.Persist(ctx, s.store, func(tx *store.Tx) error {
		var st agentSync
		if e := tx.AgentState(agentID, "calendar_sync", &st); e != nil && !store.IsNotFound(e) {
			return e
		}
		if err == nil {
			st.LastSuccess = &now
		} else {
			st.LastError, st.LastErrorAt = err.Error(), &now
		}
		return tx.PutAgentState(agentID, "calendar_sync", st)
	})
	if uerr != nil {
		s.log.Error("recording sync outcome", "agent_id", agentID, slog.Any("error", uerr))
	}
}

// Backfill queues a push of every future RDV of each agent whose calendar
// is new (never synced with this configuration). Run at start and after
// each reload.
func (s *Service) Backfill(ctx context.Context) error {
	cat := s.catalog()
	now := s.now()
	queued := 0
	for _, a := range cat.Agents {
		fp := Fingerprint(a)
		if fp == "" {
			continue
		}
		err := s.store.Update(ctx, func(tx *store.Tx) error {
			var done struct {
				Fingerprint string `json:"fingerprint"`
			}
			if err := tx.AgentState(a.ID, "backfill", &done); err != nil && !store.IsNotFound(err) {
				return err
			}
			if done.Fingerprint == fp {
				return nil
			}
			ids := tx.AgentRDVIDs(a.ID, now)
			for _, id := range ids {
				if err := tx.Enqueue(store.OutboxRecord{Key: Key(a.ID, id), Kind: Kind, AgentID: a.ID, RDVID: id}, now); err != nil {
					return err
				}
			}
			queued += len(ids)
			done.Fingerprint = fp
			return tx.PutAgentState(a.ID, "backfill", done)
		})
		if err != nil {
			return fmt.Errorf("backfill of agent %s: %w", a.ID, err)
		}
	}
	if queued > 0 {
		s.log.Info("calendar backfill queued", "rdvs", queued)
		s.kick()
	}
	return nil
}
