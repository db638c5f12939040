package store

import (
	"encoding/json"
	"time"

	"rdvsync/internal/rdv"
)

// The encoders of format 1 (JSON), which rdvsync no longer writes: tests
// make files of older schema versions with them.

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func encodeRDVV1(r *rdv.RDV) ([]byte, error) {
	return json.Marshal(rdvV1{
		V:              recordV1,
		ID:             r.ID,
		RdvsID:         r.RdvsID,
		Status:         string(r.Status),
		StartsAt:       r.StartsAt.UTC(),
		EndsAt:         r.EndsAt.UTC(),
		MotifID:        r.MotifID,
		LieuID:         r.LieuID,
		OrganisationID: r.OrganisationID,
		AgentIDs:       r.AgentIDs,
		UsagerID:       r.UsagerID,
		CreatedBy: createdByV1{
			Type:        string(r.CreatedBy.Type),
			FirstName:   r.CreatedBy.FirstName,
			LastName:    r.CreatedBy.LastName,
			Email:       r.CreatedBy.Email,
			PhoneNumber: r.CreatedBy.PhoneNumber,
			AgentID:     r.CreatedBy.AgentID,
		},
		Context:      r.Context,
		CancelReason: r.CancelReason,
		CancelledAt:  utcPtr(r.CancelledAt),
		CreatedAt:    r.CreatedAt.UTC(),
		UpdatedAt:    r.UpdatedAt.UTC(),
		UsagerToken:  r.UsagerToken,
		Version:      r.Version,
		Contact: &contactV1{
			FirstName:   r.Contact.FirstName,
			LastName:    r.Contact.LastName,
			Email:       r.Contact.Email,
			PhoneNumber: r.Contact.PhoneNumber,
			PhoneMobile: r.Contact.PhoneMobile,
		},
		ContactOnly: r.ContactOnly,
	})
}

func encodeUsagerV1(u *rdv.Usager) ([]byte, error) {
	return json.Marshal(usagerV1{
		V:           recordV1,
		ID:          u.ID,
		RdvsID:      u.RdvsID,
		FirstName:   u.FirstName,
		LastName:    u.LastName,
		Email:       u.Email,
		PhoneNumber: u.PhoneNumber,
		PhoneMobile: u.PhoneMobile,
		Address:     u.Address,
		PostalCode:  u.PostalCode,
		CityCode:    u.CityCode,
		BirthDate:   u.BirthDate,
		CreatedAt:   u.CreatedAt.UTC(),
		UpdatedAt:   u.UpdatedAt.UTC(),
	})
}
