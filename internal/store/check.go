package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"unicode/utf8"

	bolt "go.etcd.io/bbolt"

	"rdvsync/internal/rdv"
)

// maxProblems bounds a report: past it, problems are only counted.
const maxProblems = 100

// CheckReport is what Check found in a store file.
type CheckReport struct {
	Path          string   `json:"path"`
	SchemaVersion int      `json:"schema_version"`
	RDVs          int      `json:"rdvs"`
	Usagers       int      `json:"usagers"`
	SizeBytes     int64    `json:"size_bytes"`
	Problems      []string `json:"problems"`
	// More counts the problems past the first maxProblems.
	More int `json:"more_problems,omitempty"`
}

// OK reports whether no problem was found.
func (r *CheckReport) OK() bool { return len(r.Problems) == 0 }

func (r *CheckReport) add(format string, args ...any) {
	if len(r.Problems) >= maxProblems {
		r.More++
		return
	}
	r.Problems = append(r.Problems, fmt.Sprintf(format, args...))
}

// Check opens the file at path read-only (no migration, nothing written)
// and checks it: every page and record readable, bbolt's own consistency
// check (Tx.Check: page references, freelist), and rdvsync's invariants
// (checkIndexes). A damaged file gives a report with problems, not an
// error; the error is for a file that cannot be checked at all (absent,
// locked by a running daemon: ErrLocked).
func Check(path string) (*CheckReport, error) {
	rep := &CheckReport{Path: path, Problems: []string{}}
	if err := refuseEmpty(path); err != nil {
		rep.add("%v", err)
		return rep, nil
	}
	db, err := openReadOnly(path)
	switch {
	case errors.Is(err, ErrLocked):
		return nil, err
	case errors.Is(err, ErrDamaged):
		rep.add("%v", err)
		return rep, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("store %s: %w", path, err)
	case err != nil:
		rep.add("open: %v", err)
		return rep, nil
	}
	defer guard(path, "close", db.Close)
	err = guard(path, "check", func() error {
		return db.View(func(tx *bolt.Tx) error {
			rep.SizeBytes = tx.Size()
			if v, err := schemaVersion(boltTx{tx}); err != nil {
				rep.add("%v", err)
			} else {
				rep.SchemaVersion = v
			}
			// Read every page first, here, where a damaged one is
			// recovered: Tx.Check reads them again in a goroutine of
			// its own, where a fault would kill the process.
			if err := readEveryPage(tx, path); err != nil {
				rep.add("%v", err)
				return nil
			}
			for err := range tx.Check() {
				rep.add("bbolt: %v", err)
			}
			checkIndexes(&ReadTx{kv: boltTx{tx}}, rep)
			return nil
		})
	})
	if err != nil {
		rep.add("%v", err)
	}
	return rep, nil
}

// readEveryPage reads every key and value of every bucket, so that every
// reachable page is read once (under guard: a damaged one gives
// ErrDamaged).
func readEveryPage(tx *bolt.Tx, path string) error {
	return guard(path, "read every page", func() error {
		var visit func(b *bolt.Bucket) error
		visit = func(b *bolt.Bucket) error {
			return b.ForEach(func(k, v []byte) error {
				if v == nil {
					if child := b.Bucket(k); child != nil {
						return visit(child)
					}
				}
				return nil
			})
		}
		return tx.ForEach(func(_ []byte, b *bolt.Bucket) error { return visit(b) })
	})
}

