package store

import (
	"bytes"
	"fmt"
	"slices"

	"rdvsync/internal/rdv"
)

// usager_orgs records which organisations know an usager: those where it
// has (or had) an RDV. Agents search and pick usagers only among those of
// their organisations. A cancelled RDV still makes the usager known
// there; an entry goes only when the usager's last RDV in that
// organisation is deleted (retention, erasure: retention.go). An RDV
// booked there by another organisation's agent for one of its own
// usagers (rdv.RDV.ContactOnly, "élargir") does not count: the usager
// stays that organisation's, and this one has the RDV's contact only.

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
func createUsagerOrgs(tx KVTx) error {
	b, err := tx.CreateBucketIfNotExists(bucketUsagerOrgs)
	if err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketUsagerOrgs, err)
	}
	var keys [][]byte
	err = tx.Bucket(bucketRDVs).ForEach(func(k, v []byte) error {
		r, err := decodeRDV(k, v)
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

// FindKnownUsager returns the usager with these names (ignoring case,
// accents and punctuation) and this email, or else these names and this
// phone, among the usagers known to orgIDs only; or an error wrapping
// rdv.ErrNotFound. An agent's booking reuses it; an usager known
// elsewhere only stays out of reach.
func (tx *ReadTx) FindKnownUsager(first, last, email, phoneE164 string, orgIDs []string) (*rdv.Usager, error) {
	f, l := fold(first), fold(last)
	if f == "" || l == "" {
		return nil, fmt.Errorf("known usager: empty name: %w", rdv.ErrNotFound)
	}
	type lookup struct {
		bucket, prefix []byte
	}
	var lookups []lookup
	if e := foldEmail(email); e != "" {
		lookups = append(lookups, lookup{bucketUsagerEmail, joinKey(e, "")})
	}
	if p := foldPhone(phoneE164); p != "" {
		lookups = append(lookups, lookup{bucketUsagerNamePhone, joinKey(f, l, p, "")})
	}
	for _, lk := range lookups {
		c := tx.bucket(lk.bucket).Cursor()
		for k, _ := c.Seek(lk.prefix); k != nil && bytes.HasPrefix(k, lk.prefix); k, _ = c.Next() {
			id := string(k[len(lk.prefix):])
			if !tx.UsagerKnownTo(id, orgIDs) {
				continue
			}
			u, err := tx.Usager(id)
			if err != nil {
				return nil, fmt.Errorf("store: %s index: %w", lk.bucket, err)
			}
			if fold(u.FirstName) == f && fold(u.LastName) == l {
				return u, nil
			}
		}
	}
	return nil, fmt.Errorf("known usager: %w", rdv.ErrNotFound)
}
