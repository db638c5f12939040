// Package dataset generates a synthetic département — organisations, lieux,
// services, motifs, agents, plages d'ouverture, absences, sectors — as the
// YAML an admin would write, and RDVs booked on real slot starts of its
// plages. Benchmarks, load tests and `rdvsync gen-dataset` use it. The same
// seed and Params give the same bytes and the same RDVs.
package dataset

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
)

// Params shapes a dataset. A zero field takes the default of
// DefaultParams, a département as docs/design.md §8 sizes it.
type Params struct {
	Territory             string   // territory id, default "62"
	Timezone              string   // default Europe/Paris
	Start                 rdv.Date // first day of the RDVs (plages start on or before it); default 2027-01-04
	Months                int      // RDVs are booked from Start over this many months; default 6
	Organisations         int      // default 40
	Agents                int      // default 400, spread evenly over the organisations and services
	Services              int      // default 5, at most 8 (more are cut to 8)
	MotifsPerOrganisation int      // default 30, spread evenly over the services
	Plages                int      // default 1 200, about 3 weekly or monthly plages per agent
	Absences              int      // default 300: a week off, or every Wednesday afternoon
	Zones                 int      // sector zones, default 600, 10 per sector
	RDVs                  int      // default 100 000
}

// DefaultParams is a département: 40 organisations in one territory, 400
// agents, 1 200 plages, 30 motifs per organisation over 5 services, 600
// sector zones and 100 000 RDVs over 6 months.
func DefaultParams() Params {
	return Params{
		Territory:             "62",
		Timezone:              "Europe/Paris",
		Start:                 rdv.NewDate(2027, time.January, 4),
		Months:                6,
		Organisations:         40,
		Agents:                400,
		Services:              5,
		MotifsPerOrganisation: 30,
		Plages:                1200,
		Absences:              300,
		Zones:                 600,
		RDVs:                  100_000,
	}
}

func (p Params) withDefaults() Params {
	d := DefaultParams()
	set := func(v *int, def int) {
		if *v == 0 {
			*v = def
		}
	}
	if p.Territory == "" {
		p.Territory = d.Territory
	}
	if p.Timezone == "" {
		p.Timezone = d.Timezone
	}
	if p.Start == 0 {
		p.Start = d.Start
	}
	set(&p.Months, d.Months)
	set(&p.Organisations, d.Organisations)
	set(&p.Agents, d.Agents)
	set(&p.Services, d.Services)
	set(&p.MotifsPerOrganisation, d.MotifsPerOrganisation)
	set(&p.Plages, d.Plages)
	set(&p.Absences, d.Absences)
	set(&p.Zones, d.Zones)
	set(&p.RDVs, d.RDVs)
	return p
}

// RDV is one booked appointment.
type RDV struct {
	AgentID, MotifID, LieuID string
	Start, End               time.Time // in the organisation's zone
}

// Dataset is a generated configuration and its booked RDVs.
type Dataset struct {
	Params Params // with defaults filled in
	// Catalog is built from YAML().
	Catalog *catalog.Catalog
	// RDVs are sorted by start; no two of an agent overlap, none falls on a
	// holiday or an absence, and each starts on a slot of its plage
	// (plage start + k × motif duration).
	RDVs []RDV
	// Busy holds the RDVs as the agents' busy intervals.
	Busy *slots.MemBusy
	// SparseMotif is offered by a single plage, the third Thursday of each
	// month 09:00–12:00; its first two occurrences from Start are fully
	// booked and the later ones free, so its next availability is about ten
	// weeks ahead of Start.
	SparseMotif string

	yaml []byte
}

// YAML returns the configuration file text.
func (d *Dataset) YAML() []byte { return d.yaml }

