// Package sector implements sectorisation: an usager's address (INSEE city
// code, postal code or BAN street id) selects the sectors whose zones match
// it, and the organisations and agents attributed to those sectors are the
// only ones that may receive RDVs of a motif whose sectorisation_level asks
// for it. Everything here is pure.
package sector

import (
	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
)

// Address is the part of a postal address that sectorisation reads.
type Address struct {
	CityCode    string // INSEE code, e.g. "62041"
	PostalCode  string // e.g. "62000"
	StreetBanID string // BAN street id, e.g. "62041_0120"
}

// Empty reports whether no part of the address is known.
func (a Address) Empty() bool { return a.CityCode == "" && a.PostalCode == "" && a.StreetBanID == "" }

// Match is the result of locating an address: the organisations and agents
// attributed to the sectors whose zones contain it. A zero Match (no
// address given) restricts nothing.
type Match struct {
	known         bool
	organisations map[*catalog.Organisation]bool
	agents        map[*catalog.Agent]bool
}

// Locate finds the sectors of every territory whose zones match a.
func Locate(cat *catalog.Catalog, a Address) Match {
	if a.Empty() {
		return Match{}
	}
	m := Match{known: true, organisations: map[*catalog.Organisation]bool{}, agents: map[*catalog.Agent]bool{}}
	for _, s := range cat.Sectors {
		if !contains(s, a) {
			continue
		}
		for _, o := range s.Organisations {
			m.organisations[o] = true
		}
		for _, ag := range s.Agents {
			m.agents[ag] = true
		}
	}
	return m
}

func contains(s *catalog.Sector, a Address) bool {
	for _, z := range s.Zones {
		if (z.CityCode != "" && z.CityCode == a.CityCode) ||
			(z.PostalCode != "" && z.PostalCode == a.PostalCode) ||
			(z.StreetBanID != "" && z.StreetBanID == a.StreetBanID) {
			return true
		}
	}
	return false
}

// Restricted reports whether an address was given, so that sectorisation applies.
func (m Match) Restricted() bool { return m.known }

// AllowsMotif reports whether RDVs of motif may be booked at all for the
// address: departement-level motifs always; organisation-level motifs when
// the motif's organisation is attributed; agent-level motifs when at least
// one of the organisation's agents is attributed.
func (m Match) AllowsMotif(motif *catalog.Motif) bool {
	if !m.known {
		return true
	}
	switch motif.SectorisationLevel {
	case rdv.SectorisationOrganisation:
		return m.organisations[motif.Organisation]
	case rdv.SectorisationAgent:
		for _, a := range motif.Organisation.Agents {
			if m.agents[a] {
				return true
			}
		}
		return false
	}
	return true
}

// AllowsAgent reports whether agent may receive an RDV of motif for the
// address (only agent-level sectorisation restricts agents).
func (m Match) AllowsAgent(motif *catalog.Motif, agent *catalog.Agent) bool {
	if !m.known || motif.SectorisationLevel != rdv.SectorisationAgent {
		return m.AllowsMotif(motif)
	}
	return m.agents[agent]
}
