package booking

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// Retention and the usager's rights (RGPD): old RDVs and usagers are
// deleted, an agent exports or erases an usager its organisations know.
// A deletion is a Change with no After: each effect removes or turns its
// outbox records into deletions (calendar events deleted, webhook
// "destroyed") in the transaction that deletes the records.

// Holder is an effect whose pending deliveries still read an RDV's record
// (notifications read the contact and the details when they go out).
type Holder interface {
	HoldsRDV(tx *store.ReadTx, rdvID string) (bool, error)
}

// retentionBatch bounds the RDVs deleted in one transaction, so that
// bookings are not held up behind a long purge.
const retentionBatch = 200

// Purged counts what a retention run deleted.
type Purged struct {
	RDVs, Usagers int
}

// PurgeRDVs deletes the RDVs that ended before cutoff, with what points to
// them, then the usagers left with no RDV (except those whose erasure is
// pending: FinishErasures deletes them).
func (s *Service) PurgeRDVs(ctx context.Context, cutoff time.Time) (Purged, error) {
	var total Purged
	for {
		now := s.now()
		var n Purged
		err := s.store.Update(ctx, func(tx *store.Tx) error {
			n = Purged{}
			old, err := tx.RDVsEndedBefore(cutoff, retentionBatch)
			if err != nil {
				return err
			}
			var usagers []string
			for _, r := range old {
				if err := s.deleteRDV(tx, r, now); err != nil {
					return err
				}
				usagers = append(usagers, r.UsagerID)
			}
			n.RDVs = len(old)
			slices.Sort(usagers)
			for _, id := range slices.Compact(usagers) {
				deleted, err := deleteUsagerIfAlone(tx, id)
				if err != nil {
					return err
				}
				if deleted {
					n.Usagers++
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total.RDVs, total.Usagers = total.RDVs+n.RDVs, total.Usagers+n.Usagers
		if n.RDVs > 0 {
			s.committed()
		}
		if n.RDVs < retentionBatch {
			break
		}
	}
	// Usagers no RDV points to (their RDVs were deleted before the
	// index that finds them by usager existed, for instance): found in a
	// read transaction, deleted after a check in the write one.
	for after := ""; ; {
		var ids []string
		if err := s.store.View(ctx, func(tx *store.ReadTx) error {
			ids = tx.UsagersWithoutRDV(after, retentionBatch)
			return nil
		}); err != nil {
			return total, err
		}
		if len(ids) == 0 {
			break
		}
		var n int
		err := s.store.Update(ctx, func(tx *store.Tx) error {
			n = 0
			for _, id := range ids {
				deleted, err := deleteUsagerIfAlone(tx, id)
				if err != nil {
					return err
				}
				if deleted {
					n++
				}
			}
			return nil
		})
		if err != nil {
			return total, err
		}
		total.Usagers += n
		after = ids[len(ids)-1]
	}
	if total.RDVs > 0 || total.Usagers > 0 {
		s.log.Info("retention: old rdvs and usagers deleted", "rdvs", total.RDVs, "usagers", total.Usagers)
	}
	return total, nil
}

// deleteRDV runs the effects of r's deletion, then deletes it.
func (s *Service) deleteRDV(tx *store.Tx, r *rdv.RDV, now time.Time) error {
	c := Change{Before: r, Now: now}
	for _, e := range s.effects {
		if err := e.OnChange(tx, c); err != nil {
			return err
		}
	}
	_, err := tx.DeleteRDV(r.ID)
	return err
}

// deleteUsagerIfAlone deletes the usager when no RDV points to it and its
// erasure is not pending.
func deleteUsagerIfAlone(tx *store.Tx, id string) (bool, error) {
	if id == "" || len(tx.UsagerRDVIDs(id)) > 0 || tx.ErasurePending(id) {
		return false, nil
	}
	err := tx.DeleteUsager(id)
	if store.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// knownUsager returns the usager if one of the agent's organisations knows
// it; an usager known elsewhere only is "not found", like an unknown id.
func knownUsager(tx *store.ReadTx, agent *catalog.Agent, id string) (*rdv.Usager, error) {
	u, err := tx.Usager(id)
	if err != nil {
		return nil, err
	}
	if !tx.UsagerKnownTo(id, agent.OrganisationIDs()) {
		return nil, fmt.Errorf("usager %s: %w", id, rdv.ErrNotFound)
	}
	return u, nil
}

// UsagerExport is what an organisation holds about an usager.
type UsagerExport struct {
	Usager *rdv.Usager
	RDVs   []*rdv.RDV // in the agent's organisations, by start
}

// ExportUsager returns the usager and its RDVs in the agent's
// organisations (the right of access, RGPD art. 15). RDVs in other
// organisations stay theirs to give.
func (s *Service) ExportUsager(ctx context.Context, agent *catalog.Agent, id string) (*UsagerExport, error) {
	orgs := agent.OrganisationIDs()
	out := &UsagerExport{}
	err := s.store.View(ctx, func(tx *store.ReadTx) error {
		u, err := knownUsager(tx, agent, id)
		if err != nil {
			return err
		}
		all, err := tx.UsagerRDVs(id)
		if err != nil {
			return err
		}
		out.Usager, out.RDVs = u, slices.DeleteFunc(all, func(r *rdv.RDV) bool { return !slices.Contains(orgs, r.OrganisationID) })
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.log.Info("usager exported", "usager_id", id, "agent_id", agent.ID, "rdvs", len(out.RDVs))
	return out, nil
}

// Erasure is the outcome of an erasure request.
type Erasure struct {
	UsagerID  string
	Cancelled int  // future RDVs cancelled (and notified)
	Done      bool // every record is deleted; false: they go once the cancellation notices are out
}

// eraseReason is the cancellation reason of RDVs cancelled by an erasure.
const eraseReason = "Données de l'usager effacées à sa demande"

// EraseUsager erases an usager known to the agent's organisations (the
// right to erasure, RGPD art. 17): its future RDVs are cancelled — the
// usager, the agents and the prescripteur are told, calendars and webhooks
// hear of it — and it disappears at once from every organisation's
// search; its records (usager, every RDV) are deleted as soon as the
// cancellation notices have gone out (FinishErasures).
func (s *Service) EraseUsager(ctx context.Context, agent *catalog.Agent, id string) (*Erasure, error) {
	now := s.now()
	caller := Caller{Agent: agent}
	out := &Erasure{UsagerID: id}
	err := s.store.Update(ctx, func(tx *store.Tx) error {
		out.Cancelled = 0
		if _, err := knownUsager(&tx.ReadTx, agent, id); err != nil {
			return err
		}
		if err := tx.MarkErasure(id, now); err != nil {
			return err
		}
		rdvs, err := tx.UsagerRDVs(id)
		if err != nil {
			return err
		}
		for _, r := range rdvs {
			if !r.Active() || !r.StartsAt.After(now) {
				continue
			}
			next := *r
			t := now.UTC()
			next.Status, next.CancelledAt, next.CancelReason = rdv.StatusRevoked, &t, eraseReason
			next.Version, next.UpdatedAt = r.Version+1, t
			if err := tx.PutRDV(&next); err != nil {
				return err
			}
			if err := s.onChange(tx, caller, r, &next, now); err != nil {
				return err
			}
			out.Cancelled++
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.committed()
	s.log.Info("usager erasure requested", "usager_id", id, "agent_id", agent.ID, "rdvs_cancelled", out.Cancelled)
	done, err := s.finishErasure(ctx, id)
	if err != nil {
		return nil, err
	}
	out.Done = done
	return out, nil
}

// FinishErasures deletes the usagers whose erasure is pending and whose
// RDVs no notification waits for any more. Run it every minute.
func (s *Service) FinishErasures(ctx context.Context) (int, error) {
	var ids []string
	if err := s.store.View(ctx, func(tx *store.ReadTx) error {
		ids = tx.Erasures()
		return nil
	}); err != nil {
		return 0, err
	}
	n := 0
	for _, id := range ids {
		done, err := s.finishErasure(ctx, id)
		if err != nil {
			return n, err
		}
		if done {
			n++
		}
	}
	return n, nil
}

// errHeld stops an erasure whose RDVs still have notices to send.
var errHeld = errors.New("erasure waits for pending notifications")

func (s *Service) finishErasure(ctx context.Context, id string) (bool, error) {
	now := s.now()
	deleted, pending := 0, false
	err := s.store.Update(ctx, func(tx *store.Tx) error {
		deleted, pending = 0, tx.ErasurePending(id)
		if !pending {
			return nil
		}
		ids := tx.UsagerRDVIDs(id)
		for _, rid := range ids {
			for _, e := range s.effects {
				h, ok := e.(Holder)
				if !ok {
					continue
				}
				held, err := h.HoldsRDV(&tx.ReadTx, rid)
				if err != nil {
					return err
				}
				if held {
					return errHeld
				}
			}
		}
		for _, rid := range ids {
			r, err := tx.RDV(rid)
			if err != nil {
				return err
			}
			if err := s.deleteRDV(tx, r, now); err != nil {
				return err
			}
		}
		deleted = len(ids)
		if err := tx.DeleteUsager(id); err != nil && !store.IsNotFound(err) {
			return err
		}
		return tx.EndErasure(id)
	})
	if errors.Is(err, errHeld) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if deleted > 0 {
		s.committed()
	}
	if pending {
		s.log.Info("usager erased", "usager_id", id, "rdvs_deleted", deleted)
	}
	return true, nil
}
