package store

import (
	"fmt"

	"rdvsync/internal/rdv"
)

// Format 2 of RDVs, usagers and receipts (cbor.go). A record's id is its
// key and is not repeated in the value; empty fields are left out. Keys
// 0–23 take one byte: they go to the fields every record has. A field
// added to rdv.RDV or rdv.Usager takes the next unused key here (never a
// key given before); TestRecordRoundTrip fails until it is added.

type rdvV2 struct {
	RdvsID         int64  `cbor:"1,keyasint,omitempty"`
	Status         word   `cbor:"2,keyasint"`
	StartsAt       stamp  `cbor:"3,keyasint"`
	EndsAt         stamp  `cbor:"4,keyasint"`
	MotifID        string `cbor:"5,keyasint,omitempty"`
	LieuID         string `cbor:"6,keyasint,omitempty"`
	OrganisationID string `cbor:"7,keyasint,omitempty"`
	// AgentIDs keeps nil and empty apart, as format 1 did.
	AgentIDs []string `cbor:"8,keyasint"`
	// The usager's id: its 16 bytes when it is a UUID, else text (30).
	UsagerUUID []byte `cbor:"9,keyasint,omitempty"`
	CreatedBy  word   `cbor:"10,keyasint,omitempty"`
	CreatorID  string `cbor:"11,keyasint,omitempty"`
	Context    string `cbor:"12,keyasint,omitempty"`
	CreatedAt  stamp  `cbor:"13,keyasint"`
	UpdatedAt  *stamp `cbor:"14,keyasint,omitempty"` // absent: equal to CreatedAt
	// The usager's link token: its bytes when unpadded base64url, else
	// text (31).
	TokenBytes     []byte `cbor:"15,keyasint,omitempty"`
	Version        int    `cbor:"16,keyasint,omitempty"`
	ContactFirst   string `cbor:"17,keyasint,omitempty"`
	ContactLast    string `cbor:"18,keyasint,omitempty"`
	ContactEmail   string `cbor:"19,keyasint,omitempty"`
	ContactPhone   string `cbor:"20,keyasint,omitempty"`
	ContactMobile  bool   `cbor:"21,keyasint,omitempty"`
	CancelReason   string `cbor:"22,keyasint,omitempty"`
	CancelledAt    *stamp `cbor:"23,keyasint,omitempty"`
	CreatorFirst   string `cbor:"24,keyasint,omitempty"`
	CreatorLast    string `cbor:"25,keyasint,omitempty"`
	CreatorEmail   string `cbor:"26,keyasint,omitempty"`
	CreatorPhone   string `cbor:"27,keyasint,omitempty"`
	ContactOnly    bool   `cbor:"28,keyasint,omitempty"`
	UsagerIDText   string `cbor:"30,keyasint,omitempty"`
	UsagerTokenTxt string `cbor:"31,keyasint,omitempty"`
}

// encodeRDV returns the stored form of r (format 2), keyed by r.ID.
func encodeRDV(r *rdv.RDV) ([]byte, error) {
	v := rdvV2{
		RdvsID:         r.RdvsID,
		Status:         word(r.Status),
		StartsAt:       stampOf(r.StartsAt),
		EndsAt:         stampOf(r.EndsAt),
		MotifID:        r.MotifID,
		LieuID:         r.LieuID,
		OrganisationID: r.OrganisationID,
		AgentIDs:       r.AgentIDs,
		CreatedBy:      word(r.CreatedBy.Type),
		CreatorID:      r.CreatedBy.AgentID,
		CreatorFirst:   r.CreatedBy.FirstName,
		CreatorLast:    r.CreatedBy.LastName,
		CreatorEmail:   r.CreatedBy.Email,
		CreatorPhone:   r.CreatedBy.PhoneNumber,
		Context:        r.Context,
		CancelReason:   r.CancelReason,
		CancelledAt:    stampPtr(r.CancelledAt),
		CreatedAt:      stampOf(r.CreatedAt),
		Version:        r.Version,
		ContactFirst:   r.Contact.FirstName,
		ContactLast:    r.Contact.LastName,
		ContactEmail:   r.Contact.Email,
		ContactPhone:   r.Contact.PhoneNumber,
		ContactMobile:  r.Contact.PhoneMobile,
		ContactOnly:    r.ContactOnly,
	}
	if !r.UpdatedAt.Equal(r.CreatedAt) {
		v.UpdatedAt = stampPtr(&r.UpdatedAt)
	}
	v.UsagerUUID, v.UsagerIDText = packedText(r.UsagerID, packUUID)
	v.TokenBytes, v.UsagerTokenTxt = packedText(r.UsagerToken, packToken)
	return marshalV2(&v)
}

