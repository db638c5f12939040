package store

import (
	"bytes"
	"cmp"
	"slices"
	"time"

	"rdvsync/internal/rdv"
)

// AgentRDVs returns every RDV of the agent — cancelled ones included — that
// starts at or after from in one of the organisations orgIDs, sorted by
// start then id (the served ICS feed and CalDAV calendar).
//
// agent_busy holds active RDVs only, and a served calendar must show
// cancellations, so this walks org_rdvs, which keeps every RDV, for each
// of the agent's organisations.
func (tx *ReadTx) AgentRDVs(agentID string, orgIDs []string, from time.Time) ([]*rdv.RDV, error) {
	var out []*rdv.RDV
	seen := make(map[string]bool, len(orgIDs))
	for _, org := range orgIDs {
		if seen[org] {
			continue
		}
		seen[org] = true
		err := tx.EachOrgRDV(org, from, maxKeyTime, func(r *rdv.RDV) error {
			if slices.Contains(r.AgentIDs, agentID) {
				out = append(out, r)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b *rdv.RDV) int {
		return cmp.Or(a.StartsAt.Compare(b.StartsAt), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// EachAgentState calls fn for the document name of every agent that has
// one (e.g. to index the served feeds' secrets at start-up). An error from
// fn stops the scan and is returned unchanged.
func (tx *ReadTx) EachAgentState(name string, fn func(agentID string, decode func(v any) error) error) error {
	suffix := joinKey("", name)
	c := tx.bucket(bucketAgentState).Cursor()
	for k, v := c.First(); k != nil; k, v = c.Next() {
		if !bytes.HasSuffix(k, suffix) {
			continue
		}
		val := v
		agentID := string(k[:len(k)-len(suffix)])
		if err := fn(agentID, func(dst any) error { return getState(val, dst) }); err != nil {
			return err
		}
	}
	return nil
}
