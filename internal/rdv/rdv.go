// Package rdv holds the domain vocabulary of rdvsync: civil dates and times,
// the enums of the YAML and the API, the RDV and usager records, and the
// sentinel errors every layer wraps. It does no I/O.
package rdv

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// BookableBy says who may book a motif online.
type BookableBy string

const (
	BookableByAgents                 BookableBy = "agents"
	BookableByAgentsAndPrescripteurs BookableBy = "agents_and_prescripteurs"
	BookableByEveryone               BookableBy = "everyone"
)

// OpenToPrescription reports whether agents of other organisations and
// external prescripteurs may book the motif.
func (b BookableBy) OpenToPrescription() bool {
	return b == BookableByAgentsAndPrescripteurs || b == BookableByEveryone
}

// LocationType says where an RDV of a motif takes place.
type LocationType string

const (
	LocationPublicOffice LocationType = "public_office"
	LocationPhone        LocationType = "phone"
	LocationHome         LocationType = "home"
	LocationVisio        LocationType = "visio"
)

// SectorisationLevel restricts who may receive RDVs for an address.
type SectorisationLevel string

const (
	SectorisationDepartement  SectorisationLevel = "departement"
	SectorisationOrganisation SectorisationLevel = "organisation"
	SectorisationAgent        SectorisationLevel = "agent"
)

// NotificationsLevel is an agent's rdv_notifications_level.
type NotificationsLevel string

const (
	NotifyAll    NotificationsLevel = "all"
	NotifyOthers NotificationsLevel = "others"
	NotifySoon   NotificationsLevel = "soon"
	NotifyNone   NotificationsLevel = "none"
)

// Status is the state of an RDV.
type Status string

const (
	StatusUnknown Status = "unknown" // upcoming or not yet marked
	StatusSeen    Status = "seen"
	StatusNoShow  Status = "noshow"
	StatusExcused Status = "excused" // cancelled by the usager
	StatusRevoked Status = "revoked" // cancelled by the service
)

// Cancelled reports whether the status frees the slot.
func (s Status) Cancelled() bool { return s == StatusExcused || s == StatusRevoked }

// Valid reports whether s is one of the known statuses.
func (s Status) Valid() bool {
	switch s {
	case StatusUnknown, StatusSeen, StatusNoShow, StatusExcused, StatusRevoked:
		return true
	}
	return false
}

// ParseWeekday parses an English weekday name as written in the YAML.
func ParseWeekday(s string) (time.Weekday, error) {
	for d := time.Sunday; d <= time.Saturday; d++ {
		if strings.EqualFold(s, d.String()) {
			return d, nil
		}
	}
	return 0, fmt.Errorf("%q is not a day of the week (use monday … sunday)", s)
}

// Sentinel errors. Layers wrap them with %w; the HTTP layer maps them.
var (
	ErrNotFound         = errors.New("not found")
	ErrForbidden        = errors.New("forbidden")
	ErrUnauthenticated  = errors.New("unauthenticated")
	ErrSlotUnavailable  = errors.New("slot unavailable")
	ErrConflict         = errors.New("state conflict")
	ErrIdempotencyReuse = errors.New("idempotency key reused with another body")
)

// InvalidError lists invalid input fields with a French message for each.
type InvalidError struct {
	Fields map[string]string // field path (e.g. "prescripteur.email") → message
}

func (e *InvalidError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return "invalid fields: " + strings.Join(keys, ", ")
}

// Invalid builds an InvalidError from field/message pairs.
func Invalid(fieldMessages ...string) *InvalidError {
	e := &InvalidError{Fields: map[string]string{}}
	for i := 0; i+1 < len(fieldMessages); i += 2 {
		e.Fields[fieldMessages[i]] = fieldMessages[i+1]
	}
	return e
}
