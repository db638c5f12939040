package store

import (
	"bytes"
	"fmt"
	"strings"

	"rdvsync/internal/rdv"
)

// DefaultSearchLimit is the number of usagers SearchUsagers returns when
// given a limit ≤ 0.
const DefaultSearchLimit = 20

// Error messages below never contain names, emails or phone numbers: they
// end up in logs.

// Usager returns the usager with the given id, or an error wrapping
// rdv.ErrNotFound.
func (tx *ReadTx) Usager(id string) (*rdv.Usager, error) {
	b := tx.bucket(bucketUsagers).Get([]byte(id))
	if b == nil {
		return nil, fmt.Errorf("usager %s: %w", id, rdv.ErrNotFound)
	}
	u, err := decodeUsager([]byte(id), b)
	if err != nil {
		return nil, fmt.Errorf("store: usagers/%s: %w", id, err)
	}
	return u, nil
}

// FindUsagerByEmail returns a usager with this email (case-insensitive), or
// an error wrapping rdv.ErrNotFound. Several usagers may share an email (a
// family); the one with the smallest id is returned, so callers that reuse a
// usager should also compare names.
func (tx *ReadTx) FindUsagerByEmail(email string) (*rdv.Usager, error) {
	e := foldEmail(email)
	if e == "" {
		return nil, fmt.Errorf("usager by email: empty email: %w", rdv.ErrNotFound)
	}
	return tx.firstUsagerWithPrefix(bucketUsagerEmail, joinKey(e, ""), "usager by email")
}

// FindUsagerByNameEmail returns the usager with these names (ignoring
// case, accents and punctuation) and this email, or an error wrapping
// rdv.ErrNotFound. Members of a family sharing an email stay distinct.
func (tx *ReadTx) FindUsagerByNameEmail(first, last, email string) (*rdv.Usager, error) {
	e, f, l := foldEmail(email), fold(first), fold(last)
	if e == "" || f == "" || l == "" {
		return nil, fmt.Errorf("usager by name and email: empty field: %w", rdv.ErrNotFound)
	}
	prefix := joinKey(e, "")
	c := tx.bucket(bucketUsagerEmail).Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		u, err := tx.Usager(string(k[len(prefix):]))
		if err != nil {
			return nil, fmt.Errorf("store: %s index: %w", bucketUsagerEmail, err)
		}
		if fold(u.FirstName) == f && fold(u.LastName) == l {
			return u, nil
		}
	}
	return nil, fmt.Errorf("usager by name and email: %w", rdv.ErrNotFound)
}

// FindUsagerByNamePhone returns the usager with these names (ignoring case,
// accents and punctuation) and phone number, or an error wrapping
// rdv.ErrNotFound.
func (tx *ReadTx) FindUsagerByNamePhone(first, last, phoneE164 string) (*rdv.Usager, error) {
	f, l, p := fold(first), fold(last), foldPhone(phoneE164)
	if f == "" || l == "" || p == "" {
		return nil, fmt.Errorf("usager by name and phone: empty field: %w", rdv.ErrNotFound)
	}
	return tx.firstUsagerWithPrefix(bucketUsagerNamePhone, joinKey(f, l, p, ""), "usager by name and phone")
}

// firstUsagerWithPrefix loads the usager whose id ends the first key of an
// index bucket that starts with prefix.
func (tx *ReadTx) firstUsagerWithPrefix(bucket, prefix []byte, what string) (*rdv.Usager, error) {
	k, _ := tx.bucket(bucket).Cursor().Seek(prefix)
	if k == nil || !bytes.HasPrefix(k, prefix) {
		return nil, fmt.Errorf("%s: %w", what, rdv.ErrNotFound)
	}
	u, err := tx.Usager(string(k[len(prefix):]))
	if err != nil {
		return nil, fmt.Errorf("store: %s index: %w", bucket, err)
	}
	return u, nil
}

