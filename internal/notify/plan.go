package notify

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/rdv"
	"rdvsync/internal/store"
)

// message is the outbox payload of one notification: who it is for and a
// snapshot of what it says. Addresses are read at delivery.
type message struct {
	V         int    `json:"v"`
	Event     string `json:"event"`
	Recipient string `json:"recipient"`
	AgentID   string `json:"agent_id,omitempty"`
	// Tag tells messages of one RDV apart: v<version>, or s<start unix>
	// for reminders (one per start).
	Tag        string     `json:"tag"`
	Version    int        `json:"version"` // the RDV version described (the .ics SEQUENCE)
	At         time.Time  `json:"at"`      // when the change happened (the .ics DTSTAMP)
	Start      time.Time  `json:"start"`
	End        time.Time  `json:"end"`
	LieuID     string     `json:"lieu_id,omitempty"`
	Status     rdv.Status `json:"status"`
	ByAgentID  string     `json:"by_agent_id,omitempty"` // who made the change, "" for the usager or a prescripteur
	PrevStart  *time.Time `json:"prev_start,omitempty"`  // moved: where it was
	PrevLieuID string     `json:"prev_lieu_id,omitempty"`
	// Removed and Added are set, when an RDV moves from one agent to
	// another, for the agent it left and the agent it joined.
	Removed bool `json:"removed,omitempty"`
	Added   bool `json:"added,omitempty"`
	// Refusal is set for EventRefused, about no RDV.
	Refusal *refusal `json:"refusal,omitempty"`
}

const messageV1 = 1

// keyPrefix starts the outbox keys of every notification of an RDV.
func keyPrefix(rdvID string) string { return "notify/" + rdvID + "/" }

// key is the outbox key of m for rdvID on channel.
func (m *message) key(rdvID, channel string) string {
	return strings.Join([]string{"notify", rdvID, m.Event, m.Tag, m.recipientTag(":"), channel}, "/")
}

func (m *message) recipientTag(sep string) string {
	if m.Recipient == RecipientAgent {
		return m.Recipient + sep + m.AgentID
	}
	return m.Recipient
}

// id is the message id (without domain) of m: the same for every attempt,
// distinct per (RDV, event, version, recipient).
func (m *message) id(rdvID string) string {
	return dotAtom(strings.Join([]string{rdvID, m.Event, m.Tag, m.recipientTag("-")}, "."))
}

// dotAtom keeps the characters that RFC 5322 allows in a Message-ID's left
// part and in a file name everywhere.
func dotAtom(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '.', r == '_':
			return r
		}
		return '_'
	}, s)
}

// eventOf names the change: created, moved, cancelled, reopened, or "" for
// changes nobody is told about (statuses seen, noshow of an active RDV).
// A reopened RDV is told like a move: its usager and agents were sent a
// CANCEL, and their calendars keep it until a REQUEST with a higher
// SEQUENCE (RFC 5546 §2.1.5) brings the event back.
func eventOf(c booking.Change) string {
	b, a := c.Before, c.After
	switch {
	case b == nil:
		if a.Active() {
			return EventCreated
		}
	case !b.Active():
		if a.Active() {
			return EventReopened
		}
	case !a.Active():
		return EventCancelled
	case !a.StartsAt.Equal(b.StartsAt) || a.LieuID != b.LieuID:
		return EventMoved
	}
	return ""
}

// zone is the time zone of an RDV's organisation.
func zone(cat *catalog.Catalog, orgID string) *time.Location {
	if o := cat.Organisation(orgID); o != nil && o.Location != nil {
		return o.Location
	}
	if loc, err := time.LoadLocation(cat.Config.Timezone); err == nil {
		return loc
	}
	return time.UTC
}

// contactOf is the usager as the RDV's contact gives it — what the
// booking's author gave, never what a later booking added to the stored
// usager — or nil when the RDV has none.
func contactOf(r *rdv.RDV) *rdv.Usager {
	if r.Contact == (rdv.Contact{}) {
		return nil
	}
	return r.Usager()
}

