package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"rdvsync/internal/rdv"
)

// day0 is a Monday, 09:00 in Paris.
var day0 = time.Date(2026, 12, 7, 8, 0, 0, 0, time.UTC)

func at(h, m int) time.Time {
	return day0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute)
}

func openTest(t testing.TB) *Store {
	t.Helper()
	if onPostgres {
		return openPostgres(t)
	}
	s, err := Open(filepath.Join(t.TempDir(), "data", "rdvsync.db"), Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

func newRDV(id, org string, start time.Time, d time.Duration, agents ...string) *rdv.RDV {
	return &rdv.RDV{
		ID:             id,
		Status:         rdv.StatusUnknown,
		StartsAt:       start,
		EndsAt:         start.Add(d),
		MotifID:        "rsa-orientation",
		LieuID:         "mds-arras-centre",
		OrganisationID: org,
		AgentIDs:       agents,
		UsagerID:       "u1",
		CreatedBy:      rdv.CreatedBy{Type: rdv.CreatedByAgent, AgentID: agents[0]},
		CreatedAt:      day0.Add(-48 * time.Hour),
		UpdatedAt:      day0.Add(-48 * time.Hour),
		Version:        1,
	}
}

func put(t testing.TB, s *Store, rs ...*rdv.RDV) {
	t.Helper()
	err := s.Update(context.Background(), func(tx *Tx) error {
		for _, r := range rs {
			if err := tx.PutRDV(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func putUsagers(t testing.TB, s *Store, us ...*rdv.Usager) {
	t.Helper()
	err := s.Update(context.Background(), func(tx *Tx) error {
		for _, u := range us {
			if err := tx.PutUsager(u); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func view(t testing.TB, s *Store, fn func(tx *ReadTx)) {
	t.Helper()
	if err := s.View(context.Background(), func(tx *ReadTx) error { fn(tx); return nil }); err != nil {
		t.Fatal(err)
	}
}

// busy lists an agent's busy intervals over the whole test day as "HH:MM-HH:MM".
func busy(t testing.TB, s *Store, agentID string) string {
	t.Helper()
	var ivs []rdv.Interval
	view(t, s, func(tx *ReadTx) {
		ivs = tx.AppendAgentBusy(nil, agentID, day0.Add(-8*time.Hour), day0.Add(16*time.Hour))
	})
	return formatIntervals(ivs)
}

func formatIntervals(ivs []rdv.Interval) string {
	parts := make([]string, len(ivs))
	for i, iv := range ivs {
		parts[i] = iv.Start.Format("15:04") + "-" + iv.End.Format("15:04")
	}
	return strings.Join(parts, " ")
}

func TestPutRDVRoundTrip(t *testing.T) {
	s := openTest(t)
	want := newRDV("r1", "mds-arras", at(1, 0), 45*time.Minute, "camille")
	put(t, s, want)
	view(t, s, func(tx *ReadTx) {
		got, err := tx.RDV("r1")
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("RDV(r1) = %+v, want %+v", got, want)
		}
		if _, err := tx.RDV("nope"); !errors.Is(err, rdv.ErrNotFound) {
			t.Errorf("RDV(nope) error = %v, want rdv.ErrNotFound", err)
		}
	})
}

// fillAll sets every field of the struct v points to to a non-zero value,
// so that a field the store forgets to save shows up as a difference.
func fillAll(t *testing.T, v reflect.Value, seed int) {
	t.Helper()
	for i := range v.NumField() {
		f, name := v.Field(i), v.Type().Field(i).Name
		switch {
		case f.Type() == reflect.TypeFor[time.Time]():
			f.Set(reflect.ValueOf(day0.Add(time.Duration(seed+i) * time.Minute)))
		case f.Type() == reflect.TypeFor[*time.Time]():
			tm := day0.Add(time.Duration(seed+i) * time.Hour)
			f.Set(reflect.ValueOf(&tm))
		case f.Kind() == reflect.String:
			f.SetString(fmt.Sprintf("%s-%d", name, seed))
		case f.Kind() == reflect.Bool:
			f.SetBool(true)
		case f.Kind() == reflect.Int || f.Kind() == reflect.Int64:
			f.SetInt(int64(seed + i + 1))
		case f.Type() == reflect.TypeFor[[]string]():
			f.Set(reflect.ValueOf([]string{name + "-a", name + "-b"}))
		case f.Kind() == reflect.Struct:
			fillAll(t, f, seed+100)
		default:
			t.Fatalf("field %s of %s has a type (%s) this test cannot fill: extend fillAll", name, v.Type(), f.Type())
		}
	}
}

func TestRecordRoundTrip(t *testing.T) {
	s := openTest(t)
	var r rdv.RDV
	fillAll(t, reflect.ValueOf(&r).Elem(), 0)
	r.StartsAt, r.EndsAt = at(1, 0), at(2, 0)
	var u rdv.Usager
	fillAll(t, reflect.ValueOf(&u).Elem(), 1)
	put(t, s, &r)
	putUsagers(t, s, &u)
	view(t, s, func(tx *ReadTx) {
		gotR, err := tx.RDV(r.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotR, &r) {
			t.Errorf("RDV lost a field (add it to rdvV1 in record.go):\n got %+v\nwant %+v", gotR, &r)
		}
		gotU, err := tx.Usager(u.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gotU, &u) {
			t.Errorf("Usager lost a field (add it to usagerV1 in record.go):\n got %+v\nwant %+v", gotU, &u)
		}
		if v := tx.kv.Bucket(bucketRDVs).Get([]byte(r.ID)); len(v) == 0 || v[0] != recordV2 {
			t.Errorf("stored RDV = %q, want format %d", v, recordV2)
		}
	})
}

func TestPutRDVValidates(t *testing.T) {
	s := openTest(t)
	for name, r := range map[string]*rdv.RDV{
		"no id":        newRDV("", "org", at(1, 0), time.Hour, "a"),
		"no org":       newRDV("r", "", at(1, 0), time.Hour, "a"),
		"empty":        newRDV("r", "org", at(1, 0), 0, "a"),
		"reversed":     newRDV("r", "org", at(1, 0), -time.Hour, "a"),
		"empty agent":  newRDV("r", "org", at(1, 0), time.Hour, "a", ""),
		"before epoch": newRDV("r", "org", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC), time.Hour, "a"),
	} {
		t.Run(name, func(t *testing.T) {
			err := s.Update(context.Background(), func(tx *Tx) error { return tx.PutRDV(r) })
			if err == nil {
				t.Fatal("PutRDV succeeded, want an error")
			}
		})
	}
}

func TestUpdateRollsBackOnError(t *testing.T) {
	s := openTest(t)
	errBoom := errors.New("boom")
	err := s.Update(context.Background(), func(tx *Tx) error {
		if err := tx.PutRDV(newRDV("r1", "org", at(1, 0), time.Hour, "a")); err != nil {
			return err
		}
		return errBoom
	})
	if err != errBoom {
		t.Fatalf("Update error = %v, want fn's error unchanged", err)
	}
	view(t, s, func(tx *ReadTx) {
		if _, err := tx.RDV("r1"); !errors.Is(err, rdv.ErrNotFound) {
			t.Errorf("RDV written by a failed Update is visible (err %v)", err)
		}
		if got := tx.AppendAgentBusy(nil, "a", day0, day0.Add(24*time.Hour)); len(got) != 0 {
			t.Errorf("agent busy after failed Update: %v", got)
		}
	})
}

func TestCancelledContext(t *testing.T) {
	s := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	if err := s.Update(ctx, func(*Tx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("Update on a cancelled context: err %v, ran %v", err, ran)
	}
	if err := s.View(ctx, func(*ReadTx) error { ran = true; return nil }); !errors.Is(err, context.Canceled) || ran {
		t.Errorf("View on a cancelled context: err %v, ran %v", err, ran)
	}
}

func TestStatsAndReopen(t *testing.T) {
	fileOnly(t)
	path := filepath.Join(t.TempDir(), "rdvsync.db")
	s, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Path() != path {
		t.Errorf("Path() = %q, want %q", s.Path(), path)
	}
	put(t, s, newRDV("r1", "org", at(1, 0), time.Hour, "a"), newRDV("r2", "org", at(2, 0), time.Hour, "a"))
	putUsagers(t, s, &rdv.Usager{ID: "u1", FirstName: "Léa", LastName: "Dubois", Email: "lea@example.org"})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s, err = Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st, err := s.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.RDVs != 2 || st.Usagers != 1 || st.SizeBytes <= 0 {
		t.Errorf("Stats after reopen = %+v, want 2 RDVs, 1 usager", st)
	}
	if got := busy(t, s, "a"); got != "09:00-10:00 10:00-11:00" {
		t.Errorf("busy after reopen = %q", got)
	}
	view(t, s, func(tx *ReadTx) {
		if u, err := tx.FindUsagerByEmail("LEA@example.org"); err != nil || u.ID != "u1" {
			t.Errorf("FindUsagerByEmail after reopen = %v, %v", u, err)
		}
	})
}

func TestOpenLocked(t *testing.T) {
	fileOnly(t)
	path := filepath.Join(t.TempDir(), "rdvsync.db")
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	const timeout = 200 * time.Millisecond
	start := time.Now()
	s2, err := Open(path, Options{LockTimeout: timeout})
	elapsed := time.Since(start)
	if err == nil {
		s2.Close()
		t.Fatal("second Open succeeded, want ErrLocked")
	}
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open error = %v, want ErrLocked", err)
	}
	want := fmt.Sprintf("store %s is locked by another process (is another rdvsync running on it?)", path)
	if err.Error() != want {
		t.Errorf("error = %q, want %q", err, want)
	}
	if elapsed > timeout+time.Second {
		t.Errorf("second Open took %v, want about %v", elapsed, timeout)
	}
}

func TestMigrationsList(t *testing.T) {
	for i, m := range migrations {
		if m.version != i+1 || m.name == "" || m.apply == nil {
			t.Errorf("migrations[%d] = {version %d, name %q}: versions must be 1, 2, 3… in order, each named", i, m.version, m.name)
		}
	}
}

func TestMigrations(t *testing.T) {
	fileOnly(t)
	dir := t.TempDir()

	// A file from before versioning (or an empty one) is version 0.
	path := filepath.Join(dir, "v0.db")
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Options{NoSync: true})
	if err != nil {
		t.Fatalf("Open of a version 0 file: %v", err)
	}
	put(t, s, newRDV("r1", "org", at(1, 0), time.Hour, "a"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A next version rewrites every RDV; opening the version 1 file with it
	// runs exactly that migration, once.
	runs := 0
	n := len(migrations)
	v2 := append(migrations[:len(migrations):len(migrations)], migration{
		version: n + 1,
		name:    "test: add motif suffix",
		apply: func(tx KVTx) error {
			runs++
			b := tx.Bucket(bucketRDVs)
			return b.ForEach(func(k, v []byte) error {
				r, err := decodeRDV(k, v)
				if err != nil {
					return err
				}
				r.MotifID += "-v2"
				nv, err := encodeRDV(r)
				if err != nil {
					return err
				}
				return b.Put(k, nv)
			})
		},
	})
	for range 2 {
		s, err = open(path, Options{NoSync: true}, v2)
		if err != nil {
			t.Fatalf("open with migration 2: %v", err)
		}
		view(t, s, func(tx *ReadTx) {
			if v, _ := schemaVersion(tx.kv); v != n+1 {
				t.Errorf("schema version = %d, want %d", v, n+1)
			}
			if r, err := tx.RDV("r1"); err != nil || r.MotifID != "rsa-orientation-v2" {
				t.Errorf("RDV after migration 2 = %+v, %v", r, err)
			}
		})
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if runs != 1 {
		t.Errorf("migration 2 ran %d times over two opens, want 1", runs)
	}

	// This rdvsync only knows version n: it must refuse the version n+1 file.
	s, err = Open(path, Options{NoSync: true})
	if err == nil {
		s.Close()
		t.Fatal("Open of a newer file succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) || !strings.Contains(err.Error(), fmt.Sprintf("schema version is %d but this rdvsync knows versions up to %d", n+1, n)) {
		t.Errorf("Open of a newer file: %v", err)
	}

	// A failing migration leaves the file untouched.
	failing := append(v2[:len(v2):len(v2)], migration{version: n + 2, name: "test: fails", apply: func(KVTx) error { return errors.New("disk on fire") }})
	if s, err := open(path, Options{NoSync: true}, failing); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("migration %d (test: fails): disk on fire", n+2)) {
		if s != nil {
			s.Close()
		}
		t.Errorf("open with a failing migration: %v", err)
	}
	s, err = open(path, Options{NoSync: true}, v2)
	if err != nil {
		t.Fatalf("reopen after a failed migration: %v", err)
	}
	s.Close()
}

func TestUpdatePanicReachesCaller(t *testing.T) {
	s := openTest(t)
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want the panic of fn", p)
			}
		}()
		_ = s.Update(context.Background(), func(tx *Tx) error {
			if err := tx.PutRDV(newRDV("r1", "org", at(1, 0), time.Hour, "a")); err != nil {
				return err
			}
			panic("boom")
		})
	}()
	put(t, s, newRDV("r2", "org", at(2, 0), time.Hour, "a"))
	if got := busy(t, s, "a"); got != "10:00-11:00" {
		t.Errorf("after a panicking Update, busy = %q, want only r2", got)
	}
}
