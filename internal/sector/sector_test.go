package sector_test

import (
	"testing"

	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/sector"
)

// Two organisations of the Pas-de-Calais: Arras (o1, agents a1 and a2) and
// Lens (o2, agent b1), each with one motif per sectorisation level. Arras's
// sector is its city code and gives the organisation and a1; a street of
// Arras is also given to a2; Lens's sector is its postal code.
const config62 = `
territories: [{ id: "62", name: Pas-de-Calais }]
organisations:
  - { id: o1, name: Arras, territory: "62" }
  - { id: o2, name: Lens, territory: "62" }
services: [{ id: social, name: Social }]
motifs:
  - { id: o1-dep, organisation: o1, service: social, name: D, duration: 30m, location_type: phone }
  - { id: o1-org, organisation: o1, service: social, name: O, duration: 30m, location_type: phone, sectorisation_level: organisation }
  - { id: o1-agent, organisation: o1, service: social, name: A, duration: 30m, location_type: phone, sectorisation_level: agent }
  - { id: o2-dep, organisation: o2, service: social, name: D, duration: 30m, location_type: phone }
  - { id: o2-org, organisation: o2, service: social, name: O, duration: 30m, location_type: phone, sectorisation_level: organisation }
  - { id: o2-agent, organisation: o2, service: social, name: A, duration: 30m, location_type: phone, sectorisation_level: agent }
agents:
  - { id: a1, first_name: A, last_name: Un, email: a1@example.org, organisations: [o1], token_sha256: "0000000000000000000000000000000000000000000000000000000000000001" }
  - { id: a2, first_name: A, last_name: Deux, email: a2@example.org, organisations: [o1], token_sha256: "0000000000000000000000000000000000000000000000000000000000000002" }
  - { id: b1, first_name: B, last_name: Un, email: b1@example.org, organisations: [o2], token_sha256: "0000000000000000000000000000000000000000000000000000000000000003" }
sectors:
  - id: arras
    territory: "62"
    zones: [{ city_code: "62041" }]
    attributions: [{ organisation: o1 }, { agent: a1 }]
  - id: arras-rue-verlaine
    territory: "62"
    zones: [{ street_ban_id: "62041_0120" }]
    attributions: [{ agent: a2 }]
  - id: lens
    territory: "62"
    zones: [{ postal_code: "62300" }]
    attributions: [{ organisation: o2 }, { agent: b1 }]
`

func build(t *testing.T) *catalog.Catalog {
	t.Helper()
	f, err := config.Parse("test.yaml", []byte(config62))
	if err != nil {
		t.Fatalf("configuration rejected:\n%v", err)
	}
	c, err := catalog.Build(f)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSectorisation(t *testing.T) {
	c := build(t)
	var (
		arras        = sector.Address{CityCode: "62041", PostalCode: "62000", StreetBanID: "62041_0001"}
		arrasVerlain = sector.Address{CityCode: "62041", PostalCode: "62000", StreetBanID: "62041_0120"}
		verlaineOnly = sector.Address{StreetBanID: "62041_0120"}
		lensPostal   = sector.Address{PostalCode: "62300"}
		elsewhere    = sector.Address{CityCode: "59350", PostalCode: "59000"}
	)
	// allowed holds, for each motif, the agents that may receive it; a
	// motif absent from the map may not be booked for the address.
	tests := []struct {
		name       string
		addr       sector.Address
		restricted bool
		allowed    map[string][]string
	}{
		{"no address restricts nothing", sector.Address{}, false, map[string][]string{
			"o1-dep": {"a1", "a2"}, "o1-org": {"a1", "a2"}, "o1-agent": {"a1", "a2"},
			"o2-dep": {"b1"}, "o2-org": {"b1"}, "o2-agent": {"b1"},
		}},
		{"city code", arras, true, map[string][]string{
			"o1-dep": {"a1", "a2"}, "o1-org": {"a1", "a2"}, "o1-agent": {"a1"},
			"o2-dep": {"b1"},
		}},
		{"street inside the city", arrasVerlain, true, map[string][]string{
			"o1-dep": {"a1", "a2"}, "o1-org": {"a1", "a2"}, "o1-agent": {"a1", "a2"},
			"o2-dep": {"b1"},
		}},
		{"street alone", verlaineOnly, true, map[string][]string{
			"o1-dep": {"a1", "a2"}, "o1-agent": {"a2"},
			"o2-dep": {"b1"},
		}},
		{"postal code", lensPostal, true, map[string][]string{
			"o1-dep": {"a1", "a2"},
			"o2-dep": {"b1"}, "o2-org": {"b1"}, "o2-agent": {"b1"},
		}},
		{"address in no sector", elsewhere, true, map[string][]string{
			"o1-dep": {"a1", "a2"},
			"o2-dep": {"b1"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := sector.Locate(c, tt.addr)
			if m.Restricted() != tt.restricted {
				t.Errorf("Restricted() = %v, want %v", m.Restricted(), tt.restricted)
			}
			for _, motif := range c.Motifs {
				agents, want := tt.allowed[motif.ID]
				if got := m.AllowsMotif(motif); got != want {
					t.Errorf("AllowsMotif(%s) = %v, want %v", motif.ID, got, want)
				}
				for _, a := range motif.Organisation.Agents {
					wantAgent := false
					for _, id := range agents {
						wantAgent = wantAgent || id == a.ID
					}
					if got := m.AllowsAgent(motif, a); got != wantAgent {
						t.Errorf("AllowsAgent(%s, %s) = %v, want %v", motif.ID, a.ID, got, wantAgent)
					}
				}
			}
		})
	}
}
