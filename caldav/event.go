package caldav

import (
	"fmt"
	"strings"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/french"
	"rdvsync/internal/rdv"
)

// Event is an RDV as one agent's calendar shows it.
type Event struct {
	UID         string // the RDV id
	Sequence    int    // increases on every change of the RDV
	Stamp       time.Time
	Start, End  time.Time
	Summary     string
	Location    string
	Description string
	URL         string // the agent's page of the RDV
	Cancelled   bool
}

// Details says how much of the usager an external calendar may carry.
type Details string

const (
	// DetailsMinimal keeps usager data out: motif, lieu and a link only.
	DetailsMinimal Details = "minimal"
	// DetailsFull adds the usager's name, phone and the booking context.
	DetailsFull Details = "full"
)

var locationLabels = map[rdv.LocationType]string{
	rdv.LocationPhone: "Par téléphone",
	rdv.LocationHome:  "À domicile",
	rdv.LocationVisio: "En visioconférence",
}

// NewEvent builds the event of r for a calendar with the given details.
// u may be nil with DetailsMinimal.
func NewEvent(cat *catalog.Catalog, r *rdv.RDV, u *rdv.Usager, details Details) Event {
	m := cat.Motif(r.MotifID)
	motifName, orgName := r.MotifID, r.OrganisationID
	var lt rdv.LocationType
	if m != nil {
		motifName, orgName, lt = m.Name, m.Organisation.Name, m.LocationType
	}
	ev := Event{
		UID: r.ID, Sequence: r.Version, Stamp: r.UpdatedAt.UTC(), Start: r.StartsAt.UTC(), End: r.EndsAt.UTC(),
		Summary: "RDV " + motifName, Cancelled: r.Status.Cancelled(),
		URL: cat.Config.Server.PublicURL + "/agents/rdvs/" + r.ID,
	}
	if l := cat.Lieu(r.LieuID); l != nil {
		ev.Location = l.Name
		if l.Address != "" {
			ev.Location += ", " + l.Address
		}
	} else {
		ev.Location = locationLabels[lt]
	}
	var desc []string
	desc = append(desc, fmt.Sprintf("Motif : %s (%s)", motifName, orgName))
	if details == DetailsFull && u != nil {
		ev.Summary += " — " + u.FirstName + " " + u.LastName
		line := "Usager : " + u.FirstName + " " + u.LastName
		if u.PhoneNumber != "" {
			line += ", " + french.Phone(u.PhoneNumber)
		}
		desc = append(desc, line)
		if r.Context != "" {
			desc = append(desc, "Contexte : "+r.Context)
		}
	}
	if ev.Cancelled {
		ev.Summary = "[Annulé] " + ev.Summary
	}
	desc = append(desc, "Détails et « Rendez-vous pris par » : "+ev.URL)
	ev.Description = strings.Join(desc, "\n")
	return ev
}
