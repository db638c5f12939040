package french

import (
	"testing"
	"time"

	"rdvsync/internal/rdv"
)

func TestDates(t *testing.T) {
	paris, err := time.LoadLocation("Europe/Paris")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		got, want string
	}{
		{DateTime(time.Date(2026, 12, 7, 9, 0, 0, 0, paris)), "lundi 7 décembre 2026 à 9 h 00"},
		{DateTime(time.Date(2026, 12, 1, 14, 30, 0, 0, paris)), "mardi 1er décembre 2026 à 14 h 30"},
		{DateTimeShort(time.Date(2026, 8, 15, 10, 5, 0, 0, paris)), "samedi 15 août à 10 h 05"},
		{Day(rdv.NewDate(2027, 1, 1)), "vendredi 1er janvier"},
		{Date(time.Date(2027, 3, 29, 0, 0, 0, 0, paris)), "lundi 29 mars 2027"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}

func TestPhone(t *testing.T) {
	for _, c := range []struct{ in, national, uri string }{
		{"+33321555555", "03 21 55 55 55", "tel:+33321555555"},
		{"06 12 34 56 78", "06 12 34 56 78", "tel:+33612345678"},
		{"+3225551212", "+32 2 555 12 12", "tel:+3225551212"},
		{"javascript:alert(1)", "javascript:alert(1)", ""},
		{"", "", ""},
	} {
		if got := Phone(c.in); got != c.national {
			t.Errorf("Phone(%q) = %q, want %q", c.in, got, c.national)
		}
		if got := TelURI(c.in); got != c.uri {
			t.Errorf("TelURI(%q) = %q, want %q", c.in, got, c.uri)
		}
	}
}

func TestDurations(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{Duration(45 * time.Minute), "45 minutes"},
		{Duration(time.Hour), "1 heure"},
		{Duration(2 * time.Hour), "2 heures"},
		{Duration(90 * time.Minute), "1 h 30"},
		{ShortDuration(20 * time.Minute), "20 min"},
		{ShortDuration(time.Hour), "1 h"},
		{ShortDuration(90 * time.Minute), "1 h 30"},
		{Delay(30 * time.Minute), "30 minutes"},
		{Delay(2 * time.Hour), "2 heures"},
		{Delay(90 * 24 * time.Hour), "90 jours"},
		{Delay(24 * time.Hour), "1 jour"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
}
