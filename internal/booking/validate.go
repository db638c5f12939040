package booking

import (
	"net/mail"
	"strings"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"rdvsync/internal/freetext"
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

// msgInvisible refuses what freetext.Forbidden finds in a one-line field.
const msgInvisible = "ne doit pas contenir de retour à la ligne, de caractère de contrôle ni de caractère invisible " +
	"(changement de sens d'écriture, espace de largeur nulle)"

// cleanText normalises a one-line text field (freetext.Line) and checks
// it: control characters (CR/LF header injection, NUL…), characters that
// disguise a name (bidi overrides, zero-width) and over-long values are
// refused.
func (f fieldErrors) cleanText(field, s string, required bool, max int) string {
	s = freetext.Line(s)
	_, bad := freetext.Forbidden(s)
	switch {
	case s == "" && required:
		f.add(field, "obligatoire")
	case !utf8.ValidString(s):
		f.add(field, "contient des caractères invalides")
	case bad:
		f.add(field, msgInvisible)
	case utf8.RuneCountInString(s) > max:
		f.add(field, "trop long")
	}
	return s
}

// cleanMultiline normalises a free text that may hold line breaks
// (freetext.Multiline: LF only) and checks it.
func (f fieldErrors) cleanMultiline(field, s string, max int) string {
	s = freetext.Multiline(s)
	_, bad := freetext.ForbiddenMultiline(s)
	switch {
	case !utf8.ValidString(s):
		f.add(field, "contient des caractères invalides")
	case bad:
		f.add(field, "contient des caractères de contrôle ou de changement de sens d'écriture")
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
