package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"rdvsync/internal/rdv"
)

// Integer ids for RDV Solidarités' webhook receivers, which key their
// records on integers. RDVs and usagers carry theirs in the record
// (RdvsID), drawn from the sequence of the rdvs and usagers buckets; the
// objects of the configuration have theirs in rdvs_ids, one sub-bucket per
// kind, whose sequence is the highest id it allocated. A bucket sequence
// only grows, so an id is never given twice, even after a deletion.

// Kinds of configured objects with an integer id.
const (
	KindOrganisation = "organisation"
	KindService      = "service"
	KindLieu         = "lieu"
	KindMotif        = "motif"
	KindAgent        = "agent"
)

// RdvsIDKinds lists the kinds in the order the admin listing prints them.
var RdvsIDKinds = []string{KindOrganisation, KindService, KindLieu, KindMotif, KindAgent}

// nextRdvsID takes the next value of b's sequence.
func nextRdvsID(b KVBucket) (int64, error) {
	n, err := b.NextSequence()
	if err != nil {
		return 0, fmt.Errorf("next id: %w", err)
	}
	return int64(n), nil
}

// keepRdvsID gives a record being written its integer id: the one of the
// previous version (ids never change), the one it carries (kept, and the
// sequence raised past it), or the next of the bucket's sequence.
func keepRdvsID(b KVBucket, prev, id *int64) error {
	switch {
	case prev != nil && *prev != 0:
		*id = *prev
	case *id > 0:
		if uint64(*id) > b.Sequence() {
			return b.SetSequence(uint64(*id))
		}
	default:
		n, err := nextRdvsID(b)
		if err != nil {
			return err
		}
		*id = n
	}
	return nil
}

// ConfigRdvsIDs returns the integer id of each configured object of kind
// named in ids: explicit[id] when the configuration gives one (> 0),
// else the one allocated earlier, else a new one, kept. New ids are above
// every explicit id of the kind (explicit lists them all), so they never
// take one the configuration already uses.
func (tx *Tx) ConfigRdvsIDs(kind string, explicit map[string]int64, ids []string) (map[string]int64, error) {
	b, err := tx.bucket(bucketRdvsIDs).CreateBucketIfNotExists([]byte(kind))
	if err != nil {
		return nil, fmt.Errorf("store: rdvs_ids/%s: %w", kind, err)
	}
	out := make(map[string]int64, len(ids))
	for _, id := range ids {
		if n := explicit[id]; n > 0 {
			out[id] = n
			continue
		}
		if v := b.Get([]byte(id)); len(v) == 8 {
			out[id] = int64(binary.BigEndian.Uint64(v))
			continue
		}
		floor := b.Sequence()
		for _, n := range explicit {
			floor = max(floor, uint64(n))
		}
		if err := b.SetSequence(floor); err != nil {
			return nil, fmt.Errorf("store: rdvs_ids/%s: %w", kind, err)
		}
		n, err := nextRdvsID(b)
		if err == nil {
			err = b.Put([]byte(id), uint64Bytes(uint64(n)))
		}
		if err != nil {
			return nil, fmt.Errorf("store: rdvs_ids/%s: %w", kind, err)
		}
		out[id] = n
	}
	return out, nil
}

// AllocatedRdvsIDs returns the ids allocated to configured objects of kind
// (objects no longer configured included), without allocating any.
func (tx *ReadTx) AllocatedRdvsIDs(kind string) map[string]int64 {
	out := map[string]int64{}
	b := tx.bucket(bucketRdvsIDs).Bucket([]byte(kind))
	if b == nil {
		return out
	}
	b.ForEach(func(k, v []byte) error {
		if len(v) == 8 {
			out[string(k)] = int64(binary.BigEndian.Uint64(v))
		}
		return nil
	})
	return out
}

// giveRdvsIDs is migration 5: the rdvs_ids bucket, and an integer id for
// every RDV and usager already stored, in creation order.
func giveRdvsIDs(tx KVTx) error {
	if _, err := tx.CreateBucketIfNotExists(bucketRdvsIDs); err != nil {
		return fmt.Errorf("create bucket %s: %w", bucketRdvsIDs, err)
	}
	err := numberRecords(tx.Bucket(bucketRDVs), decodeRDV, encodeRDV, func(r *rdv.RDV) (*int64, time.Time) { return &r.RdvsID, r.CreatedAt })
	if err != nil {
		return err
	}
	return numberRecords(tx.Bucket(bucketUsagers), decodeUsager, encodeUsager, func(u *rdv.Usager) (*int64, time.Time) { return &u.RdvsID, u.CreatedAt })
}

// numberRecords gives the records of b without an integer id the next
// values of b's sequence, oldest first. It only rewrites values of
// existing keys, which bbolt does in place without splitting nodes.
func numberRecords[T any](b KVBucket, decode func(k, v []byte) (*T, error), encode func(*T) ([]byte, error), id func(*T) (*int64, time.Time)) error {
	type todo struct {
		key []byte
		rec *T
		at  time.Time
	}
	var list []todo
	err := b.ForEach(func(k, v []byte) error {
		r, err := decode(k, v)
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
		if n, at := id(r); *n == 0 {
			list = append(list, todo{key: slices.Clone(k), rec: r, at: at})
		}
		return nil
	})
	if err != nil {
		return err
	}
	slices.SortFunc(list, func(a, b todo) int {
		if c := a.at.Compare(b.at); c != 0 {
			return c
		}
		return bytes.Compare(a.key, b.key)
	})
	for _, t := range list {
		n, _ := id(t.rec)
		if err := keepRdvsID(b, nil, n); err != nil {
			return err
		}
		v, err := encode(t.rec)
		if err == nil {
			err = b.Put(t.key, v)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", t.key, err)
		}
	}
	return nil
}
