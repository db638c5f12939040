package web

import (
	"fmt"
	"strings"
	"time"

	"rdvsync/internal/rdv"
)

var frenchWeekdays = [...]string{"dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"}

var frenchMonths = [...]string{"", "janvier", "février", "mars", "avril", "mai", "juin", "juillet",
	"août", "septembre", "octobre", "novembre", "décembre"}

// frenchDate prints a day as users read it: "jeudi 3 décembre 2026".
func frenchDate(t time.Time) string {
	return fmt.Sprintf("%s %d %s %d", frenchWeekdays[t.Weekday()], t.Day(), frenchMonths[t.Month()], t.Year())
}

// frenchDay prints a civil date: "jeudi 3 décembre".
func frenchDay(d rdv.Date) string {
	_, m, day := d.YMD()
	return fmt.Sprintf("%s %d %s", frenchWeekdays[d.Weekday()], day, frenchMonths[m])
}

// frenchTime prints a time of day the French way: "9h00", "14h30".
func frenchTime(t time.Time) string { return fmt.Sprintf("%dh%02d", t.Hour(), t.Minute()) }

// frenchDateTime prints "jeudi 3 décembre 2026 à 9h00".
func frenchDateTime(t time.Time) string { return frenchDate(t) + " à " + frenchTime(t) }

// frenchDuration prints a motif duration: "45 minutes", "1 heure", "1 h 30".
func frenchDuration(d time.Duration) string {
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

var locationLabels = map[rdv.LocationType]string{
	rdv.LocationPublicOffice: "Sur place",
	rdv.LocationPhone:        "Par téléphone",
	rdv.LocationHome:         "À domicile",
	rdv.LocationVisio:        "En visioconférence",
}

var statusLabels = map[rdv.Status]string{
	rdv.StatusUnknown: "À venir",
	rdv.StatusSeen:    "Honoré",
	rdv.StatusNoShow:  "Absence non excusée",
	rdv.StatusExcused: "Annulé par l'usager",
	rdv.StatusRevoked: "Annulé par le service",
}

// frenchPhone prints an E.164 French number as "06 12 34 56 78"; other
// numbers are printed as stored.
func frenchPhone(e164 string) string {
	rest, ok := strings.CutPrefix(e164, "+33")
	if !ok || len(rest) != 9 {
		return e164
	}
	d := "0" + rest
	return d[0:2] + " " + d[2:4] + " " + d[4:6] + " " + d[6:8] + " " + d[8:10]
}
