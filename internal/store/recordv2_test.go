package store

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"rdvsync/internal/rdv"
)

// The forms format 2 packs (UUIDs, tokens, instants, words) and the edge
// cases of each come back as they went in, and format 1 is still read.
func TestRecordV2Forms(t *testing.T) {
	ns := day0.Add(123456789 * time.Nanosecond)
	before1970 := time.Date(1960, 5, 1, 10, 0, 0, 42, time.UTC)
	cancelled := day0.Add(time.Hour)
	base := func() *rdv.RDV {
		return &rdv.RDV{ID: "019ad6a2-7e3f-7c1a-9b4e-2f6d8c0a1b3c", RdvsID: 7, Status: rdv.StatusUnknown,
			StartsAt: at(1, 0), EndsAt: at(1, 45), MotifID: "m", OrganisationID: "org", AgentIDs: []string{"a"},
			UsagerID: "019ad6a2-7e3f-7c1a-9b4e-2f6d8c0a1b3d", CreatedBy: rdv.CreatedBy{Type: rdv.CreatedByAgent, AgentID: "a"},
			CreatedAt: ns, UpdatedAt: ns, UsagerToken: "k3Yb9xQw2LmN8pRt5vZa7cDe4fGh6jKs", Version: 1,
			Contact: rdv.Contact{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "+33612345678", PhoneMobile: true}}
	}
	cases := map[string]func(r *rdv.RDV){
		"packed ids, token and instants": func(*rdv.RDV) {},
		"upper-case uuid stays text":     func(r *rdv.RDV) { r.UsagerID = strings.ToUpper(r.UsagerID) },
		"padded token stays text":        func(r *rdv.RDV) { r.UsagerToken = "YWJj=" },
		"non-canonical base64 token":     func(r *rdv.RDV) { r.UsagerToken = "YWJ" }, // decodes, but encodes back as YWI
		"empty token and usager":         func(r *rdv.RDV) { r.UsagerToken, r.UsagerID = "", "" },
		"updated later":                  func(r *rdv.RDV) { r.UpdatedAt = ns.Add(time.Second) },
		"updated zero":                   func(r *rdv.RDV) { r.UpdatedAt = time.Time{} },
		"zero instants":                  func(r *rdv.RDV) { r.CreatedAt, r.UpdatedAt = time.Time{}, time.Time{} },
		"before 1970":                    func(r *rdv.RDV) { r.CreatedAt, r.UpdatedAt = before1970, before1970 },
		"cancelled":                      func(r *rdv.RDV) { r.Status, r.CancelledAt, r.CancelReason = rdv.StatusRevoked, &cancelled, "Empêché" },
		"unknown words stay text":        func(r *rdv.RDV) { r.Status, r.CreatedBy.Type = "later", "robot" },
		"nil agents":                     func(r *rdv.RDV) { r.AgentIDs = nil },
		"empty agents":                   func(r *rdv.RDV) { r.AgentIDs = []string{} },
		"version 0":                      func(r *rdv.RDV) { r.Version = 0 },
	}
	for name, change := range cases {
		t.Run(name, func(t *testing.T) {
			r := base()
			change(r)
			v, err := encodeRDV(r)
			if err != nil {
				t.Fatal(err)
			}
			got, err := decodeRDV([]byte(r.ID), v)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, r) {
				t.Errorf("format 2:\n got %+v\nwant %+v", got, r)
			}
			v1, err := encodeRDVV1(r)
			if err != nil {
				t.Fatal(err)
			}
			if got, err := decodeRDV([]byte(r.ID), v1); err != nil || !reflect.DeepEqual(got, r) {
				t.Errorf("format 1: %v\n got %+v\nwant %+v", err, got, r)
			}
		})
	}
	if v, _ := encodeRDV(base()); len(v) > 200 {
		t.Errorf("an RDV booked by an agent takes %d bytes, want ≤ 200", len(v))
	}

	u := &rdv.Usager{ID: "019ad6a2-7e3f-7c1a-9b4e-2f6d8c0a1b3d", RdvsID: 3, FirstName: "Léa", LastName: "Dubois",
		Email: "lea@example.org", CreatedAt: ns, UpdatedAt: ns.Add(time.Minute)}
	for _, u := range []*rdv.Usager{u, {ID: "u2", CreatedAt: ns, UpdatedAt: ns}} {
		v, err := encodeUsager(u)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := decodeUsager([]byte(u.ID), v); err != nil || !reflect.DeepEqual(got, u) {
			t.Errorf("usager: %v\n got %+v\nwant %+v", err, got, u)
		}
	}
}

