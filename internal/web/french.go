package web

import (
	"html/template"

	"rdvsync/internal/french"
	"rdvsync/internal/rdv"
)

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
