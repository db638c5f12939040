package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func update(t *testing.T, s *Store, fn func(tx *Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatal(err)
	}
}

func take(t *testing.T, s *Store, now time.Time) []Reminder {
	t.Helper()
	var out []Reminder
	update(t, s, func(tx *Tx) error {
		var err error
		out, err = tx.TakeDueReminders(now, 100)
		return err
	})
	return out
}

func TestRemindersOnePerStart(t *testing.T) {
	s := openTest(t)
	start := at(24*3, 0)
	due := start.Add(-48 * time.Hour)
	update(t, s, func(tx *Tx) error {
		return tx.ScheduleReminder(Reminder{RDVID: "r1", Due: due, Start: start, Version: 1})
	})
	// Scheduling again (a transaction run twice, a status change) changes nothing.
	update(t, s, func(tx *Tx) error {
		return tx.ScheduleReminder(Reminder{RDVID: "r1", Due: due, Start: start, Version: 2})
	})
	if got := take(t, s, due.Add(-time.Nanosecond)); len(got) != 0 {
		t.Fatalf("taken before due: %+v", got)
	}
	got := take(t, s, due)
	if len(got) != 1 || got[0].RDVID != "r1" || !got[0].Due.Equal(due) || !got[0].Start.Equal(start) || got[0].Version != 2 {
		t.Fatalf("taken at due: %+v", got)
	}
	if got := take(t, s, due.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("taken twice: %+v", got)
	}
	// The same start again (the RDV reopened) is not reminded twice…
	update(t, s, func(tx *Tx) error {
		if err := tx.CancelReminder("r1"); err != nil {
			return err
		}
		return tx.ScheduleReminder(Reminder{RDVID: "r1", Due: due, Start: start, Version: 4})
	})
	if got := take(t, s, due.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("the same start reminded twice: %+v", got)
	}
	// …but a new start is.
	update(t, s, func(tx *Tx) error {
		return tx.ScheduleReminder(Reminder{RDVID: "r1", Due: due.Add(24 * time.Hour), Start: start.Add(24 * time.Hour), Version: 5})
	})
	if got := take(t, s, due.Add(24*time.Hour)); len(got) != 1 || got[0].Version != 5 {
		t.Fatalf("new start: %+v", got)
	}
}

func TestReminderMovedAndCancelled(t *testing.T) {
	s := openTest(t)
	start := at(24*3, 0)
	update(t, s, func(tx *Tx) error {
		for _, id := range []string{"moved", "cancelled", "kept"} {
			if err := tx.ScheduleReminder(Reminder{RDVID: id, Due: start.Add(-48 * time.Hour), Start: start, Version: 1}); err != nil {
				return err
			}
		}
		return nil
	})
	later := start.Add(24 * time.Hour)
	update(t, s, func(tx *Tx) error {
		if err := tx.ScheduleReminder(Reminder{RDVID: "moved", Due: later.Add(-48 * time.Hour), Start: later, Version: 2}); err != nil {
			return err
		}
		return tx.CancelReminder("cancelled")
	})
	view(t, s, func(tx *ReadTx) {
		if _, err := tx.Reminder("cancelled"); !IsNotFound(err) {
			t.Errorf("cancelled reminder: %v", err)
		}
		if r, err := tx.Reminder("moved"); err != nil || !r.Start.Equal(later) || r.Sent {
			t.Errorf("moved reminder: %+v, %v", r, err)
		}
	})
	got := take(t, s, later)
	if len(got) != 2 || got[0].RDVID != "kept" || got[1].RDVID != "moved" || !got[1].Start.Equal(later) {
		t.Fatalf("taken: %+v", got)
	}
	update(t, s, func(tx *Tx) error { return tx.CancelReminder("kept") })
	view(t, s, func(tx *ReadTx) {
		if r, err := tx.Reminder("kept"); err != nil || !r.Sent {
			t.Errorf("the trace of a sent reminder must survive cancellation: %+v, %v", r, err)
		}
	})
	var n int
	update(t, s, func(tx *Tx) error {
		var err error
		n, err = tx.PurgeReminders(later)
		return err
	})
	if n != 1 {
		t.Errorf("purged %d, want 1 (kept)", n)
	}
}

func TestTakeDueRemindersLimit(t *testing.T) {
	s := openTest(t)
	update(t, s, func(tx *Tx) error {
		for i := range 5 {
			id := string(rune('a' + i))
			if err := tx.ScheduleReminder(Reminder{RDVID: id, Due: at(i, 0), Start: at(i+48, 0), Version: 1}); err != nil {
				return err
			}
		}
		return nil
	})
	var got []Reminder
	update(t, s, func(tx *Tx) error {
		var err error
		got, err = tx.TakeDueReminders(at(10, 0), 3)
		return err
	})
	if len(got) != 3 || got[0].RDVID != "a" || got[2].RDVID != "c" {
		t.Fatalf("first batch: %+v", got)
	}
	if got := take(t, s, at(10, 0)); len(got) != 2 || got[0].RDVID != "d" {
		t.Fatalf("second batch: %+v", got)
	}
}

// TestMigration3 opens a file of schema version 2 with this rdvsync: its
// RDVs survive and reminders and receipts work.
func TestMigration3(t *testing.T) {
	fileOnly(t)
	path := filepath.Join(t.TempDir(), "v2.db")
	s, err := open(path, Options{NoSync: true}, migrations[:2])
	if err != nil {
		t.Fatal(err)
	}
	putAsOlderVersion(t, s, newRDV("r1", "org", at(1, 0), time.Hour, "a"))
	view(t, s, func(tx *ReadTx) {
		if tx.kv.Bucket(bucketReminders) != nil {
			t.Error("a version 2 file has no reminders bucket")
		}
	})
	s = reopenMigrated(t, s, path)
	defer s.Close()
	view(t, s, func(tx *ReadTx) {
		if v, _ := schemaVersion(tx.kv); v < 3 {
			t.Errorf("schema version %d after Open, want at least 3", v)
		}
		if _, err := tx.RDV("r1"); err != nil {
			t.Errorf("rdv after migration 3: %v", err)
		}
	})
	update(t, s, func(tx *Tx) error {
		if err := tx.ScheduleReminder(Reminder{RDVID: "r1", Due: at(-47, 0), Start: at(1, 0), Version: 1}); err != nil {
			return err
		}
		return tx.AddReceipt(Receipt{RDVID: "r1", Channel: "email", Result: "ok", At: at(0, 0)})
	})
	if got := take(t, s, at(0, 0)); len(got) != 1 {
		t.Errorf("reminder after migration 3: %+v", got)
	}
}
