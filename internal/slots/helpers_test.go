package slots_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
)

// build parses a configuration written in a test and builds its catalogue.
func build(t testing.TB, yaml string) *catalog.Catalog {
	t.Helper()
	f, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("configuration rejected:\n%v", err)
	}
	c, err := catalog.Build(f)
	if err != nil {
		t.Fatalf("catalog.Build: %v", err)
	}
	return c
}

// at parses an RFC 3339 instant.
func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func day(s string) rdv.Date {
	d, err := rdv.ParseDate(s)
	if err != nil {
		panic(err)
	}
	return d
}

// busy builds a MemBusy from "agent start end" triples.
func busy(entries ...string) *slots.MemBusy {
	b := slots.NewMemBusy()
	for _, e := range entries {
		f := strings.Fields(e)
		b.Add(f[0], rdv.Interval{Start: at(f[1]), End: at(f[2])})
	}
	b.Sort()
	return b
}

// search runs slots.Search and checks what every result must satisfy:
// slots last the motif's duration, print in the organisation's zone, come
// sorted by start, have an agent exactly in the agent view, and never start
// before now.
func search(t *testing.T, c *catalog.Catalog, q slots.Query) []slots.Slot {
	t.Helper()
	got := slots.Search(c, q)
	for i, s := range got {
		checkSlot(t, q, s)
		if i > 0 && s.Start.Before(got[i-1].Start) {
			t.Errorf("slot %d (%s) sorted before slot %d (%s)", i, s.Start, i-1, got[i-1].Start)
		}
	}
	return got
}

func checkSlot(t *testing.T, q slots.Query, s slots.Slot) {
	t.Helper()
	if d := s.End.Sub(s.Start); d != s.Motif.Duration {
		t.Errorf("slot %s lasts %s, motif %s lasts %s", s.Start, d, s.Motif.ID, s.Motif.Duration)
	}
	if s.Start.Location() != s.Motif.Organisation.Location {
		t.Errorf("slot %s is in zone %s, not the organisation's %s", s.Start, s.Start.Location(), s.Motif.Organisation.Location)
	}
	if (s.Agent != nil) != q.AgentView {
		t.Errorf("slot %s: agent %v in a view with AgentView=%v", s.Start, s.Agent, q.AgentView)
	}
	if s.Start.Before(q.Now) {
		t.Errorf("slot %s starts before now %s", s.Start, q.Now)
	}
}

// starts lists the slots' starts as the API prints them.
func starts(ss []slots.Slot) []string {
	out := []string{}
	for _, s := range ss {
		out = append(out, s.Start.Format(time.RFC3339))
	}
	return out
}

// describe lists "start motif lieu agent", with "-" for no lieu or agent.
func describe(ss []slots.Slot) []string {
	out := []string{}
	for _, s := range ss {
		out = append(out, describeSlot(s))
	}
	return out
}

func describeSlot(s slots.Slot) string {
	lieu, agent := "-", "-"
	if s.Lieu != nil {
		lieu = s.Lieu.ID
	}
	if s.Agent != nil {
		agent = s.Agent.ID
	}
	return fmt.Sprintf("%s %s %s %s", s.Start.Format(time.RFC3339), s.Motif.ID, lieu, agent)
}
