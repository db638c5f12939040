package booking_test

import (
	"testing"

	"rdvsync/internal/testenv"
)

// The booking tests exercise the store's transactions (one booking per
// slot, idempotency, moves): they run on both backends.
func TestMain(m *testing.M) { testenv.BothStores(m) }
