package store

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// usager_orgs records which organisations know an usager: those where it
// has (or had) an RDV. Agents search and pick usagers only among those of
// their organisations; the entries are never removed, as a cancelled RDV
// still made the usager known there.

// noteUsagerOrg records that organisation orgID knows usager usagerID.
func (tx *Tx) noteUsagerOrg(usagerID, orgID string) error {
	if usagerID == "" {
		return nil
	}
	if err := tx.bucket(bucketUsagerOrgs).Put(joinKey(usagerID, orgID), nil); err != nil {
		return fmt.Errorf("store: usager_orgs: %w", err)
	}
	return nil
}

// UsagerKnownTo reports whether one of orgIDs has an RDV with the usager.
func (tx *ReadTx) UsagerKnownTo(usagerID string, orgIDs []string) bool {
	b := tx.bucket(bucketUsagerOrgs)
	for _, o := range orgIDs {
		if b.Get(joinKey(usagerID, o)) != nil {
			return true
		}
	}
	return false
}

// createUsagerOrgs is migration 4: the bucket, filled from the RDVs
// already stored (keys sorted first: bbolt inserts in order cheaply).
func createUsagerOrgs(tx *bolt.Tx) error {
	b, err := tx.CreateBucketIfNotExists(bucketUsagerOrgs)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketUsagerOrgs, err)
	}
	var keys [][]byte
	err = tx.Bucket(bucketRDVs).ForEach(func(k, v []byte) error {
		r, err := decodeRDV(v)
		if err != nil {
			return fmt.Errorf("rdv %s: %w", k, err)
		}
		if r.UsagerID != "" {
			keys = append(keys, joinKey(r.UsagerID, r.OrganisationID))
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(keys, bytes.Compare)
	for _, k := range slices.CompactFunc(keys, bytes.Equal) {
		if err := b.Put(k, nil); err != nil {
			return err
		}
	}
	return nil
}