// A record this rdvsync cannot read whole is an error, never a record
// with a field dropped.
func TestRecordV2RefusesWhatItDoesNotKnow(t *testing.T) {
	unknownField, _ := marshalV2(map[int]any{2: 1, 99: "from a newer rdvsync"})
	unknownWord, _ := marshalV2(map[int]any{2: 1000})
	for name, v := range map[string][]byte{
		"unknown field":  unknownField,
		"unknown word":   unknownWord,
		"unknown format": {3, 0xa0},
		"empty":          {},
		"json v2":        []byte(`{"v":2,"id":"r1"}`),
	} {
		if r, err := decodeRDV([]byte("r1"), v); err == nil {
			t.Errorf("%s: decoded %+v, want an error", name, r)
		}
	}
}

func TestReceiptForms(t *testing.T) {
	s := openTest(t)
	rdvID := "019ad6a2-7e3f-7c1a-9b4e-2f6d8c0a1b3c"
	want := []Receipt{
		{RDVID: rdvID, Channel: "email", Transport: "spool", Event: "created", Recipient: "usager",
			MessageID: rdvID + ".created.0.usager", Attempt: 1, Result: "ok", At: day0.Add(time.Nanosecond)},
		{RDVID: rdvID, Channel: "sms", Transport: "carrier-pigeon", Event: "moved", Recipient: "agent", AgentID: "camille",
			MessageID: rdvID + ".", Attempt: 2, Result: "failed", Error: "refusé", At: day0.Add(time.Second)},
		{RDVID: rdvID, Channel: "email", MessageID: "other-id", Result: "skipped", At: day0.Add(time.Minute), Anonymised: true},
		{RDVID: rdvID, At: day0.Add(time.Hour)},
		{RDVID: rdvID, MessageID: rdvID + ".refused", At: before1970()},
	}
	update(t, s, func(tx *Tx) error {
		for _, r := range want {
			if err := tx.AddReceipt(r); err != nil {
				return err
			}
		}
		return nil
	})
	// The receipt before 1970 sorts first: its key holds 1970.
	want = append(want[4:], want[:4]...)
	view(t, s, func(tx *ReadTx) {
		got, err := tx.Receipts(rdvID)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("receipts: %v\n got %+v\nwant %+v", err, got, want)
		}
		var all []Receipt
		if err := tx.EachReceipt(func(r Receipt) error { all = append(all, r); return nil }); err != nil || !reflect.DeepEqual(all, want) {
			t.Errorf("each receipt: %v\n got %+v\nwant %+v", err, all, want)
		}
	})
	// A receipt of format 1 is still read.
	old := Receipt{RDVID: "r1", Channel: "sms", MessageID: "m", Result: "ok", At: day0}
	v1, _ := json.Marshal(receiptV1{V: recordV1, Receipt: old})
	k := receiptKey(old, 1)
	if got, err := decodeReceipt(k, v1); err != nil || !reflect.DeepEqual(got, old) {
		t.Errorf("format 1 receipt: %v\n got %+v\nwant %+v", err, got, old)
	}
}

func before1970() time.Time { return time.Date(1960, 5, 1, 10, 0, 0, 0, time.UTC) }
