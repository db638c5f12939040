package webhook

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"rdvsync/internal/store"
)

func openLogStore(t *testing.T) *store.Store {
	t.Helper()
	st, err := store.Open(filepath.Join(t.TempDir(), "db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func readLog(t *testing.T, st *store.Store) (deliveryLog, []Delivery, int) {
	t.Helper()
	var l deliveryLog
	var recent []Delivery
	stored := 0
	err := st.View(context.Background(), func(tx *store.ReadTx) error {
		if err := tx.WebhookState("partenaire", logName, &l); err != nil {
			return err
		}
		var err error
		if recent, err = recentDeliveries(tx, "partenaire", l); err != nil {
			return err
		}
		for seq := uint64(0); seq < l.Next+10; seq++ {
			var d Delivery
			if tx.WebhookDelivery("partenaire", seq, &d) == nil {
				stored++
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return l, recent, stored
}

func logOne(t *testing.T, s *Service, st *store.Store, d Delivery) {
	t.Helper()
	if err := st.Update(context.Background(), func(tx *store.Tx) error { return s.logAttempt(tx, "partenaire", d) }); err != nil {
		t.Fatal(err)
	}
}

// The delivery log keeps the last keep entries, newest first, each under
// its own key, and trims the older ones in batches: the store never holds
// twice keep of them, and a delivery does not rewrite the others.
func TestDeliveryLogKeepsTheLastEntriesAndTrimsInBatches(t *testing.T) {
	st := openLogStore(t)
	s := &Service{keep: 3}
	at := time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)
	for i := range 10 {
		d := Delivery{At: at.Add(time.Duration(i) * time.Second), MessageID: fmt.Sprint("msg-", i), StatusCode: 204}
		if i == 8 {
			d.StatusCode, d.Error = 500, "HTTP 500"
		}
		logOne(t, s, st, d)
		_, recent, stored := readLog(t, st)
		if want := min(i+1, 3); len(recent) != want || recent[0].MessageID != d.MessageID {
			t.Fatalf("after %d deliveries: %d shown (want %d), newest %+v", i+1, len(recent), want, recent)
		}
		if stored < min(i+1, 3) || stored >= 6 {
			t.Fatalf("after %d deliveries the store holds %d entries, want 3 to 5", i+1, stored)
		}
	}
	l, recent, _ := readLog(t, st)
	if recent[0].MessageID != "msg-9" || recent[1].MessageID != "msg-8" || recent[2].MessageID != "msg-7" {
		t.Fatalf("log %+v, want msg-9, msg-8, msg-7", recent)
	}
	if l.LastError != "HTTP 500" || !l.LastErrorAt.Equal(at.Add(8*time.Second)) || !l.LastSuccessAt.Equal(at.Add(9*time.Second)) {
		t.Fatalf("last outcomes %+v", l)
	}
}

// A log written whole in one document (before entries had keys of their
// own) is shown as it is, then moved to its keys by the next delivery.
func TestDeliveryLogMovesAWholeDocumentToItsKeys(t *testing.T) {
	st := openLogStore(t)
	at := time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)
	legacy := deliveryLog{Deliveries: []Delivery{{At: at, MessageID: "a"}, {At: at.Add(time.Second), MessageID: "b"}}, LastSuccessAt: &at}
	if err := st.Update(context.Background(), func(tx *store.Tx) error {
		return tx.PutWebhookState("partenaire", logName, legacy)
	}); err != nil {
		t.Fatal(err)
	}
	if _, recent, _ := readLog(t, st); len(recent) != 2 || recent[0].MessageID != "b" || recent[1].MessageID != "a" {
		t.Fatalf("before the next delivery: %+v", recent)
	}
	logOne(t, &Service{keep: 100}, st, Delivery{At: at.Add(2 * time.Second), MessageID: "c"})
	l, recent, stored := readLog(t, st)
	if len(l.Deliveries) != 0 || l.Next != 3 || stored != 3 {
		t.Fatalf("document %+v, %d entries stored: the whole log was not moved", l, stored)
	}
	if len(recent) != 3 || recent[0].MessageID != "c" || recent[1].MessageID != "b" || recent[2].MessageID != "a" {
		t.Fatalf("after the next delivery: %+v", recent)
	}
}
