package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Store backends (store.driver): one daemon on a bbolt file, the embedded
// default, or several daemons sharing one PostgreSQL database
// (docs/deployment.md).
const (
	DriverBolt     = "bbolt"
	DriverPostgres = "postgres"
)

// DefaultDeliveryLease and MinDeliveryLease bound store.delivery_lease.
const (
	DefaultDeliveryLease = 80 * time.Second
	MinDeliveryLease     = 2 * time.Second
)

// Store says where the data is: a bbolt file (Path), or a PostgreSQL
// database (the connection string in DSN, or in the environment variable
// DSNEnv names, so that its password stays out of the file).
type Store struct {
	Driver string `yaml:"driver"`
	Path   string `yaml:"path"`
	DSN    string `yaml:"dsn"`
	DSNEnv string `yaml:"dsn_env"`
	// DeliveryLease is how long a daemon sharing the database holds a
	// delivery (calendar push, notification, webhook) it took: if it dies
	// mid-delivery, another takes the delivery over when the lease ends.
	// Deliveries time out before it. Postgres only (default 80s).
	DeliveryLease Duration `yaml:"delivery_lease"`
	// ResolvedDSN is the connection string Load read from DSN or DSNEnv
	// (postgres only). It never prints itself: use File.StoreName in
	// messages.
	ResolvedDSN Secret `yaml:"-"`
}

// Postgres reports whether the data is in a PostgreSQL database.
func (s Store) Postgres() bool { return s.Driver == DriverPostgres }

// StorePath is the bbolt file path, relative paths taken from the config
// file's directory; "" with driver postgres.
func (f *File) StorePath() string { return f.resolve(f.Store.Path) }

// StoreDSN is the PostgreSQL connection string, read from store.dsn or
// from the environment variable store.dsn_env names when the file was
// loaded; "" with driver bbolt. It may hold a password: never log it.
func (f *File) StoreDSN() string { return string(f.Store.ResolvedDSN) }

// StoreName names the store for operators (logs, check-config): the bbolt
// file, or the database without its password.
func (f *File) StoreName() string {
	if !f.Store.Postgres() {
		return f.StorePath()
	}
	name := "PostgreSQL " + redactDSN(f.StoreDSN())
	if f.Store.DSNEnv != "" {
		name += " (from $" + f.Store.DSNEnv + ")"
	}
	return name
}

// MailSpoolDir is where emails are written as .eml files when no SMTP
// server is configured: notifications.email.spool_dir, else mail/ beside
// the bbolt file; "" when neither applies (driver postgres with SMTP).
func (f *File) MailSpoolDir() string {
	return f.spoolDir(f.Notifications.Email.SpoolDir, "mail")
}

// SMSSpoolDir is where SMS are written as .txt files when no SMS provider
// is configured: notifications.sms.spool_dir, else sms/ beside the bbolt
// file; "" when neither applies (driver postgres with a provider).
func (f *File) SMSSpoolDir() string {
	return f.spoolDir(f.Notifications.SMS.SpoolDir, "sms")
}

func (f *File) spoolDir(configured, beside string) string {
	switch {
	case configured != "":
		return f.resolve(configured)
	case f.Store.Postgres():
		return ""
	default:
		return filepath.Join(filepath.Dir(f.StorePath()), beside)
	}
}

// store checks the store block and the spool folders, which default to
// folders beside the bbolt file and so must be named when there is none.
func (v *validator) store() {
	s := &v.f.Store
	oneOf(v, "store.driver", &s.Driver, DriverBolt, DriverBolt, DriverPostgres)
	switch s.Driver {
	case DriverBolt:
		if s.Path == "" {
			s.Path = "data/rdvsync.db"
		}
		for _, k := range []string{"dsn", "dsn_env", "delivery_lease"} {
			if v.has("store." + k) {
				v.errorf("store."+k, "only used with driver: postgres (the bbolt store is the file in store.path)")
			}
		}
	case DriverPostgres:
		if v.has("store.path") {
			v.errorf("store.path", "not used with driver: postgres (the data is in the database of dsn or dsn_env): remove it")
		}
		v.postgresDSN(s)
		switch d := s.DeliveryLease.D(); {
		case d == 0:
			s.DeliveryLease = Duration(DefaultDeliveryLease)
		case d < MinDeliveryLease:
			v.errorf("store.delivery_lease", "%s is too short: a delivery must have time to end before another daemon takes it over (at least %s)", d, MinDeliveryLease)
		}
		n := v.f.Notifications
		if n.Email.SMTP == nil && n.Email.SpoolDir == "" {
			v.errorf("notifications.email.spool_dir", "is required with store driver postgres when there is no smtp block "+
				"(there is no store file to write the emails beside): name a folder, or configure smtp")
		}
		if n.SMS.Webhook == nil && n.SMS.SpoolDir == "" {
			v.errorf("notifications.sms.spool_dir", "is required with store driver postgres when there is no sms webhook "+
				"(there is no store file to write the SMS beside): name a folder, or configure sms.webhook")
		}
	}
}