var (
	serviceNames = []struct{ id, name string }{
		{"social", "Service social"},
		{"numerique", "Conseiller numérique"},
		{"pmi", "PMI"},
		{"insertion", "Insertion"},
		{"logement", "Logement"},
		{"autonomie", "Autonomie"},
		{"emploi", "Emploi"},
		{"justice", "Accès au droit"},
	}
	orgKinds  = []string{"MDS", "CCAS", "Médiathèque", "Mairie", "France Services"}
	towns     = []string{"Arras", "Lens", "Béthune", "Calais", "Boulogne-sur-Mer", "Saint-Omer", "Liévin", "Hénin-Beaumont", "Bruay-la-Buissière", "Berck", "Carvin", "Étaples", "Montreuil", "Avion", "Outreau", "Bapaume", "Hesdin", "Auchel", "Lillers", "Aire-sur-la-Lys"}
	firsts    = []string{"Camille", "Thomas", "Léa", "Hugo", "Chloé", "Lucas", "Manon", "Nathan", "Inès", "Louis", "Sarah", "Jules", "Emma", "Gabriel", "Zoé", "Arthur"}
	lasts     = []string{"Martin", "Leroy", "Dubois", "Lefebvre", "Moreau", "Durand", "Lambert", "Fontaine", "Roux", "Caron", "Bernard", "Petit", "Garnier", "Faure", "Mercier", "Blanc"}
	motifWhat = []string{"Premier accueil", "Suivi", "Orientation RSA", "Aide administrative", "Bilan", "Accompagnement", "Permanence", "Information collective", "Démarches en ligne", "Entretien"}
	durations = []int{15, 20, 30, 30, 45, 60}
	weekdays  = []string{"", "monday", "tuesday", "wednesday", "thursday", "friday"}
)

// half is a morning or an afternoon of a weekday.
type half struct {
	weekday   int // 1 = monday … 5 = friday
	afternoon bool
}

type gen struct {
	p     Params
	rng   *rand.Rand
	buf   bytes.Buffer
	lieux []int // number of lieux of each organisation
}

func (g *gen) printf(format string, args ...any) { fmt.Fprintf(&g.buf, format, args...) }

func q(s string) string { return strconv.Quote(s) }

// Generate builds the dataset of seed and p, and panics where New returns
// an error: for tests and benchmarks, whose parameters are fixed.
func Generate(seed int64, p Params) *Dataset {
	d, err := New(seed, p)
	if err != nil {
		panic(err)
	}
	return d
}

// New builds the dataset of seed and p. It refuses shapes it cannot
// generate: a negative size, fewer agents than organisations × services
// (every organisation has an agent of every service), no more motifs per
// organisation than services, more than maxZones sector zones, or more RDVs
// than the plages hold over Params.Months.
func New(seed int64, p Params) (*Dataset, error) {
	p = p.withDefaults()
	p.Services = min(p.Services, len(serviceNames))
	if err := p.check(); err != nil {
		return nil, err
	}
	g := &gen{p: p, rng: rand.New(rand.NewPCG(uint64(seed), 0x7264767379_6e63))}
	sparse := g.writeYAML()
	f, err := config.Parse("dataset.yaml", g.buf.Bytes())
	if err != nil {
		return nil, fmt.Errorf("dataset: bug: generated configuration is invalid:\n%v", err)
	}
	cat, err := catalog.Build(f)
	if err != nil {
		return nil, fmt.Errorf("dataset: bug: %v", err)
	}
	d := &Dataset{Params: p, Catalog: cat, SparseMotif: sparse.motif, yaml: bytes.Clone(g.buf.Bytes())}
	d.RDVs = g.book(cat, sparse.plage)
	if len(d.RDVs) < p.RDVs {
		return nil, fmt.Errorf("dataset: only %d of the %d RDVs asked fit in %d plages over %d months: ask fewer RDVs, or more plages or months",
			len(d.RDVs), p.RDVs, p.Plages, p.Months)
	}
	d.Busy = slots.NewMemBusy()
	for _, r := range d.RDVs {
		d.Busy.Add(r.AgentID, rdv.Interval{Start: r.Start, End: r.End})
	}
	d.Busy.Sort()
	return d, nil
}

// maxZones is the most sector zones the generator makes distinct (city
// codes 62000–62999).
const maxZones = 1000

