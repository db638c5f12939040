package config

import (
	"fmt"
	"strings"
	"testing"
)

// The password every test DSN carries: no message may show it.
const dsnPassword = "s3cr3t-pw"

// TestStoreErrors: each mistake in the store block (and the spool folders
// a PostgreSQL store needs) is one message at the key, and none quotes a
// password.
func TestStoreErrors(t *testing.T) {
	t.Setenv("RDVSYNC_TEST_BAD_DSN", "mysql://rdvsync:"+dsnPassword+"@db/rdvsync")
	t.Setenv("RDVSYNC_TEST_DSN", "postgres://rdvsync:"+dsnPassword+"@db:5432/rdvsync")
	const spools = "notifications: { email: { spool_dir: /var/spool/rdvsync/mail }, sms: { spool_dir: /var/spool/rdvsync/sms } }\n"
	tests := []struct{ name, yaml, want string }{
		{"unknown driver", "store: { driver: mysql }\n",
			`c.yaml:1:18: store.driver: "mysql" is not allowed (use one of: bbolt, postgres)`},
		{"dsn with bbolt", "store: { path: data/x.db, dsn: \"host=db\" }\n",
			`c.yaml:1:32: store.dsn: only used with driver: postgres (the bbolt store is the file in store.path)`},
		{"dsn_env with the default driver", "store:\n  dsn_env: RDVSYNC_TEST_DSN\n",
			`c.yaml:2:12: store.dsn_env: only used with driver: postgres`},
		{"path with postgres", "store: { driver: postgres, path: data/x.db, dsn_env: RDVSYNC_TEST_DSN }\n" + spools,
			`c.yaml:1:34: store.path: not used with driver: postgres`},
		{"neither dsn nor dsn_env", "store: { driver: postgres }\n" + spools,
			`c.yaml:1:8: store: driver postgres needs dsn (a connection string without password) or dsn_env`},
		{"both dsn and dsn_env", "store: { driver: postgres, dsn: \"host=db dbname=rdvsync\", dsn_env: RDVSYNC_TEST_DSN }\n" + spools,
			`c.yaml:1:68: store.dsn_env: give either dsn or dsn_env, not both`},
		{"password in a URL", "store: { driver: postgres, dsn: \"postgres://rdvsync:" + dsnPassword + "@db/rdvsync\" }\n" + spools,
			`c.yaml:1:33: store.dsn: holds a password, and secrets are never written in this file`},
		{"password as a URL parameter", "store: { driver: postgres, dsn: \"postgres://db/rdvsync?user=r&password=" + dsnPassword + "\" }\n" + spools,
			`store.dsn: holds a password`},
		{"password as a keyword", "store: { driver: postgres, dsn: \"host=db dbname=rdvsync password='" + dsnPassword + "'\" }\n" + spools,
			`store.dsn: holds a password`},
		{"malformed keywords", "store: { driver: postgres, dsn: \"host=db " + dsnPassword + "\" }\n" + spools,
			`store.dsn: is not a PostgreSQL connection string (postgres://user@host:5432/database, or host=… dbname=… user=…): expected keyword=value pairs separated by spaces`},
		{"unclosed quote", "store: { driver: postgres, dsn: \"host=db password='" + dsnPassword + "\" }\n" + spools,
			`store.dsn: is not a PostgreSQL connection string (postgres://user@host:5432/database, or host=… dbname=… user=…): the value of password has no closing quote`},
		{"unset variable", "store: { driver: postgres, dsn_env: RDVSYNC_TEST_UNSET_DSN }\n" + spools,
			`c.yaml:1:37: store.dsn_env: environment variable RDVSYNC_TEST_UNSET_DSN is not set (it must hold the connection string: postgres://user@host:5432/database`},
		{"variable not holding a DSN", "store: { driver: postgres, dsn_env: RDVSYNC_TEST_BAD_DSN }\n" + spools,
			`c.yaml:1:37: store.dsn_env: environment variable RDVSYNC_TEST_BAD_DSN does not hold a PostgreSQL connection string (postgres://user@host:5432/database, or host=… dbname=… user=…): a URL must start with postgres:// or postgresql://`},
		{"postgres spooling without folders", "store: { driver: postgres, dsn_env: RDVSYNC_TEST_DSN }\n",
			"c.yaml: notifications.email.spool_dir: is required with store driver postgres when there is no smtp block"},
		{"postgres spooling SMS without a folder", "store: { driver: postgres, dsn_env: RDVSYNC_TEST_DSN }\n" +
			"notifications:\n  email: { spool_dir: /var/spool/rdvsync/mail }\n",
			"c.yaml:3:3: notifications.sms.spool_dir: is required with store driver postgres when there is no sms webhook"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := parseErr(t, base+tt.yaml)
			// base takes the first lines of the file: positions are
			// relative to tt.yaml, as the admin would read them there.
			got = shiftLines(got, strings.Count(base, "\n"))
			if !strings.Contains(got, tt.want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
			if strings.Contains(got, dsnPassword) {
				t.Errorf("the message shows the password:\n%s", got)
			}
		})
	}
}

