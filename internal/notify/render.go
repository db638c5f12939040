package notify

import (
	"bytes"
	"embed"
	"fmt"
	htmltemplate "html/template"
	"net/url"
	"strings"
	"sync"
	texttemplate "text/template"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/french"
	"rdvsync/internal/rdv"
)

//go:embed templates
var templateFS embed.FS

// emailTemplates are the email templates, <event>_<recipient>; each has a
// .txt (text/template: "subject" and "body") and a .html (html/template:
// "content", inside the common layout).
var emailTemplates = []string{
	"created_usager", "created_prescripteur", "created_agent",
	"moved_usager", "moved_agent",
	"cancelled_usager", "cancelled_prescripteur", "cancelled_agent",
	"reopened_usager", "reopened_agent",
	"reminder_usager",
	"refused_prescripteur",
}

// smsTemplates are the SMS templates (to the usager), one per event.
var smsTemplates = []string{"created", "moved", "cancelled", "reopened", "reminder"}

type templates struct {
	text   map[string]*texttemplate.Template
	html   map[string]*htmltemplate.Template
	shorts map[string]*texttemplate.Template // SMS
}

func parseTemplates() (*templates, error) {
	t := &templates{text: map[string]*texttemplate.Template{}, html: map[string]*htmltemplate.Template{}, shorts: map[string]*texttemplate.Template{}}
	for _, name := range emailTemplates {
		tt, err := texttemplate.New(name).Option("missingkey=error").ParseFS(templateFS, "templates/email/common.txt", "templates/email/"+name+".txt")
		if err != nil {
			return nil, fmt.Errorf("template %s.txt: %w", name, err)
		}
		ht, err := htmltemplate.New(name).Option("missingkey=error").ParseFS(templateFS, "templates/email/layout.html", "templates/email/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("template %s.html: %w", name, err)
		}
		t.text[name], t.html[name] = tt, ht
	}
	for _, name := range smsTemplates {
		st, err := texttemplate.New(name).Option("missingkey=error").ParseFS(templateFS, "templates/sms/"+name+".txt")
		if err != nil {
			return nil, fmt.Errorf("template sms/%s.txt: %w", name, err)
		}
		t.shorts[name] = st
	}
	return t, nil
}

// view is what templates see. Fields a recipient must not get (the usager
// link for anyone but the usager; contact details of others for the
// usager) are left empty for it.
type view struct {
	Event, Recipient string
	RecipientName    string
	Subject          string // set for the HTML layout once rendered

	Organisation, OrgPhone string
	OrgTel                 htmltemplate.URL // the tel: URI of OrgPhone, "" when it is not a valid number
	Motif, Instructions    string
	When, WhenShort        string // "lundi 7 décembre 2026 à 9 h 00", "lundi 7 décembre à 9 h 00"
	Duration               string // "45 min"
	Place, Address         string // the lieu, or "Par téléphone"…
	Agents                 string // "Camille Martin"

	// moved
	PrevWhen, PrevWhenShort string
	PrevPlace, PrevAddress  string
	WhenChanged, Relocated  bool
	Removed                 bool // the RDV left this agent's agenda
	Added                   bool // the RDV joined this agent's agenda

	CancelledByUsager bool   // cancelled: the usager cancelled (excused)
	ChangedBy         string // agents: who moved, cancelled or reopened ("l'usager" or an agent's name)
	CancelReason      string // agents: the reason given with the cancellation

	UsagerName     string
	UsagerPhone    string // agents only
	UsagerNotified string // prescripteur: "par e-mail et par SMS", "par e-mail", "par SMS" or ""
	Reminder       bool   // prescripteur: the usager will get a reminder (the RDV is not inside the reminder window)
	BookedBy       string // "prescripteur", "agent", "usager"
	BookedByName   string
	BookedByEmail  string // agents only
	BookedByPhone  string // agents only
	Context        string // agents only

	CancellableByUsager bool
	UsagerMayMove       bool   // the usager's page offers to move it (catalog.Motif.UsagerMayMove)
	CancelLimit         string // how long before the start the usager may still cancel: "4 h"
	UsagerURL           string // the usager only
	AgentURL            string // agents only

	// refused: what the prescripteur should correct, or that nothing was
	// free within Horizon ("90 jours"), about the form sent at ReceivedWhen.
	Corrections  []string
	NoSlot       bool
	Horizon      string
	ReceivedWhen string
}

