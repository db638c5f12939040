package config

import (
	"net/netip"
	"slices"

	"rdvsync/internal/rdv"
)

// File is the YAML file as written by the admin (docs/design.md §4). Load fills
// defaults, resolves secrets and validates every cross-reference, so code
// that receives a *File may trust it.
type File struct {
	Server          Server         `yaml:"server"`
	Store           Store          `yaml:"store"`
	Timezone        string         `yaml:"timezone"`
	Holidays        string         `yaml:"holidays"`
	Notifications   Notifications  `yaml:"notifications"`
	Calendars       Calendars      `yaml:"calendars"`
	Auth            Auth           `yaml:"auth"`
	Territories     []Territory    `yaml:"territories"`
	Organisations   []Organisation `yaml:"organisations"`
	Services        []Service      `yaml:"services"`
	Lieux           []Lieu         `yaml:"lieux"`
	Motifs          []Motif        `yaml:"motifs"`
	Agents          []Agent        `yaml:"agents"`
	PlagesOuverture []Plage        `yaml:"plages_ouverture"`
	Absences        []Absence      `yaml:"absences"`
	Sectors         []Sector       `yaml:"sectors"`
	Communes        []Commune      `yaml:"communes"`
	Webhooks        Webhooks       `yaml:"webhooks"`
	Retention       Retention      `yaml:"retention"`

	// Path is the file the configuration was read from.
	Path string `yaml:"-"`
}

type Server struct {
	Listen    string    `yaml:"listen"`
	PublicURL string    `yaml:"public_url"`
	RateLimit RateLimit `yaml:"rate_limit"`
	// TrustedProxies are the reverse proxies whose X-Forwarded-For hops
	// name the client (CIDRs or single addresses); Proxies is the same,
	// parsed.
	TrustedProxies []string       `yaml:"trusted_proxies"`
	Proxies        []netip.Prefix `yaml:"-"`
}

type RateLimit struct {
	PerMinute int `yaml:"per_minute"`
	Burst     int `yaml:"burst"`
}

// Retention bounds how long personal data is kept (RGPD; defaults as RDV
// Solidarités): RDVs that ended more than RDVs ago are deleted with what
// points to them, and usagers left without RDV; notification receipts
// older than Receipts are anonymised; spooled mail and SMS files older
// than Spool are removed.
type Retention struct {
	RDVs     Period `yaml:"rdvs"`
	Receipts Period `yaml:"receipts"`
	Spool    Period `yaml:"spool"`
}

type Notifications struct {
	ReminderBefore Duration `yaml:"reminder_before"`
	Email          Email    `yaml:"email"`
	SMS            SMS      `yaml:"sms"`
}

// Calendars are the settings shared by every agent's external calendar.
type Calendars struct {
	// BusyRefresh is how often the busy times of calendars with read_busy
	// are read again (default 5m).
	BusyRefresh Duration `yaml:"busy_refresh"`
}

type Email struct {
	From string `yaml:"from"`
	SMTP *SMTP  `yaml:"smtp"`
	// SpoolDir is where emails are written without SMTP (File.MailSpoolDir).
	SpoolDir string `yaml:"spool_dir"`
}

type SMTP struct {
	Host     string `yaml:"host"`
	Port     int    `yaml:"port"`
	Username string `yaml:"username"`
	Password Secret `yaml:"-"`
	// PasswordFile and PasswordEnv name where the password is; Load reads it into Password.
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
	TLS          string `yaml:"tls"` // starttls | tls | none
	// Connections is the size of the connection pool: messages sent at
	// once, each connection reused for the next message (default 4).
	Connections int `yaml:"connections"`
}

type SMS struct {
	Webhook *SMSWebhook `yaml:"webhook"`
	// SpoolDir is where SMS are written without a provider (File.SMSSpoolDir).
	SpoolDir string `yaml:"spool_dir"`
}

type SMSWebhook struct {
	URL       string `yaml:"url"`
	Token     Secret `yaml:"-"`
	TokenFile string `yaml:"token_file"`
	TokenEnv  string `yaml:"token_env"`
}

// Auth says how agents sign in to the pages (the JSON API keeps its
// bearer tokens).
type Auth struct {
	// OIDC is the OpenID Connect provider of the agents (ProConnect,
	// Keycloak, LemonLDAP::NG…); nil: none.
	OIDC *OIDC `yaml:"oidc"`
	// EmailLink offers a one-time sign-in link sent to the agent's email
	// (default true): the way in for structures without a provider.
	EmailLink *bool `yaml:"email_link"`
	// TokenSignIn shows the form that takes an agent id and its API token
	// (default false): for demonstrations and tests, not for real agents.
	TokenSignIn bool `yaml:"token_sign_in"`
}