// check refuses the shapes New cannot generate (p has its defaults).
func (p Params) check() error {
	for _, f := range []struct {
		name string
		v    int
	}{{"organisations", p.Organisations}, {"agents", p.Agents}, {"services", p.Services}, {"motifs per organisation", p.MotifsPerOrganisation},
		{"plages", p.Plages}, {"absences", p.Absences}, {"zones", p.Zones}, {"RDVs", p.RDVs}, {"months", p.Months}} {
		if f.v < 0 {
			return fmt.Errorf("dataset: %d %s: must not be negative", f.v, f.name)
		}
	}
	switch {
	case p.Agents < p.Organisations*p.Services:
		return fmt.Errorf("dataset: %d agents cannot give each of %d organisations an agent of each of its %d services: at least %d agents are needed",
			p.Agents, p.Organisations, p.Services, p.Organisations*p.Services)
	case p.MotifsPerOrganisation <= p.Services:
		// One more: the monthly permanence (SparseMotif) is offered by
		// its own plage only.
		return fmt.Errorf("dataset: %d motifs per organisation cannot cover %d services and the monthly permanence: at least %d are needed",
			p.MotifsPerOrganisation, p.Services, p.Services+1)
	case p.Zones > maxZones:
		return fmt.Errorf("dataset: %d sector zones: at most %d are generated", p.Zones, maxZones)
	}
	return nil
}

func orgID(o int) string          { return fmt.Sprintf("org%02d", o+1) }
func lieuID(o, l int) string      { return fmt.Sprintf("org%02d-lieu%d", o+1, l+1) }
func motifID(o, m int) string     { return fmt.Sprintf("org%02d-m%02d", o+1, m+1) }
func agentID(a int) string        { return fmt.Sprintf("ag%03d", a+1) }
func plageID(i int) string        { return fmt.Sprintf("po%04d", i+1) }
func serviceOfMotif(m, s int) int { return m % s }

// agent a belongs to organisation a mod O and service (a div O) mod S, so
// every organisation has agents of every service when Agents ≥ O×S.
func (g *gen) agentOrg(a int) int     { return a % g.p.Organisations }
func (g *gen) agentService(a int) int { return (a / g.p.Organisations) % g.p.Services }

type sparsePlage struct{ motif, plage string }

