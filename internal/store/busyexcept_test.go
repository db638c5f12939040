package store

import (
	"testing"
	"time"
)

func TestAppendAgentBusyExceptLeavesOutTheMovedRDV(t *testing.T) {
	s := openTest(t)
	put(t, s, newRDV("r1", "org", at(1, 0), time.Hour, "a"), newRDV("r2", "org", at(3, 0), time.Hour, "a"))
	view(t, s, func(tx *ReadTx) {
		if got := tx.AppendAgentBusyExcept(nil, "a", at(0, 0), at(5, 0), "r1"); len(got) != 1 || !got[0].Start.Equal(at(3, 0)) {
			t.Errorf("without r1: %v", got)
		}
		if got := tx.AppendAgentBusyExcept(nil, "a", at(0, 0), at(5, 0), ""); len(got) != 2 {
			t.Errorf("without nothing: %v", got)
		}
	})
}
