package web

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/nyaruka/phonenumbers"

	"rdvsync/internal/freetext"
	"rdvsync/internal/rdv"
)

// The forms check what booking will check, so that a mistake is shown
// next to its field at the step where it was typed; booking's own
// *rdv.InvalidError is mapped to the same fields (formErrors) in case
// the two ever disagree.

const (
	msgRequired = "Ce champ est obligatoire."
	msgEmail    = "Adresse email invalide. Exemple : prenom.nom@exemple.fr"
	msgPhone    = "Numéro de téléphone invalide. Exemple : 06 12 34 56 78"
	msgTooLong  = "Ce texte est trop long."
	msgControl  = "Ce champ contient des caractères non autorisés (caractère de contrôle, changement de sens d'écriture ou espace invisible)."
)

// hasControl reports what booking refuses in a one-line field.
func hasControl(s string) bool {
	_, bad := freetext.Forbidden(s)
	return bad
}

// checkText checks a one-line text field.
func checkText(fe map[string]string, key, v string, required bool, max int) {
	switch {
	case v == "" && required:
		fe[key] = msgRequired
	case !utf8.ValidString(v) || hasControl(v):
		fe[key] = msgControl
	case utf8.RuneCountInString(v) > max:
		fe[key] = msgTooLong
	}
}

// checkEmail checks an email address as booking does.
func checkEmail(fe map[string]string, key, v string, required bool) {
	checkText(fe, key, v, required, 254)
	if v == "" || fe[key] != "" {
		return
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || !strings.Contains(v[strings.LastIndexByte(v, '@')+1:], ".") {
		fe[key] = msgEmail
	}
}

// checkPhone checks a French phone number; mobile says whether it can
// receive SMS.
func checkPhone(fe map[string]string, key, v string) (mobile bool) {
	checkText(fe, key, v, false, 30)
	if v == "" || fe[key] != "" {
		return false
	}
	n, err := phonenumbers.Parse(v, "FR")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		fe[key] = msgPhone
		return false
	}
	t := phonenumbers.GetNumberType(n)
	return t == phonenumbers.MOBILE || t == phonenumbers.FIXED_LINE_OR_MOBILE
}

// checkMultiline checks a free text that may hold line breaks, as booking
// will once it has made them LF.
func checkMultiline(fe map[string]string, key, v string, max int) {
	v = freetext.Multiline(v)
	if _, bad := freetext.ForbiddenMultiline(v); bad {
		fe[key] = msgControl
		return
	}
	if utf8.RuneCountInString(v) > max {
		fe[key] = msgTooLong
	}
}

// formErrors maps the fields of booking's *rdv.InvalidError to the form
// fields named in fields; what does not map is returned apart.
func formErrors(inv *rdv.InvalidError, fields map[string]string) (mapped, rest map[string]string) {
	mapped, rest = map[string]string{}, map[string]string{}
	for k, msg := range inv.Fields {
		if f, ok := fields[k]; ok {
			mapped[f] = sentence(msg)
		} else {
			rest[k] = sentence(msg)
		}
	}
	return mapped, rest
}

// sentence turns booking's terse "adresse email invalide" into
// "Adresse email invalide."
func sentence(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	s = string(unicode.ToUpper(r)) + s[n:]
	if !strings.HasSuffix(s, ".") {
		s += "."
	}
	return s
}

// prescripteurFields and usagerFields name the form field of each
// booking field.
var (
	prescripteurFields = map[string]string{
		"prescripteur.first_name": "prenom", "prescripteur.last_name": "nom",
		"prescripteur.email": "email", "prescripteur.phone_number": "telephone", "prescripteur": "prenom",
	}
	usagerFields = map[string]string{
		"usager.first_name": "prenom", "usager.last_name": "nom", "usager.email": "email",
		"usager.phone_number": "telephone", "context": "contexte", "usager": "prenom",
	}
)