// writeYAML writes the configuration and returns the sparse motif's ids.
func (g *gen) writeYAML() sparsePlage {
	p, r := g.p, g.rng
	g.printf("# Generated by rdvsync's dataset package: a synthetic département.\n")
	g.printf("timezone: %s\nholidays: fr\n", q(p.Timezone))
	g.printf("territories:\n  - { id: %s, name: %s }\n", q(p.Territory), q("Département "+p.Territory))
	g.lieux = make([]int, p.Organisations)
	g.printf("organisations:\n")
	for o := range p.Organisations {
		town := towns[o%len(towns)]
		g.printf("  - { id: %s, name: %s, territory: %s, phone: \"03 21 %02d %02d 00\", email: %s }\n",
			orgID(o), q(fmt.Sprintf("%s %s %d", orgKinds[o%len(orgKinds)], town, o/len(towns)+1)), q(p.Territory), o/100, o%100, q(orgID(o)+"@example.org"))
		g.lieux[o] = 1 + r.IntN(3)
	}
	g.printf("services:\n")
	for s := range p.Services {
		g.printf("  - { id: %s, name: %s }\n", serviceNames[s].id, q(serviceNames[s].name))
	}
	g.printf("lieux:\n")
	for o := range p.Organisations {
		for l := range g.lieux[o] {
			g.printf("  - { id: %s, organisation: %s, name: %s, address: %s }\n", lieuID(o, l), orgID(o),
				q(fmt.Sprintf("%s %s, site %d", orgKinds[o%len(orgKinds)], towns[o%len(towns)], l+1)),
				q(fmt.Sprintf("%d rue de la République, 62%03d %s", 1+r.IntN(120), r.IntN(1000), towns[o%len(towns)])))
		}
	}

	sparse := sparsePlage{motif: motifID(0, p.MotifsPerOrganisation-1)}
	sparseService := serviceOfMotif(p.MotifsPerOrganisation-1, p.Services)
	g.printf("motifs:\n")
	for o := range p.Organisations {
		for m := range p.MotifsPerOrganisation {
			s := serviceOfMotif(m, p.Services)
			dur, loc, by, level := durations[r.IntN(len(durations))], "public_office", "agents", "departement"
			switch x := r.IntN(10); {
			case x < 1:
				loc = "phone"
			case x < 2:
				loc = "visio"
			}
			switch x := r.IntN(10); {
			case x < 4:
				by = "agents_and_prescripteurs"
			case x < 6:
				by = "everyone"
			}
			switch x := r.IntN(10); {
			case x < 2:
				level = "organisation"
			case x < 3:
				level = "agent"
			}
			name := motifWhat[r.IntN(len(motifWhat))] + " — " + serviceNames[s].name
			if motifID(o, m) == sparse.motif {
				dur, loc, by, level, name = 60, "public_office", "everyone", "departement", "Permanence juridique (mensuelle)"
			}
			g.printf("  - { id: %s, organisation: %s, service: %s, name: %s, duration: %dm, location_type: %s, bookable_by: %s, sectorisation_level: %s }\n",
				motifID(o, m), orgID(o), serviceNames[s].id, q(name), dur, loc, by, level)
		}
	}

	g.printf("agents:\n")
	for a := range p.Agents {
		first, last := firsts[r.IntN(len(firsts))], lasts[r.IntN(len(lasts))]
		sum := sha256.Sum256([]byte("dataset-token-" + agentID(a)))
		g.printf("  - { id: %s, first_name: %s, last_name: %s, email: %s, organisations: [%s], services: [%s], token_sha256: %q }\n",
			agentID(a), q(first), q(last), q(fmt.Sprintf("%s.%s.%d@example.org", lower(first), lower(last), a+1)),
			orgID(g.agentOrg(a)), serviceNames[g.agentService(a)].id, hex.EncodeToString(sum[:]))
	}

	g.printf("plages_ouverture:\n")
	used := make([]map[half]bool, p.Agents)
	for a := range used {
		used[a] = map[half]bool{}
	}
	// The sparse plage comes first so that its agent's other plages avoid
	// its Thursday morning; it is written last to keep the ids in order.
	sparseAgent := 0
	for a := range p.Agents {
		if g.agentOrg(a) == 0 && g.agentService(a) == sparseService {
			sparseAgent = a
			break
		}
	}
	used[sparseAgent][half{4, false}] = true
	sparse.plage = plageID(p.Plages - 1)
	for i := range p.Plages - 1 {
		g.plage(i, i%p.Agents, used[i%p.Agents], sparse.motif)
	}
	g.printf("  - { id: %s, agent: %s, lieu: %s, motifs: [%s], first_day: %s, start_time: \"09:00\", end_time: \"12:00\", recurrence: { every: month, on: [thursday], week_of_month: 3 } }\n",
		sparse.plage, agentID(sparseAgent), lieuID(0, 0), sparse.motif, p.Start)

	if p.Absences > 0 {
		g.printf("absences:\n")
	}
	for i := range p.Absences {
		a := r.IntN(p.Agents)
		if a == sparseAgent { // keep the sparse motif's later mornings free
			a = (a + 1) % p.Agents
		}
		if r.IntN(4) == 0 {
			g.printf("  - { id: ab%04d, agent: %s, first_day: %s, start_time: \"13:00\", end_time: \"18:00\", recurrence: { every: week, on: [wednesday] } }\n",
				i+1, agentID(a), p.Start.AddDays(-7))
			continue
		}
		first := p.Start.AddDays(r.IntN(p.Months * 30))
		g.printf("  - { id: ab%04d, agent: %s, first_day: %s, end_day: %s }\n", i+1, agentID(a), first, first.AddDays(4))
	}

	g.sectors()
	return sparse
}

