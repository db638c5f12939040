package config

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"rdvsync/internal/rdv"
)

// validator fills defaults and checks one decoded file, adding to the
// decoder's error list so problems come out in file order.
type validator struct {
	f   *File
	d   *decoder
	dir string

	territories, orgs, services, lieux, motifs, agents map[string]int
}

var (
	idPattern  = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)
	frenchCode = regexp.MustCompile(`^[0-9][0-9AB][0-9]{3}$`)
)

// errorf reports a problem at path, positioned at the path itself or, when
// the key is absent, at its closest present parent.
func (v *validator) errorf(path, format string, args ...any) {
	if v.d.failed[path] {
		return // already reported while decoding; one problem, one message
	}
	p := path
	for {
		if pos, ok := v.d.pos[p]; ok {
			v.d.errs.add(v.d.file, pos, path, fmt.Sprintf(format, args...))
			return
		}
		i := strings.LastIndexAny(p, ".[")
		if i < 0 {
			v.d.errs.add(v.d.file, Pos{}, path, fmt.Sprintf(format, args...))
			return
		}
		p = p[:i]
	}
}

func (v *validator) has(path string) bool { _, ok := v.d.pos[path]; return ok }

func (v *validator) required(path, value string) bool {
	if strings.TrimSpace(value) == "" {
		v.errorf(path, "is required")
		return false
	}
	return true
}

// index checks ids of one kind: present, well-formed, unique.
func (v *validator) index(kind string, n int, id func(int) string) map[string]int {
	m := make(map[string]int, n)
	for i := 0; i < n; i++ {
		p := fmt.Sprintf("%s[%d].id", kind, i)
		s := id(i)
		if !v.required(p, s) {
			continue
		}
		if !idPattern.MatchString(s) {
			v.errorf(p, "%q is not a valid id (letters, digits, '-', '_', '.')", s)
			continue
		}
		if j, dup := m[s]; dup {
			v.errorf(p, "id %q is already used by %s[%d]", s, kind, j)
			continue
		}
		m[s] = i
	}
	return m
}

// rdvsIDs checks the rdvs_id of objects of one kind: positive and unique.
func (v *validator) rdvsIDs(kind string, n int, id func(int) int64) {
	seen := map[int64]int{}
	for i := range n {
		p := fmt.Sprintf("%s[%d].rdvs_id", kind, i)
		if !v.has(p) {
			continue
		}
		x := id(i)
		if x <= 0 {
			v.errorf(p, "%d is not a positive integer (RDV Solidarités' id of the same object)", x)
			continue
		}
		if j, dup := seen[x]; dup {
			v.errorf(p, "rdvs_id %d is already used by %s[%d]", x, kind, j)
			continue
		}
		seen[x] = i
	}
}

func (v *validator) ref(path, kind string, m map[string]int, id string) bool {
	if !v.required(path, id) {
		return false
	}
	if _, ok := m[id]; !ok {
		v.errorf(path, "unknown %s %q", kind, id)
		return false
	}
	return true
}

func oneOf[T ~string](v *validator, path string, val *T, def T, allowed ...T) {
	if *val == "" {
		*val = def
		return
	}
	if !slices.Contains(allowed, *val) {
		names := make([]string, len(allowed))
		for i, a := range allowed {
			names[i] = string(a)
		}
		v.errorf(path, "%q is not allowed (use one of: %s)", string(*val), strings.Join(names, ", "))
	}
}

func (v *validator) location(path, name string) {
	if _, err := time.LoadLocation(name); err != nil || name == "" || name == "Local" {
		v.errorf(path, "%q is not a known IANA time zone (e.g. Europe/Paris, America/Cayenne, Indian/Reunion)", name)
	}
}

func (v *validator) email(path, s string) {
	if s == "" {
		return
	}
	if a, err := mail.ParseAddress(s); err != nil || a.Address != s {
		v.errorf(path, "%q is not a valid email address", s)
	}
}

func (v *validator) httpURL(path, s string) {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.errorf(path, "%q is not an absolute http(s) URL", s)
	}
}

