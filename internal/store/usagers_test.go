package store

import (
	"errors"
	"strings"
	"testing"

	"rdvsync/internal/rdv"
)

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Léa", "lea"},
		{"  JEAN-Pierre   d'Ornano ", "jean pierre d ornano"},
		{"Cœur Ægir", "coeur aegir"},
		{"Çà et là", "ca et la"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := fold(tt.in); got != tt.want {
			t.Errorf("fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func usagerIDs(us []*rdv.Usager) string {
	ids := make([]string, len(us))
	for i, u := range us {
		ids[i] = u.ID
	}
	return strings.Join(ids, " ")
}

func TestUsagerLookups(t *testing.T) {
	s := openTest(t)
	putUsagers(t, s,
		&rdv.Usager{ID: "u1", FirstName: "Léa", LastName: "Dubois", Email: "Lea.Dubois@example.org", PhoneNumber: "+33612345678"},
		&rdv.Usager{ID: "u2", FirstName: "Jean-Pierre", LastName: "Lefèvre", PhoneNumber: "+33321000000"},
		&rdv.Usager{ID: "u3", FirstName: "Hugo", LastName: "Dubois", Email: "lea.dubois@example.org"}, // shares the family email
	)
	view(t, s, func(tx *ReadTx) {
		found := []struct {
			name string
			find func() (*rdv.Usager, error)
			want string
		}{
			{"email, other case", func() (*rdv.Usager, error) { return tx.FindUsagerByEmail(" LEA.DUBOIS@example.org") }, "u1"},
			{"names without accents", func() (*rdv.Usager, error) { return tx.FindUsagerByNamePhone("lea", "DUBOIS", "+33612345678") }, "u1"},
			{"names with other punctuation", func() (*rdv.Usager, error) { return tx.FindUsagerByNamePhone("jean pierre", "Lefevre", "+33321000000") }, "u2"},
		}
		for _, tt := range found {
			u, err := tt.find()
			if err != nil || u.ID != tt.want {
				t.Errorf("%s: got %v, %v; want %s", tt.name, u, err, tt.want)
			}
		}
		missing := []struct {
			name string
			find func() (*rdv.Usager, error)
		}{
			{"unknown email", func() (*rdv.Usager, error) { return tx.FindUsagerByEmail("nobody@example.org") }},
			{"email prefix", func() (*rdv.Usager, error) { return tx.FindUsagerByEmail("lea.dubois@example") }},
			{"empty email", func() (*rdv.Usager, error) { return tx.FindUsagerByEmail("") }},
			{"other phone", func() (*rdv.Usager, error) { return tx.FindUsagerByNamePhone("Léa", "Dubois", "+33600000000") }},
			{"other first name", func() (*rdv.Usager, error) { return tx.FindUsagerByNamePhone("Hugo", "Dubois", "+33612345678") }},
			{"no phone", func() (*rdv.Usager, error) { return tx.FindUsagerByNamePhone("Hugo", "Dubois", "") }},
			{"unknown id", func() (*rdv.Usager, error) { return tx.Usager("u9") }},
		}
		for _, tt := range missing {
			if u, err := tt.find(); !errors.Is(err, rdv.ErrNotFound) || u != nil {
				t.Errorf("%s: got %v, %v; want rdv.ErrNotFound", tt.name, u, err)
			}
		}
	})

	// Changing email, phone and names removes the old index entries.
	putUsagers(t, s, &rdv.Usager{ID: "u1", FirstName: "Léa", LastName: "Martin", Email: "lea.martin@example.org", PhoneNumber: "+33699999999"})
	view(t, s, func(tx *ReadTx) {
		if u, err := tx.FindUsagerByEmail("lea.dubois@example.org"); err != nil || u.ID != "u3" {
			t.Errorf("old shared email: got %v, %v; want u3", u, err)
		}
		if _, err := tx.FindUsagerByNamePhone("Léa", "Dubois", "+33612345678"); !errors.Is(err, rdv.ErrNotFound) {
			t.Errorf("old names and phone still found: %v", err)
		}
		if u, err := tx.FindUsagerByNamePhone("Léa", "Martin", "+33699999999"); err != nil || u.ID != "u1" {
			t.Errorf("new names and phone: got %v, %v", u, err)
		}
		if u, err := tx.FindUsagerByEmail("lea.martin@example.org"); err != nil || u.ID != "u1" {
			t.Errorf("new email: got %v, %v", u, err)
		}
		if got, err := tx.SearchUsagers("dubois", 0); err != nil || usagerIDs(got) != "u3" {
			t.Errorf("search for the old last name = %q, %v; want u3 only", usagerIDs(got), err)
		}
	})
}

func TestSearchUsagers(t *testing.T) {
	s := openTest(t)
	putUsagers(t, s,
		&rdv.Usager{ID: "u1", FirstName: "Léa", LastName: "Dubois", Email: "lea@example.org", PhoneNumber: "+33612345678"},
		&rdv.Usager{ID: "u2", FirstName: "Jean-Pierre", LastName: "Lefèvre", PhoneNumber: "+33321000000"},
		&rdv.Usager{ID: "u3", FirstName: "Hugo", LastName: "Dubois"},
		&rdv.Usager{ID: "u4", FirstName: "Anaëlle", LastName: "Abraham", Email: "ana@example.org", PhoneNumber: "+262692123456"},
		&rdv.Usager{ID: "u5", FirstName: "Léa", LastName: "Zola"},
	)
	tests := []struct {
		q     string
		limit int
		want  string
	}{
		{"lea", 0, "u1 u5"}, // sorted by last name
		{"ANAËLLE", 0, "u4"},
		{"LÉA dubois", 0, "u1"},
		{"dubois", 0, "u3 u1"}, // then by first name
		{"dubois", 1, "u3"},
		{"lefevre jean", 0, "u2"},
		{"jean-pierre", 0, "u2"},
		{"0612345678", 0, "u1"},
		{"06 12 34 56 78", 0, "u1"},
		{"+33 6 12 34 56 78", 0, "u1"},
		{"0692123456", 0, "u4"},
		{"3456", 0, "u4 u1"},
		{"ana@example", 0, "u4"},
		{"example.org", 0, "u4 u1"},
		{"dubois zola", 0, ""},
		{"", 0, ""},
		{"  ", 0, ""},
	}
	view(t, s, func(tx *ReadTx) {
		for _, tt := range tests {
			got, err := tx.SearchUsagers(tt.q, tt.limit)
			if err != nil {
				t.Fatal(err)
			}
			if got == nil {
				t.Errorf("SearchUsagers(%q) = nil, want an empty slice", tt.q)
			}
			if ids := usagerIDs(got); ids != tt.want {
				t.Errorf("SearchUsagers(%q, %d) = %q, want %q", tt.q, tt.limit, ids, tt.want)
			}
		}
	})
}
