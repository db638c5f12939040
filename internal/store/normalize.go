package store

import (
	"strings"
	"unicode"

	"golang.org/x/text/unicode/norm"
)

// fold lower-cases s, strips accents ("Léa" → "lea", "Œ" → "oe"), and turns
// every run of characters other than letters and digits into one space, so
// "Jean-Pierre  D'Ornano" and "jean pierre d ornano" are the same key.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if space && b.Len() > 0 {
				b.WriteByte(' ')
			}
			space = false
			switch r = unicode.ToLower(r); r {
			case 'œ':
				b.WriteString("oe")
			case 'æ':
				b.WriteString("ae")
			case 'ß':
				b.WriteString("ss")
			default:
				b.WriteRune(r)
			}
		default:
			space = true
		}
	}
	return b.String()
}

// foldEmail is the lookup form of an email address. Only case is folded:
// accents or dots may be significant to the mail server.
func foldEmail(email string) string {
	return strings.ToLower(strings.TrimSpace(email))
}

// digits keeps the ASCII digits of s.
func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return r
		}
		return -1
	}, s)
}

// foldPhone is the lookup form of a phone number: "+" and digits.
func foldPhone(phone string) string {
	d := digits(phone)
	if d != "" && strings.HasPrefix(strings.TrimSpace(phone), "+") {
		return "+" + d
	}
	return d
}

// frenchCallingCodes are the country codes whose numbers are dialled
// nationally as 0 + 9 digits (metropolitan France and the overseas
// departments and collectivities).
var frenchCallingCodes = []string{"33", "262", "269", "508", "590", "594", "596", "687", "689", "681"}

// phoneSearchText returns the digits an agent may type to find a phone
// number: the E.164 digits and, for French numbers, the national form
// ("+33612345678" → "33612345678 0612345678").
func phoneSearchText(e164 string) string {
	d := digits(e164)
	if d == "" {
		return ""
	}
	for _, cc := range frenchCallingCodes {
		if len(d) == len(cc)+9 && strings.HasPrefix(d, cc) {
			return d + " 0" + d[len(cc):]
		}
	}
	return d
}

// searchWords splits a search query into folded words. A query that looks
// like a phone number ("06 12 34 56 78", "+33 6…") is one word of digits.
func searchWords(q string) []string {
	if d := digits(q); d != "" && strings.Trim(q, "0123456789+ .-()") == "" {
		return []string{d}
	}
	return strings.Fields(fold(q))
}