// secret reads a secret from a file (relative to the config file) or an
// environment variable; exactly one of them must be given when required.
func (v *validator) secret(path, base, file, env string, required bool) Secret {
	switch {
	case file != "" && env != "":
		v.errorf(path+"."+base+"_file", "give either %s_file or %s_env, not both", base, base)
	case file != "":
		b, err := os.ReadFile(v.f.resolve(file))
		if err != nil {
			v.errorf(path+"."+base+"_file", "cannot read secret file: %v", err)
			return ""
		}
		s := strings.TrimRight(string(b), "\r\n")
		if s == "" {
			v.errorf(path+"."+base+"_file", "secret file %s is empty", file)
		}
		return Secret(s)
	case env != "":
		s, ok := os.LookupEnv(env)
		if !ok || s == "" {
			v.errorf(path+"."+base+"_env", "environment variable %s is not set", env)
		}
		return Secret(s)
	case required:
		v.errorf(path, "%s_file or %s_env is required", base, base)
	}
	return ""
}

func (v *validator) run() {
	f := v.f
	v.global()
	v.territories = v.index("territories", len(f.Territories), func(i int) string { return f.Territories[i].ID })
	v.orgs = v.index("organisations", len(f.Organisations), func(i int) string { return f.Organisations[i].ID })
	v.services = v.index("services", len(f.Services), func(i int) string { return f.Services[i].ID })
	v.lieux = v.index("lieux", len(f.Lieux), func(i int) string { return f.Lieux[i].ID })
	v.motifs = v.index("motifs", len(f.Motifs), func(i int) string { return f.Motifs[i].ID })
	v.agents = v.index("agents", len(f.Agents), func(i int) string { return f.Agents[i].ID })
	v.index("plages_ouverture", len(f.PlagesOuverture), func(i int) string { return f.PlagesOuverture[i].ID })
	v.index("sectors", len(f.Sectors), func(i int) string { return f.Sectors[i].ID })
	v.index("webhooks.incoming", len(f.Webhooks.Incoming), func(i int) string { return f.Webhooks.Incoming[i].ID })
	v.index("webhooks.outgoing", len(f.Webhooks.Outgoing), func(i int) string { return f.Webhooks.Outgoing[i].ID })
	v.rdvsIDs("organisations", len(f.Organisations), func(i int) int64 { return f.Organisations[i].RdvsID })
	v.rdvsIDs("services", len(f.Services), func(i int) int64 { return f.Services[i].RdvsID })
	v.rdvsIDs("lieux", len(f.Lieux), func(i int) int64 { return f.Lieux[i].RdvsID })
	v.rdvsIDs("motifs", len(f.Motifs), func(i int) int64 { return f.Motifs[i].RdvsID })
	v.rdvsIDs("agents", len(f.Agents), func(i int) int64 { return f.Agents[i].RdvsID })
	if len(f.Organisations) == 0 {
		v.errorf("organisations", "at least one organisation is required")
	}
	for i := range f.Territories {
		v.required(fmt.Sprintf("territories[%d].name", i), f.Territories[i].Name)
	}
	for i := range f.Organisations {
		v.organisation(i)
	}
	for i := range f.Services {
		v.required(fmt.Sprintf("services[%d].name", i), f.Services[i].Name)
	}
	for i := range f.Lieux {
		p, l := fmt.Sprintf("lieux[%d]", i), &f.Lieux[i]
		v.ref(p+".organisation", "organisation", v.orgs, l.Organisation)
		v.required(p+".name", l.Name)
	}
	for i := range f.Motifs {
		v.motif(i)
	}
	for i := range f.Agents {
		v.agent(i)
	}
	for i := range f.PlagesOuverture {
		v.plage(i)
	}
	for i := range f.Absences {
		v.absence(i)
	}
	for i := range f.Sectors {
		v.sector(i)
	}
	for i, c := range f.Communes {
		p := fmt.Sprintf("communes[%d]", i)
		v.required(p+".name", c.Name)
		if !frenchCode.MatchString(c.PostalCode) {
			v.errorf(p+".postal_code", "%q is not a postal code (5 digits)", c.PostalCode)
		}
		if !frenchCode.MatchString(c.CityCode) {
			v.errorf(p+".city_code", "%q is not an INSEE code (5 characters, e.g. 62041 or 2A004)", c.CityCode)
		}
	}
	v.webhooks()
	v.auth()
}