// decodeRDV reads the RDV stored under key, in format 2 or 1.
func decodeRDV(key, b []byte) (*rdv.RDV, error) {
	if isV1(b) {
		return decodeRDVV1(b)
	}
	var v rdvV2
	if err := unmarshalV2(b, &v); err != nil {
		return nil, err
	}
	r := &rdv.RDV{
		ID:             string(key),
		RdvsID:         v.RdvsID,
		Status:         rdv.Status(v.Status),
		StartsAt:       v.StartsAt.time(),
		EndsAt:         v.EndsAt.time(),
		MotifID:        v.MotifID,
		LieuID:         v.LieuID,
		OrganisationID: v.OrganisationID,
		AgentIDs:       v.AgentIDs,
		UsagerID:       v.UsagerIDText,
		CreatedBy: rdv.CreatedBy{
			Type:        rdv.CreatedByType(v.CreatedBy),
			FirstName:   v.CreatorFirst,
			LastName:    v.CreatorLast,
			Email:       v.CreatorEmail,
			PhoneNumber: v.CreatorPhone,
			AgentID:     v.CreatorID,
		},
		Context:      v.Context,
		CancelReason: v.CancelReason,
		CancelledAt:  v.CancelledAt.timePtr(),
		CreatedAt:    v.CreatedAt.time(),
		UpdatedAt:    v.CreatedAt.time(),
		UsagerToken:  v.UsagerTokenTxt,
		Version:      v.Version,
		Contact: rdv.Contact{
			FirstName:   v.ContactFirst,
			LastName:    v.ContactLast,
			Email:       v.ContactEmail,
			PhoneNumber: v.ContactPhone,
			PhoneMobile: v.ContactMobile,
		},
		ContactOnly: v.ContactOnly,
	}
	if v.UpdatedAt != nil {
		r.UpdatedAt = v.UpdatedAt.time()
	}
	if v.UsagerUUID != nil {
		id, err := unpackUUID(v.UsagerUUID)
		if err != nil {
			return nil, fmt.Errorf("decode: usager id: %w", err)
		}
		r.UsagerID = id
	}
	if v.TokenBytes != nil {
		r.UsagerToken = base64URL.EncodeToString(v.TokenBytes)
	}
	return r, nil
}

type usagerV2 struct {
	RdvsID      int64  `cbor:"1,keyasint,omitempty"`
	FirstName   string `cbor:"2,keyasint,omitempty"`
	LastName    string `cbor:"3,keyasint,omitempty"`
	Email       string `cbor:"4,keyasint,omitempty"`
	PhoneNumber string `cbor:"5,keyasint,omitempty"`
	PhoneMobile bool   `cbor:"6,keyasint,omitempty"`
	Address     string `cbor:"7,keyasint,omitempty"`
	PostalCode  string `cbor:"8,keyasint,omitempty"`
	CityCode    string `cbor:"9,keyasint,omitempty"`
	BirthDate   string `cbor:"10,keyasint,omitempty"`
	CreatedAt   stamp  `cbor:"11,keyasint"`
	UpdatedAt   *stamp `cbor:"12,keyasint,omitempty"` // absent: equal to CreatedAt
}

// encodeUsager returns the stored form of u (format 2), keyed by u.ID.
func encodeUsager(u *rdv.Usager) ([]byte, error) {
	v := usagerV2{
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
		CreatedAt:   stampOf(u.CreatedAt),
	}
	if !u.UpdatedAt.Equal(u.CreatedAt) {
		v.UpdatedAt = stampPtr(&u.UpdatedAt)
	}
	return marshalV2(&v)
}

// decodeUsager reads the usager stored under key, in format 2 or 1.
func decodeUsager(key, b []byte) (*rdv.Usager, error) {
	if isV1(b) {
		return decodeUsagerV1(b)
	}
	var v usagerV2
	if err := unmarshalV2(b, &v); err != nil {
		return nil, err
	}
	u := &rdv.Usager{
		ID:          string(key),
		RdvsID:      v.RdvsID,
		FirstName:   v.FirstName,
		LastName:    v.LastName,
		Email:       v.Email,
		PhoneNumber: v.PhoneNumber,
		PhoneMobile: v.PhoneMobile,
		Address:     v.Address,
		PostalCode:  v.PostalCode,
		CityCode:    v.CityCode,
		BirthDate:   v.BirthDate,
		CreatedAt:   v.CreatedAt.time(),
		UpdatedAt:   v.CreatedAt.time(),
	}
	if v.UpdatedAt != nil {
		u.UpdatedAt = v.UpdatedAt.time()
	}
	return u, nil
}
