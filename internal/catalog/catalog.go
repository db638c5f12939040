// Package catalog is the immutable snapshot of the configuration that the
// rest of rdvsync reads: ids resolved to pointers, time zones loaded, and
// the per-motif, per-agent and per-territory indexes the slot engine walks.
// A new Catalog is built on every reload and swapped atomically; nothing in
// it is modified after Build returns.
package catalog

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/rickar/cal/v2/fr"

	"rdvsync/internal/config"
	"rdvsync/internal/rdv"
)

type Territory struct {
	ID, Name      string
	Organisations []*Organisation
	Sectors       []*Sector
	extraHolidays map[rdv.Date]bool
}

type Organisation struct {
	ID, Name     string
	Territory    *Territory
	Location     *time.Location
	Phone, Email string
	Lieux        []*Lieu
	Motifs       []*Motif
	Agents       []*Agent
}

type Service struct {
	ID, Name string
}

type Lieu struct {
	ID, Name, Address string
	Organisation      *Organisation
	// Rank is the position of ID among the catalogue's lieu ids in byte
	// order, from 1: comparing ranks compares ids without reading strings
	// (the slot engine sorts thousands of slots by id).
	Rank int32
}

type Motif struct {
	ID, Name            string
	Organisation        *Organisation
	Service             *Service
	Duration            time.Duration
	LocationType        rdv.LocationType
	BookableBy          rdv.BookableBy
	MinBookingDelay     time.Duration
	MaxBookingDelay     time.Duration
	SectorisationLevel  rdv.SectorisationLevel
	Instructions        string
	CancellableByUsager bool
	// Rank is the position of ID among the motif ids in byte order (see Lieu.Rank).
	Rank int32
	// Plages are the plages d'ouverture that offer this motif.
	Plages []*Plage
	// Lieux are the distinct lieux of those plages, in configuration order.
	Lieux []*Lieu
}

// UsagerMayMove says whether the usager moves an RDV of m from its link:
// the motif lets it change the RDV, and its créneaux are public (the slot
// picker offers what a prescripteur would see); an agents-only motif is
// moved by its service.
func (m *Motif) UsagerMayMove() bool {
	return m.CancellableByUsager && m.BookableBy.OpenToPrescription()
}

type Agent struct {
	ID, FirstName, LastName, Email string
	Organisations                  []*Organisation
	Services                       []*Service
	NotificationsLevel             rdv.NotificationsLevel
	Calendar                       *config.Calendar // nil: no external calendar
	Plages                         []*Plage
	Absences                       []*Absence
	// Rank is the position of ID among the agent ids in byte order (see Lieu.Rank).
	Rank        int32
	tokenSHA256 [32]byte
}

// Recurrence repeats a plage or an absence. A nil *Recurrence is a single day.
type Recurrence struct {
	Monthly     bool // false: weekly
	Interval    int
	On          [7]bool // indexed by time.Weekday
	WeekOfMonth int     // monthly: 1..4, -1 = last
	Until       rdv.Date
	HasUntil    bool
}

type Plage struct {
	ID           string
	Agent        *Agent
	Organisation *Organisation
	Lieu         *Lieu // nil for motifs not received in a public office
	Motifs       []*Motif
	FirstDay     rdv.Date
	Start, End   rdv.TimeOfDay
	Recurrence   *Recurrence
}

type Absence struct {
	Agent      *Agent
	FirstDay   rdv.Date
	Days       int // end_day - first_day
	Start, End rdv.TimeOfDay
	Recurrence *Recurrence
}

type Sector struct {
	ID            string
	Territory     *Territory
	Zones         []config.Zone
	Organisations []*Organisation
	Agents        []*Agent
}

// Catalog is one immutable configuration snapshot.
type Catalog struct {
	Config        *config.File
	Territories   []*Territory
	Organisations []*Organisation
	Services      []*Service
	Lieux         []*Lieu
	Motifs        []*Motif
	Agents        []*Agent
	Plages        []*Plage
	Absences      []*Absence
	Sectors       []*Sector

	territoryByID map[string]*Territory
	orgByID       map[string]*Organisation
	serviceByID   map[string]*Service
	lieuByID      map[string]*Lieu
	motifByID     map[string]*Motif
	agentByID     map[string]*Agent
	agentByToken  map[[32]byte]*Agent
	agentByEmail  map[string]*Agent // lower-cased
	frHolidays    bool
	holidayCache  map[rdv.Date]bool // national holidays, years precomputed at build
	holidayYears  [2]int
}

func (c *Catalog) Territory(id string) *Territory       { return c.territoryByID[id] }
func (c *Catalog) Organisation(id string) *Organisation { return c.orgByID[id] }
func (c *Catalog) Service(id string) *Service           { return c.serviceByID[id] }
func (c *Catalog) Lieu(id string) *Lieu                 { return c.lieuByID[id] }
func (c *Catalog) Motif(id string) *Motif               { return c.motifByID[id] }
func (c *Catalog) Agent(id string) *Agent               { return c.agentByID[id] }

