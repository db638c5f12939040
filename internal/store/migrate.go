package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
)

// A migration brings the schema from version-1 to version. It runs inside the
// transaction that records version, so a failed migration leaves the file
// as it was.
type migration struct {
	version int
	name    string
	apply   func(tx KVTx) error
	// batches, when set, does the bulk of the migration before apply, in
	// transactions of its own (update runs one): for a rewrite of every
	// record, which in one transaction would hold the whole store in
	// memory. It runs before the migrations listed before it have been
	// applied (they run in apply's transaction), so it must leave data
	// every reader of this version reads, and be safe to run again on
	// what it left (a crash between two batches).
	batches func(update func(func(KVTx) error) error) error
}

// migrations is the schema history, oldest first: migrations[i].version is
// i+1. A schema change is one function appended here (with a test that opens
// a file of the previous version).
var migrations = []migration{
	{version: 1, name: "initial layout", apply: createInitialBuckets},
	{version: 2, name: "outbox and calendar sync", apply: createOutboxBuckets},
	{version: 3, name: "reminders and notification receipts", apply: createNotificationBuckets},
	{version: 4, name: "organisations that know each usager", apply: createUsagerOrgs},
	{version: 5, name: "integer ids for RDV Solidarités webhook receivers", apply: giveRdvsIDs},
	{version: 6, name: "LF line breaks in RDV free text", apply: normalizeLineBreaks},
	{version: 7, name: "contact of each rdv, rdvs of each usager, erasures", apply: contactsAndUsagerRDVs},
	{version: 8, name: "tickets of the booking pages (agent sessions, sign-in links)", apply: createTicketBuckets},
	{version: 9, name: "rdvs, usagers, reminders and receipts in the compact format", apply: recordsToV2, batches: recordsToV2Batches},
}

func createInitialBuckets(tx KVTx) error {
	for _, name := range [][]byte{
		bucketMeta, bucketRDVs, bucketUsagers,
		bucketUsagerEmail, bucketUsagerNamePhone, bucketUsagerSearch,
		bucketAgentBusy, bucketOrgRDVs,
		bucketIdempotency, bucketIdempotencyByTime,
	} {
		if _, err := tx.CreateBucketIfNotExists(name); err != nil {
			return fmt.Errorf("create bucket %s: %w", name, err)
		}
	}
	return nil
}

// migrate applies the migrations the file lacks and returns the schema
// version found and the one now in place.
func (s *Store) migrate(ctx context.Context, migs []migration) (from, to int, err error) {
	latest := len(migs)
	var fnErr error
	update := func(fn func(KVTx) error) error {
		fnErr = nil
		wrapped := func(tx KVTx) error {
			fnErr = fn(tx)
			return fnErr
		}
		if s.bolt != nil {
			return s.bolt.updateAlone(wrapped)
		}
		// Replicas starting together: the backend's serialisable
		// transactions let one apply each migration; the others find
		// it done.
		return s.kv.Update(ctx, wrapped)
	}
	if err := s.migrateBatches(ctx, migs, update); err != nil {
		if errors.Is(err, ErrDamaged) {
			return from, from, err
		}
		return from, from, fmt.Errorf("store %s: %w", s.path, err)
	}
	err = update(func(tx KVTx) error { return applyMigrations(tx, migs, &from) })
	if errors.Is(err, ErrDamaged) {
		return from, from, err
	}
	if err != nil && err != fnErr {
		err = fmt.Errorf("commit: %w", err)
	}
	if err != nil {
		return from, from, fmt.Errorf("store %s: %w", s.path, err)
	}
	for _, m := range migs[from:] {
		s.logger.Info("store migrated", "schema_version", m.version, "migration", m.name)
	}
	return from, latest, nil
}

// migrateBatches runs the batches of the migrations the store lacks.
func (s *Store) migrateBatches(ctx context.Context, migs []migration, update func(func(KVTx) error) error) error {
	var v int
	err := s.kv.View(ctx, func(tx KVTx) (err error) {
		v, err = schemaVersion(tx)
		return err
	})
	if err != nil || v >= len(migs) {
		return err // a version too new is refused with the migrations
	}
	for _, m := range migs[v:] {
		if m.batches == nil {
			continue
		}
		s.logger.Info("store migrating", "schema_version", m.version, "migration", m.name)
		if err := m.batches(update); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
	}
	return nil
}

func applyMigrations(tx KVTx, migs []migration, from *int) error {
	v, err := schemaVersion(tx)
	if err != nil {
		return err
	}
	*from = v
	if v > len(migs) {
		return fmt.Errorf("schema version is %d but this rdvsync knows versions up to %d: %w (run the newer rdvsync or restore a backup)",
			v, len(migs), ErrSchemaTooNew)
	}
	for _, m := range migs[v:] {
		if err := m.apply(tx); err != nil {
			return fmt.Errorf("migration %d (%s): %w", m.version, m.name, err)
		}
		meta, err := tx.CreateBucketIfNotExists(bucketMeta)
		if err == nil {
			err = meta.Put(keySchemaVersion, uint64Bytes(uint64(m.version)))
		}
		if err != nil {
			return fmt.Errorf("migration %d (%s): record version: %w", m.version, m.name, err)
		}
	}
	return nil
}

// schemaVersion is 0 for a new (or pre-versioning) file.
func schemaVersion(tx KVTx) (int, error) {
	meta := tx.Bucket(bucketMeta)
	if meta == nil {
		return 0, nil
	}
	v := meta.Get(keySchemaVersion)
	switch len(v) {
	case 0:
		return 0, nil
	case 8:
		return int(binary.BigEndian.Uint64(v)), nil
	}
	return 0, fmt.Errorf("meta/%s is %d bytes, want 8: not an rdvsync store or a damaged one", keySchemaVersion, len(v))
}
