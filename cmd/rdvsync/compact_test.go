package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// rdvsync compact gives back the space of half-empty pages (random keys)
// and checks the copy; it refuses while a daemon holds the store.
func TestCompactShrinksTheStore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rdvsync.db")
	st, err := store.Open(path, store.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for i := range 40 {
		err := st.Update(context.Background(), func(tx *store.Tx) error {
			for j := range 100 {
				n := i*100 + j
				u := &rdv.Usager{ID: uuid.NewString(), FirstName: "Usager", LastName: fmt.Sprintf("Compact %d", n),
					Email: fmt.Sprintf("compact%d@example.org", n), CreatedAt: now, UpdatedAt: now}
				if err := tx.PutUsager(u); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	code, _, errOut := runCLI(t, "compact", "-store", path)
	if code == 0 || !strings.Contains(errOut, "stop rdvsync serve") {
		t.Errorf("compact while the store is open: exit %d, %q; want a refusal", code, errOut)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(path)
	code, out, errOut := runCLI(t, "compact", "-store", path)
	if code != 0 {
		t.Fatalf("compact: exit %d: %s", code, errOut)
	}
	after, _ := os.Stat(path)
	if after.Size() >= before.Size()*3/4 {
		t.Errorf("compacted store is %d bytes, was %d: want at least a quarter less", after.Size(), before.Size())
	}
	if !strings.Contains(out, "4000 usagers") {
		t.Errorf("compact said %q, want the usagers counted", out)
	}
	if _, err := os.Stat(path + ".compact"); !os.IsNotExist(err) {
		t.Errorf("the temporary copy is left: %v", err)
	}
	st, err = store.Open(path, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
}
