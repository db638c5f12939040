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

// Duration writes the length of an RDV on a page: "45 minutes",
// "1 heure", "2 heures", "1 h 30".
func Duration(d time.Duration) string {
	h, m := int(d/time.Hour), int(d%time.Hour/time.Minute)
	switch {
	case h == 0:
		return fmt.Sprintf("%d minutes", m)
	case m == 0 && h == 1:
		return "1 heure"
	case m == 0:
		return fmt.Sprintf("%d heures", h)
	}
	return fmt.Sprintf("%d h %02d", h, m)
}

// ShortDuration writes a length where room is short (messages): "45 min",
// "1 h", "1 h 30".
func ShortDuration(d time.Duration) string {
	m := int(d.Round(time.Minute) / time.Minute)
	switch {
	case m < 60:
		return fmt.Sprintf("%d min", m)
	case m%60 == 0:
		return fmt.Sprintf("%d h", m/60)
	}
	return fmt.Sprintf("%d h %02d", m/60, m%60)
}

// Delay writes a booking delay in its largest whole unit: "30 minutes",
// "2 heures", "90 jours".
func Delay(d time.Duration) string {
	const day = 24 * time.Hour
	switch {
	case d%day == 0 && d > 0:
		return count(int(d/day), "jour")
	case d%time.Hour == 0 && d > 0:
		return count(int(d/time.Hour), "heure")
	}
	return count(int(d/time.Minute), "minute")
}

// count writes n and word, plural from 2 on as French wants ("1 jour",
// "0 minute", "2 jours").
func count(n int, word string) string {
	if n > 1 {
		return strconv.Itoa(n) + " " + word + "s"
	}
	return strconv.Itoa(n) + " " + word
}
