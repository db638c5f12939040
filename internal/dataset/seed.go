package dataset

import (
	"context"
	"fmt"
	"slices"
	"time"

	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
	"rdvsync/internal/store"
)

// Seed writes the dataset's RDVs into st, with one usager for every three,
// as prescripteurs would have booked them (no outbox records: their
// notifications are long sent). now is their creation time.
func (d *Dataset) Seed(ctx context.Context, st *store.Store, now time.Time) error {
	const usagers, perTx = 33_000, 5_000
	for lo := 0; lo < len(d.RDVs); lo += perTx {
		err := st.Update(ctx, func(tx *store.Tx) error {
			for i := lo; i < min(lo+perTx, len(d.RDVs)); i++ {
				r := d.RDVs[i]
				uid := fmt.Sprintf("seed-usager-%05d", i%usagers)
				if i < usagers {
					u := &rdv.Usager{ID: uid, FirstName: "Usager", LastName: fmt.Sprintf("Seed %05d", i),
						Email: fmt.Sprintf("seed%05d@example.org", i), PhoneNumber: fmt.Sprintf("+3361%07d", i), PhoneMobile: true,
						CreatedAt: now.UTC(), UpdatedAt: now.UTC()}
					if err := tx.PutUsager(u); err != nil {
						return err
					}
				}
				err := tx.PutRDV(&rdv.RDV{ID: fmt.Sprintf("seed-rdv-%06d", i), Status: rdv.StatusUnknown,
					StartsAt: r.Start.UTC(), EndsAt: r.End.UTC(), MotifID: r.MotifID, LieuID: r.LieuID,
					OrganisationID: d.Catalog.Motif(r.MotifID).Organisation.ID, AgentIDs: []string{r.AgentID}, UsagerID: uid,
					CreatedBy: rdv.CreatedBy{Type: rdv.CreatedByPrescripteur, FirstName: "Jean", LastName: "Petit",
						Email: "jean.petit@mediatheque.example.org", PhoneNumber: "+33321000000"},
					CreatedAt: now.UTC(), UpdatedAt: now.UTC(), UsagerToken: fmt.Sprintf("seed-token-%06d", i), Version: 1})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("seed the store: %w", err)
		}
	}
	return nil
}

// FreeSlots returns n distinct bookable slots from the week of now on, in
// a store holding the dataset's RDVs (seeded, as Seed writes them: the
// slots go around them, on the grid they shift) or in an empty store (not
// seeded: the plain grid of the plages). For each agent, the free slots of one motif (one
// motif per agent, so booking one slot never shifts the grid of another),
// sorted by start so that concurrent clients book different agents.
func (d *Dataset) FreeSlots(now time.Time, n int, seeded bool) ([]slots.Slot, error) {
	cat := d.Catalog
	var busy slots.Busy
	if seeded {
		busy = d.Busy
	}
	var out []slots.Slot
	start := rdv.DateOf(now.In(cat.Organisations[0].Location))
	for week := start; len(out) < n; week = week.AddDays(7) {
		if week > start.AddDays(2*366) {
			return nil, fmt.Errorf("only %d free slots in two years, want %d", len(out), n)
		}
		var batch []slots.Slot
		for _, a := range cat.Agents {
			if len(a.Plages) == 0 {
				continue
			}
			q := slots.Query{Motif: a.Plages[0].Motifs[0], Agent: a, Caller: a, AgentView: true, Busy: busy,
				From: week, To: week.AddDays(6), Now: now}
			batch = append(batch, slots.Search(cat, q)...)
		}
		slices.SortStableFunc(batch, func(x, y slots.Slot) int { return x.Start.Compare(y.Start) })
		out = append(out, batch...)
	}
	return out[:n], nil
}
