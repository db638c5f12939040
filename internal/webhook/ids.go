package webhook

import (
	"context"
	"fmt"
	"sort"
	"sync"

	"rdvsync/internal/catalog"
	"rdvsync/internal/store"
)

// RDV Solidarités' receivers key their records on integer ids. RDVs and
// usagers carry theirs (rdv.RDV.RdvsID, rdv.Usager.RdvsID); the objects
// of the configuration take theirs from the YAML (rdvs_id: the id the
// receiver already knows from RDV Solidarités) or from the store, which
// allocates one per configuration id and keeps it.

// IDMapping is the integer id of one configured object (rdvsync rdvs-ids).
type IDMapping struct {
	Kind   string `json:"kind"` // store.KindOrganisation, …
	ID     string `json:"id"`   // configuration id
	RdvsID int64  `json:"rdvs_id"`
	// Source is "configuration" (rdvs_id in the YAML) or "allocated".
	Source string `json:"source"`
}

// configured returns the ids of the configured objects of kind, in
// configuration order, and the rdvs_id the YAML gives them (0: none).
func configured(cat *catalog.Catalog, kind string) ([]string, map[string]int64) {
	f := cat.Config
	var ids []string
	explicit := map[string]int64{}
	add := func(id string, n int64) {
		ids = append(ids, id)
		explicit[id] = n
	}
	switch kind {
	case store.KindOrganisation:
		for _, o := range f.Organisations {
			add(o.ID, o.RdvsID)
		}
	case store.KindService:
		for _, s := range f.Services {
			add(s.ID, s.RdvsID)
		}
	case store.KindLieu:
		for _, l := range f.Lieux {
			add(l.ID, l.RdvsID)
		}
	case store.KindMotif:
		for _, m := range f.Motifs {
			add(m.ID, m.RdvsID)
		}
	case store.KindAgent:
		for _, a := range f.Agents {
			add(a.ID, a.RdvsID)
		}
	}
	return ids, explicit
}

// AssignIDs gives every configured object its integer id, allocating
// those the configuration lacks, and returns the mapping. It refuses a
// configuration whose rdvs_id is the id allocated earlier to another
// object of the same kind: receivers already know that id as the other
// object. serve calls it at start and before taking a reloaded file.
func AssignIDs(ctx context.Context, st *store.Store, cat *catalog.Catalog) ([]IDMapping, error) {
	var out []IDMapping
	err := st.Update(ctx, func(tx *store.Tx) error {
		out = out[:0]
		for _, kind := range store.RdvsIDKinds {
			ids, explicit := configured(cat, kind)
			got, err := tx.ConfigRdvsIDs(kind, explicit, ids)
			if err != nil {
				return err
			}
			owner := map[int64]string{}
			for id, n := range tx.AllocatedRdvsIDs(kind) {
				owner[n] = id
			}
			for _, id := range ids {
				m := IDMapping{Kind: kind, ID: id, RdvsID: got[id], Source: "allocated"}
				if explicit[id] > 0 {
					m.Source = "configuration"
					if o, ok := owner[m.RdvsID]; ok && o != id {
						return fmt.Errorf("%s %q: rdvs_id %d was allocated by rdvsync to %s %q, and receivers know it as that one: choose another rdvs_id (rdvsync rdvs-ids lists the ids in use)",
							kind, id, m.RdvsID, kind, o)
					}
				}
				out = append(out, m)
			}
		}
		return nil
	})
	if err == nil {
		rememberIDs(st, cat, out)
	}
	return out, err
}

// assignedCache keeps, per store, the ids AssignIDs gave the objects of
// its last catalogue: an id never changes once given (the configuration's,
// or one allocated and kept), so a change rendered for a webhook finds
// them here instead of reading rdvs_ids in its transaction (a round trip
// per kind on PostgreSQL, while the booking holds its locks).
var assignedCache struct {
	sync.Mutex
	byStore map[*store.Store]assigned
}

type assigned struct {
	cat *catalog.Catalog
	ids map[string]map[string]int64 // kind → configuration id → rdvs_id
}

