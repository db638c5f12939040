package httpapi

import (
	"time"

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
