package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"rdvsync/internal/store"
)

// TestPurgeRemovesExpiredTickets: the hourly purge job deletes the agent
// sessions and sign-in links that have expired, and only those.
func TestPurgeRemovesExpiredTickets(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "rdvsync.db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	now := time.Now()
	ctx := context.Background()
	if err := st.Update(ctx, func(tx *store.Tx) error {
		for _, tk := range []struct {
			kind, id string
			expires  time.Time
		}{
			{"agent_session", "old", now.Add(-time.Minute)},
			{"signin_link", "old", now.Add(-time.Hour)},
			{"agent_session", "live", now.Add(time.Hour)},
		} {
			if err := tx.PutTicket(tk.kind, tk.id, []byte(`"camille-martin"`), tk.expires); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	var logs syncBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	purgeExpired(ctx, log, st, now)
	if !strings.Contains(logs.String(), `msg="expired sessions and sign-in links purged" count=2`) {
		t.Errorf("first purge:\n%s", logs.String())
	}
	if err := st.View(ctx, func(tx *store.ReadTx) error {
		if _, ok := tx.Ticket("agent_session", "live", now); !ok {
			t.Error("the purge deleted a live session")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	purgeExpired(ctx, log, st, now)
	if n := strings.Count(logs.String(), "purged"); n != 1 {
		t.Errorf("the second purge found more to delete:\n%s", logs.String())
	}
}