func rememberIDs(st *store.Store, cat *catalog.Catalog, list []IDMapping) {
	ids := map[string]map[string]int64{}
	for _, m := range list {
		if ids[m.Kind] == nil {
			ids[m.Kind] = map[string]int64{}
		}
		ids[m.Kind][m.ID] = m.RdvsID
	}
	c := &assignedCache
	c.Lock()
	defer c.Unlock()
	if c.byStore == nil {
		c.byStore = map[*store.Store]assigned{}
	}
	c.byStore[st] = assigned{cat: cat, ids: ids}
}

// assignedIDs returns what AssignIDs gave cat's objects in st, or nil
// (another catalogue, or AssignIDs not run). The map is shared: read it
// only.
func assignedIDs(st *store.Store, cat *catalog.Catalog) map[string]map[string]int64 {
	c := &assignedCache
	c.Lock()
	defer c.Unlock()
	if a, ok := c.byStore[st]; ok && a.cat == cat {
		return a.ids
	}
	return nil
}

// UnconfiguredIDs lists the ids allocated to objects no longer configured
// (kept: they come back if the object does).
func UnconfiguredIDs(ctx context.Context, st *store.Store, cat *catalog.Catalog) ([]IDMapping, error) {
	var out []IDMapping
	err := st.View(ctx, func(tx *store.ReadTx) error {
		for _, kind := range store.RdvsIDKinds {
			_, explicit := configured(cat, kind)
			var extra []IDMapping
			for id, n := range tx.AllocatedRdvsIDs(kind) {
				if _, ok := explicit[id]; !ok {
					extra = append(extra, IDMapping{Kind: kind, ID: id, RdvsID: n, Source: "allocated, not configured"})
				}
			}
			sort.Slice(extra, func(i, j int) bool { return extra[i].RdvsID < extra[j].RdvsID })
			out = append(out, extra...)
		}
		return nil
	})
	return out, err
}

// explicitCache keeps the rdvs_ids the current catalogue gives, by kind:
// building them walks every motif, agent, lieu… of the configuration, and
// each RDV change rendered for a webhook asks for them inside its write
// transaction, where every concurrent booking waits for it.
var explicitCache struct {
	sync.Mutex
	cat    *catalog.Catalog
	byKind map[string]map[string]int64
}

// explicitIDs is configured's map for cat, built once per catalogue. The
// map is shared: read it only.
func explicitIDs(cat *catalog.Catalog, kind string) map[string]int64 {
	c := &explicitCache
	c.Lock()
	defer c.Unlock()
	if c.cat != cat {
		c.cat, c.byKind = cat, map[string]map[string]int64{}
	}
	m, ok := c.byKind[kind]
	if !ok {
		_, m = configured(cat, kind)
		c.byKind[kind] = m
	}
	return m
}

// idResolver finds configured objects' ids inside a change's transaction,
// allocating the missing ones (a configuration reloaded between
// AssignIDs and the change, or tests without serve).
type idResolver struct {
	tx       *store.Tx
	assigned map[string]map[string]int64 // assignedIDs, or nil
	cat      *catalog.Catalog
	explicit map[string]map[string]int64 // kind → configuration id → rdvs_id
	seen     map[string]map[string]int64
}

func newIDResolver(st *store.Store, tx *store.Tx, cat *catalog.Catalog) *idResolver {
	return &idResolver{tx: tx, cat: cat, assigned: assignedIDs(st, cat),
		explicit: map[string]map[string]int64{}, seen: map[string]map[string]int64{}}
}

func (r *idResolver) id(kind, id string) (int64, error) {
	if n, ok := r.assigned[kind][id]; ok {
		return n, nil
	}
	if n, ok := r.seen[kind][id]; ok {
		return n, nil
	}
	explicit, ok := r.explicit[kind]
	if !ok {
		explicit = explicitIDs(r.cat, kind)
		r.explicit[kind] = explicit
	}
	got, err := r.tx.ConfigRdvsIDs(kind, explicit, []string{id})
	if err != nil {
		return 0, err
	}
	if r.seen[kind] == nil {
		r.seen[kind] = map[string]int64{}
	}
	r.seen[kind][id] = got[id]
	return got[id], nil
}
