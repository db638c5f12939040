package store

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"
)

func TestDaemonSecretSurvivesRestarts(t *testing.T) {
	fileOnly(t)
	path := filepath.Join(t.TempDir(), "db")
	get := func() []byte {
		s, err := Open(path, Options{NoSync: true})
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		var k []byte
		if err := s.Update(context.Background(), func(tx *Tx) error {
			var err error
			k, err = tx.DaemonSecret("web", 32)
			return err
		}); err != nil {
			t.Fatal(err)
		}
		return k
	}
	a, b := get(), get()
	if len(a) != 32 || !bytes.Equal(a, b) || bytes.Equal(a, make([]byte, 32)) {
		t.Errorf("secret not kept across opens: %x then %x", a, b)
	}
}
