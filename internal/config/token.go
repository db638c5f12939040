package config

import (
	"crypto/sha256"
	"encoding/hex"
)

// hashToken returns the hex sha256 of an agent token, as token_sha256 holds it.
func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}
