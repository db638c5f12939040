package booking

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"
)

// maxNameLen bounds names so a hostile form cannot fill the store.
const maxNameLen = 100

// fieldErrors collects French messages per field path.
type fieldErrors map[string]string

func (f fieldErrors) add(field, msg string) {
	if _, ok := f[field]; !ok {
		f[field] = msg
	}
}

// cleanText trims a one-line text field and checks it: control characters
// (CR/LF header injection, NUL…) and over-long values are refused.
func (f fieldErrors) cleanText(field, s string, required bool, max int) string {
	s = strings.TrimSpace(s)
	switch {
	case s == "" && required:
		f.add(field, "obligatoire")
	case !utf8.ValidString(s):
		f.add(field, "contient des caractères invalides")
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		f.add(field, "ne doit pas contenir de retour à la ligne ni de caractère de contrôle")
	case utf8.RuneCountInString(s) > max:
		f.add(field, "trop long")
	}
	return s
}

// cleanEmail validates an email address and returns it lowercased.
func (f fieldErrors) cleanEmail(field, s string, required bool) string {
	s = f.cleanText(field, s, required, 254)
	if s == "" {
		return ""
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@')+1:], ".") {
		f.add(field, "adresse email invalide")
		return s
	}
	return strings.ToLower(s)
}

// cleanPhone validates a French phone number and returns it in E.164 with
// whether it is a mobile (only mobiles receive SMS).
func (f fieldErrors) cleanPhone(field, s string) (string, bool) {
	s = f.cleanText(field, s, false, 30)
	if s == "" {
		return "", false
	}
	n, err := phonenumbers.Parse(s, "FR")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		f.add(field, "numéro de téléphone invalide (exemple : 06 12 34 56 78)")
		return s, false
	}
	t := phonenumbers.GetNumberType(n)
	mobile := t == phonenumbers.MOBILE || t == phonenumbers.FIXED_LINE_OR_MOBILE
	return phonenumbers.Format(n, phonenumbers.E164), mobile
}
