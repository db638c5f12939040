package httpapi

import (
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
	"rdvsync/internal/slots"
)

// SlotView is a slot as the API prints it.
type SlotView struct {
	StartsAt       string `json:"starts_at"`
	EndsAt         string `json:"ends_at"`
	MotifID        string `json:"motif_id"`
	LieuID         string `json:"lieu_id,omitempty"`
	OrganisationID string `json:"organisation_id"`
	AgentID        string `json:"agent_id,omitempty"`
}

// NewSlotView renders a slot with its organisation's UTC offset.
func NewSlotView(s slots.Slot) SlotView {
	loc := s.Motif.Organisation.Location
	v := SlotView{
		StartsAt:       s.Start.In(loc).Format(time.RFC3339),
		EndsAt:         s.End.In(loc).Format(time.RFC3339),
		MotifID:        s.Motif.ID,
		OrganisationID: s.Motif.Organisation.ID,
	}
	if s.Lieu != nil {
		v.LieuID = s.Lieu.ID
	}
	if s.Agent != nil {
		v.AgentID = s.Agent.ID
	}
	return v
}

// SlotsResponse is the body of GET /api/v1/slots.
type SlotsResponse struct {
	Slots []SlotView `json:"slots"`
}

// NewSlotsResponse renders a list of slots; an empty list is [] not null.
func NewSlotsResponse(ss []slots.Slot) SlotsResponse {
	r := SlotsResponse{Slots: make([]SlotView, len(ss))}
	for i, s := range ss {
		r.Slots[i] = NewSlotView(s)
	}
	return r
}

// UsagerView is an usager as the API prints it.
type UsagerView struct {
	ID string `json:"id,omitempty"`
	// RdvsID is the integer id RDV Solidarités-format webhooks send.
	RdvsID      int64  `json:"rdvs_id,omitempty"`
	FirstName   string `json:"first_name"`
	LastName    string `json:"last_name"`
	Email       string `json:"email,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"`
	// SMSCapable is false when the phone is not a mobile: no SMS is sent.
	SMSCapable *bool  `json:"sms_capable,omitempty"`
	Address    string `json:"address,omitempty"`
	PostalCode string `json:"postal_code,omitempty"`
	CityCode   string `json:"city_code,omitempty"`
	BirthDate  string `json:"birth_date,omitempty"`
}

func newUsagerView(u *rdv.Usager) *UsagerView {
	v := &UsagerView{ID: u.ID, RdvsID: u.RdvsID, FirstName: u.FirstName, LastName: u.LastName, Email: u.Email, PhoneNumber: u.PhoneNumber,
		Address: u.Address, PostalCode: u.PostalCode, CityCode: u.CityCode, BirthDate: u.BirthDate}
	if u.PhoneNumber != "" {
		mobile := u.PhoneMobile
		v.SMSCapable = &mobile
	}
	return v
}

// RDVView is an RDV as the API prints it (docs/design.md §5).
type RDVView struct {
	ID string `json:"id"`
	// RdvsID is the integer id RDV Solidarités-format webhooks send.
	RdvsID          int64         `json:"rdvs_id"`
	Status          rdv.Status    `json:"status"`
	StartsAt        string        `json:"starts_at"`
	EndsAt          string        `json:"ends_at"`
	DurationMinutes int           `json:"duration_minutes"`
	MotifID         string        `json:"motif_id"`
	LieuID          string        `json:"lieu_id,omitempty"`
	OrganisationID  string        `json:"organisation_id"`
	AgentIDs        []string      `json:"agent_ids"`
	Usager          *UsagerView   `json:"usager"`
	CreatedBy       rdv.CreatedBy `json:"created_by"`
	Context         string        `json:"context,omitempty"`
	CancelledAt     *string       `json:"cancelled_at"`
	CancelReason    string        `json:"cancel_reason,omitempty"`
	CreatedAt       string        `json:"created_at"`
	UpdatedAt       string        `json:"updated_at"`
	UsagerURL       string        `json:"usager_url,omitempty"`
}

// viewer says how much of an RDV the caller may see.
type viewer int

const (
	viewAgent        viewer = iota // everything, incl. "pris par" and the usager link
	viewUsager                     // the usager itself, with its link
	viewPrescripteur               // what the prescripteur typed; no usager link, no stored data
)

// NewRDVView renders an RDV in its organisation's zone for a viewer.
func newRDVView(cat *catalog.Catalog, b *booking.Booked, who viewer, publicURL string) RDVView {
	r := b.RDV
	loc := time.UTC
	if o := cat.Organisation(r.OrganisationID); o != nil {
		loc = o.Location
	}
	ts := func(t time.Time) string { return t.In(loc).Format(time.RFC3339) }
	v := RDVView{
		ID: r.ID, RdvsID: r.RdvsID, Status: r.Status, StartsAt: ts(r.StartsAt), EndsAt: ts(r.EndsAt),
		DurationMinutes: int(r.EndsAt.Sub(r.StartsAt) / time.Minute), MotifID: r.MotifID, LieuID: r.LieuID,
		OrganisationID: r.OrganisationID, AgentIDs: r.AgentIDs, CreatedBy: r.CreatedBy,
		CreatedAt: ts(r.CreatedAt), UpdatedAt: ts(r.UpdatedAt),
	}
	if r.CancelledAt != nil {
		s := ts(*r.CancelledAt)
		v.CancelledAt = &s
	}
	switch who {
	case viewAgent:
		v.Usager, v.Context, v.CancelReason = newUsagerView(b.Usager), r.Context, r.CancelReason
		v.UsagerURL = rdv.UsagerURL(publicURL, r)
	case viewUsager:
		v.Usager, v.CancelReason = newUsagerView(b.Usager), r.CancelReason
		v.CreatedBy = rdv.CreatedBy{Type: r.CreatedBy.Type}
		v.UsagerURL = rdv.UsagerURL(publicURL, r)
	case viewPrescripteur:
		v.Usager = &UsagerView{FirstName: b.Usager.FirstName, LastName: b.Usager.LastName}
		v.Context = r.Context
	}
	return v
}