// AgentByEmail returns the agent whose configured email is addr, ignoring
// case (the configuration keeps emails unique that way), or nil.
func (c *Catalog) AgentByEmail(addr string) *Agent {
	if addr == "" {
		return nil
	}
	return c.agentByEmail[strings.ToLower(addr)]
}

// AuthenticateAgent returns the agent whose token is tok, comparing hashes
// in constant time.
func (c *Catalog) AuthenticateAgent(id, tok string) *Agent {
	a := c.agentByID[id]
	if a == nil {
		return nil
	}
	sum := sha256.Sum256([]byte(tok))
	if subtle.ConstantTimeCompare(sum[:], a.tokenSHA256[:]) != 1 {
		return nil
	}
	return a
}

// AgentByToken finds the agent owning a Bearer token. Looking up by the
// token's sha256 leaks nothing usable about the token through timing.
func (c *Catalog) AgentByToken(tok string) *Agent {
	return c.agentByToken[sha256.Sum256([]byte(tok))]
}

// DemoTokenPrefix starts the agent tokens of the example configuration,
// demo-token-<agent id>: they are published in the README, so anyone may
// sign in as an agent that keeps one.
const DemoTokenPrefix = "demo-token-"

// DemoAgents returns the agents whose token is their published demo token.
func (c *Catalog) DemoAgents() []*Agent {
	var out []*Agent
	for _, a := range c.Agents {
		if c.AuthenticateAgent(a.ID, DemoTokenPrefix+a.ID) != nil {
			out = append(out, a)
		}
	}
	return out
}

// MemberOf reports whether the agent belongs to the organisation.
func (a *Agent) MemberOf(o *Organisation) bool { return slices.Contains(a.Organisations, o) }

// OrganisationIDs returns the ids of the agent's organisations: what it
// may see of usagers is what they know (booking.UsagerSeenBy).
func (a *Agent) OrganisationIDs() []string {
	ids := make([]string, len(a.Organisations))
	for i, o := range a.Organisations {
		ids[i] = o.ID
	}
	return ids
}

// InTerritory reports whether one of the agent's organisations is in t.
func (a *Agent) InTerritory(t *Territory) bool {
	for _, o := range a.Organisations {
		if o.Territory == t {
			return true
		}
	}
	return false
}

// FullName is "First Last".
func (a *Agent) FullName() string { return a.FirstName + " " + a.LastName }

// IsHoliday reports whether d is a public holiday in territory t.
func (c *Catalog) IsHoliday(t *Territory, d rdv.Date) bool {
	if t != nil && t.extraHolidays[d] {
		return true
	}
	if !c.frHolidays {
		return false
	}
	y, _, _ := d.YMD()
	if y >= c.holidayYears[0] && y <= c.holidayYears[1] {
		return c.holidayCache[d]
	}
	return isFrenchHoliday(d)
}

func isFrenchHoliday(d rdv.Date) bool {
	y, _, _ := d.YMD()
	for _, h := range fr.Holidays {
		if actual, _ := h.Calc(y); !actual.IsZero() && rdv.DateOf(actual) == d {
			return true
		}
	}
	return false
}

// rank sets each item's rank: its position, from 1, in id order.
func rank[T any](items []T, id func(T) string, set func(T, int32)) {
	sorted := slices.Clone(items)
	slices.SortFunc(sorted, func(a, b T) int { return strings.Compare(id(a), id(b)) })
	for i, x := range sorted {
		set(x, int32(i+1))
	}
}

