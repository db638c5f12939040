package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"rdvsync/internal/rdv"
)

func TestExampleLoads(t *testing.T) {
	f, err := Load("../../config.example.yaml")
	if err != nil {
		t.Fatalf("config.example.yaml must load:\n%v", err)
	}
	if len(f.Organisations) < 3 || len(f.Agents) < 5 || len(f.PlagesOuverture) < 5 {
		t.Errorf("example too small: %d organisations, %d agents, %d plages", len(f.Organisations), len(f.Agents), len(f.PlagesOuverture))
	}
	seen := map[rdv.BookableBy]bool{}
	monthly := false
	for _, m := range f.Motifs {
		seen[m.BookableBy] = true
	}
	for _, p := range f.PlagesOuverture {
		if p.Recurrence != nil && p.Recurrence.Every == "month" {
			monthly = true
		}
	}
	if len(seen) != 3 || !monthly || len(f.Absences) == 0 || len(f.Sectors) == 0 {
		t.Errorf("example must show every bookable_by (%v), a monthly plage (%v), absences and sectors", seen, monthly)
	}
	// Defaults filled in.
	if f.Calendars.BusyRefresh.D() != 5*time.Minute {
		t.Errorf("calendars.busy_refresh = %v, want 5m", f.Calendars.BusyRefresh.D())
	}
	if f.Notifications.ReminderBefore.D() != 48*time.Hour || f.Agents[3].RDVNotificationsLevel != rdv.NotifyOthers {
		t.Errorf("defaults not applied: reminder %v, level %q", f.Notifications.ReminderBefore.D(), f.Agents[3].RDVNotificationsLevel)
	}
}

func TestFiveMistakesAllReported(t *testing.T) {
	_, err := Load("testdata/five-mistakes.yaml")
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("want Errors, got %v", err)
	}
	want := []string{
		`testdata/five-mistakes.yaml:5:68: organisations[0].timezone: "Europe/Pariss" is not a known IANA time zone`,
		`testdata/five-mistakes.yaml:15:15: motifs[0].duration: "45" is not a duration (use 45m, 2h30m or 90d)`,
		`testdata/five-mistakes.yaml:16:24: motifs[0].min_booking_delay: 10d is longer than max_booking_delay 2d`,
		`testdata/five-mistakes.yaml:25:5: agents[0].colour: unknown key "colour"`,
		`testdata/five-mistakes.yaml:28:12: plages_ouverture[0].agent: unknown agent "camille-martinn"`,
		`testdata/five-mistakes.yaml:34:37: plages_ouverture[0].recurrence.on[0]: "funday" is not a day of the week`,
	}
	if len(errs) != len(want) {
		t.Errorf("got %d errors, want %d:\n%v", len(errs), len(want), errs)
	}
	for i, w := range want {
		if i < len(errs) && !strings.HasPrefix(errs[i].Error(), w) {
			t.Errorf("error %d:\n got %s\nwant %s…", i, errs[i], w)
		}
	}
}

func parseErr(t *testing.T, yaml string) string {
	t.Helper()
	_, err := Parse("c.yaml", []byte(yaml))
	if err == nil {
		return ""
	}
	return err.Error()
}

const base = `
territories: [{ id: "62", name: P }]
organisations:
  - { id: o1, name: O1, territory: "62" }
  - { id: o2, name: O2, territory: "62" }
services: [{ id: s, name: S }, { id: s2, name: S2 }]
lieux:
  - { id: l1, organisation: o1, name: L1 }
  - { id: l2, organisation: o2, name: L2 }
motifs:
  - { id: m1, organisation: o1, service: s, name: M1, duration: 30m }
  - { id: tel, organisation: o1, service: s, name: T, duration: 30m, location_type: phone }
agents:
  - { id: a1, first_name: A, last_name: B, email: a@example.org, organisations: [o1], services: [s], token_sha256: "7b09244c578ece40a4ef21c597478725fd77861def6e232dffaa647cd57f29d5" }
`

