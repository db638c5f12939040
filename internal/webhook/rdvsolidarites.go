package webhook

import (
	"slices"
	"time"

	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// The format rdv-solidarites: the body RDV Solidarités posts (its
// WebhookDeliverable concern and the blueprints of app/blueprints), so
// that a receiver written for it works unchanged. Every key it renders is
// here, null where rdvsync has no such data; keys are in the blueprints'
// order (identifier first, then by name). The contract is the JSON Schema
// in testdata/rdv-solidarites-rdv-webhook.schema.json.

// rubyTime is how RDV Solidarités writes a time: Ruby's Time#to_s, which
// JSON.generate uses for ActiveSupport times.
const rubyTime = "2006-01-02 15:04:05 -0700"

func rubyTimePtr(t *time.Time, loc *time.Location) *string {
	if t == nil {
		return nil
	}
	s := t.In(loc).Format(rubyTime)
	return &s
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

type rdvsMeta struct {
	Model         string  `json:"model"`
	Event         string  `json:"event"`
	WebhookReason *string `json:"webhook_reason"`
	Timestamp     string  `json:"timestamp"`
}

type rdvsEnvelope struct {
	Data any      `json:"data"`
	Meta rdvsMeta `json:"meta"`
}

type rdvsRDV struct {
	ID                   int64               `json:"id"`
	Address              string              `json:"address"`
	Agents               []rdvsAgent         `json:"agents"`
	CancelledAt          *string             `json:"cancelled_at"`
	Collectif            bool                `json:"collectif"`
	Context              *string             `json:"context"`
	CreatedBy            string              `json:"created_by"`
	CreatedByID          *int64              `json:"created_by_id,omitempty"`
	CreatedByType        string              `json:"created_by_type"`
	DurationInMin        int                 `json:"duration_in_min"`
	EndsAt               string              `json:"ends_at"`
	Lieu                 *rdvsLieu           `json:"lieu"`
	MaxParticipantsCount *int                `json:"max_participants_count"`
	Motif                rdvsMotif           `json:"motif"`
	Name                 *string             `json:"name"`
	Organisation         rdvsOrganisation    `json:"organisation"`
	Participations       []rdvsParticipation `json:"participations"`
	StartsAt             string              `json:"starts_at"`
	Status               rdv.Status          `json:"status"`
	Users                []*rdvsUser         `json:"users"`
	UsersCount           int                 `json:"users_count"`
	UUID                 string              `json:"uuid"`
}

type rdvsAgent struct {
	ID                        int64   `json:"id"`
	Email                     string  `json:"email"`
	FirstName                 *string `json:"first_name"`
	InclusionConnectOpenIDSub *string `json:"inclusion_connect_open_id_sub"`
	LastName                  *string `json:"last_name"`
}

type rdvsLieu struct {
	ID             int64   `json:"id"`
	Address        string  `json:"address"`
	Name           string  `json:"name"`
	OrganisationID int64   `json:"organisation_id"`
	PhoneNumber    *string `json:"phone_number"`
	SingleUse      bool    `json:"single_use"`
}

type rdvsMotif struct {
	ID                int64            `json:"id"`
	BookableBy        rdv.BookableBy   `json:"bookable_by"`
	BookablePublicly  bool             `json:"bookable_publicly"`
	Collectif         bool             `json:"collectif"`
	DeletedAt         *string          `json:"deleted_at"`
	FollowUp          bool             `json:"follow_up"`
	InstructionForRdv string           `json:"instruction_for_rdv"`
	LocationType      rdv.LocationType `json:"location_type"`
	// MotifCategory is always null: rdvsync has no motif categories.
	MotifCategory  *struct{} `json:"motif_category"`
	Name           string    `json:"name"`
	OrganisationID int64     `json:"organisation_id"`
	ServiceID      int64     `json:"service_id"`
}

type rdvsOrganisation struct {
	ID          int64   `json:"id"`
	Email       *string `json:"email"`
	Name        string  `json:"name"`
	PhoneNumber *string `json:"phone_number"`
	Verticale   string  `json:"verticale"`
}

type rdvsParticipation struct {
	ID                         int64      `json:"id"`
	CreatedBy                  string     `json:"created_by"`
	CreatedByAgentPrescripteur bool       `json:"created_by_agent_prescripteur"`
	CreatedByID                *int64     `json:"created_by_id,omitempty"`
	CreatedByType              string     `json:"created_by_type"`
	SendLifecycleNotifications bool       `json:"send_lifecycle_notifications"`
	SendReminderNotification   bool       `json:"send_reminder_notification"`
	Status                     rdv.Status `json:"status"`
	User                       *rdvsUser  `json:"user"`
}

// rdvsUser is RDV Solidarités' User. The keys rdvsync has no data for
// (social file fields, invitations, responsible) are null.
type rdvsUser struct {
	ID                   int64     `json:"id"`
	Address              *string   `json:"address"`
	AddressDetails       *string   `json:"address_details"`
	AffiliationNumber    *string   `json:"affiliation_number"`
	BirthDate            *string   `json:"birth_date"`
	BirthName            *string   `json:"birth_name"`
	CaisseAffiliation    *string   `json:"caisse_affiliation"`
	CaseNumber           *string   `json:"case_number"`
	CreatedAt            string    `json:"created_at"`
	Email                *string   `json:"email"`
	FamilySituation      *string   `json:"family_situation"`
	FirstName            string    `json:"first_name"`
	InvitationAcceptedAt *string   `json:"invitation_accepted_at"`
	InvitationCreatedAt  *string   `json:"invitation_created_at"`
	LastName             string    `json:"last_name"`
	Logement             *string   `json:"logement"`
	Notes                *string   `json:"notes"`
	NotifyByEmail        bool      `json:"notify_by_email"`
	NotifyBySMS          bool      `json:"notify_by_sms"`
	NumberOfChildren     *int      `json:"number_of_children"`
	PhoneNumber          *string   `json:"phone_number"`
	PhoneNumberFormatted *string   `json:"phone_number_formatted"`
	Responsible          *struct{} `json:"responsible"`
	ResponsibleID        *int64    `json:"responsible_id"`
	// UserProfiles is null as in RDV Solidarités' webhooks, which render
	// them only for an agent's API call.
	UserProfiles *[]struct{} `json:"user_profiles"`
}

// createdBy maps rdvsync's "pris par" to RDV Solidarités' created_by and
// created_by_type.
func createdBy(t rdv.CreatedByType) (string, string) {
	switch t {
	case rdv.CreatedByAgent:
		return "agent", "Agent"
	case rdv.CreatedByUsager:
		return "user", "User"
	}
	return "prescripteur", "Prescripteur"
}

func renderRdvsUser(u *rdv.Usager, loc *time.Location) *rdvsUser {
	created := u.CreatedAt
	return &rdvsUser{
		ID: u.RdvsID, Address: nullable(u.Address), BirthDate: nullable(u.BirthDate),
		CreatedAt: *rubyTimePtr(&created, loc), Email: nullable(u.Email), FirstName: u.FirstName, LastName: u.LastName,
		NotifyByEmail: u.Email != "", NotifyBySMS: u.PhoneNumber != "" && u.PhoneMobile,
		PhoneNumber: nullable(u.PhoneNumber), PhoneNumberFormatted: nullable(u.PhoneNumber),
	}
}

// renderRdvsRDV renders r as RDV Solidarités' Rdv blueprint does, the
// integer ids of configured objects taken from ids.
func renderRdvsRDV(cat *catalog.Catalog, ids *idResolver, r *rdv.RDV, u *rdv.Usager) (*rdvsRDV, error) {
	loc := orgLocation(cat, r.OrganisationID)
	user := renderRdvsUser(u, loc)
	by, byType := createdBy(r.CreatedBy.Type)
	out := &rdvsRDV{
		ID: r.RdvsID, UUID: r.ID, Status: r.Status, StartsAt: r.StartsAt.In(loc).Format(rubyTime),
		EndsAt: r.EndsAt.In(loc).Format(rubyTime), DurationInMin: int(r.EndsAt.Sub(r.StartsAt) / time.Minute),
		CancelledAt: rubyTimePtr(r.CancelledAt, loc), Context: nullable(r.Context),
		CreatedBy: by, CreatedByType: byType, Users: []*rdvsUser{user}, UsersCount: 1, Agents: []rdvsAgent{},
	}
	switch {
	case r.CreatedBy.Type == rdv.CreatedByAgent && r.CreatedBy.AgentID != "":
		n, err := ids.id(store.KindAgent, r.CreatedBy.AgentID)
		if err != nil {
			return nil, err
		}
		out.CreatedByID = &n
	case r.CreatedBy.Type == rdv.CreatedByUsager:
		out.CreatedByID = &u.RdvsID
	}
	orgID, err := ids.id(store.KindOrganisation, r.OrganisationID)
	if err != nil {
		return nil, err
	}
	out.Organisation = rdvsOrganisation{ID: orgID, Verticale: "rdv_solidarites"}
	org := cat.Organisation(r.OrganisationID)
	if org != nil {
		out.Organisation.Name, out.Organisation.Email, out.Organisation.PhoneNumber = org.Name, nullable(org.Email), nullable(org.Phone)
	}
	motifID, err := ids.id(store.KindMotif, r.MotifID)
	if err != nil {
		return nil, err
	}
	out.Motif = rdvsMotif{ID: motifID, OrganisationID: orgID, BookableBy: rdv.BookableByAgents, LocationType: rdv.LocationPublicOffice}
	m := cat.Motif(r.MotifID)
	if m != nil {
		out.Motif.Name, out.Motif.BookableBy, out.Motif.LocationType = m.Name, m.BookableBy, m.LocationType
		out.Motif.BookablePublicly = m.BookableBy == rdv.BookableByEveryone
		out.Motif.InstructionForRdv = m.Instructions
		if out.Motif.ServiceID, err = ids.id(store.KindService, m.Service.ID); err != nil {
			return nil, err
		}
	}
	if r.LieuID != "" {
		lieuID, err := ids.id(store.KindLieu, r.LieuID)
		if err != nil {
			return nil, err
		}
		out.Lieu = &rdvsLieu{ID: lieuID, OrganisationID: orgID}
		if l := cat.Lieu(r.LieuID); l != nil {
			out.Lieu.Name, out.Lieu.Address = l.Name, l.Address
		}
	}
	switch {
	case m != nil && m.LocationType == rdv.LocationPublicOffice && out.Lieu != nil:
		out.Address = out.Lieu.Address
	case m != nil && m.LocationType == rdv.LocationHome:
		out.Address = u.Address
	}
	for _, agentID := range r.AgentIDs {
		n, err := ids.id(store.KindAgent, agentID)
		if err != nil {
			return nil, err
		}
		a := rdvsAgent{ID: n}
		if x := cat.Agent(agentID); x != nil {
			a.Email, a.FirstName, a.LastName = x.Email, &x.FirstName, &x.LastName
		}
		out.Agents = append(out.Agents, a)
	}
	// One participation per usager; rdvsync has one usager per RDV, so the
	// RDV's id names its participation too.
	p := rdvsParticipation{ID: r.RdvsID, CreatedBy: by, CreatedByType: byType, CreatedByID: out.CreatedByID,
		SendLifecycleNotifications: true, SendReminderNotification: true, Status: r.Status, User: user}
	if r.CreatedBy.Type == rdv.CreatedByAgent && org != nil {
		// An agent of another organisation booking here is RDV Solidarités'
		// "prescription interne".
		if a := cat.Agent(r.CreatedBy.AgentID); a != nil && !slices.Contains(a.Organisations, org) {
			p.CreatedByAgentPrescripteur = true
		}
	}
	out.Participations = []rdvsParticipation{p}
	return out, nil
}

// orgLocation is the organisation's zone (UTC for one no longer configured).
func orgLocation(cat *catalog.Catalog, orgID string) *time.Location {
	if o := cat.Organisation(orgID); o != nil {
		return o.Location
	}
	return time.UTC
}