// OnChange implements booking.Effect: it keeps the RDV's reminder in step
// and records the notifications of the change.
func (s *Service) OnChange(tx *store.Tx, c booking.Change) error {
	if c.After == nil {
		// Deleted (retention, erasure): nothing is sent about it any more.
		_, err := tx.DeleteOutbox(keyPrefix(c.Before.ID))
		return err
	}
	cat := s.catalog()
	if err := s.scheduleReminder(tx, cat, c); err != nil {
		return err
	}
	ev := eventOf(c)
	a := c.After
	if ev == "" || !c.Now.Before(a.StartsAt) {
		return nil
	}
	base := message{V: messageV1, Event: ev, Tag: "v" + strconv.Itoa(a.Version), Version: a.Version, At: c.Now.UTC(),
		Start: a.StartsAt.UTC(), End: a.EndsAt.UTC(), LieuID: a.LieuID, Status: a.Status, ByAgentID: c.ByAgentID}
	if ev == EventMoved {
		prev := c.Before.StartsAt.UTC()
		base.PrevStart, base.PrevLieuID = &prev, c.Before.LieuID
	}
	var out []outMessage
	if u := contactOf(a); u != nil {
		m := base
		m.Recipient = RecipientUsager
		if u.Email != "" {
			out = append(out, outMessage{KindEmail, m})
		}
		if u.PhoneNumber != "" && u.PhoneMobile {
			out = append(out, outMessage{KindSMS, m})
		}
	}
	if (ev == EventCreated || ev == EventCancelled) && a.PrescriberTold() {
		m := base
		m.Recipient = RecipientPrescripteur
		out = append(out, outMessage{KindEmail, m})
	}
	loc := zone(cat, a.OrganisationID)
	ids := slices.Clone(a.AgentIDs)
	if c.Before != nil {
		ids = append(ids, c.Before.AgentIDs...)
	}
	slices.Sort(ids)
	for _, id := range slices.Compact(ids) {
		agent := cat.Agent(id)
		if agent == nil || agent.Email == "" || !agentWants(agent, c, loc) {
			continue
		}
		m := base
		m.Recipient, m.AgentID = RecipientAgent, id
		m.Removed = !slices.Contains(a.AgentIDs, id)
		m.Added = ev == EventMoved && !slices.Contains(c.Before.AgentIDs, id)
		out = append(out, outMessage{KindEmail, m})
	}
	return enqueue(tx, a.ID, out, c.Now)
}

type outMessage struct {
	kind string
	msg  message
}

func enqueue(tx *store.Tx, rdvID string, msgs []outMessage, now time.Time) error {
	for _, o := range msgs {
		payload, err := json.Marshal(o.msg)
		if err != nil {
			return fmt.Errorf("notify: encode message: %w", err)
		}
		rec := store.OutboxRecord{Key: o.msg.key(rdvID, o.kind), Kind: o.kind, AgentID: o.msg.AgentID, RDVID: rdvID, Payload: payload}
		if err := tx.Enqueue(rec, now); err != nil {
			return err
		}
	}
	return nil
}

// agentWants applies the agent's rdv_notifications_level to a change.
func agentWants(a *catalog.Agent, c booking.Change, loc *time.Location) bool {
	switch a.NotificationsLevel {
	case rdv.NotifyAll:
		return true
	case rdv.NotifyOthers:
		return c.ByAgentID != a.ID
	case rdv.NotifySoon:
		if c.ByAgentID == a.ID {
			return false
		}
		today := rdv.DateOf(c.Now.In(loc))
		soon := func(t time.Time) bool { d := rdv.DateOf(t.In(loc)); return d == today || d == today.AddDays(1) }
		return soon(c.After.StartsAt) || (c.Before != nil && soon(c.Before.StartsAt))
	}
	return false
}
