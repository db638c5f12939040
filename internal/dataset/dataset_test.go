package dataset_test

import (
	"bytes"
	"slices"
	"strings"
	"testing"
	"time"

	"rdvsync/internal/config"
	"rdvsync/internal/dataset"
	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
)

func TestDefaultDatasetIsADepartement(t *testing.T) {
	d := dataset.Generate(1, dataset.Params{})
	f, err := config.Parse("dataset.yaml", d.YAML())
	if err != nil {
		t.Fatalf("generated YAML does not validate:\n%v", err)
	}
	zones := 0
	for _, s := range f.Sectors {
		zones += len(s.Zones)
	}
	counts := []struct {
		what      string
		got, want int
	}{
		{"territories", len(f.Territories), 1},
		{"organisations", len(f.Organisations), 40},
		{"agents", len(f.Agents), 400},
		{"services", len(f.Services), 5},
		{"motifs", len(f.Motifs), 40 * 30},
		{"plages", len(f.PlagesOuverture), 1200},
		{"sector zones", zones, 600},
		{"RDVs", len(d.RDVs), 100_000},
	}
	for _, c := range counts {
		if c.got != c.want {
			t.Errorf("%d %s, want %d", c.got, c.what, c.want)
		}
	}
	var weekly, monthly int
	for _, p := range f.PlagesOuverture {
		switch {
		case p.Recurrence == nil:
		case p.Recurrence.Every == "week":
			weekly++
		case p.Recurrence.Every == "month":
			monthly++
		}
	}
	if weekly < 600 || monthly < 150 {
		t.Errorf("plages: %d weekly, %d monthly; want a mix of mostly weekly", weekly, monthly)
	}
	kinds := map[string]bool{}
	for _, m := range f.Motifs {
		kinds[string(m.BookableBy)] = true
		kinds[string(m.SectorisationLevel)] = true
	}
	if len(kinds) != 6 {
		t.Errorf("motifs use %v; want every bookable_by and every sectorisation level", kinds)
	}
	y, m, day := d.Params.Start.YMD()
	end := time.Date(y, m+6, day, 0, 0, 0, 0, time.UTC)
	for _, r := range []dataset.RDV{d.RDVs[0], d.RDVs[len(d.RDVs)-1]} {
		if r.Start.Before(d.Params.Start.At(0, time.UTC).Add(-2*time.Hour)) || r.Start.After(end) {
			t.Errorf("RDV at %s outside the six months from %s", r.Start, d.Params.Start)
		}
	}
}

func TestDeterministic(t *testing.T) {
	p := dataset.Params{Organisations: 4, Agents: 40, Plages: 120, Zones: 60, Absences: 20, RDVs: 2000}
	a, b, c := dataset.Generate(7, p), dataset.Generate(7, p), dataset.Generate(8, p)
	sameRDV := func(x, y dataset.RDV) bool {
		return x.AgentID == y.AgentID && x.MotifID == y.MotifID && x.LieuID == y.LieuID && x.Start.Equal(y.Start) && x.End.Equal(y.End)
	}
	if !bytes.Equal(a.YAML(), b.YAML()) || !slices.EqualFunc(a.RDVs, b.RDVs, sameRDV) {
		t.Error("the same seed gave two datasets")
	}
	if bytes.Equal(a.YAML(), c.YAML()) {
		t.Error("seeds 7 and 8 gave the same configuration")
	}
}

// TestRDVsAreOnFreeSlots checks every RDV of a small dataset against the slot
// engine: it starts on a slot that its agent offers for its motif and lieu
// when nothing is booked, and no two RDVs of an agent overlap.
func TestRDVsAreOnFreeSlots(t *testing.T) {
	d := dataset.Generate(3, dataset.Params{Organisations: 4, Agents: 40, Plages: 120, Zones: 60, Absences: 40, RDVs: 3000, Months: 2})
	if len(d.RDVs) != 3000 {
		t.Fatalf("%d RDVs, want 3000", len(d.RDVs))
	}
	cat := d.Catalog
	now := d.Params.Start.At(0, time.UTC).Add(-24 * time.Hour)
	offered := map[string]bool{}
	for _, r := range d.RDVs {
		m, a := cat.Motif(r.MotifID), cat.Agent(r.AgentID)
		day := rdv.DateOf(r.Start.In(m.Organisation.Location))
		q := slots.Query{Motif: m, Lieu: cat.Lieu(r.LieuID), Agent: a, Caller: a, AgentView: true, From: day, To: day, Now: now}
		key := r.MotifID + r.LieuID + r.AgentID + day.String()
		if _, seen := offered[key]; !seen {
			for _, s := range slots.Search(cat, q) {
				offered[key+s.Start.UTC().String()] = true
			}
			offered[key] = true
		}
		if !offered[key+r.Start.UTC().String()] {
			t.Errorf("RDV %+v is not on a slot of its agent", r)
		}
	}
	byAgent := map[string][]dataset.RDV{}
	for _, r := range d.RDVs {
		byAgent[r.AgentID] = append(byAgent[r.AgentID], r)
	}
	for id, rs := range byAgent {
		for i := 1; i < len(rs); i++ {
			if rs[i].Start.Before(rs[i-1].End) {
				t.Errorf("agent %s: RDVs at %s and %s overlap", id, rs[i-1].Start, rs[i].Start)
			}
		}
	}
}

// TestSparseMotif checks the fixture the next-availability benchmark relies on.
func TestSparseMotif(t *testing.T) {
	d := dataset.Generate(1, dataset.Params{Organisations: 4, Agents: 40, Plages: 120, Zones: 60, RDVs: 2000})
	m := d.Catalog.Motif(d.SparseMotif)
	if m == nil || len(m.Plages) != 1 {
		t.Fatalf("sparse motif %q must have one plage", d.SparseMotif)
	}
	now := d.Params.Start.At(8*60, m.Organisation.Location)
	s, ok := slots.Next(d.Catalog, slots.Query{Motif: m, Now: now, Busy: d.Busy})
	// Third Thursdays from 4 January 2027: 21 January and 18 February are
	// booked full, 18 March is free.
	if want := "2027-03-18T09:00:00+01:00"; !ok || s.Start.Format(time.RFC3339) != want {
		t.Errorf("next slot of the sparse motif: %s, %v; want %s", s.Start.Format(time.RFC3339), ok, want)
	}
}

// New refuses the shapes it cannot generate, saying why, instead of
// panicking or quietly generating less.
func TestNewRefusesImpossibleShapes(t *testing.T) {
	small := dataset.Params{Organisations: 4, Agents: 40, Plages: 120, Zones: 60, RDVs: 2000}
	for _, c := range []struct {
		name string
		edit func(*dataset.Params)
		want string
	}{
		{"too few agents", func(p *dataset.Params) { p.Agents = 19 }, "at least 20 agents are needed"},
		{"too few motifs", func(p *dataset.Params) { p.MotifsPerOrganisation = 5 }, "at least 6 are needed"},
		{"negative", func(p *dataset.Params) { p.Plages = -1 }, "-1 plages: must not be negative"},
		{"too many zones", func(p *dataset.Params) { p.Zones = 1001 }, "at most 1000"},
		{"more RDVs than the plages hold", func(p *dataset.Params) { p.Plages, p.RDVs = 8, 5000 }, "of the 5000 RDVs asked fit in 8 plages over 6 months"},
	} {
		p := small
		c.edit(&p)
		if _, err := dataset.New(1, p); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want it to say %q", c.name, err, c.want)
		}
	}
	if _, err := dataset.New(1, small); err != nil {
		t.Errorf("a possible shape: %v", err)
	}
}
