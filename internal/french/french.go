// Package french writes dates, times and phone numbers the way French
// users read them, for the pages (internal/web) and the notifications
// (internal/notify) alike: one formatter, so a page and the email about
// the same RDV never disagree ("1er décembre", "9 h 00", "03 21 55 55 55").
package french

import (
	"fmt"
	"strconv"
	"time"

	"github.com/nyaruka/phonenumbers"

	"rdvsync/internal/rdv"
)

var (
	weekdays = [...]string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"}
	months   = [...]string{"janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
		"septembre", "octobre", "novembre", "décembre"}
)

// dayOfMonth writes the day of the month: the first is an ordinal ("1er"),
// the others cardinals, as French typography wants.
func dayOfMonth(d int) string {
	if d == 1 {
		return "1er"
	}
	return strconv.Itoa(d)
}

// Day writes a civil date: "jeudi 3 décembre", "mardi 1er décembre".
func Day(d rdv.Date) string {
	_, m, day := d.YMD()
	return weekdays[d.Weekday()] + " " + dayOfMonth(day) + " " + months[m-1]
}

// Date writes the day of t with its year: "jeudi 3 décembre 2026".
func Date(t time.Time) string {
	return weekdays[t.Weekday()] + " " + dayOfMonth(t.Day()) + " " + months[t.Month()-1] + " " + strconv.Itoa(t.Year())
}

// Time writes a time of day: "9 h 00", "14 h 30".
func Time(t time.Time) string { return fmt.Sprintf("%d h %02d", t.Hour(), t.Minute()) }

// DateTime writes "jeudi 3 décembre 2026 à 9 h 00".
func DateTime(t time.Time) string { return Date(t) + " à " + Time(t) }

// DateTimeShort writes "jeudi 3 décembre à 9 h 00", for SMS and subjects
// where the year goes without saying.
func DateTimeShort(t time.Time) string { return Day(rdv.DateOf(t)) + " à " + Time(t) }

// Phone writes a stored (E.164) number in the French national format,
// "03 21 55 55 55"; a foreign number in the international format
// ("+32 2 555 12 12"). What does not parse is returned as it is.
func Phone(s string) string {
	n, err := phonenumbers.Parse(s, "FR")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return s
	}
	if phonenumbers.GetRegionCodeForNumber(n) == "FR" {
		return phonenumbers.Format(n, phonenumbers.NATIONAL)
	}
	return phonenumbers.Format(n, phonenumbers.INTERNATIONAL)
}

// TelURI returns the tel: URI of a phone number (RFC 3966 §3, a global
// number: "tel:+33321555555"), or "" when s is not a valid number. It
// is the only form of a number a page or an email may put in an href.
func TelURI(s string) string {
	n, err := phonenumbers.Parse(s, "FR")
	if err != nil || !phonenumbers.IsValidNumber(n) {
		return ""
	}
	return "tel:" + phonenumbers.Format(n, phonenumbers.E164)
}
