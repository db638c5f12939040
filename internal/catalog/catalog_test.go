package catalog_test

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"testing"
	"time"
)

func TestBuildIndexes(t *testing.T) {
	sum := sha256.Sum256([]byte("secret-token-a1"))
	c := build(t, `
territories: [{ id: "62", name: Pas-de-Calais }, { id: "973", name: Guyane }]
organisations:
  - { id: o1, name: O1, territory: "62" }
  - { id: o2, name: O2, territory: "973", timezone: America/Cayenne }
services: [{ id: social, name: Social }]
lieux:
  - { id: l1, organisation: o1, name: L1 }
  - { id: l2, organisation: o1, name: L2 }
motifs:
  - { id: m1, organisation: o1, service: social, name: M1, duration: 30m }
  - { id: m2, organisation: o2, service: social, name: M2, duration: 45m, location_type: phone, max_booking_delay: 30d }
agents:
  - { id: a1, first_name: A, last_name: Un, email: a1@example.org, organisations: [o1, o2], token_sha256: "`+hex.EncodeToString(sum[:])+`" }
plages_ouverture:
  - { id: p1, agent: a1, lieu: l2, motifs: [m1], first_day: 2027-01-04, start_time: "09:00", end_time: "12:00" }
  - { id: p2, agent: a1, lieu: l1, motifs: [m1], first_day: 2027-01-05, start_time: "09:00", end_time: "12:00" }
  - { id: p3, agent: a1, lieu: l2, motifs: [m1], first_day: 2027-01-06, start_time: "09:00", end_time: "12:00" }
  - { id: p4, agent: a1, organisation: o2, motifs: [m2], first_day: 2027-01-06, start_time: "09:00", end_time: "12:00" }
sectors:
  - { id: s1, territory: "62", zones: [{ city_code: "62041" }], attributions: [{ organisation: o1 }] }
`)
	m1, m2, a1 := c.Motif("m1"), c.Motif("m2"), c.Agent("a1")
	var lieux []string
	for _, l := range m1.Lieux {
		lieux = append(lieux, l.ID)
	}
	if want := []string{"l2", "l1"}; !slices.Equal(lieux, want) {
		t.Errorf("m1 lieux %q, want the distinct lieux of its plages in order %q", lieux, want)
	}
	if len(m1.Plages) != 3 || len(m2.Plages) != 1 || len(a1.Plages) != 4 || len(m2.Lieux) != 0 {
		t.Errorf("plages: m1 %d, m2 %d, a1 %d; m2 lieux %d", len(m1.Plages), len(m2.Plages), len(a1.Plages), len(m2.Lieux))
	}
	if m2.Duration != 45*time.Minute || m2.MaxBookingDelay != 30*24*time.Hour || m2.MinBookingDelay != 30*time.Minute {
		t.Errorf("m2 durations: %s, delays %s–%s", m2.Duration, m2.MinBookingDelay, m2.MaxBookingDelay)
	}
	if o2 := c.Organisation("o2"); o2.Location.String() != "America/Cayenne" || c.Organisation("o1").Location.String() != "Europe/Paris" {
		t.Errorf("zones: o1 %s, o2 %s", c.Organisation("o1").Location, o2.Location)
	}
	if !a1.InTerritory(c.Territory("973")) || !a1.MemberOf(c.Organisation("o2")) || len(c.Territory("62").Sectors) != 1 {
		t.Error("a1 must be in both territories and o2; territory 62 must hold its sector")
	}
	if c.AgentByToken("secret-token-a1") != a1 || c.AgentByToken("secret-token-a2") != nil {
		t.Error("AgentByToken does not find a1 by its token only")
	}
	if c.AuthenticateAgent("a1", "secret-token-a1") != a1 || c.AuthenticateAgent("a1", "wrong") != nil {
		t.Error("AuthenticateAgent accepts a wrong token or refuses the right one")
	}
}
