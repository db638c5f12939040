package notify

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/french"
	"rdvsync/internal/outbox"
	"rdvsync/internal/store"
)

// EventRefused is a form submission that booked nothing: its prescripteur
// is told by email what to correct (the form builder only said "Merci").
const EventRefused = "refused"

var _ booking.RefusalEffect = (*Service)(nil)

// refusal is what a refusal email says. Unlike messages about RDVs, it
// carries the prescripteur's address: nothing else in the store holds it.
// The record is deleted once delivered.
type refusal struct {
	Source       string            `json:"source"`
	MotifID      string            `json:"motif_id,omitempty"`
	Email        string            `json:"email"`
	FirstName    string            `json:"first_name,omitempty"`
	LastName     string            `json:"last_name,omitempty"`
	UsagerName   string            `json:"usager_name,omitempty"`
	Fields       map[string]string `json:"fields,omitempty"`
	NoSlot       bool              `json:"no_slot,omitempty"`
	ReceivedWhen string            `json:"received_when"` // "mardi 1er décembre 2026 à 10 h 00"
}

// OnRefusal implements booking.RefusalEffect: one email to the prescripteur,
// keyed by the refusal's id (its receipts are listed under that id).
func (s *Service) OnRefusal(tx *store.Tx, r *booking.Refusal) error {
	cat := s.catalog()
	loc := zone(cat, "")
	if m := cat.Motif(r.MotifID); m != nil {
		loc = m.Organisation.Location
	}
	m := message{V: messageV1, Event: EventRefused, Recipient: RecipientPrescripteur, Tag: "r", At: r.At, Refusal: &refusal{
		Source: r.Source, MotifID: r.MotifID, Email: r.Prescripteur.Email, FirstName: r.Prescripteur.FirstName,
		LastName: r.Prescripteur.LastName, UsagerName: r.UsagerName, Fields: r.Fields, NoSlot: r.NoSlot,
		ReceivedWhen: french.DateTime(r.At.In(loc)),
	}}
	return enqueue(tx, r.ID, []outMessage{{KindEmail, m}}, r.At)
}

// deliverRefusal sends a refusal email; there is no RDV to read.
func (s *Service) deliverRefusal(ctx context.Context, rec store.OutboxRecord, channel string, d *delivery) error {
	receipt := store.Receipt{RDVID: rec.RDVID, Channel: channel, Event: d.msg.Event, Recipient: d.msg.Recipient,
		MessageID: d.id, Attempt: rec.Attempts + 1}
	if channel != KindEmail || d.msg.Refusal == nil || d.msg.Refusal.Email == "" {
		return fmt.Errorf("%w: refusal %s: not an email with an address", outbox.ErrPermanent, rec.Key)
	}
	transport, err := s.sendEmail(ctx, d)
	if err != nil {
		err = redactError(err)
		s.finish(ctx, receipt, transport, "failed", err.Error(), err)
		return err
	}
	s.finish(ctx, receipt, transport, "ok", "", nil)
	return nil
}

// fieldLabels name booking fields for prescripteurs.
var fieldLabels = map[string]string{
	"motif_id": "Motif", "lieu_id": "Lieu", "agent_id": "Agent", "starts_at": "Date et heure du rendez-vous",
	"starts_at.date": "Date du rendez-vous", "starts_at.time": "Heure du rendez-vous", "not_before": "Date à partir de laquelle",
	"context": "Informations pour l'agent", "usager": "Usager", "usager.first_name": "Prénom de l'usager",
	"usager.last_name": "Nom de l'usager", "usager.email": "Email de l'usager", "usager.phone_number": "Téléphone de l'usager",
	"usager.address": "Adresse de l'usager", "usager.postal_code": "Code postal de l'usager", "usager.city_code": "Code INSEE de la commune de l'usager",
	"usager.street_ban_id": "Voie de l'usager", "usager.birth_date": "Date de naissance de l'usager",
	"prescripteur": "Prescripteur", "prescripteur.first_name": "Votre prénom", "prescripteur.last_name": "Votre nom",
	"prescripteur.email": "Votre email professionnel", "prescripteur.phone_number": "Votre téléphone",
}

// refusalView completes v for a refusal email.
func refusalView(cat *catalog.Catalog, m *message) *view {
	r := m.Refusal
	v := &view{Event: m.Event, Recipient: m.Recipient, RecipientName: strings.TrimSpace(r.FirstName + " " + r.LastName),
		UsagerName: r.UsagerName, NoSlot: r.NoSlot, ReceivedWhen: r.ReceivedWhen, Organisation: "Prise de rendez-vous"}
	if mo := cat.Motif(r.MotifID); mo != nil {
		v.Motif, v.Horizon = mo.Name, booking.MotifHorizon(mo)
		o := mo.Organisation
		v.setOrganisation(o)
	}
	for _, f := range slices.Sorted(maps.Keys(r.Fields)) {
		label := fieldLabels[f]
		if label == "" {
			label = f
		}
		v.Corrections = append(v.Corrections, label+" : "+r.Fields[f])
	}
	return v
}