// OIDC is a relying-party registration at an OpenID Provider. The
// redirect URI to register there is server.public_url +
// /agents/connexion/oidc/retour.
type OIDC struct {
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret Secret `yaml:"-"`
	// ClientSecretFile and ClientSecretEnv name where the secret is; Load
	// reads it into ClientSecret.
	ClientSecretFile string   `yaml:"client_secret_file"`
	ClientSecretEnv  string   `yaml:"client_secret_env"`
	Scopes           []string `yaml:"scopes"`
	// Name is the provider's name on the sign-in button ("ProConnect").
	Name string `yaml:"name"`
}

// EmailLinkEnabled reports whether agents may ask for a sign-in link by email.
func (a Auth) EmailLinkEnabled() bool { return a.EmailLink == nil || *a.EmailLink }

type Territory struct {
	ID            string     `yaml:"id"`
	Name          string     `yaml:"name"`
	ExtraHolidays []rdv.Date `yaml:"extra_holidays"`
}

// RdvsID, on organisations, services, lieux, motifs and agents, is the
// integer id RDV Solidarités gave the same object: outgoing webhooks in
// format rdv-solidarites send it, so a receiver that knew RDV Solidarités
// recognises it. Without it the store allocates one (rdvsync rdvs-ids).

type Organisation struct {
	ID        string `yaml:"id"`
	RdvsID    int64  `yaml:"rdvs_id"`
	Name      string `yaml:"name"`
	Territory string `yaml:"territory"`
	Timezone  string `yaml:"timezone"`
	Phone     string `yaml:"phone"`
	Email     string `yaml:"email"`
}

type Service struct {
	ID     string `yaml:"id"`
	RdvsID int64  `yaml:"rdvs_id"`
	Name   string `yaml:"name"`
}

type Lieu struct {
	ID           string `yaml:"id"`
	RdvsID       int64  `yaml:"rdvs_id"`
	Organisation string `yaml:"organisation"`
	Name         string `yaml:"name"`
	Address      string `yaml:"address"`
}

type Motif struct {
	ID                  string                 `yaml:"id"`
	RdvsID              int64                  `yaml:"rdvs_id"`
	Organisation        string                 `yaml:"organisation"`
	Service             string                 `yaml:"service"`
	Name                string                 `yaml:"name"`
	Duration            Duration               `yaml:"duration"`
	LocationType        rdv.LocationType       `yaml:"location_type"`
	BookableBy          rdv.BookableBy         `yaml:"bookable_by"`
	MinBookingDelay     *Duration              `yaml:"min_booking_delay"`
	MaxBookingDelay     *Duration              `yaml:"max_booking_delay"`
	SectorisationLevel  rdv.SectorisationLevel `yaml:"sectorisation_level"`
	Instructions        string                 `yaml:"instructions"`
	CancellableByUsager *bool                  `yaml:"cancellable_by_usager"`
}

type Agent struct {
	ID                    string                 `yaml:"id"`
	RdvsID                int64                  `yaml:"rdvs_id"`
	FirstName             string                 `yaml:"first_name"`
	LastName              string                 `yaml:"last_name"`
	Email                 string                 `yaml:"email"`
	Organisations         []string               `yaml:"organisations"`
	Services              []string               `yaml:"services"`
	TokenSHA256           string                 `yaml:"token_sha256"`
	TokenFile             string                 `yaml:"token_file"`
	RDVNotificationsLevel rdv.NotificationsLevel `yaml:"rdv_notifications_level"`
	Calendar              *Calendar              `yaml:"calendar"`
}

type Calendar struct {
	CalDAV   *CalDAV `yaml:"caldav"`
	Google   *Google `yaml:"google"`
	Details  string  `yaml:"details"` // minimal | full
	ReadBusy bool    `yaml:"read_busy"`
}

type CalDAV struct {
	URL          string `yaml:"url"`
	Username     string `yaml:"username"`
	Password     Secret `yaml:"-"`
	PasswordFile string `yaml:"password_file"`
	PasswordEnv  string `yaml:"password_env"`
}

type Google struct {
	CalendarID      string `yaml:"calendar_id"`
	CredentialsFile string `yaml:"credentials_file"`
}

