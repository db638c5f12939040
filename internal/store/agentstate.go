package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"time"

	"rdvsync/internal/rdv"
)

// AgentRDVIDs returns the ids of the agent's active RDVs that end after
// from, in start order (the backfill of a newly connected calendar).
func (tx *ReadTx) AgentRDVIDs(agentID string, from time.Time) []string {
	var ids []string
	tx.eachBusy(agentID, from, time.Unix(0, math.MaxInt64), func(_ rdv.Interval, id []byte) bool {
		ids = append(ids, keyID(id))
		return true
	})
	return ids
}

// stateV1 wraps the small per-agent and per-sync documents that their
// owners (calendar sync, token storage) define.
type stateV1 struct {
	V    int             `json:"v"`
	Data json.RawMessage `json:"data"`
}

func getState(b []byte, v any) error {
	var s stateV1
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("store: decode state: %w", err)
	}
	if s.V != recordV1 {
		return fmt.Errorf("store: state version %d, want %d", s.V, recordV1)
	}
	return json.Unmarshal(s.Data, v)
}

func putState(v any) ([]byte, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("store: encode state: %w", err)
	}
	return json.Marshal(stateV1{V: recordV1, Data: data})
}

// AgentState decodes the document name of an agent (e.g. "google_token",
// "busy", "backfill") into v, or returns an error wrapping rdv.ErrNotFound.
func (tx *ReadTx) AgentState(agentID, name string, v any) error {
	b := tx.bucket(bucketAgentState).Get(joinKey(agentID, name))
	if b == nil {
		return fmt.Errorf("agent state %s: %w", name, rdv.ErrNotFound)
	}
	return getState(b, v)
}

// PutAgentState stores the document name of an agent.
func (tx *Tx) PutAgentState(agentID, name string, v any) error {
	b, err := putState(v)
	if err != nil {
		return err
	}
	return tx.bucket(bucketAgentState).Put(joinKey(agentID, name), b)
}

// CalendarSync decodes the sync record of (agent, RDV) into v, or returns an
// error wrapping rdv.ErrNotFound.
func (tx *ReadTx) CalendarSync(agentID, rdvID string, v any) error {
	b := tx.bucket(bucketCalendarSync).Get(joinKey(agentID, rdvID))
	if b == nil {
		return fmt.Errorf("calendar sync: %w", rdv.ErrNotFound)
	}
	return getState(b, v)
}

// PutCalendarSync stores the sync record of (agent, RDV).
func (tx *Tx) PutCalendarSync(agentID, rdvID string, v any) error {
	b, err := putState(v)
	if err != nil {
		return err
	}
	return tx.bucket(bucketCalendarSync).Put(joinKey(agentID, rdvID), b)
}

// DeleteCalendarSync forgets the sync record of (agent, RDV).
func (tx *Tx) DeleteCalendarSync(agentID, rdvID string) error {
	return tx.bucket(bucketCalendarSync).Delete(joinKey(agentID, rdvID))
}

// EachCalendarSync calls fn for every sync record of the agent.
func (tx *ReadTx) EachCalendarSync(agentID string, fn func(rdvID string, decode func(v any) error) error) error {
	prefix := joinKey(agentID, "")
	c := tx.bucket(bucketCalendarSync).Cursor()
	for k, v := c.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix); k, v = c.Next() {
		val := v
		if err := fn(string(k[len(prefix):]), func(dst any) error { return getState(val, dst) }); err != nil {
			return err
		}
	}
	return nil
}

// IsNotFound reports whether err says a record is absent.
func IsNotFound(err error) bool { return errors.Is(err, rdv.ErrNotFound) }
