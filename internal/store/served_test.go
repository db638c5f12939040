package store

import (
	"context"
	"slices"
	"testing"
	"time"

	"rdvsync/internal/rdv"
)

func TestAgentRDVs(t *testing.T) {
	s := openTest(t)
	cancelled := newRDV("r-cancelled", "org2", at(2, 0), 30*time.Minute, "a")
	cancelled.Status, cancelled.CancelledAt = rdv.StatusExcused, new(at(0, 0))
	rdvs := []*rdv.RDV{
		newRDV("r-before", "org1", at(-1, 0), 30*time.Minute, "a"), // starts before from, still running at from
		newRDV("r-later", "org1", at(5, 0), 30*time.Minute, "a"),
		newRDV("r-first", "org1", at(1, 0), 30*time.Minute, "a"),
		newRDV("r-shared", "org2", at(3, 0), time.Hour, "b", "a"),
		newRDV("r-other-agent", "org1", at(1, 0), 30*time.Minute, "b"),
		newRDV("r-other-org", "org3", at(4, 0), 30*time.Minute, "a"),
		cancelled,
	}
	if err := s.Update(context.Background(), func(tx *Tx) error {
		for _, r := range rdvs {
			if err := tx.PutRDV(r); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		agent string
		orgs  []string
		from  time.Time
		want  []string
	}{
		{"cancelled included, start order across organisations", "a", []string{"org1", "org2"}, at(0, 0),
			[]string{"r-first", "r-cancelled", "r-shared", "r-later"}},
		{"an organisation listed twice is walked once", "a", []string{"org2", "org1", "org2"}, at(0, 0),
			[]string{"r-first", "r-cancelled", "r-shared", "r-later"}},
		{"from is inclusive", "a", []string{"org1"}, at(5, 0), []string{"r-later"}},
		{"other agent", "b", []string{"org1", "org2", "org3"}, at(0, 0), []string{"r-other-agent", "r-shared"}},
		{"no organisation", "a", nil, at(0, 0), nil},
		{"unknown organisation", "a", []string{"nowhere"}, at(0, 0), nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			err := s.View(context.Background(), func(tx *ReadTx) error {
				list, err := tx.AgentRDVs(tc.agent, tc.orgs, tc.from)
				for _, r := range list {
					got = append(got, r.ID)
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("AgentRDVs(%s, %v) = %v, want %v", tc.agent, tc.orgs, got, tc.want)
			}
		})
	}
}

func TestEachAgentState(t *testing.T) {
	s := openTest(t)
	type doc struct{ Secret string }
	if err := s.Update(context.Background(), func(tx *Tx) error {
		for _, put := range []struct{ agent, name, secret string }{
			{"a", "feed", "sa"}, {"a", "busy", "x"}, {"b", "feed", "sb"}, {"b-feed", "busy", "y"}, {"c", "feeds", "z"},
		} {
			if err := tx.PutAgentState(put.agent, put.name, doc{put.secret}); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	err := s.View(context.Background(), func(tx *ReadTx) error {
		return tx.EachAgentState("feed", func(agentID string, decode func(any) error) error {
			var d doc
			if err := decode(&d); err != nil {
				return err
			}
			got[agentID] = d.Secret
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got["a"] != "sa" || got["b"] != "sb" {
		t.Errorf("EachAgentState(feed) = %v, want a→sa and b→sb only", got)
	}
}
