package web

import (
	"fmt"
	"html/template"
	"time"

	"rdvsync/internal/french"
	"rdvsync/internal/rdv"
)

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

// telHref is the href of a phone link. html/template refuses a plain
// "tel:" string (it writes "#ZgotmplZ"): the number is parsed and
// re-written as an E.164 tel: URI (RFC 3966), so nothing else can pass
// as a trusted URL.
func telHref(phone string) template.URL { return template.URL(french.TelURI(phone)) }