// plage writes plage i of agent a: mostly weekly on one or two days, every
// week or every other week, else monthly; on half-days the agent does not
// already use.
func (g *gen) plage(i, a int, used map[half]bool, exclude string) {
	p, r := g.p, g.rng
	o, s := g.agentOrg(a), g.agentService(a)
	var motifs []string
	for m := range p.MotifsPerOrganisation {
		if id := motifID(o, m); serviceOfMotif(m, p.Services) == s && id != exclude && r.IntN(3) > 0 {
			motifs = append(motifs, id)
		}
	}
	if len(motifs) == 0 {
		for m := range p.MotifsPerOrganisation {
			if id := motifID(o, m); serviceOfMotif(m, p.Services) == s && id != exclude {
				motifs = append(motifs, id)
				break
			}
		}
	}
	if len(motifs) == 0 {
		panic("dataset: an organisation has no motif for one of its agents' services; raise MotifsPerOrganisation")
	}
	afternoon := r.IntN(2) == 0
	days := g.freeDays(used, afternoon, 1+r.IntN(2))
	if len(days) == 0 {
		afternoon = !afternoon
		days = g.freeDays(used, afternoon, 1)
	}
	if len(days) == 0 {
		days = []int{1 + r.IntN(5)} // every half-day taken: overlapping plages are allowed
	}
	start, end := []string{"08:30", "09:00", "09:00", "09:30"}[r.IntN(4)], []string{"11:30", "12:00", "12:00", "12:30"}[r.IntN(4)]
	if afternoon {
		start, end = []string{"13:30", "14:00"}[r.IntN(2)], []string{"16:30", "17:00", "17:30"}[r.IntN(3)]
	}
	first := p.Start.AddDays(-7 * r.IntN(10))
	var rec string
	switch x := r.IntN(20); {
	case x < 11:
		rec = fmt.Sprintf("{ every: week, on: [%s]", dayList(days))
	case x < 15:
		rec = fmt.Sprintf("{ every: week, interval: 2, on: [%s]", dayList(days))
	default:
		wom := []int{1, 2, 3, 4, -1}[r.IntN(5)]
		rec = fmt.Sprintf("{ every: month, on: [%s], week_of_month: %d", weekdays[days[0]], wom)
	}
	if r.IntN(7) == 0 {
		rec += fmt.Sprintf(", until: %s", p.Start.AddDays(60+r.IntN(120)))
	}
	g.printf("  - { id: %s, agent: %s, lieu: %s, motifs: [%s], first_day: %s, start_time: %q, end_time: %q, recurrence: %s } }\n",
		plageID(i), agentID(a), lieuID(o, r.IntN(g.lieux[o])), joinIDs(motifs), first, start, end, rec)
}

// freeDays picks up to n weekdays whose half is still free, and marks them used.
func (g *gen) freeDays(used map[half]bool, afternoon bool, n int) []int {
	var days []int
	for _, d := range g.rng.Perm(5) {
		h := half{d + 1, afternoon}
		if !used[h] && len(days) < n {
			used[h] = true
			days = append(days, d+1)
		}
	}
	slices.Sort(days)
	return days
}

func dayList(days []int) string {
	var b bytes.Buffer
	for i, d := range days {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(weekdays[d])
	}
	return b.String()
}

func joinIDs(ids []string) string {
	var b bytes.Buffer
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(id)
	}
	return b.String()
}