// postgresDSN reads the connection string from dsn or dsn_env and checks
// its form. Messages never quote it: it may hold a password.
func (v *validator) postgresDSN(s *Store) {
	const form = "postgres://user@host:5432/database, or host=… dbname=… user=…"
	switch {
	case s.DSN != "" && s.DSNEnv != "":
		v.errorf("store.dsn_env", "give either dsn or dsn_env, not both")
	case s.DSN != "":
		kv, err := parseDSN(s.DSN)
		switch {
		case err != nil:
			v.errorf("store.dsn", "is not a PostgreSQL connection string (%s): %s", form, err)
		case kv.hasPassword():
			v.errorf("store.dsn", "holds a password, and secrets are never written in this file: "+
				"put the whole connection string in an environment variable named by dsn_env, "+
				"or the password in PGPASSWORD or a ~/.pgpass file")
		default:
			s.ResolvedDSN = Secret(s.DSN)
		}
	case s.DSNEnv != "":
		dsn, ok := os.LookupEnv(s.DSNEnv)
		if !ok || strings.TrimSpace(dsn) == "" {
			v.errorf("store.dsn_env", "environment variable %s is not set (it must hold the connection string: %s)", s.DSNEnv, form)
			return
		}
		if _, err := parseDSN(dsn); err != nil {
			v.errorf("store.dsn_env", "environment variable %s does not hold a PostgreSQL connection string (%s): %s", s.DSNEnv, form, err)
			return
		}
		s.ResolvedDSN = Secret(dsn)
	default:
		v.errorf("store", "driver postgres needs dsn (a connection string without password) or dsn_env (the environment variable holding it)")
	}
}

// connString is a parsed connection string: a postgres:// URL, or libpq's
// keyword/value form (PostgreSQL documentation, "Connection Strings").
type connString struct {
	u     *url.URL
	pairs [][2]string // keyword/value form, in order
}

// secretKeys are the parameters that hold a secret.
var secretKeys = map[string]bool{"password": true, "sslpassword": true}

// parseDSN parses a connection string. Its errors never quote the string.
func parseDSN(s string) (connString, error) {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://") {
		u, err := url.Parse(s)
		if err != nil {
			return connString{}, fmt.Errorf("the URL cannot be parsed (check that special characters of the user and password are %%-encoded)")
		}
		return connString{u: u}, nil
	}
	if strings.Contains(s, "://") {
		return connString{}, fmt.Errorf("a URL must start with postgres:// or postgresql://")
	}
	var d connString
	for s != "" {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return connString{}, fmt.Errorf("expected keyword=value pairs separated by spaces")
		}
		key := strings.TrimSpace(s[:eq])
		if key == "" || strings.ContainsAny(key, " \t'\\") {
			return connString{}, fmt.Errorf("expected keyword=value pairs separated by spaces")
		}
		s = strings.TrimLeft(s[eq+1:], " \t\n")
		var val strings.Builder
		if strings.HasPrefix(s, "'") {
			// A quoted value: \' and \\ are escapes.
			i, closed := 1, false
			for ; i < len(s); i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
					val.WriteByte(s[i])
					continue
				}
				if s[i] == '\'' {
					closed = true
					break
				}
				val.WriteByte(s[i])
			}
			if !closed {
				return connString{}, fmt.Errorf("the value of %s has no closing quote", key)
			}
			s = s[i+1:]
		} else {
			end := strings.IndexAny(s, " \t\n")
			if end < 0 {
				end = len(s)
			}
			val.WriteString(s[:end])
			s = s[end:]
		}
		d.pairs = append(d.pairs, [2]string{key, val.String()})
		s = strings.TrimLeft(s, " \t\n")
	}
	if len(d.pairs) == 0 {
		return connString{}, fmt.Errorf("it is empty")
	}
	return d, nil
}

func (d connString) hasPassword() bool {
	if d.u != nil {
		if _, ok := d.u.User.Password(); ok {
			return true
		}
		for k := range d.u.Query() {
			if secretKeys[k] {
				return true
			}
		}
		return false
	}
	for _, p := range d.pairs {
		if secretKeys[p[0]] {
			return true
		}
	}
	return false
}

// redactDSN is the connection string without its secrets, for messages.
func redactDSN(s string) string {
	d, err := parseDSN(s)
	if err != nil {
		return "(connection string not shown)"
	}
	if d.u != nil {
		u := *d.u
		if u.User != nil {
			u.User = url.User(u.User.Username())
		}
		q := u.Query()
		for k := range q {
			if secretKeys[k] {
				q.Del(k)
			}
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	var parts []string
	for _, p := range d.pairs {
		if secretKeys[p[0]] {
			continue
		}
		v := p[1]
		if v == "" || strings.ContainsAny(v, " '\\") {
			v = "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
		}
		parts = append(parts, p[0]+"="+v)
	}
	return strings.Join(parts, " ")
}