var locationLabels = map[rdv.LocationType]string{
	rdv.LocationPhone: "Par téléphone",
	rdv.LocationHome:  "À domicile",
	rdv.LocationVisio: "En visioconférence",
}

// newView builds the view of message m about r for its recipient.
func newView(cat *catalog.Catalog, r *rdv.RDV, u *rdv.Usager, m *message, agent *catalog.Agent) *view {
	loc := zone(cat, r.OrganisationID)
	v := &view{Event: m.Event, Recipient: m.Recipient, Removed: m.Removed, Added: m.Added,
		When: french.DateTime(m.Start.In(loc)), WhenShort: french.DateTimeShort(m.Start.In(loc)),
		Duration: french.ShortDuration(m.End.Sub(m.Start)), CancelledByUsager: m.Status == rdv.StatusExcused,
		BookedBy: string(r.CreatedBy.Type), CancelLimit: french.ShortDuration(booking.UsagerCancelLimit)}
	if o := cat.Organisation(r.OrganisationID); o != nil {
		v.setOrganisation(o)
	}
	var lt rdv.LocationType
	if mo := cat.Motif(r.MotifID); mo != nil {
		v.Motif, v.Instructions, v.CancellableByUsager, lt = mo.Name, mo.Instructions, mo.CancellableByUsager, mo.LocationType
		v.UsagerMayMove = mo.UsagerMayMove()
	}
	v.Place, v.Address = place(cat, m.LieuID, lt)
	if m.PrevStart != nil {
		v.PrevWhen, v.PrevWhenShort = french.DateTime(m.PrevStart.In(loc)), french.DateTimeShort(m.PrevStart.In(loc))
		v.PrevPlace, v.PrevAddress = place(cat, m.PrevLieuID, lt)
		v.WhenChanged, v.Relocated = !m.PrevStart.Equal(m.Start), m.PrevLieuID != m.LieuID
	}
	var names []string
	for _, id := range r.AgentIDs {
		if a := cat.Agent(id); a != nil {
			names = append(names, a.FullName())
		}
	}
	v.Agents = strings.Join(names, ", ")
	if u != nil {
		v.UsagerName = strings.TrimSpace(u.FirstName + " " + u.LastName)
	}
	cb := r.CreatedBy
	switch cb.Type {
	case rdv.CreatedByPrescripteur:
		v.BookedByName = strings.TrimSpace(cb.FirstName + " " + cb.LastName)
	case rdv.CreatedByAgent:
		if a := cat.Agent(cb.AgentID); a != nil {
			v.BookedByName = a.FullName()
		}
	}
	switch m.Recipient {
	case RecipientUsager:
		v.RecipientName = v.UsagerName
		v.UsagerURL = rdv.UsagerURL(cat.Config.Server.PublicURL, r)
	case RecipientPrescripteur:
		v.RecipientName = v.BookedByName
		if cb.Type == rdv.CreatedByAgent {
			// The prescribing agent may open the RDV's page (read only).
			v.AgentURL = cat.Config.Server.PublicURL + "/agents/rdvs/" + url.PathEscape(r.ID)
		}
		v.Reminder = ReminderDue(m.Start, time.Duration(cat.Config.Notifications.ReminderBefore), loc).After(m.At)
		if u != nil {
			switch {
			case u.Email != "" && u.PhoneMobile:
				v.UsagerNotified = "par e-mail et par SMS"
			case u.Email != "":
				v.UsagerNotified = "par e-mail"
			case u.PhoneMobile:
				v.UsagerNotified = "par SMS"
			}
		}
	case RecipientAgent:
		if agent != nil {
			v.RecipientName = agent.FullName()
		}
		v.AgentURL = cat.Config.Server.PublicURL + "/agents/rdvs/" + url.PathEscape(r.ID)
		v.Context = r.Context
		if m.Event == EventCancelled {
			v.CancelReason = r.CancelReason
		}
		if u != nil {
			v.UsagerPhone = french.Phone(u.PhoneNumber)
		}
		if cb.Type == rdv.CreatedByPrescripteur {
			v.BookedByEmail, v.BookedByPhone = cb.Email, french.Phone(cb.PhoneNumber)
		}
		v.ChangedBy = "l'usager"
		if m.ByAgentID != "" {
			v.ChangedBy = "un agent"
			if a := cat.Agent(m.ByAgentID); a != nil {
				v.ChangedBy = a.FullName()
			}
		}
	}
	return v
}

