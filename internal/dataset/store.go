package dataset

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// WriteBatch is how many RDVs WriteStore writes per transaction: large
// transactions make a million RDVs a matter of a minute, not an hour of
// fsyncs.
const WriteBatch = 20_000

// usagersPerRDV: one usager for every three RDVs (families come back).
const rdvsPerUsager = 3

// WriteStore writes the dataset's RDVs into st as prescripteurs would have
// booked them, with one usager for every three RDVs, in transactions of
// WriteBatch RDVs. RDV i has id "seed-rdv-<i>"; createdAt stamps every
// record.
func (d *Dataset) WriteStore(ctx context.Context, st *store.Store, createdAt time.Time) error {
	createdAt = createdAt.UTC()
	usagers := (len(d.RDVs) + rdvsPerUsager - 1) / rdvsPerUsager
	for lo := 0; lo < len(d.RDVs); lo += WriteBatch {
		err := st.Update(ctx, func(tx *store.Tx) error {
			for i := lo; i < min(lo+WriteBatch, len(d.RDVs)); i++ {
				r := d.RDVs[i]
				uid := fmt.Sprintf("seed-usager-%07d", i%usagers)
				if i < usagers {
					u := &rdv.Usager{ID: uid, FirstName: "Usager", LastName: fmt.Sprintf("Seed %07d", i),
						Email: fmt.Sprintf("seed%07d@example.org", i), PhoneNumber: fmt.Sprintf("+3361%07d", i), PhoneMobile: true,
						CreatedAt: createdAt, UpdatedAt: createdAt}
					if err := tx.PutUsager(u); err != nil {
						return err
					}
				}
				err := tx.PutRDV(&rdv.RDV{ID: fmt.Sprintf("seed-rdv-%07d", i), Status: rdv.StatusUnknown,
					StartsAt: r.Start.UTC(), EndsAt: r.End.UTC(), MotifID: r.MotifID, LieuID: r.LieuID,
					OrganisationID: d.Catalog.Motif(r.MotifID).Organisation.ID, AgentIDs: []string{r.AgentID}, UsagerID: uid,
					CreatedBy: rdv.CreatedBy{Type: rdv.CreatedByPrescripteur, FirstName: "Jean", LastName: "Petit",
						Email: "jean.petit@mediatheque.example.org", PhoneNumber: "+33321000000"},
					CreatedAt: createdAt, UpdatedAt: createdAt, UsagerToken: fmt.Sprintf("seed-token-%07d", i), Version: 1})
				if err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("dataset: write RDVs %d–%d: %w", lo, min(lo+WriteBatch, len(d.RDVs))-1, err)
		}
	}
	return nil
}

// Fingerprint identifies the dataset's content: its YAML and its RDVs.
func (d *Dataset) Fingerprint() string {
	h := sha256.New()
	h.Write(d.yaml)
	var b [8]byte
	for _, r := range d.RDVs {
		fmt.Fprint(h, r.AgentID, "\x00", r.MotifID, "\x00", r.LieuID, "\x00")
		binary.BigEndian.PutUint64(b[:], uint64(r.Start.UnixNano()))
		h.Write(b[:])
		binary.BigEndian.PutUint64(b[:], uint64(r.End.UnixNano()))
		h.Write(b[:])
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// CachedStoreFile returns the path of a store file holding the dataset's
// RDVs (WriteStore, records stamped at Params.Start), for benchmarks that
// only read it: os.TempDir()/rdvsync-bench-<Fingerprint>-v<schema>.db,
// built on first use (a million RDVs take minutes) and reused while the
// dataset and the store's schema version are the same (a file migrated in
// place would be larger than a new one). A file being built is written under another name and renamed
// when complete, so an interrupted build is never reused. Delete the files
// to reclaim the space (about 2 kB per RDV).
func (d *Dataset) CachedStoreFile(ctx context.Context) (string, error) {
	path := filepath.Join(os.TempDir(), fmt.Sprintf("rdvsync-bench-%s-v%d.db", d.Fingerprint(), store.SchemaVersion()))
	if _, err := os.Stat(path); err == nil {
		return path, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	st, err := store.Open(tmp, store.Options{NoSync: true})
	if err != nil {
		return "", err
	}
	err = d.WriteStore(ctx, st, d.Params.Start.At(0, time.UTC))
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return "", err
	}
	return path, nil
}