// Build resolves a validated configuration into a snapshot.
func Build(f *config.File) (*Catalog, error) {
	c := &Catalog{
		Config:        f,
		territoryByID: map[string]*Territory{},
		orgByID:       map[string]*Organisation{},
		serviceByID:   map[string]*Service{},
		lieuByID:      map[string]*Lieu{},
		motifByID:     map[string]*Motif{},
		agentByID:     map[string]*Agent{},
		agentByToken:  map[[32]byte]*Agent{},
		agentByEmail:  map[string]*Agent{},
		frHolidays:    f.Holidays == "fr",
	}
	for _, t := range f.Territories {
		x := &Territory{ID: t.ID, Name: t.Name, extraHolidays: map[rdv.Date]bool{}}
		for _, d := range t.ExtraHolidays {
			x.extraHolidays[d] = true
		}
		c.Territories = append(c.Territories, x)
		c.territoryByID[t.ID] = x
	}
	for _, o := range f.Organisations {
		loc, err := time.LoadLocation(o.Timezone)
		if err != nil {
			return nil, fmt.Errorf("organisation %s: %w", o.ID, err)
		}
		x := &Organisation{ID: o.ID, Name: o.Name, Territory: c.territoryByID[o.Territory], Location: loc, Phone: o.Phone, Email: o.Email}
		x.Territory.Organisations = append(x.Territory.Organisations, x)
		c.Organisations = append(c.Organisations, x)
		c.orgByID[o.ID] = x
	}
	for _, s := range f.Services {
		x := &Service{ID: s.ID, Name: s.Name}
		c.Services = append(c.Services, x)
		c.serviceByID[s.ID] = x
	}
	for _, l := range f.Lieux {
		x := &Lieu{ID: l.ID, Name: l.Name, Address: l.Address, Organisation: c.orgByID[l.Organisation]}
		x.Organisation.Lieux = append(x.Organisation.Lieux, x)
		c.Lieux = append(c.Lieux, x)
		c.lieuByID[l.ID] = x
	}
	for _, m := range f.Motifs {
		x := &Motif{
			ID: m.ID, Name: m.Name, Organisation: c.orgByID[m.Organisation], Service: c.serviceByID[m.Service],
			Duration: m.Duration.D(), LocationType: m.LocationType, BookableBy: m.BookableBy,
			MinBookingDelay: m.MinBookingDelay.D(), MaxBookingDelay: m.MaxBookingDelay.D(),
			SectorisationLevel: m.SectorisationLevel, Instructions: m.Instructions,
			CancellableByUsager: *m.CancellableByUsager,
		}
		x.Organisation.Motifs = append(x.Organisation.Motifs, x)
		c.Motifs = append(c.Motifs, x)
		c.motifByID[m.ID] = x
	}
	for i := range f.Agents {
		a := &f.Agents[i]
		x := &Agent{ID: a.ID, FirstName: a.FirstName, LastName: a.LastName, Email: a.Email,
			NotificationsLevel: a.RDVNotificationsLevel, Calendar: a.Calendar}
		if _, err := hex.Decode(x.tokenSHA256[:], []byte(a.TokenSHA256)); err != nil {
			return nil, fmt.Errorf("agent %s: token_sha256: %w", a.ID, err)
		}
		for _, o := range a.Organisations {
			org := c.orgByID[o]
			x.Organisations = append(x.Organisations, org)
			org.Agents = append(org.Agents, x)
		}
		for _, s := range a.Services {
			x.Services = append(x.Services, c.serviceByID[s])
		}
		c.Agents = append(c.Agents, x)
		c.agentByID[a.ID] = x
		c.agentByEmail[strings.ToLower(a.Email)] = x
		c.agentByToken[x.tokenSHA256] = x
	}
	for _, p := range f.PlagesOuverture {
		x := &Plage{ID: p.ID, Agent: c.agentByID[p.Agent], Organisation: c.orgByID[p.Organisation],
			Lieu: c.lieuByID[p.Lieu], FirstDay: p.FirstDay, Start: p.StartTime, End: p.EndTime,
			Recurrence: recurrence(p.Recurrence)}
		for _, id := range p.Motifs {
			m := c.motifByID[id]
			x.Motifs = append(x.Motifs, m)
			m.Plages = append(m.Plages, x)
			if x.Lieu != nil && !slices.Contains(m.Lieux, x.Lieu) {
				m.Lieux = append(m.Lieux, x.Lieu)
			}
		}
		x.Agent.Plages = append(x.Agent.Plages, x)
		c.Plages = append(c.Plages, x)
	}
	for _, a := range f.Absences {
		x := &Absence{Agent: c.agentByID[a.Agent], FirstDay: a.FirstDay, Days: int(*a.EndDay - a.FirstDay),
			Start: a.StartTime, End: a.EndTime, Recurrence: recurrence(a.Recurrence)}
		x.Agent.Absences = append(x.Agent.Absences, x)
		c.Absences = append(c.Absences, x)
	}
	for _, s := range f.Sectors {
		x := &Sector{ID: s.ID, Territory: c.territoryByID[s.Territory], Zones: s.Zones}
		for _, at := range s.Attributions {
			if at.Organisation != "" {
				x.Organisations = append(x.Organisations, c.orgByID[at.Organisation])
			} else {
				x.Agents = append(x.Agents, c.agentByID[at.Agent])
			}
		}
		x.Territory.Sectors = append(x.Territory.Sectors, x)
		c.Sectors = append(c.Sectors, x)
	}
	rank(c.Lieux, func(l *Lieu) string { return l.ID }, func(l *Lieu, r int32) { l.Rank = r })
	rank(c.Motifs, func(m *Motif) string { return m.ID }, func(m *Motif, r int32) { m.Rank = r })
	rank(c.Agents, func(a *Agent) string { return a.ID }, func(a *Agent, r int32) { a.Rank = r })
	if c.frHolidays {
		now := time.Now().Year()
		c.holidayYears = [2]int{now - 2, now + 5}
		c.holidayCache = map[rdv.Date]bool{}
		for y := c.holidayYears[0]; y <= c.holidayYears[1]; y++ {
			for _, h := range fr.Holidays {
				if actual, _ := h.Calc(y); !actual.IsZero() {
					c.holidayCache[rdv.DateOf(actual)] = true
				}
			}
		}
	}
	return c, nil
}

func recurrence(r *config.Recurrence) *Recurrence {
	if r == nil {
		return nil
	}
	x := &Recurrence{Monthly: r.Every == "month", Interval: r.Interval, WeekOfMonth: r.WeekOfMonth}
	for _, d := range r.On {
		x.On[d] = true
	}
	if r.Until != nil {
		x.Until, x.HasUntil = *r.Until, true
	}
	return x
}
