package store

import (
	"bytes"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// usager_orgs records which organisations know an usager: those where it
// has (or had) an RDV. Agents search and pick usagers only among those of
// their organisations. A cancelled RDV still makes the usager known
// there; an entry goes only when the usager's last RDV in that
// organisation is deleted (retention, erasure: retention.go).

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
// Keys are looked up with a cursor: Get returns nil for the empty value of
// a key written earlier in the same transaction, where an effect asks.
func (tx *ReadTx) UsagerKnownTo(usagerID string, orgIDs []string) bool {
	c := tx.bucket(bucketUsagerOrgs).Cursor()
	for _, o := range orgIDs {
		key := joinKey(usagerID, o)
		if k, _ := c.Seek(key); bytes.Equal(k, key) {
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
