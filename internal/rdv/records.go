package rdv

import (
	"net/url"
	"slices"
	"time"
)

// CreatedByType says who booked an RDV ("Rendez-vous pris par").
type CreatedByType string

const (
	CreatedByPrescripteur CreatedByType = "prescripteur"
	CreatedByAgent        CreatedByType = "agent"
	CreatedByUsager       CreatedByType = "usager"
)

// CreatedBy is who booked the RDV. Prescripteur contact details are kept so
// agents see them; they are never logged.
type CreatedBy struct {
	Type        CreatedByType `json:"type"`
	FirstName   string        `json:"first_name,omitempty"`
	LastName    string        `json:"last_name,omitempty"`
	Email       string        `json:"email,omitempty"`
	PhoneNumber string        `json:"phone_number,omitempty"`
	AgentID     string        `json:"agent_id,omitempty"`
}

// Usager is a beneficiary. Phone numbers are stored in E.164.
type Usager struct {
	ID string `json:"id"`
	// RdvsID is the usager's integer id, allocated by the store on first
	// write and never changed: what RDV Solidarités' webhook receivers
	// key their records on (the "id" of its User payload).
	RdvsID      int64     `json:"rdvs_id"`
	FirstName   string    `json:"first_name"`
	LastName    string    `json:"last_name"`
	Email       string    `json:"email,omitempty"`
	PhoneNumber string    `json:"phone_number,omitempty"`
	PhoneMobile bool      `json:"phone_mobile"` // false: the number cannot receive SMS
	Address     string    `json:"address,omitempty"`
	PostalCode  string    `json:"postal_code,omitempty"`
	CityCode    string    `json:"city_code,omitempty"`
	BirthDate   string    `json:"birth_date,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

// RDV is an appointment. Times are UTC inside; the API prints them in the
// organisation's zone.
type RDV struct {
	ID string `json:"id"`
	// RdvsID is the RDV's integer id, allocated by the store on first
	// write and never changed (the "id" of RDV Solidarités' Rdv payload).
	RdvsID         int64      `json:"rdvs_id"`
	Status         Status     `json:"status"`
	StartsAt       time.Time  `json:"starts_at"`
	EndsAt         time.Time  `json:"ends_at"`
	MotifID        string     `json:"motif_id"`
	LieuID         string     `json:"lieu_id,omitempty"`
	OrganisationID string     `json:"organisation_id"`
	AgentIDs       []string   `json:"agent_ids"`
	UsagerID       string     `json:"usager_id"`
	CreatedBy      CreatedBy  `json:"created_by"`
	Context        string     `json:"context,omitempty"`
	CancelReason   string     `json:"cancel_reason,omitempty"`
	CancelledAt    *time.Time `json:"cancelled_at"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	// UsagerToken is the secret of the usager's link /rdv/{id}?token=…; it
	// is kept (not hashed) so agents can hand the link over again.
	UsagerToken string `json:"usager_token"`
	// Version increases on every change; calendars use it as SEQUENCE.
	Version int `json:"version"`
	// Contact is how the usager is reached about this RDV: what the
	// booking's author gave, kept with the RDV so that no later booking,
	// of this usager or of a namesake, changes who gets its notifications.
	Contact Contact `json:"contact"`
	// ContactOnly is true for an RDV an agent of another organisation
	// booked here ("élargir") for an usager its own organisations
	// recorded: the usager stays theirs, and this RDV's organisation
	// knows it only by Contact (docs/decisions.md, "Usager identity").
	ContactOnly bool `json:"contact_only,omitempty"`
}

// Contact is the usager's name and contact details as given for one RDV.
type Contact struct {
	FirstName   string `json:"first_name,omitempty"`
	LastName    string `json:"last_name,omitempty"`
	Email       string `json:"email,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"`
	PhoneMobile bool   `json:"phone_mobile,omitempty"`
}

// ContactOf returns the contact details of u.
func ContactOf(u *Usager) Contact {
	return Contact{FirstName: u.FirstName, LastName: u.LastName, Email: u.Email, PhoneNumber: u.PhoneNumber, PhoneMobile: u.PhoneMobile}
}

// Usager returns the usager as the RDV's contact shows it: its id, names
// and contact details, nothing else of the stored usager.
func (r *RDV) Usager() *Usager {
	c := r.Contact
	return &Usager{ID: r.UsagerID, FirstName: c.FirstName, LastName: c.LastName, Email: c.Email,
		PhoneNumber: c.PhoneNumber, PhoneMobile: c.PhoneMobile}
}

// UsagerURL is the usager's link to its RDV (see, move, cancel) under
// publicURL: the pages serve it, the API prints it to agents and the
// notifications send it to the usager.
func UsagerURL(publicURL string, r *RDV) string {
	return publicURL + "/rdv/" + url.PathEscape(r.ID) + "?token=" + url.QueryEscape(r.UsagerToken)
}

// PrescriberTold reports whether whoever booked r for the usager is told
// of its confirmation and cancellation by email: a prescripteur, or an
// agent who booked in prescription interne an RDV it does not receive
// itself (as RDV Solidarités confirms to the prescribing agent).
func (r *RDV) PrescriberTold() bool {
	if r.CreatedBy.Email == "" {
		return false
	}
	switch r.CreatedBy.Type {
	case CreatedByPrescripteur:
		return true
	case CreatedByAgent:
		return !slices.Contains(r.AgentIDs, r.CreatedBy.AgentID)
	}
	return false
}

// Interval returns the time span the RDV occupies.
func (r *RDV) Interval() Interval { return Interval{Start: r.StartsAt, End: r.EndsAt} }

// Active reports whether the RDV occupies its agents' time.
func (r *RDV) Active() bool { return !r.Status.Cancelled() }
