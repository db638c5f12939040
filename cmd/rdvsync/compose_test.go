package main

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
)

// composeService is what TestComposeScaleOut reads of a compose service.
type composeService struct {
	Image       string            `yaml:"image"`
	Build       string            `yaml:"build"`
	Environment map[string]string `yaml:"environment"`
	Volumes     []string          `yaml:"volumes"`
	Ports       []string          `yaml:"ports"`
	DependsOn   map[string]struct {
		Condition string `yaml:"condition"`
	} `yaml:"depends_on"`
	Healthcheck struct {
		Test []string `yaml:"test"`
	} `yaml:"healthcheck"`
	Networks map[string]struct {
		IPv4 string `yaml:"ipv4_address"`
	} `yaml:"networks"`
}

// mount is the host side of a volume mounted at target, "" if none.
func (s composeService) mount(target string) string {
	for _, v := range s.Volumes {
		if parts := strings.Split(v, ":"); len(parts) >= 2 && parts[1] == target {
			return parts[0]
		}
	}
	return ""
}

// TestComposeScaleOut checks compose.yaml without a Docker engine: a
// PostgreSQL 15 service with a volume and a health check; rdvsync replicas
// built from the Dockerfile, whose mounted configuration passes
// check-config with the environment compose gives them, selects postgres
// through that environment, reaches the database by its service name and
// spools to a volume; nginx's upstream is exactly those replicas, on the
// port they listen on, and its compose address is a trusted proxy.
func TestComposeScaleOut(t *testing.T) {
	data, err := os.ReadFile("../../compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]composeService `yaml:"services"`
		Volumes  map[string]any            `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(data, &compose); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	named := func(source string) bool { _, ok := compose.Volumes[source]; return ok }
	pg, ok := compose.Services["postgres"]
	if !ok || !strings.HasPrefix(pg.Image, "postgres:15") || !named(pg.mount("/var/lib/postgresql/data")) || len(pg.Healthcheck.Test) == 0 {
		t.Errorf("postgres service: %+v; want image postgres:15, a named volume on its data, a health check", pg)
	}
	var replicas []string
	for name, s := range compose.Services {
		if s.Build != "" {
			replicas = append(replicas, name)
		}
		for _, p := range s.Ports {
			if !strings.HasPrefix(p, "127.0.0.1:") {
				t.Errorf("service %s publishes %s beyond loopback", name, p)
			}
		}
	}
	slices.Sort(replicas)
	if len(replicas) < 2 {
		t.Fatalf("rdvsync replicas built from the Dockerfile: %v, want 2 or more", replicas)
	}
	nginx := compose.Services["nginx"]
	var listens []string
	for _, name := range replicas {
		s := compose.Services[name]
		if s.Build != "." || s.DependsOn["postgres"].Condition != "service_healthy" || len(s.Ports) > 0 {
			t.Errorf("%s: build %q, depends on postgres %+v, ports %v: want the Dockerfile, a healthy database, no port of its own (nginx is the way in)",
				name, s.Build, s.DependsOn["postgres"], s.Ports)
		}
		cfg := composeConfig(t, s)
		if cfg == nil {
			continue
		}
		dsn, err := url.Parse(cfg.StoreDSN())
		if !cfg.Store.Postgres() || err != nil || compose.Services[dsn.Hostname()].Image != pg.Image {
			t.Errorf("%s: store %s, want postgres on the postgres service", name, cfg.StoreName())
		}
		for _, dir := range []string{cfg.MailSpoolDir(), cfg.SMSSpoolDir()} {
			vol := ""
			for _, v := range s.Volumes {
				if parts := strings.Split(v, ":"); len(parts) >= 2 && strings.HasPrefix(dir, parts[1]+"/") {
					vol = parts[0]
				}
			}
			if !named(vol) {
				t.Errorf("%s: spool %s is not in a named volume: the messages would go with the container", name, dir)
			}
		}
		listens = append(listens, cfg.Server.Listen)
		if ip := nginx.Networks["rdvsync"].IPv4; ip == "" || !slices.Contains(cfg.Server.TrustedProxies, ip) {
			t.Errorf("%s: server.trusted_proxies %v does not name nginx's address %q", name, cfg.Server.TrustedProxies, ip)
		}
	}

	conf, err := os.ReadFile(filepath.Join("../..", nginx.mount("/etc/nginx/conf.d/default.conf")))
	if err != nil {
		t.Fatalf("nginx configuration: %v", err)
	}
	upstream := regexp.MustCompile(`(?s)upstream\s+(\S+)\s*\{(.*?)\}`).FindStringSubmatch(string(conf))
	if upstream == nil {
		t.Fatal("nginx.conf has no upstream block")
	}
	var servers []string
	for _, m := range regexp.MustCompile(`(?m)^\s*server\s+([^\s;]+)`).FindAllStringSubmatch(upstream[2], -1) {
		host, port, _ := net.SplitHostPort(m[1])
		servers = append(servers, host)
		for _, l := range listens {
			if _, p, _ := net.SplitHostPort(l); p != port {
				t.Errorf("upstream server %s: the daemons listen on %s", m[1], l)
			}
		}
	}
	slices.Sort(servers)
	if !slices.Equal(servers, replicas) {
		t.Errorf("nginx upstream servers %v, want the replicas %v", servers, replicas)
	}
	for _, want := range []string{"proxy_pass http://" + upstream[1] + ";", "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;"} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("nginx.conf lacks %s", want)
		}
	}
}

// composeConfig loads the configuration s mounts, as check-config does
// inside the container: with the environment compose gives it (variables
// interpolated) and the token files its agents name.
func composeConfig(t *testing.T, s composeService) *config.File {
	t.Helper()
	src := s.mount("/etc/rdvsync/config.yaml")
	data, err := os.ReadFile(filepath.Join("../..", src))
	if err != nil {
		t.Errorf("configuration mounted at /etc/rdvsync/config.yaml (%q): %v", src, err)
		return nil
	}
	interpolate := regexp.MustCompile(`\$\{(\w+)(:?[?-][^}]*)?\}`)
	for k, v := range s.Environment {
		t.Setenv(k, interpolate.ReplaceAllString(v, "compose-test-password"))
	}
	dir := t.TempDir()
	var raw struct {
		Agents []struct {
			TokenFile string `yaml:"token_file"`
		} `yaml:"agents"`
	}
	yaml.Unmarshal(data, &raw)
	for _, a := range raw.Agents {
		if a.TokenFile != "" && !filepath.IsAbs(a.TokenFile) {
			os.MkdirAll(filepath.Dir(filepath.Join(dir, a.TokenFile)), 0o700)
			os.WriteFile(filepath.Join(dir, a.TokenFile), []byte("0123456789abcdef0123456789abcdef\n"), 0o600)
		}
	}
	f, err := config.Parse(filepath.Join(dir, "config.yaml"), data)
	if err == nil {
		_, err = catalog.Build(f)
	}
	if err != nil {
		t.Errorf("%s does not pass check-config with the compose environment:\n%v", src, err)
		return nil
	}
	return f
}