// setOrganisation sets the organisation's name and phone: printed in the
// national format, linked by a tel: URI only when it is a valid number.
func (v *view) setOrganisation(o *catalog.Organisation) {
	p := orgPhone(o.Phone)
	v.Organisation, v.OrgPhone, v.OrgTel = o.Name, p.display, p.tel
}

// phoneForms is a configured phone number as messages print it.
type phoneForms struct {
	display string
	tel     htmltemplate.URL
}

// orgPhones caches phoneForms by configured number: parsing a number
// (libphonenumber's rules) for every message was a twentieth of a
// delivery's CPU, for the few numbers of the configuration.
var orgPhones sync.Map // string → phoneForms

func orgPhone(number string) phoneForms {
	if p, ok := orgPhones.Load(number); ok {
		return p.(phoneForms)
	}
	p := phoneForms{display: french.Phone(number), tel: htmltemplate.URL(french.TelURI(number))}
	orgPhones.Store(number, p)
	return p
}

// place is the lieu's name and address, or the label of a motif received
// elsewhere than in a public office.
func place(cat *catalog.Catalog, lieuID string, lt rdv.LocationType) (string, string) {
	if l := cat.Lieu(lieuID); l != nil {
		return l.Name, l.Address
	}
	return locationLabels[lt], ""
}

// rendered is one message's text.
type rendered struct {
	Subject, Text, HTML string // email
	SMS                 string
}

// email renders the email template of v's event and recipient.
func (t *templates) renderEmail(v *view) (rendered, error) {
	name := v.Event + "_" + v.Recipient
	tt, ht := t.text[name], t.html[name]
	if tt == nil || ht == nil {
		return rendered{}, fmt.Errorf("no email template %s", name)
	}
	var subj, text, html bytes.Buffer
	if err := tt.ExecuteTemplate(&subj, "subject", v); err != nil {
		return rendered{}, fmt.Errorf("template %s: %w", name, err)
	}
	if err := tt.ExecuteTemplate(&text, "body", v); err != nil {
		return rendered{}, fmt.Errorf("template %s: %w", name, err)
	}
	v.Subject = oneLine(subj.String())
	if err := ht.ExecuteTemplate(&html, "layout", v); err != nil {
		return rendered{}, fmt.Errorf("template %s: %w", name, err)
	}
	body := squeezeBlankLines(trimLineEnds(strings.TrimSpace(text.String()) + "\n"))
	return rendered{Subject: v.Subject, Text: body, HTML: dropBlankHTMLLines(html.String())}, nil
}

// sms renders the SMS template of v's event, on one line.
func (t *templates) renderSMS(v *view) (string, error) {
	st := t.shorts[v.Event]
	if st == nil {
		return "", fmt.Errorf("no sms template %s", v.Event)
	}
	var b bytes.Buffer
	if err := st.ExecuteTemplate(&b, v.Event+".txt", v); err != nil {
		return "", fmt.Errorf("template sms/%s: %w", v.Event, err)
	}
	return oneLine(b.String()), nil
}