type Plage struct {
	ID           string        `yaml:"id"`
	Agent        string        `yaml:"agent"`
	Organisation string        `yaml:"organisation"`
	Lieu         string        `yaml:"lieu"`
	Motifs       []string      `yaml:"motifs"`
	FirstDay     rdv.Date      `yaml:"first_day"`
	StartTime    rdv.TimeOfDay `yaml:"start_time"`
	EndTime      rdv.TimeOfDay `yaml:"end_time"`
	Recurrence   *Recurrence   `yaml:"recurrence"`
}

type Recurrence struct {
	Every       string    `yaml:"every"` // week | month
	Interval    int       `yaml:"interval"`
	On          []Weekday `yaml:"on"`
	WeekOfMonth int       `yaml:"week_of_month"` // 1..4, -1 = last
	Until       *rdv.Date `yaml:"until"`
}

type Absence struct {
	ID         string        `yaml:"id"`
	Agent      string        `yaml:"agent"`
	FirstDay   rdv.Date      `yaml:"first_day"`
	EndDay     *rdv.Date     `yaml:"end_day"`
	StartTime  rdv.TimeOfDay `yaml:"start_time"`
	EndTime    rdv.TimeOfDay `yaml:"end_time"`
	Recurrence *Recurrence   `yaml:"recurrence"`
}

type Sector struct {
	ID           string        `yaml:"id"`
	Territory    string        `yaml:"territory"`
	Zones        []Zone        `yaml:"zones"`
	Attributions []Attribution `yaml:"attributions"`
}

type Zone struct {
	CityCode    string `yaml:"city_code"`
	PostalCode  string `yaml:"postal_code"`
	StreetBanID string `yaml:"street_ban_id"`
}

// Commune maps a postal code and a commune name to the commune's INSEE
// code, so the booking pages can sectorise an address typed by a visitor.
type Commune struct {
	PostalCode string `yaml:"postal_code"`
	Name       string `yaml:"name"`
	CityCode   string `yaml:"city_code"`
}

type Attribution struct {
	Organisation string `yaml:"organisation"`
	Agent        string `yaml:"agent"`
}

type Webhooks struct {
	Incoming []IncomingWebhook `yaml:"incoming"`
	Outgoing []OutgoingWebhook `yaml:"outgoing"`
}

type IncomingWebhook struct {
	ID string `yaml:"id"`
	// Signature is the sender's scheme: standard-webhooks (default),
	// tally, typeform or demarches-simplifiees (IncomingSignatures).
	Signature  string            `yaml:"signature"`
	Secret     Secret            `yaml:"-"`
	SecretFile string            `yaml:"secret_file"`
	SecretEnv  string            `yaml:"secret_env"`
	Mapping    map[string]string `yaml:"mapping"`
	// DemarchesSimplifiees is the procedure of a demarches-simplifiees source.
	DemarchesSimplifiees *DSProcedure `yaml:"demarches_simplifiees"`
}

// DSProcedure is a Démarches Simplifiées procedure whose callbacks
// (« lien de rappel HTTP ») book RDVs: the callback only names a dossier,
// which rdvsync reads back from the GraphQL API with the procedure's token.
type DSProcedure struct {
	Procedure    int    `yaml:"procedure"`
	State        string `yaml:"state"`   // the dossier state that books; default en_construction
	APIURL       string `yaml:"api_url"` // default DSDefaultAPIURL
	APIToken     Secret `yaml:"-"`
	APITokenFile string `yaml:"api_token_file"`
	APITokenEnv  string `yaml:"api_token_env"`
	// AllowPrivate lets api_url resolve to a loopback or private address
	// (a DS instance on the internal network, tests).
	AllowPrivate bool `yaml:"allow_private"`
}

type OutgoingWebhook struct {
	ID            string   `yaml:"id"`
	URL           string   `yaml:"url"`
	Secret        Secret   `yaml:"-"`
	SecretFile    string   `yaml:"secret_file"`
	SecretEnv     string   `yaml:"secret_env"`
	Organisations []string `yaml:"organisations"`
	AllowPrivate  bool     `yaml:"allow_private"`
	// Format is the body: FormatRdvSolidarites (default) or FormatRdvsync.
	Format string `yaml:"format"`
	// Subscriptions are the models told, as in RDV Solidarités: "rdv"
	// (default) and "user".
	Subscriptions []string `yaml:"subscriptions"`
}

// Outgoing webhook formats and subscriptions.
const (
	FormatRdvSolidarites = "rdv-solidarites"
	FormatRdvsync        = "rdvsync"
	SubscriptionRdv      = "rdv"
	SubscriptionUser     = "user"
)

// Subscribes reports whether the endpoint hears about model ("rdv", "user").
func (w *OutgoingWebhook) Subscribes(model string) bool {
	return slices.Contains(w.Subscriptions, model)
}
