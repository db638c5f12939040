package store

import (
	"encoding/json"
	"fmt"
	"time"

	"rdvsync/internal/rdv"
)

// Stored values carry their format: JSON with a "v" field (format 1, the
// idempotency records, outbox items, reminders and agent state documents),
// or a format byte and CBOR (format 2, RDVs, usagers and receipts:
// recordv2.go, cbor.go). Their shape is owned by the store, not by the
// json tags of package rdv: renaming an API field must not silently drop
// data from existing files. A field added to rdv.RDV or rdv.Usager must
// be added to format 2 (TestRecordRoundTrip fails until it is); changing
// the meaning of a field needs a new version and a migration. Format 1 of
// RDVs and usagers (below) is still read: migration 9 rewrites it.

const recordV1 = 1

type createdByV1 struct {
	Type        string `json:"type"`
	FirstName   string `json:"first_name,omitempty"`
	LastName    string `json:"last_name,omitempty"`
	Email       string `json:"email,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"`
	AgentID     string `json:"agent_id,omitempty"`
}

type rdvV1 struct {
	V              int         `json:"v"`
	ID             string      `json:"id"`
	RdvsID         int64       `json:"rdvs_id,omitempty"`
	Status         string      `json:"status"`
	StartsAt       time.Time   `json:"starts_at"`
	EndsAt         time.Time   `json:"ends_at"`
	MotifID        string      `json:"motif_id"`
	LieuID         string      `json:"lieu_id,omitempty"`
	OrganisationID string      `json:"organisation_id"`
	AgentIDs       []string    `json:"agent_ids"`
	UsagerID       string      `json:"usager_id,omitempty"`
	CreatedBy      createdByV1 `json:"created_by"`
	Context        string      `json:"context,omitempty"`
	CancelReason   string      `json:"cancel_reason,omitempty"`
	CancelledAt    *time.Time  `json:"cancelled_at,omitempty"`
	CreatedAt      time.Time   `json:"created_at"`
	UpdatedAt      time.Time   `json:"updated_at"`
	UsagerToken    string      `json:"usager_token,omitempty"`
	Version        int         `json:"version"`
	// Contact is absent from RDVs written before migration 7.
	Contact *contactV1 `json:"contact,omitempty"`
	// ContactOnly is absent (false) from RDVs booked before it existed.
	ContactOnly bool `json:"contact_only,omitempty"`
}

type contactV1 struct {
	FirstName   string `json:"first_name,omitempty"`
	LastName    string `json:"last_name,omitempty"`
	Email       string `json:"email,omitempty"`
	PhoneNumber string `json:"phone_number,omitempty"`
	PhoneMobile bool   `json:"phone_mobile,omitempty"`
}

func decodeRDVV1(b []byte) (*rdv.RDV, error) {
	var v rdvV1
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if v.V != recordV1 {
		return nil, fmt.Errorf("record version %d, want %d", v.V, recordV1)
	}
	var contact rdv.Contact
	if c := v.Contact; c != nil {
		contact = rdv.Contact{FirstName: c.FirstName, LastName: c.LastName, Email: c.Email, PhoneNumber: c.PhoneNumber, PhoneMobile: c.PhoneMobile}
	}
	return &rdv.RDV{
		ID:             v.ID,
		RdvsID:         v.RdvsID,
		Status:         rdv.Status(v.Status),
		StartsAt:       v.StartsAt,
		EndsAt:         v.EndsAt,
		MotifID:        v.MotifID,
		LieuID:         v.LieuID,
		OrganisationID: v.OrganisationID,
		AgentIDs:       v.AgentIDs,
		UsagerID:       v.UsagerID,
		CreatedBy: rdv.CreatedBy{
			Type:        rdv.CreatedByType(v.CreatedBy.Type),
			FirstName:   v.CreatedBy.FirstName,
			LastName:    v.CreatedBy.LastName,
			Email:       v.CreatedBy.Email,
			PhoneNumber: v.CreatedBy.PhoneNumber,
			AgentID:     v.CreatedBy.AgentID,
		},
		Context:      v.Context,
		CancelReason: v.CancelReason,
		CancelledAt:  v.CancelledAt,
		CreatedAt:    v.CreatedAt,
		UpdatedAt:    v.UpdatedAt,
		UsagerToken:  v.UsagerToken,
		Version:      v.Version,
		Contact:      contact,
		ContactOnly:  v.ContactOnly,
	}, nil
}

type usagerV1 struct {
	V           int       `json:"v"`
	ID          string    `json:"id"`
	RdvsID      int64     `json:"rdvs_id,omitempty"`
	FirstName   string    `json:"first_name"`
	LastName    string    `json:"last_name"`
	Email       string    `json:"email,omitempty"`
	PhoneNumber string    `json:"phone_number,omitempty"`
	PhoneMobile bool      `json:"phone_mobile,omitempty"`
	Address     string    `json:"address,omitempty"`
	PostalCode  string    `json:"postal_code,omitempty"`
	CityCode    string    `json:"city_code,omitempty"`
	BirthDate   string    `json:"birth_date,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
}

func decodeUsagerV1(b []byte) (*rdv.Usager, error) {
	var v usagerV1
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if v.V != recordV1 {
		return nil, fmt.Errorf("record version %d, want %d", v.V, recordV1)
	}
	return &rdv.Usager{
		ID:          v.ID,
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
		CreatedAt:   v.CreatedAt,
		UpdatedAt:   v.UpdatedAt,
	}, nil
}

// IdempotencyRecord is the first response given to a request carrying an
// idempotency key, replayed when the same key comes again.
type IdempotencyRecord struct {
	BodySHA256 string    // hex sha256 of the request body: same key + other body = reuse
	Status     int       // HTTP status of the first response
	Response   []byte    // body of the first response
	CreatedAt  time.Time // PurgeIdempotency deletes records older than its cutoff
}

type idempotencyV1 struct {
	V          int       `json:"v"`
	BodySHA256 string    `json:"body_sha256"`
	Status     int       `json:"status"`
	Response   []byte    `json:"response"`
	CreatedAt  time.Time `json:"created_at"`
}

func encodeIdempotency(r IdempotencyRecord) ([]byte, error) {
	return json.Marshal(idempotencyV1{
		V:          recordV1,
		BodySHA256: r.BodySHA256,
		Status:     r.Status,
		Response:   r.Response,
		CreatedAt:  r.CreatedAt.UTC(),
	})
}

func decodeIdempotency(b []byte) (*IdempotencyRecord, error) {
	var v idempotencyV1
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if v.V != recordV1 {
		return nil, fmt.Errorf("record version %d, want %d", v.V, recordV1)
	}
	return &IdempotencyRecord{
		BodySHA256: v.BodySHA256,
		Status:     v.Status,
		Response:   v.Response,
		CreatedAt:  v.CreatedAt,
	}, nil
}