// checkIndexes checks what rdvsync keeps true in the file: every RDV
// decodes and is in org_rdvs (and, when live, in agent_busy for each of
// its agents, with its end) and in usager_rdvs, every index entry points
// to such an RDV, and no agent has two live RDVs that overlap.
func checkIndexes(tx *ReadTx, rep *CheckReport) {
	rdvs, orgs, busy := tx.bucket(bucketRDVs), tx.bucket(bucketOrgRDVs), tx.bucket(bucketAgentBusy)
	if rdvs == nil || orgs == nil || busy == nil {
		rep.add("buckets rdvs, org_rdvs or agent_busy missing: not an rdvsync store")
		return
	}
	if u := tx.bucket(bucketUsagers); u != nil {
		rep.Usagers = u.KeyN()
	}
	rdvs.ForEach(func(k, v []byte) error {
		rep.RDVs++
		r, err := decodeRDV(k, v)
		if err != nil {
			rep.add("rdvs/%s: %v", printable(k), err)
			return nil
		}
		key := rdvIndexKey(r)
		if string(k) != r.ID {
			rep.add("rdvs/%s holds rdv %s", printable(k), r.ID)
		}
		if o := orgs.Bucket([]byte(r.OrganisationID)); o == nil || o.Get(key) == nil {
			rep.add("rdv %s: missing from org_rdvs/%s", r.ID, r.OrganisationID)
		}
		if links := tx.bucket(bucketUsagerRDVs); links != nil && r.UsagerID != "" && links.Get(usagerRDVKey(r.UsagerID, r.ID)) == nil {
			rep.add("rdv %s: missing from usager_rdvs (retention and erasure would not find it)", r.ID)
		}
		for _, a := range r.AgentIDs {
			var end []byte
			if b := busy.Bucket([]byte(a)); b != nil {
				end = b.Get(key)
			}
			switch {
			case r.Active() && end == nil:
				rep.add("rdv %s: live but missing from agent_busy/%s (its slot looks free)", r.ID, a)
			case r.Active() && !bytes.Equal(end, uint64Bytes(keyNanos(r.EndsAt))):
				rep.add("rdv %s: agent_busy/%s has another end than the rdv", r.ID, a)
			case !r.Active() && end != nil:
				rep.add("rdv %s: cancelled but still in agent_busy/%s (its slot looks taken)", r.ID, a)
			}
		}
		return nil
	})
	orgs.ForEach(func(org, _ []byte) error {
		b := orgs.Bucket(org)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, _ []byte) error {
			r := indexedRDV(tx, rep, "org_rdvs/"+printable(org), k)
			if r != nil && r.OrganisationID != string(org) {
				rep.add("org_rdvs/%s/%s: the rdv is in organisation %s", printable(org), r.ID, r.OrganisationID)
			}
			return nil
		})
	})
	if links := tx.bucket(bucketUsagerRDVs); links != nil {
		links.ForEach(func(k, _ []byte) error {
			usager, packed, ok := bytes.Cut(k, []byte{0})
			id := []byte(keyID(packed))
			if !ok {
				rep.add("usager_rdvs: malformed key %q", k)
				return nil
			}
			v := rdvs.Get(id)
			if v == nil {
				rep.add("usager_rdvs/%s/%s: no such rdv", printable(usager), printable(id))
				return nil
			}
			if r, err := decodeRDV(id, v); err == nil && r.UsagerID != string(usager) {
				rep.add("usager_rdvs/%s/%s: the rdv is usager %s's", printable(usager), r.ID, r.UsagerID)
			}
			return nil
		})
	}
	busy.ForEach(func(agent, _ []byte) error {
		b := busy.Bucket(agent)
		if b == nil {
			return nil
		}
		var prevEnd uint64
		var prevID string
		return b.ForEach(func(k, v []byte) error {
			where := "agent_busy/" + printable(agent)
			r := indexedRDV(tx, rep, where, k)
			if r == nil {
				return nil
			}
			if !r.Active() || !slices.Contains(r.AgentIDs, string(agent)) {
				rep.add("%s/%s: the rdv is cancelled or not this agent's", where, r.ID)
				return nil
			}
			start := binary.BigEndian.Uint64(k)
			if prevID != "" && start < prevEnd {
				rep.add("agent %s: live rdvs %s and %s overlap", printable(agent), prevID, r.ID)
			}
			if len(v) == timeKeyLen && binary.BigEndian.Uint64(v) > prevEnd {
				prevEnd, prevID = binary.BigEndian.Uint64(v), r.ID
			}
			return nil
		})
	})
}

// indexedRDV returns the RDV an index key <t start><rdv*> points to, or
// nil after reporting why it cannot.
func indexedRDV(tx *ReadTx, rep *CheckReport, where string, k []byte) *rdv.RDV {
	if len(k) <= timeKeyLen {
		rep.add("%s: malformed key %x", where, k)
		return nil
	}
	id := keyID(k[timeKeyLen:])
	v := tx.bucket(bucketRDVs).Get([]byte(id))
	if v == nil {
		rep.add("%s/%s: no such rdv", where, printable([]byte(id)))
		return nil
	}
	r, err := decodeRDV([]byte(id), v)
	if err != nil {
		return nil // reported with rdvs
	}
	if !bytes.Equal(rdvIndexKey(r), k) {
		rep.add("%s/%s: indexed at another start than the rdv's", where, r.ID)
	}
	return r
}

// printable shows a key as text when it is, else quoted (index keys of a
// damaged file may hold anything).
func printable(k []byte) string {
	if utf8.Valid(k) && bytes.IndexFunc(k, func(r rune) bool { return r < ' ' }) < 0 {
		return string(k)
	}
	return strconv.Quote(string(k))
}
