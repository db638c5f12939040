package web

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"

	"rdvsync/internal/config"
)

// Commune maps a postal code and a commune name to the commune's INSEE
// code, which sectorisation zones may name (city_code); the table is the
// configuration's `communes`. Several communes can share a postal code, so
// the name picks among them. An address whose commune is not in the table
// is sectorised by its postal code alone, unless the visitor types the
// INSEE code.
type Commune = config.Commune

// cityCode returns the INSEE code of the commune named name with the
// postal code pc: the only commune of the postal code, or the one whose
// name matches (case, accents and dashes ignored). "" when unknown: another
// commune of the same postal code is not taken for the one in the table.
func cityCode(table []Commune, pc, name string) string {
	var found []Commune
	for _, c := range table {
		if c.PostalCode == pc {
			found = append(found, c)
		}
	}
	if len(found) == 1 && (name == "" || foldName(name) == foldName(found[0].Name)) {
		return found[0].CityCode
	}
	for _, c := range found {
		if foldName(c.Name) == foldName(name) {
			return c.CityCode
		}
	}
	return ""
}

// foldName reduces a commune name for comparison: "Éleu-dit-Leauwette" and
// "eleu dit leauwette" are the same.
func foldName(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(unicode.ToLower(r))
		case b.Len() > 0:
			b.WriteByte(' ')
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}