func lower(s string) string {
	var b bytes.Buffer
	for _, c := range s {
		switch c {
		case 'é', 'è':
			c = 'e'
		case 'ï':
			c = 'i'
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		b.WriteRune(c)
	}
	return b.String()
}

// sectors writes Zones zones, ten per sector: city codes, postal codes and
// BAN streets. Each sector goes to one organisation, and for agent-level
// motifs to two of its agents.
func (g *gen) sectors() {
	p, r := g.p, g.rng
	if p.Zones <= 0 {
		return
	}
	g.printf("sectors:\n")
	for s, z := 0, 0; z < p.Zones; s++ {
		o := s % p.Organisations
		g.printf("  - id: secteur-%03d\n    territory: %s\n    zones:\n", s+1, q(p.Territory))
		for k := 0; k < 10 && z < p.Zones; k, z = k+1, z+1 {
			city := fmt.Sprintf("62%03d", z%1000)
			switch z % 3 {
			case 0:
				g.printf("      - { city_code: %q }\n", city)
			case 1:
				g.printf("      - { postal_code: %q }\n", fmt.Sprintf("62%03d", (z*7)%1000))
			default:
				g.printf("      - { street_ban_id: %q }\n", fmt.Sprintf("%s_%04d", city, r.IntN(10000)))
			}
		}
		g.printf("    attributions:\n      - { organisation: %s }\n", orgID(o))
		perOrg := max(1, p.Agents/p.Organisations)
		for k := range 2 {
			if a := o + p.Organisations*((2*(s/p.Organisations)+k)%perOrg); a < p.Agents {
				g.printf("      - { agent: %s }\n", agentID(a))
			}
		}
	}
}

// occurrence is one day of one plage.
type occurrence struct {
	plage *catalog.Plage
	day   rdv.Date
}

type agentDay struct {
	agent *catalog.Agent
	day   rdv.Date
}

// book places RDVs on slot starts of the plage occurrences from Start over
// Months, outside holidays and absences, never two at once for an agent:
// first every slot of the sparse plage's first two occurrences, then
// RDVs at random on the other plages until there are p.RDVs (or the plages
// are nearly full).
func (g *gen) book(cat *catalog.Catalog, sparsePlage string) []RDV {
	p, r := g.p, g.rng
	y, m, d := p.Start.YMD()
	end := rdv.NewDate(y, m+time.Month(p.Months), d)
	var occs, sparse []occurrence
	for _, pl := range cat.Plages {
		for day := p.Start; day < end; day++ {
			if !pl.Recurrence.Occurs(pl.FirstDay, day) || cat.IsHoliday(pl.Organisation.Territory, day) {
				continue
			}
			switch {
			case pl.ID != sparsePlage:
				occs = append(occs, occurrence{pl, day})
			case len(sparse) < 2:
				sparse = append(sparse, occurrence{pl, day})
			}
		}
	}
	rdvs := make([]RDV, 0, p.RDVs)
	taken := map[agentDay][]rdv.Interval{}
	// try books slot k of motif m in occurrence o; false when the slot
	// does not fit in the plage or the agent is absent or busy.
	try := func(o occurrence, m *catalog.Motif, k int) bool {
		loc := o.plage.Organisation.Location
		start := o.day.At(o.plage.Start, loc).Add(time.Duration(k) * m.Duration)
		iv := rdv.Interval{Start: start, End: start.Add(m.Duration)}
		if iv.End.After(o.day.At(o.plage.End, loc)) || absent(o.plage.Agent, o.day, iv, loc) {
			return false
		}
		key := agentDay{o.plage.Agent, o.day}
		for _, b := range taken[key] {
			if b.Overlaps(iv) {
				return false
			}
		}
		taken[key] = append(taken[key], iv)
		lieu := ""
		if o.plage.Lieu != nil {
			lieu = o.plage.Lieu.ID
		}
		rdvs = append(rdvs, RDV{AgentID: o.plage.Agent.ID, MotifID: m.ID, LieuID: lieu, Start: iv.Start, End: iv.End})
		return true
	}
	for _, o := range sparse {
		for k, m := 0, o.plage.Motifs[0]; len(rdvs) < p.RDVs && o.plage.Start+rdv.TimeOfDay((k+1)*int(m.Duration/time.Minute)) <= o.plage.End; k++ {
			try(o, m, k)
		}
	}
	for attempts := 0; len(rdvs) < p.RDVs && len(occs) > 0 && attempts < 20*p.RDVs; attempts++ {
		o := occs[r.IntN(len(occs))]
		m := o.plage.Motifs[r.IntN(len(o.plage.Motifs))]
		n := int(o.plage.End-o.plage.Start) / int(m.Duration/time.Minute)
		if n > 0 {
			try(o, m, r.IntN(n))
		}
	}
	slices.SortFunc(rdvs, func(a, b RDV) int {
		if c := a.Start.Compare(b.Start); c != 0 {
			return c
		}
		return cmp.Compare(a.AgentID, b.AgentID)
	})
	return rdvs
}

// absent reports whether one of agent's absences covers part of iv on day.
func absent(agent *catalog.Agent, day rdv.Date, iv rdv.Interval, loc *time.Location) bool {
	for _, a := range agent.Absences {
		for k := 0; k <= a.Days; k++ {
			x := day.AddDays(-k)
			if !a.Recurrence.Occurs(a.FirstDay, x) {
				continue
			}
			if (rdv.Interval{Start: x.At(a.Start, loc), End: x.AddDays(a.Days).At(a.End, loc)}).Overlaps(iv) {
				return true
			}
		}
	}
	return false
}