// shiftLines rewrites "c.yaml:N:" positions as N-by.
func shiftLines(msg string, by int) string {
	lines := strings.Split(msg, "\n")
	for i, l := range lines {
		var n, col int
		var rest string
		if k, _ := fmt.Sscanf(l, "c.yaml:%d:%d:", &n, &col); k == 2 {
			_, rest, _ = strings.Cut(l, fmt.Sprintf("c.yaml:%d:%d:", n, col))
			lines[i] = fmt.Sprintf("c.yaml:%d:%d:%s", n-by, col, rest)
		}
	}
	return strings.Join(lines, "\n")
}

// TestStoreBolt: without a store block the store is a bbolt file, and the
// spools are folders beside it unless named.
func TestStoreBolt(t *testing.T) {
	f, err := Parse("/etc/rdvsync/config.yaml", []byte(base))
	if err != nil {
		t.Fatal(err)
	}
	if f.Store.Driver != DriverBolt || f.Store.Postgres() || f.StorePath() != "/etc/rdvsync/data/rdvsync.db" || f.StoreDSN() != "" {
		t.Errorf("default store: %+v, path %s", f.Store, f.StorePath())
	}
	if f.MailSpoolDir() != "/etc/rdvsync/data/mail" || f.SMSSpoolDir() != "/etc/rdvsync/data/sms" {
		t.Errorf("default spools: %s, %s", f.MailSpoolDir(), f.SMSSpoolDir())
	}
	f, err = Parse("/etc/rdvsync/config.yaml", []byte(base+"store: { driver: bbolt, path: /var/lib/rdvsync/rdvsync.db }\n"+
		"notifications: { email: { spool_dir: outgoing/mail }, sms: { spool_dir: /var/spool/sms } }\n"))
	if err != nil {
		t.Fatal(err)
	}
	if f.StoreName() != "/var/lib/rdvsync/rdvsync.db" || f.MailSpoolDir() != "/etc/rdvsync/outgoing/mail" || f.SMSSpoolDir() != "/var/spool/sms" {
		t.Errorf("store %s, spools %s, %s", f.StoreName(), f.MailSpoolDir(), f.SMSSpoolDir())
	}
}

// TestStorePostgres: the connection string is read from the environment
// at load time, and shown without its password.
func TestStorePostgres(t *testing.T) {
	tests := []struct {
		name, env, store, notifications string
		dsn, shown, mail, sms           string
	}{
		{
			name:          "URL from the environment, spooling",
			env:           "postgres://rdvsync:" + dsnPassword + "@db:5432/rdvsync?sslmode=require&sslpassword=" + dsnPassword,
			store:         "{ driver: postgres, dsn_env: RDVSYNC_TEST_DSN }",
			notifications: "{ email: { spool_dir: spool/mail }, sms: { spool_dir: /var/spool/rdvsync/sms } }",
			shown:         "PostgreSQL postgres://rdvsync@db:5432/rdvsync?sslmode=require (from $RDVSYNC_TEST_DSN)",
			mail:          "/etc/rdvsync/spool/mail", sms: "/var/spool/rdvsync/sms",
		},
		{
			name:          "keywords from the environment",
			env:           "host=db port=5432 dbname=rdvsync user=rdvsync password='a b\\'c'",
			store:         "{ driver: postgres, dsn_env: RDVSYNC_TEST_DSN }",
			notifications: "{ email: { spool_dir: /m }, sms: { spool_dir: /s } }",
			shown:         "PostgreSQL host=db port=5432 dbname=rdvsync user=rdvsync (from $RDVSYNC_TEST_DSN)",
			mail:          "/m", sms: "/s",
		},
		{
			name:          "inline without password, providers configured: no spool",
			store:         "{ driver: postgres, dsn: \"host=/run/postgresql dbname=rdvsync\" }",
			notifications: "{ email: { smtp: { host: smtp.example.org } }, sms: { webhook: { url: \"https://sms.example.org/send\", token_env: RDVSYNC_TEST_SMS_TOKEN } } }",
			dsn:           "host=/run/postgresql dbname=rdvsync",
			shown:         "PostgreSQL host=/run/postgresql dbname=rdvsync",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("RDVSYNC_TEST_DSN", tt.env)
			t.Setenv("RDVSYNC_TEST_SMS_TOKEN", "token")
			f, err := Parse("/etc/rdvsync/config.yaml", []byte(base+"store: "+tt.store+"\nnotifications: "+tt.notifications+"\n"))
			if err != nil {
				t.Fatal(err)
			}
			want := tt.dsn
			if want == "" {
				want = tt.env
			}
			if !f.Store.Postgres() || f.StoreDSN() != want || f.StorePath() != "" {
				t.Errorf("store %+v: dsn %q, path %q", f.Store, f.StoreDSN(), f.StorePath())
			}
			if f.StoreName() != tt.shown {
				t.Errorf("StoreName %q, want %q", f.StoreName(), tt.shown)
			}
			if f.MailSpoolDir() != tt.mail || f.SMSSpoolDir() != tt.sms {
				t.Errorf("spools %q, %q; want %q, %q", f.MailSpoolDir(), f.SMSSpoolDir(), tt.mail, tt.sms)
			}
			if s := fmt.Sprintf("%v %+v", f.Store, f); strings.Contains(s, dsnPassword) {
				t.Errorf("printing the configuration shows the password")
			}
		})
	}
}