// auth checks how agents sign in: the provider's registration, and that
// no two agents share an email (agents are found by it).
func (v *validator) auth() {
	f := v.f
	if o := f.Auth.OIDC; o != nil {
		p := "auth.oidc"
		if v.required(p+".issuer", o.Issuer) {
			// OpenID Connect Discovery 1.0 §2: the issuer is an https URL
			// with no query or fragment; http is accepted for a provider on
			// this machine (tests, a local Keycloak).
			u, err := url.Parse(o.Issuer)
			switch {
			case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
				v.errorf(p+".issuer", "%q is not an absolute https URL", o.Issuer)
			case u.Scheme == "http" && !isLoopback(u.Hostname()):
				v.errorf(p+".issuer", "%q must use https (http is only accepted for localhost)", o.Issuer)
			case u.RawQuery != "" || u.Fragment != "":
				v.errorf(p+".issuer", "%q must have no query nor fragment", o.Issuer)
			}
		}
		v.required(p+".client_id", o.ClientID)
		o.ClientSecret = v.secret(p, "client_secret", o.ClientSecretFile, o.ClientSecretEnv, true)
		if len(o.Scopes) == 0 {
			o.Scopes = []string{"openid", "email"}
		} else if !slices.Contains(o.Scopes, "openid") {
			v.errorf(p+".scopes", "must include \"openid\" (e.g. [openid, email])")
		}
		if o.Name == "" {
			o.Name = "votre compte professionnel"
		}
	}
	seen := map[string]int{}
	for i, a := range f.Agents {
		k := strings.ToLower(a.Email)
		if k == "" {
			continue
		}
		if j, dup := seen[k]; dup {
			v.errorf(fmt.Sprintf("agents[%d].email", i), "%q is already the email of agents[%d] (agents sign in by their email)", a.Email, j)
			continue
		}
		seen[k] = i
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *validator) global() {
	f := v.f
	if f.Server.Listen == "" {
		f.Server.Listen = "127.0.0.1:8080"
	}
	if f.Server.PublicURL == "" {
		f.Server.PublicURL = "http://" + f.Server.Listen
	}
	v.httpURL("server.public_url", f.Server.PublicURL)
	f.Server.PublicURL = strings.TrimRight(f.Server.PublicURL, "/")
	if !v.has("server.rate_limit.per_minute") {
		f.Server.RateLimit.PerMinute = 120
	}
	if !v.has("server.rate_limit.burst") {
		f.Server.RateLimit.Burst = 30
	}
	if f.Server.RateLimit.PerMinute <= 0 {
		v.errorf("server.rate_limit.per_minute", "must be a positive number of requests")
	}
	if f.Server.RateLimit.Burst <= 0 {
		v.errorf("server.rate_limit.burst", "must be a positive number of requests")
	}
	f.Server.Proxies = nil
	for i, s := range f.Server.TrustedProxies {
		if p, ok := parsePrefix(s); ok {
			f.Server.Proxies = append(f.Server.Proxies, p)
		} else {
			v.errorf(fmt.Sprintf("server.trusted_proxies[%d]", i),
				"%q is not an IP network (use a CIDR such as 10.0.0.0/8 or fd00::/8, or a single address)", s)
		}
	}
	if f.Timezone == "" {
		f.Timezone = "Europe/Paris"
	}
	v.location("timezone", f.Timezone)
	oneOf(v, "holidays", &f.Holidays, "fr", "fr", "none")
	n := &f.Notifications
	if !v.has("notifications.reminder_before") {
		n.ReminderBefore = Duration(48 * time.Hour)
	} else if n.ReminderBefore <= 0 {
		v.errorf("notifications.reminder_before", "must be a positive duration (e.g. 48h)")
	}
	if !v.has("calendars.busy_refresh") {
		f.Calendars.BusyRefresh = Duration(DefaultBusyRefresh)
	} else if f.Calendars.BusyRefresh.D() < MinBusyRefresh {
		v.errorf("calendars.busy_refresh", "must be at least 1m: every refresh reads each calendar with read_busy, and Google counts those reads in the agent's quota")
	}
	if n.Email.From == "" {
		n.Email.From = "RDV Solidarités <ne-pas-repondre@localhost>"
	} else if _, err := mail.ParseAddress(n.Email.From); err != nil {
		v.errorf("notifications.email.from", "%q is not a valid sender (e.g. \"RDV Solidarités <ne-pas-repondre@example.org>\")", n.Email.From)
	}
	if s := n.Email.SMTP; s != nil {
		p := "notifications.email.smtp"
		v.required(p+".host", s.Host)
		if s.Port == 0 {
			s.Port = 587
		} else if s.Port < 1 || s.Port > 65535 {
			v.errorf(p+".port", "%d is not a TCP port", s.Port)
		}
		oneOf(v, p+".tls", &s.TLS, "starttls", "starttls", "tls", "none")
		if s.Connections == 0 {
			s.Connections = 4
		} else if s.Connections < 1 || s.Connections > 64 {
			v.errorf(p+".connections", "%d: must be 1 to 64 connections", s.Connections)
		}
		s.Password = v.secret(p, "password", s.PasswordFile, s.PasswordEnv, s.Username != "")
	}
	if w := n.SMS.Webhook; w != nil {
		p := "notifications.sms.webhook"
		v.httpURL(p+".url", w.URL)
		w.Token = v.secret(p, "token", w.TokenFile, w.TokenEnv, true)
	}
	r := &f.Retention
	for _, p := range []struct {
		key string
		dst *Period
		def Period
	}{
		{"rdvs", &r.RDVs, Period{Years: 2}},
		{"receipts", &r.Receipts, Period{Months: 6}},
		{"spool", &r.Spool, Period{Days: 30}},
	} {
		if !v.has("retention." + p.key) {
			*p.dst = p.def
		} else if p.dst.Zero() {
			v.errorf("retention."+p.key, "must be a positive period (e.g. %s)", p.def)
		}
	}
	v.store()
}

// parsePrefix reads a CIDR or a single address (a /32 or /128), in the
// canonical form that Contains compares with (IPv4-mapped written as IPv4).
func parsePrefix(s string) (netip.Prefix, bool) {
	s = strings.TrimSpace(s)
	if p, err := netip.ParsePrefix(s); err == nil {
		a := p.Addr()
		if a.Is4In6() && p.Bits() >= 96 {
			return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked(), true
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

func (v *validator) organisation(i int) {
	p, o := fmt.Sprintf("organisations[%d]", i), &v.f.Organisations[i]
	v.required(p+".name", o.Name)
	v.ref(p+".territory", "territory", v.territories, o.Territory)
	if o.Timezone == "" {
		o.Timezone = v.f.Timezone
	} else {
		v.location(p+".timezone", o.Timezone)
	}
	v.email(p+".email", o.Email)
}

func (v *validator) motif(i int) {
	p, m := fmt.Sprintf("motifs[%d]", i), &v.f.Motifs[i]
	v.ref(p+".organisation", "organisation", v.orgs, m.Organisation)
	v.ref(p+".service", "service", v.services, m.Service)
	v.required(p+".name", m.Name)
	if !v.has(p + ".duration") {
		v.errorf(p+".duration", "is required (e.g. 30m)")
	} else if m.Duration < Duration(5*time.Minute) || m.Duration > Duration(12*time.Hour) || m.Duration.D()%time.Minute != 0 {
		v.errorf(p+".duration", "%s is not a whole number of minutes between 5m and 12h", m.Duration)
	}
	oneOf(v, p+".location_type", &m.LocationType, rdv.LocationPublicOffice,
		rdv.LocationPublicOffice, rdv.LocationPhone, rdv.LocationHome, rdv.LocationVisio)
	oneOf(v, p+".bookable_by", &m.BookableBy, rdv.BookableByAgents,
		rdv.BookableByAgents, rdv.BookableByAgentsAndPrescripteurs, rdv.BookableByEveryone)
	oneOf(v, p+".sectorisation_level", &m.SectorisationLevel, rdv.SectorisationDepartement,
		rdv.SectorisationDepartement, rdv.SectorisationOrganisation, rdv.SectorisationAgent)
	if m.MinBookingDelay == nil {
		d := Duration(30 * time.Minute)
		m.MinBookingDelay = &d
	}
	if m.MaxBookingDelay == nil {
		d := Duration(90 * 24 * time.Hour)
		m.MaxBookingDelay = &d
	}
	if *m.MinBookingDelay > *m.MaxBookingDelay {
		v.errorf(p+".min_booking_delay", "%s is longer than max_booking_delay %s", *m.MinBookingDelay, *m.MaxBookingDelay)
	}
	if m.CancellableByUsager == nil {
		t := true
		m.CancellableByUsager = &t
	}
}

func (v *validator) agent(i int) {
	p, a := fmt.Sprintf("agents[%d]", i), &v.f.Agents[i]
	v.required(p+".first_name", a.FirstName)
	v.required(p+".last_name", a.LastName)
	if v.required(p+".email", a.Email) {
		v.email(p+".email", a.Email)
	}
	if len(a.Organisations) == 0 {
		v.errorf(p+".organisations", "at least one organisation is required")
	}
	for j, o := range a.Organisations {
		v.ref(fmt.Sprintf("%s.organisations[%d]", p, j), "organisation", v.orgs, o)
	}
	for j, s := range a.Services {
		v.ref(fmt.Sprintf("%s.services[%d]", p, j), "service", v.services, s)
	}
	switch {
	case a.TokenSHA256 != "" && a.TokenFile != "":
		v.errorf(p+".token_file", "give either token_sha256 or token_file, not both")
	case a.TokenSHA256 != "":
		if b, err := hex.DecodeString(a.TokenSHA256); err != nil || len(b) != 32 {
			v.errorf(p+".token_sha256", "is not 64 hexadecimal digits (sha256sum of the token)")
		}
	case a.TokenFile != "":
		tok := v.secret(p, "token", a.TokenFile, "", true)
		if tok != "" {
			a.TokenSHA256 = hashToken(string(tok))
		}
	default:
		v.errorf(p, "token_sha256 or token_file is required (the agent's API token)")
	}
	oneOf(v, p+".rdv_notifications_level", &a.RDVNotificationsLevel, rdv.NotifyOthers,
		rdv.NotifyAll, rdv.NotifyOthers, rdv.NotifySoon, rdv.NotifyNone)
	if c := a.Calendar; c != nil {
		cp := p + ".calendar"
		switch {
		case c.CalDAV != nil && c.Google != nil:
			v.errorf(cp, "give either caldav or google, not both")
		case c.CalDAV != nil:
			v.httpURL(cp+".caldav.url", c.CalDAV.URL)
			c.CalDAV.Password = v.secret(cp+".caldav", "password", c.CalDAV.PasswordFile, c.CalDAV.PasswordEnv, c.CalDAV.Username != "")
		case c.Google != nil:
			if c.Google.CalendarID == "" {
				c.Google.CalendarID = "primary"
			}
			if v.required(cp+".google.credentials_file", c.Google.CredentialsFile) {
				if _, err := os.Stat(v.f.resolve(c.Google.CredentialsFile)); err != nil {
					v.errorf(cp+".google.credentials_file", "cannot read credentials: %v", err)
				}
			}
		default:
			v.errorf(cp, "caldav or google is required")
		}
		oneOf(v, cp+".details", &c.Details, "minimal", "minimal", "full")
	}
}

func (v *validator) plage(i int) {
	f := v.f
	p, pl := fmt.Sprintf("plages_ouverture[%d]", i), &f.PlagesOuverture[i]
	agentOK := v.ref(p+".agent", "agent", v.agents, pl.Agent)
	var agent *Agent
	if agentOK {
		agent = &f.Agents[v.agents[pl.Agent]]
	}
	if pl.Lieu != "" && v.ref(p+".lieu", "lieu", v.lieux, pl.Lieu) {
		lieuOrg := f.Lieux[v.lieux[pl.Lieu]].Organisation
		if pl.Organisation == "" {
			pl.Organisation = lieuOrg
		} else if pl.Organisation != lieuOrg {
			v.errorf(p+".lieu", "lieu %q belongs to organisation %q, not %q", pl.Lieu, lieuOrg, pl.Organisation)
		}
	}
	if pl.Organisation == "" && agent != nil && len(agent.Organisations) == 1 {
		pl.Organisation = agent.Organisations[0]
	}
	orgOK := false
	if pl.Organisation != "" || agent != nil {
		orgOK = v.ref(p+".organisation", "organisation", v.orgs, pl.Organisation)
	}
	if orgOK && agent != nil && !slices.Contains(agent.Organisations, pl.Organisation) {
		v.errorf(p+".organisation", "agent %q is not a member of organisation %q", pl.Agent, pl.Organisation)
	}
	if len(pl.Motifs) == 0 {
		v.errorf(p+".motifs", "at least one motif is required")
	}
	for j, id := range pl.Motifs {
		mp := fmt.Sprintf("%s.motifs[%d]", p, j)
		if !v.ref(mp, "motif", v.motifs, id) {
			continue
		}
		m := &f.Motifs[v.motifs[id]]
		if orgOK && m.Organisation != pl.Organisation {
			v.errorf(mp, "motif %q belongs to organisation %q, not to the plage's %q", id, m.Organisation, pl.Organisation)
		}
		if m.LocationType == rdv.LocationPublicOffice && pl.Lieu == "" {
			v.errorf(mp, "motif %q is received in a public office (location_type public_office): the plage needs a lieu", id)
		}
		if agent != nil && len(agent.Services) > 0 && !slices.Contains(agent.Services, m.Service) {
			v.errorf(mp, "agent %q is not in service %q of motif %q", pl.Agent, m.Service, id)
		}
	}
	if !v.has(p + ".first_day") {
		v.errorf(p+".first_day", "is required (YYYY-MM-DD)")
	}
	if !v.has(p+".start_time") || !v.has(p+".end_time") {
		v.errorf(p, "start_time and end_time are required (HH:MM)")
	} else if pl.StartTime >= pl.EndTime {
		v.errorf(p+".end_time", "%s is not after start_time %s", pl.EndTime, pl.StartTime)
	}
	v.recurrence(p+".recurrence", pl.Recurrence, pl.FirstDay)
}

func (v *validator) recurrence(p string, r *Recurrence, first rdv.Date) {
	if r == nil {
		return
	}
	if r.Interval == 0 {
		r.Interval = 1
	} else if r.Interval < 0 || r.Interval > 52 {
		v.errorf(p+".interval", "%d is not an interval between 1 and 52", r.Interval)
	}
	switch r.Every {
	case "week":
		if len(r.On) == 0 {
			v.errorf(p+".on", "at least one day is required for a weekly recurrence (e.g. [monday, thursday])")
		}
		if v.has(p + ".week_of_month") {
			v.errorf(p+".week_of_month", "only applies to every: month")
		}
	case "month":
		if len(r.On) != 1 {
			v.errorf(p+".on", "a monthly recurrence names exactly one day (e.g. [tuesday] with week_of_month: 1)")
		}
		if r.WeekOfMonth == 0 {
			// Default: the rank of first_day; a fifth weekday means "last".
			if r.WeekOfMonth = WeekOfMonth(first); r.WeekOfMonth == 5 {
				r.WeekOfMonth = -1
			}
		} else if r.WeekOfMonth < -1 || r.WeekOfMonth > 4 || r.WeekOfMonth == 0 {
			v.errorf(p+".week_of_month", "%d is not 1, 2, 3, 4 or -1 (last)", r.WeekOfMonth)
		}
	default:
		v.errorf(p+".every", "%q is not allowed (use week or month)", r.Every)
	}
	if r.Until != nil && *r.Until < first {
		v.errorf(p+".until", "%s is before first_day %s", *r.Until, first)
	}
}

// WeekOfMonth is the rank (1..5) of d's weekday within its month.
func WeekOfMonth(d rdv.Date) int {
	_, _, day := d.YMD()
	return (day-1)/7 + 1
}

func (v *validator) absence(i int) {
	p, a := fmt.Sprintf("absences[%d]", i), &v.f.Absences[i]
	v.ref(p+".agent", "agent", v.agents, a.Agent)
	if !v.has(p + ".first_day") {
		v.errorf(p+".first_day", "is required (YYYY-MM-DD)")
	}
	if a.EndDay == nil {
		d := a.FirstDay
		a.EndDay = &d
	} else if *a.EndDay < a.FirstDay {
		v.errorf(p+".end_day", "%s is before first_day %s", *a.EndDay, a.FirstDay)
	}
	if !v.has(p + ".end_time") {
		a.EndTime = 24 * 60
	}
	if *a.EndDay == a.FirstDay && a.StartTime >= a.EndTime {
		v.errorf(p+".end_time", "%s is not after start_time %s", a.EndTime, a.StartTime)
	}
	v.recurrence(p+".recurrence", a.Recurrence, a.FirstDay)
}

func (v *validator) sector(i int) {
	p, s := fmt.Sprintf("sectors[%d]", i), &v.f.Sectors[i]
	v.ref(p+".territory", "territory", v.territories, s.Territory)
	if len(s.Zones) == 0 {
		v.errorf(p+".zones", "at least one zone is required")
	}
	for j, z := range s.Zones {
		n := 0
		for _, x := range []string{z.CityCode, z.PostalCode, z.StreetBanID} {
			if x != "" {
				n++
			}
		}
		if n != 1 {
			v.errorf(fmt.Sprintf("%s.zones[%d]", p, j), "give exactly one of city_code, postal_code, street_ban_id")
		}
	}
	if len(s.Attributions) == 0 {
		v.errorf(p+".attributions", "at least one attribution is required")
	}
	for j, a := range s.Attributions {
		ap := fmt.Sprintf("%s.attributions[%d]", p, j)
		switch {
		case (a.Organisation == "") == (a.Agent == ""):
			v.errorf(ap, "give exactly one of organisation, agent")
		case a.Organisation != "":
			v.ref(ap+".organisation", "organisation", v.orgs, a.Organisation)
		default:
			v.ref(ap+".agent", "agent", v.agents, a.Agent)
		}
	}
}

func (v *validator) webhooks() {
	w := &v.f.Webhooks
	for i := range w.Incoming {
		v.incoming(fmt.Sprintf("webhooks.incoming[%d]", i), &w.Incoming[i])
	}
	for i := range w.Outgoing {
		p, out := fmt.Sprintf("webhooks.outgoing[%d]", i), &w.Outgoing[i]
		v.httpURL(p+".url", out.URL)
		out.Secret = v.secret(p, "secret", out.SecretFile, out.SecretEnv, true)
		for j, o := range out.Organisations {
			v.ref(fmt.Sprintf("%s.organisations[%d]", p, j), "organisation", v.orgs, o)
		}
		oneOf(v, p+".format", &out.Format, FormatRdvSolidarites, FormatRdvSolidarites, FormatRdvsync)
		if !v.has(p + ".subscriptions") {
			out.Subscriptions = []string{SubscriptionRdv}
		} else if len(out.Subscriptions) == 0 {
			v.errorf(p+".subscriptions", "at least one subscription is required (rdv, user)")
		}
		for j, sub := range out.Subscriptions {
			if sub != SubscriptionRdv && sub != SubscriptionUser {
				v.errorf(fmt.Sprintf("%s.subscriptions[%d]", p, j), "%q is not allowed (use rdv or user)", sub)
			}
		}
	}
}

// DecodeWebhookSecret decodes a Standard Webhooks secret ("whsec_<base64>").
func DecodeWebhookSecret(s string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
	if err != nil || len(b) < 16 {
		return nil, fmt.Errorf("the secret is not a Standard Webhooks secret (whsec_ followed by base64 of at least 16 bytes)")
	}
	return b, nil
}
