package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/httpapi"
	"rdvsync/internal/store"
	"rdvsync/internal/webhook"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

// TestGoldenPayloads shows one full body of each event in format
// rdv-solidarites (testdata/golden/*.json, indented; refresh with
// go test ./internal/webhook -run TestGoldenPayloads -update). The bodies
// are the queued ones, built at the change with a fixed clock; the RDV's
// uuid is the only value replaced.
func TestGoldenPayloads(t *testing.T) {
	cat := withWebhooks(t, "  incoming: []\n  outgoing:\n    - { id: cd62, url: \"https://cd62.example.org/rdv\", secret_file: s, subscriptions: [rdv, user] }\n",
		map[string]string{"s": "secret"})
	st, err := store.Open(filepath.Join(t.TempDir(), "db"), store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := now
	tick := func() time.Time { return clock }
	load := func() *catalog.Catalog { return cat }
	hooks := webhook.New(st, load, webhook.Options{Render: httpapi.WebhookRDVView, RenderUsager: httpapi.WebhookUsagerView, Now: tick})
	svc := booking.New(load, st, booking.Options{Now: tick, Effects: []booking.Effect{hooks}})
	ctx := context.Background()

	usager := &booking.UsagerInput{FirstName: "Léa", LastName: "Dubois", PhoneNumber: "06 12 34 56 78",
		Address: "3 rue des Capucins, 62000 Arras", BirthDate: "1990-05-14"}
	b, err := svc.Book(ctx, booking.Caller{}, booking.BookRequest{MotifID: "rsa-orientation", LieuID: "mds-arras-centre",
		StartsAt: "2026-12-03T09:00:00+01:00", Usager: usager, Context: "Orientation après l'ouverture des droits.",
		Prescripteur: &booking.PrescripteurInput{FirstName: "Jean", LastName: "Petit", Email: "jean.petit@mediatheque.example.org"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	camille := booking.Caller{Agent: cat.Agent("camille-martin")}
	clock = now.Add(time.Hour)
	if _, err := svc.Move(ctx, camille, b.RDV.ID, booking.MoveRequest{StartsAt: "2026-12-03T10:30:00+01:00"}); err != nil {
		t.Fatal(err)
	}
	clock = now.Add(2 * time.Hour)
	cancelled, err := svc.Cancel(ctx, camille, b.RDV.ID, "indisponible")
	if err != nil {
		t.Fatal(err)
	}
	clock = now.Add(3 * time.Hour)
	err = st.Update(ctx, func(tx *store.Tx) error {
		return hooks.OnChange(tx, booking.Change{Before: cancelled.RDV, Now: clock})
	})
	if err != nil {
		t.Fatal(err)
	}
	// The same usager booked again with an email by an agent of the MDS,
	// which knows her: rdvsync completes it (only agents reuse usagers).
	clock = now.Add(4 * time.Hour)
	usager.Email = "lea.dubois@example.org"
	if _, err := svc.Book(ctx, camille, booking.BookRequest{MotifID: "rsa-orientation", LieuID: "mds-arras-centre",
		StartsAt: "2026-12-03T11:15:00+01:00", Usager: usager}, nil); err != nil {
		t.Fatal(err)
	}

	// The first RDV's queue first (its created, updated and destroyed
	// events), then the second's (the usager completed, and the RDV).
	var bodies, second [][]byte
	err = st.View(ctx, func(tx *store.ReadTx) error {
		return tx.EachOutbox(webhook.Kind+"/", func(r *store.OutboxRecord) error {
			items, err := store.QueuedItems(r)
			for _, it := range items {
				if r.Key == webhook.Key("cd62", b.RDV.ID) {
					bodies = append(bodies, it.Data)
				} else {
					second = append(second, it.Data)
				}
			}
			return err
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	bodies = append(bodies, second...)
	uuids := regexp.MustCompile(`"uuid":"[0-9a-f-]{36}"`)
	seen := map[string]bool{}
	for _, body := range bodies {
		if err := validateRdvs(body); err != nil {
			t.Errorf("%v\n%s", err, body)
		}
		var e struct {
			Meta struct{ Model, Event string } `json:"meta"`
		}
		json.Unmarshal(body, &e)
		name := map[string]string{"Rdv": "rdv", "User": "user"}[e.Meta.Model] + "_" + e.Meta.Event
		if seen[name] {
			continue // the first of each: the cancellation is the second "updated"
		}
		seen[name] = true
		var out bytes.Buffer
		json.Indent(&out, uuids.ReplaceAll(body, []byte(`"uuid":"00000000-0000-4000-8000-000000000001"`)), "", "  ")
		out.WriteByte('\n')
		golden(t, filepath.Join("testdata", "golden", name+".json"), out.Bytes())
	}
	for _, want := range []string{"rdv_created", "rdv_updated", "rdv_destroyed", "user_created", "user_updated"} {
		if !seen[want] {
			t.Errorf("no %s event among the %d queued", want, len(bodies))
		}
	}
}

// golden compares got with the file at path, or rewrites it with -update.
func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs (run with -update if the change is intended):\n%s", path, got)
	}
}