// SearchUsagers returns up to limit usagers (DefaultSearchLimit if
// limit ≤ 0) in which every word of q appears, ignoring case and accents, in
// the first or last name, the email, or the phone number (E.164 digits or
// French national form: "0612…" finds "+33612…"). Results are sorted by last
// name, then first name. An empty query finds nothing.
func (tx *ReadTx) SearchUsagers(q string, limit int) ([]*rdv.Usager, error) {
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	words := searchWords(q)
	found := []*rdv.Usager{}
	if len(words) == 0 {
		return found, nil
	}
	needles := make([][]byte, len(words))
	for i, w := range words {
		needles[i] = []byte(w)
	}
	c := tx.bucket(bucketUsagerSearch).Cursor()
scan:
	for k, text := c.First(); k != nil; k, text = c.Next() {
		for _, n := range needles {
			if !bytes.Contains(text, n) {
				continue scan
			}
		}
		id, ok := searchKeyID(k)
		if !ok {
			continue
		}
		u, err := tx.Usager(id)
		if err != nil {
			return nil, fmt.Errorf("store: usager_search index: %w", err)
		}
		if found = append(found, u); len(found) == limit {
			break
		}
	}
	return found, nil
}

// searchKeyID returns the id that ends a usager_search key
// (<last>\x00<first>\x00<id>).
func searchKeyID(k []byte) (string, bool) {
	for range 2 {
		i := bytes.IndexByte(k, 0)
		if i < 0 {
			return "", false
		}
		k = k[i+1:]
	}
	return string(k), true
}

// usagerIndexEntries returns the index entries of u: the lookups it can be
// found by and its search text.
func usagerIndexEntries(u *rdv.Usager) []indexEntry {
	first, last := fold(u.FirstName), fold(u.LastName)
	var out []indexEntry
	if e := foldEmail(u.Email); e != "" {
		out = append(out, indexEntry{bucketUsagerEmail, joinKey(e, u.ID), nil})
	}
	if p := foldPhone(u.PhoneNumber); p != "" && first != "" && last != "" {
		out = append(out, indexEntry{bucketUsagerNamePhone, joinKey(first, last, p, u.ID), nil})
	}
	text := strings.Join(nonEmpty(first, last, fold(u.Email), phoneSearchText(u.PhoneNumber)), " ")
	out = append(out, indexEntry{bucketUsagerSearch, joinKey(last, first, u.ID), []byte(text)})
	return out
}

type indexEntry struct {
	bucket, key, value []byte
}

func nonEmpty(ss ...string) []string {
	out := ss[:0]
	for _, s := range ss {
		if s != "" {
			out = append(out, s)
		}
	}
	return out
}

// PutUsager inserts u or replaces the stored usager with the same id, and
// brings the lookup and search indexes up to date, removing the entries of
// the previous version. It sets u.RdvsID as PutRDV does for RDVs.
func (tx *Tx) PutUsager(u *rdv.Usager) error {
	if u.ID == "" {
		return fmt.Errorf("store: put usager: empty id")
	}
	usagers := tx.bucket(bucketUsagers)
	var prevID *int64
	if old := usagers.Get([]byte(u.ID)); old != nil {
		prev, err := decodeUsager([]byte(u.ID), old)
		if err != nil {
			return fmt.Errorf("store: put usager %s: previous version: %w", u.ID, err)
		}
		for _, e := range usagerIndexEntries(prev) {
			if err := tx.bucket(e.bucket).Delete(e.key); err != nil {
				return fmt.Errorf("store: put usager %s: %s: %w", u.ID, e.bucket, err)
			}
		}
		prevID = &prev.RdvsID
	}
	if err := keepRdvsID(usagers, prevID, &u.RdvsID); err != nil {
		return fmt.Errorf("store: put usager %s: %w", u.ID, err)
	}
	if tx.usagers == nil {
		tx.usagers = map[string]bool{}
	}
	if _, seen := tx.usagers[u.ID]; !seen {
		tx.usagers[u.ID] = prevID == nil
	}
	val, err := encodeUsager(u)
	if err != nil {
		return fmt.Errorf("store: put usager %s: encode: %w", u.ID, err)
	}
	if err := usagers.Put([]byte(u.ID), val); err != nil {
		return fmt.Errorf("store: put usager %s: %w", u.ID, err)
	}
	for _, e := range usagerIndexEntries(u) {
		if err := tx.bucket(e.bucket).Put(e.key, e.value); err != nil {
			return fmt.Errorf("store: put usager %s: %s: %w", u.ID, e.bucket, err)
		}
	}
	return nil
}
