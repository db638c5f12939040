package webhook

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
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

// logState returns an endpoint's last outcomes, the entries a report shows
// and how many entries the store holds, in either form.
func logState(t *testing.T, st *store.Store) (deliveryLog, []Delivery, int) {
	t.Helper()
	var l deliveryLog
	var recent []Delivery
	stored := 0
	err := st.View(context.Background(), func(tx *store.ReadTx) error {
		var err error
		if recent, l, err = readLog(tx, "partenaire"); err != nil {
			return err
		}
		if err := tx.EachWebhookAttempt("partenaire", func(func(any) error) (bool, error) {
			stored++
			return true, nil
		}); err != nil {
			return err
		}
		for seq := uint64(0); seq < 20; seq++ {
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
	return l, recent, stored + len(l.Deliveries)
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
		_, recent, stored := logState(t, st)
		if want := min(i+1, 3); len(recent) != want || recent[0].MessageID != d.MessageID {
			t.Fatalf("after %d deliveries: %d shown (want %d), newest %+v", i+1, len(recent), want, recent)
		}
		if stored < min(i+1, 3) || stored >= 6 {
			t.Fatalf("after %d deliveries the store holds %d entries, want 3 to 5", i+1, stored)
		}
	}
	l, recent, _ := logState(t, st)
	if recent[0].MessageID != "msg-9" || recent[1].MessageID != "msg-8" || recent[2].MessageID != "msg-7" {
		t.Fatalf("log %+v, want msg-9, msg-8, msg-7", recent)
	}
	if l.LastError != "HTTP 500" || !l.LastErrorAt.Equal(at.Add(8*time.Second)) || !l.LastSuccessAt.Equal(at.Add(9*time.Second)) {
		t.Fatalf("last outcomes %+v", l)
	}
}

// A log written by earlier versions (whole in one document, or numbered
// entries) is shown after the newer entries, and deleted by the first trim
// that leaves keep newer ones, its last outcomes kept.
func TestDeliveryLogShowsThenDeletesAnEarlierLog(t *testing.T) {
	st := openLogStore(t)
	at := time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)
	failed := at.Add(time.Second)
	legacy := deliveryLog{Deliveries: []Delivery{{At: at, MessageID: "a"}}, Oldest: 0, Next: 1,
		LastSuccessAt: &at, LastError: "HTTP 500", LastErrorAt: &failed}
	if err := st.Update(context.Background(), func(tx *store.Tx) error {
		if err := tx.PutWebhookDelivery("partenaire", 0, Delivery{At: failed, MessageID: "b", Error: "HTTP 500"}); err != nil {
			return err
		}
		return tx.PutWebhookState("partenaire", logName, legacy)
	}); err != nil {
		t.Fatal(err)
	}
	s := &Service{keep: 2}
	logOne(t, s, st, Delivery{At: at.Add(2 * time.Second), MessageID: "c"})
	l, recent, stored := logState(t, st)
	if len(recent) != 2 || recent[0].MessageID != "c" || recent[1].MessageID != "a" || stored != 3 {
		t.Fatalf("after one delivery: %+v shown, %d stored", recent, stored)
	}
	if l.LastError != "HTTP 500" || !l.LastSuccessAt.Equal(at.Add(2*time.Second)) {
		t.Fatalf("after one delivery: last outcomes %+v", l)
	}
	logOne(t, s, st, Delivery{At: at.Add(3 * time.Second), MessageID: "d"})
	logOne(t, s, st, Delivery{At: at.Add(4 * time.Second), MessageID: "e", Error: "HTTP 502"})
	l, recent, stored = logState(t, st)
	if len(recent) != 2 || recent[0].MessageID != "e" || recent[1].MessageID != "d" || stored != 2 {
		t.Fatalf("after the trim: %+v shown, %d stored, want e, d and nothing else", recent, stored)
	}
	if l.LastError != "HTTP 502" || !l.LastSuccessAt.Equal(at.Add(3*time.Second)) {
		t.Fatalf("after the trim: last outcomes %+v", l)
	}
}

// Concurrent deliveries to one endpoint write distinct keys and read none
// of the log: their transactions never conflict over it (on PostgreSQL,
// one would be aborted and run again). Checked through what each writes:
// only its own entry, unless it trims.
func TestDeliveryLogWritesOnlyItsEntry(t *testing.T) {
	st := openLogStore(t)
	s := &Service{keep: 100}
	at := time.Date(2027, 1, 4, 8, 0, 0, 0, time.UTC)
	logOne(t, s, st, Delivery{At: at, MessageID: "first"}) // the process's first: trims
	for i := range 5 {
		logOne(t, s, st, Delivery{At: at.Add(time.Duration(i+1) * time.Second), MessageID: fmt.Sprint("m", i)})
	}
	var doc deliveryLog
	if err := st.View(context.Background(), func(tx *store.ReadTx) error {
		return tx.WebhookState("partenaire", logName, &doc)
	}); err != nil {
		t.Fatal(err)
	}
	if doc.LastSuccessAt != nil {
		t.Fatalf("the document was rewritten by deliveries that did not trim: %+v", doc)
	}
	l, recent, _ := logState(t, st)
	if len(recent) != 6 || recent[0].MessageID != "m4" || !l.LastSuccessAt.Equal(at.Add(5*time.Second)) {
		t.Fatalf("log %+v, last outcomes %+v", recent, l)
	}
}

// After AssignIDs, a change rendered for a webhook finds the configured
// objects' ids in the process, not in rdvs_ids inside its transaction (a
// round trip per kind on PostgreSQL while the booking holds its locks):
// the resolver answers without a transaction.
func TestAssignedIDsNeedNoTransaction(t *testing.T) {
	data, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	f, err := config.Parse(filepath.Join(t.TempDir(), "config.yaml"), data)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog.Build(f)
	if err != nil {
		t.Fatal(err)
	}
	st := openLogStore(t)
	list, err := AssignIDs(context.Background(), st, cat)
	if err != nil || len(list) == 0 {
		t.Fatalf("AssignIDs: %d ids, %v", len(list), err)
	}
	r := newIDResolver(st, nil, cat) // any read of the store would panic
	for _, m := range list {
		if n, err := r.id(m.Kind, m.ID); err != nil || n != m.RdvsID {
			t.Errorf("%s %s: %d, %v, want %d", m.Kind, m.ID, n, err, m.RdvsID)
		}
	}
	if assignedIDs(openLogStore(t), cat) != nil {
		t.Error("another store's ids were remembered for this one")
	}
}
