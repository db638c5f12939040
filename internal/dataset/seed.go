package dataset

import (
	"fmt"
	"slices"
	"time"

	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
)

// FreeSlots returns n distinct bookable slots from the week of now on, in
// a store holding the dataset's RDVs (seeded, as WriteStore writes them: the
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
