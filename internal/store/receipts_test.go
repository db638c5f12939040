package store

import (
	"testing"
	"time"
)

func TestReceipts(t *testing.T) {
	s := openTest(t)
	t0 := at(0, 0)
	update(t, s, func(tx *Tx) error {
		for i, res := range []string{"failed", "failed", "ok"} {
			if err := tx.AddReceipt(Receipt{RDVID: "r1", Channel: "email", Event: "created", Recipient: "usager",
				Result: res, Attempt: i + 1, At: t0.Add(time.Duration(i) * time.Minute)}); err != nil {
				return err
			}
		}
		// Two receipts at the same instant are both kept.
		for range 2 {
			if err := tx.AddReceipt(Receipt{RDVID: "r10", Channel: "sms", Result: "ok", At: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	view(t, s, func(tx *ReadTx) {
		rs, err := tx.Receipts("r1")
		if err != nil || len(rs) != 3 || rs[0].Attempt != 1 || rs[2].Result != "ok" || !rs[2].At.Equal(t0.Add(2*time.Minute)) {
			t.Errorf("receipts of r1 = %+v, %v", rs, err)
		}
		if rs, err := tx.Receipts("r10"); err != nil || len(rs) != 2 {
			t.Errorf("receipts of r10 = %+v, %v", rs, err)
		}
		if rs, err := tx.Receipts("r"); err != nil || rs == nil || len(rs) != 0 {
			t.Errorf("receipts of an unknown rdv = %#v, %v (want empty, non-nil)", rs, err)
		}
	})
}
