package store

import (
	"path/filepath"
	"testing"
	"time"
)

func TestMigration6NormalizesLineBreaks(t *testing.T) {
	fileOnly(t)
	path := filepath.Join(t.TempDir(), "v5.db")
	s, err := open(path, Options{NoSync: true}, migrations[:5])
	if err != nil {
		t.Fatal(err)
	}
	crlf := newRDV("r1", "mds-arras", at(1, 0), time.Hour, "a")
	crlf.Context, crlf.CancelReason = "Première ligne\r\nSeconde\rTroisième", "Empêché\r\nDésolé"
	clean := newRDV("r2", "mds-arras", at(3, 0), time.Hour, "a")
	clean.Context = "Une ligne\nune autre"
	putAsOlderVersion(t, s, crlf)
	putAsOlderVersion(t, s, clean)
	s = reopenMigrated(t, s, path)
	defer s.Close()
	view(t, s, func(tx *ReadTx) {
		r, err := tx.RDV("r1")
		if err != nil {
			t.Fatal(err)
		}
		if r.Context != "Première ligne\nSeconde\nTroisième" || r.CancelReason != "Empêché\nDésolé" {
			t.Errorf("after migration 6: context %q, cancel reason %q", r.Context, r.CancelReason)
		}
		if r, err := tx.RDV("r2"); err != nil || r.Context != clean.Context {
			t.Errorf("an RDV without CR changed: %+v, %v", r, err)
		}
	})
}