func TestValidation(t *testing.T) {
	tests := []struct {
		name, extra, want string
	}{
		{"valid plage", `
plages_ouverture:
  - { id: p, agent: a1, lieu: l1, motifs: [m1, tel], first_day: 2026-01-05, start_time: "09:00", end_time: "12:00" }`, ""},
		{"phone motif without lieu", `
plages_ouverture:
  - { id: p, agent: a1, motifs: [tel], first_day: 2026-01-05, start_time: "09:00", end_time: "12:00" }`, ""},
		{"public office motif without lieu", `
plages_ouverture:
  - { id: p, agent: a1, motifs: [m1], first_day: 2026-01-05, start_time: "09:00", end_time: "12:00" }`,
			`plages_ouverture[0].motifs[0]: motif "m1" is received in a public office`},
		{"motif of another organisation than the lieu", `
motifs2: x`, `unknown key "motifs2"`},
		{"lieu of another organisation", `
plages_ouverture:
  - { id: p, agent: a1, lieu: l2, motifs: [m1], first_day: 2026-01-05, start_time: "09:00", end_time: "12:00" }`,
			`agent "a1" is not a member of organisation "o2"`},
		{"end before start", `
plages_ouverture:
  - { id: p, agent: a1, lieu: l1, motifs: [m1], first_day: 2026-01-05, start_time: "12:00", end_time: "09:00" }`,
			`plages_ouverture[0].end_time: 09:00 is not after start_time 12:00`},
		{"bad time", `
plages_ouverture:
  - { id: p, agent: a1, lieu: l1, motifs: [m1], first_day: 2026-01-05, start_time: "9h", end_time: "12:00" }`,
			`"9h" is not a time of day`},
		{"duplicate id", `
services2: []`, `unknown key "services2"`},
		{"monthly needs one day", `
plages_ouverture:
  - { id: p, agent: a1, lieu: l1, motifs: [m1], first_day: 2026-01-05, start_time: "09:00", end_time: "12:00", recurrence: { every: month, on: [monday, friday] } }`,
			`names exactly one day`},
		{"week_of_month out of range", `
plages_ouverture:
  - { id: p, agent: a1, lieu: l1, motifs: [m1], first_day: 2026-01-05, start_time: "09:00", end_time: "12:00", recurrence: { every: month, on: [monday], week_of_month: 5 } }`,
			`5 is not 1, 2, 3, 4 or -1`},
		{"until before first day", `
plages_ouverture:
  - { id: p, agent: a1, lieu: l1, motifs: [m1], first_day: 2026-01-05, start_time: "09:00", end_time: "12:00", recurrence: { every: week, on: [monday], until: 2025-01-01 } }`,
			`until: 2025-01-01 is before first_day 2026-01-05`},
		{"bad every", `
plages_ouverture:
  - { id: p, agent: a1, lieu: l1, motifs: [m1], first_day: 2026-01-05, start_time: "09:00", end_time: "12:00", recurrence: { every: day, on: [monday] } }`,
			`"day" is not allowed (use week or month)`},
		{"sector zone with two keys", `
sectors:
  - { id: s1, territory: "62", zones: [{ city_code: "1", postal_code: "2" }], attributions: [{ organisation: o1 }] }`,
			`give exactly one of city_code, postal_code, street_ban_id`},
		{"unknown sector agent", `
sectors:
  - { id: s1, territory: "62", zones: [{ city_code: "1" }], attributions: [{ agent: zz }] }`,
			`unknown agent "zz"`},
		{"secret file missing", `
webhooks:
  incoming: [{ id: w, secret_file: /nonexistent/secret }]`, `cannot read secret file`},
		{"secret env missing", `
webhooks:
  outgoing: [{ id: w, url: "https://p.example.org/h", secret_env: RDVSYNC_TEST_UNSET }]`, `environment variable RDVSYNC_TEST_UNSET is not set`},
		{"absence end before start", `
absences:
  - { agent: a1, first_day: 2026-01-05, end_day: 2026-01-01 }`, `end_day: 2026-01-01 is before first_day 2026-01-05`},
		{"bad holidays", `
holidays: be`, `"be" is not allowed (use one of: fr, none)`},
		{"calendar both", `
agents2: []`, `unknown key "agents2"`},
		{"bad url", `
server: { public_url: "localhost:8080" }`, `is not an absolute http(s) URL`},
		{"commune with a bad INSEE code", `
communes: [{ postal_code: "62000", name: Arras, city_code: "6204" }]`, `communes[0].city_code: "6204" is not an INSEE code`},
		{"Corsican commune", `
communes: [{ postal_code: "20000", name: Ajaccio, city_code: "2A004" }]`, ""},
		{"list expected", `
absences: none`, `absences: expected a list, not a single value`},
		{"busy refresh", `
calendars: { busy_refresh: 2m }`, ""},
		{"busy refresh too often", `
calendars: { busy_refresh: 30s }`, `c.yaml:16:28: calendars.busy_refresh: must be at least 1m`},
		{"busy refresh not a duration", `
calendars: { busy_refresh: often }`, `calendars.busy_refresh: "often" is not a duration`},
		{"calendars unknown key", `
calendars: { refresh: 5m }`, `calendars.refresh: unknown key "refresh"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErr(t, base+tt.extra)
			if tt.want == "" && got != "" {
				t.Fatalf("unexpected error:\n%s", got)
			}
			if !strings.Contains(got, tt.want) {
				t.Fatalf("got:\n%s\nwant it to contain %q", got, tt.want)
			}
		})
	}
}

func TestDuplicateIDs(t *testing.T) {
	got := parseErr(t, strings.Replace(base, "{ id: o2, name: O2", "{ id: o1, name: O2", 1))
	if !strings.Contains(got, `c.yaml:5:11: organisations[1].id: id "o1" is already used by organisations[0]`) {
		t.Fatalf("got %s", got)
	}
}

func TestSecretsAndTokens(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(dir+"/tok", []byte("s3cret\n"), 0o600)
	os.WriteFile(dir+"/hook", []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw\n"), 0o600)
	t.Setenv("RDVSYNC_TEST_SMTP", "pw")
	y := strings.Replace(base, `token_sha256: "7b09244c578ece40a4ef21c597478725fd77861def6e232dffaa647cd57f29d5"`, `token_file: tok`, 1) + `
notifications:
  email: { smtp: { host: smtp.example.org, username: u, password_env: RDVSYNC_TEST_SMTP } }
webhooks:
  incoming: [{ id: w, secret_file: hook }]
`
	f, err := Parse(dir+"/c.yaml", []byte(y))
	if err != nil {
		t.Fatal(err)
	}
	if f.Agents[0].TokenSHA256 != hashToken("s3cret") {
		t.Errorf("token_file not hashed")
	}
	if f.Notifications.Email.SMTP.Password != "pw" || f.Notifications.Email.SMTP.Port != 587 || f.Notifications.Email.SMTP.TLS != "starttls" {
		t.Errorf("smtp: %+v", *f.Notifications.Email.SMTP)
	}
	if f.Webhooks.Incoming[0].Secret == "" {
		t.Errorf("webhook secret not read")
	}
	if s := f.Notifications.Email.SMTP.Password.String(); s != "[secret]" {
		t.Errorf("secret printed itself: %s", s)
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"45m", 45 * time.Minute, true},
		{"90d", 90 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"2h30m", 150 * time.Minute, true},
		{"0", 0, true},
		{"45", 0, false},
		{"d", 0, false},
		{"-5m", 0, false},
		{"3 days", 0, false},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestSyntaxErrorHasLine(t *testing.T) {
	got := parseErr(t, "territories:\n  - { id: 62, name: x }\nservices: [a, b\n")
	// yaml.v3 reports the line where the unfinished construct is noticed.
	if !strings.HasPrefix(got, "c.yaml:") || !strings.Contains(got, "YAML syntax: line") {
		t.Fatalf("got %q", got)
	}
}

func TestTrustedProxies(t *testing.T) {
	got := parseErr(t, base+`
server:
  trusted_proxies:
    - 10.0.0.0/8
    - 10.0.0.0/33
`)
	if !strings.Contains(got, `c.yaml:19:7: server.trusted_proxies[1]: "10.0.0.0/33" is not an IP network`) {
		t.Fatalf("got:\n%s", got)
	}
	f, err := Parse("c.yaml", []byte(base+`
server: { trusted_proxies: [10.1.2.3/8, 192.0.2.1, "::ffff:192.0.2.9", "2001:db8::/32"] }`))
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, p := range f.Server.Proxies {
		s = append(s, p.String())
	}
	if want := "10.0.0.0/8 192.0.2.1/32 192.0.2.9/32 2001:db8::/32"; strings.Join(s, " ") != want {
		t.Errorf("proxies %v, want %s", s, want)
	}
}

// A file whose aliases expand into millions of values (here 573 aliases
// of an agent whose organisations are an alias of 1,500 values, in 20 KB)
// is refused at once, at the line where the expansion ran over, instead
// of being decoded and validated for seconds (and again at every SIGHUP).
func TestAliasExpansionIsBounded(t *testing.T) {
	start := time.Now()
	_, err := Load("testdata/alias-bomb.yaml")
	elapsed := time.Since(start)
	var errs Errors
	if !errors.As(err, &errs) || len(errs) != 1 {
		t.Fatalf("want one error, got %v", err)
	}
	if got := errs[0].Error(); !strings.HasPrefix(got, "testdata/alias-bomb.yaml:") || !strings.Contains(got, "aliases (*name) of this file expand to more than 100 times") {
		t.Errorf("error %q", got)
	}
	if errs[0].Pos.Line < 10 {
		t.Errorf("error at line %d, want the line of an alias of the agent list", errs[0].Pos.Line)
	}
	// About 0.1 s alone, a few seconds under -race on a loaded machine;
	// the full expansion took 7 s alone (and reported 860,000 errors).
	if elapsed > 15*time.Second {
		t.Errorf("refusing the file took %v", elapsed)
	}
	// Anchors used to share blocks stay welcome.
	data, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	shared := strings.Replace(string(data), "    organisations: [mds-arras]\n", "    organisations: &arras [mds-arras]\n", 1)
	shared = strings.ReplaceAll(shared, "    organisations: [mds-arras]\n", "    organisations: *arras\n")
	if !strings.Contains(shared, "*arras") {
		t.Fatal("config.example.yaml no longer has agents of mds-arras")
	}
	if _, err := Parse("shared.yaml", []byte(shared)); err != nil {
		t.Errorf("a file sharing a list through an anchor: %v", err)
	}
}

func TestParsePeriod(t *testing.T) {
	tests := []struct {
		in   string
		want Period
		ok   bool
	}{
		{"2y", Period{Years: 2}, true},
		{"6mo", Period{Months: 6}, true},
		{"30d", Period{Days: 30}, true},
		{"4w", Period{Days: 28}, true},
		{"1y6mo", Period{Years: 1, Months: 6}, true},
		{"6m", Period{}, false}, // minutes or months? refused
		{"2", Period{}, false},
		{"y", Period{}, false},
		{"-2y", Period{}, false},
		{"2 ans", Period{}, false},
		{"48h", Period{}, false},
	}
	for _, tt := range tests {
		got, err := ParsePeriod(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
	if got := (Period{Years: 2}).Before(time.Date(2028, 2, 29, 10, 0, 0, 0, time.UTC)); !got.Equal(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)) {
		t.Errorf("2y before 2028-02-29 = %s", got)
	}
}

func TestRetentionDefaultsAndErrors(t *testing.T) {
	f, err := Parse("c.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if r := f.Retention; r.RDVs != (Period{Years: 2}) || r.Receipts != (Period{Months: 6}) || r.Spool != (Period{Days: 30}) {
		t.Errorf("defaults: %+v", r)
	}
	got := parseErr(t, base+"retention: { rdvs: 2y, receipts: 6m, spool: 0d }\n")
	for _, want := range []string{`retention.receipts: "6m" is not a period`, "retention.spool: must be a positive period"} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q:\n%s", want, got)
		}
	}
}

func TestAuth(t *testing.T) {
	t.Setenv("RDVSYNC_TEST_OIDC_SECRET", "s3cret")
	tests := []struct {
		name, extra, want string
	}{
		{"keycloak", `
auth:
  oidc: { issuer: "https://sso.example.org/realms/agents", client_id: rdvsync, client_secret_env: RDVSYNC_TEST_OIDC_SECRET }`, ""},
		{"local provider over http", `
auth:
  oidc: { issuer: "http://127.0.0.1:9000", client_id: rdvsync, client_secret_env: RDVSYNC_TEST_OIDC_SECRET }`, ""},
		{"remote provider over http", `
auth:
  oidc: { issuer: "http://sso.example.org", client_id: rdvsync, client_secret_env: RDVSYNC_TEST_OIDC_SECRET }`,
			`c.yaml:16:19: auth.oidc.issuer: "http://sso.example.org" must use https`},
		{"no client id nor secret", `
auth:
  oidc: { issuer: "https://sso.example.org" }`,
			"c.yaml:16:9: auth.oidc.client_id: is required\nc.yaml:16:9: auth.oidc: client_secret_file or client_secret_env is required"},
		{"scopes without openid", `
auth:
  oidc: { issuer: "https://sso.example.org", client_id: x, client_secret_env: RDVSYNC_TEST_OIDC_SECRET, scopes: [email] }`,
			`auth.oidc.scopes: must include "openid"`},
		{"two secrets", `
auth:
  oidc: { issuer: "https://sso.example.org", client_id: x, client_secret_env: RDVSYNC_TEST_OIDC_SECRET, client_secret_file: s }`,
			`auth.oidc.client_secret_file: give either client_secret_file or client_secret_env, not both`},
		{"unknown key", `
auth:
  oidc: { issuer: "https://sso.example.org", client_id: x, client_secret_env: RDVSYNC_TEST_OIDC_SECRET, secret: x }`,
			`c.yaml:16:105: auth.oidc.secret: unknown key "secret"`},
		{"two agents with one email", `
  - { id: a2, first_name: C, last_name: D, email: A@example.org, organisations: [o1], token_sha256: "7b09244c578ece40a4ef21c597478725fd77861def6e232dffaa647cd57f29d5" }`,
			`c.yaml:15:51: agents[1].email: "A@example.org" is already the email of agents[0]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErr(t, base+strings.TrimPrefix(tt.extra, "\n"))
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("got:\n%s\nwant: %q", got, tt.want)
			}
		})
	}
	f, err := Parse("c.yaml", []byte(base+`auth:
  oidc: { issuer: "https://sso.example.org", client_id: x, client_secret_env: RDVSYNC_TEST_OIDC_SECRET }
`))
	if err != nil {
		t.Fatal(err)
	}
	if o := f.Auth.OIDC; string(o.ClientSecret) != "s3cret" || strings.Join(o.Scopes, " ") != "openid email" || !f.Auth.EmailLinkEnabled() || f.Auth.TokenSignIn {
		t.Errorf("defaults: %+v, email link %v, token sign-in %v", o, f.Auth.EmailLinkEnabled(), f.Auth.TokenSignIn)
	}
}
