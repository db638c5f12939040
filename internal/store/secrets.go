package store

import (
	"crypto/rand"
	"fmt"
)

// DaemonSecret returns the random secret called name, made (n bytes) and
// stored in the meta bucket on first use, so that it survives restarts
// (e.g. the key that signs the booking pages' form tokens).
func (tx *Tx) DaemonSecret(name string, n int) ([]byte, error) {
	meta := tx.bucket(bucketMeta)
	key := []byte("secret:" + name)
	if v := meta.Get(key); len(v) >= n {
		return append([]byte(nil), v...), nil
	}
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("store: secret %s: %w", name, err)
	}
	if err := meta.Put(key, b); err != nil {
		return nil, fmt.Errorf("store: secret %s: %w", name, err)
	}
	return b, nil
}
