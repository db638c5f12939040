package main

import (
	"html"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestDaemonSignInLink runs the daemon on the example configuration
// (mail spooled): an agent asks for a sign-in link, reads it in the .eml
// the daemon leaves beside the store, follows it and opens its agenda;
// after a restart it is still signed in, and the link stays spent.
func TestDaemonSignInLink(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the daemon")
	}
	dir, bin, cfg, conf := daemonSetup(t)
	if err := os.WriteFile(cfg, conf, 0o600); err != nil {
		t.Fatal(err)
	}
	d := startDaemon(t, bin, cfg, "-log-level", "info")
	b := newPageClient(t, d.url)

	tok := b.csrf("/agents/connexion", "/agents/connexion/lien")
	if res := b.post("/agents/connexion/lien", url.Values{"csrf": {tok}, "email": {"Camille.Martin@example.org"}, "retour": {"/agents/agenda"}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("ask for a link: %d", res.StatusCode)
	}
	mailDir := filepath.Join(dir, "data", "mail")
	var eml string
	deadline := time.Now().Add(15 * time.Second)
	for eml == "" {
		found, _ := filepath.Glob(filepath.Join(mailDir, "signin.*.camille-martin.eml"))
		if len(found) > 0 {
			eml = found[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no sign-in link in the mail spool")
		}
		time.Sleep(50 * time.Millisecond)
	}
	to, subject, body := readEmail(t, eml)
	if !strings.Contains(to, "camille.martin@example.org") || subject != "Votre lien de connexion à RDV Solidarités" {
		t.Errorf("sign-in email: To %q, Subject %q", to, subject)
	}
	m := regexp.MustCompile(`http://127\.0\.0\.1:8080(/agents/connexion/lien\?jeton=[A-Za-z0-9_%-]+)`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no link in the email:\n%s", body)
	}
	// The example's public_url is the default address; the test daemon
	// listens elsewhere.
	link := m[1]
	page := b.get(link)
	jeton := regexp.MustCompile(`name="jeton" value="([^"]+)"`).FindStringSubmatch(page.body)
	if page.StatusCode != http.StatusOK || jeton == nil {
		t.Fatalf("link page: %d", page.StatusCode)
	}
	tok = b.csrf(link, "/agents/connexion/lien/valider")
	res := b.post("/agents/connexion/lien/valider", url.Values{"csrf": {tok}, "jeton": {html.UnescapeString(jeton[1])}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/agents/agenda" {
		t.Fatalf("sign in by link: %d %q", res.StatusCode, res.Header.Get("Location"))
	}
	if agenda := b.get("/agents/agenda"); agenda.StatusCode != http.StatusOK || !strings.Contains(agenda.body, "Mon agenda") {
		t.Errorf("agenda: %d", agenda.StatusCode)
	}
	if strings.Contains(d.stderr.String(), "camille.martin@example.org") {
		t.Error("the daemon logged the agent's address")
	}

	// A restart keeps the agent signed in (the session is in the store),
	// and the link it used does not sign anyone in again.
	d.cmd.Process.Signal(syscall.SIGTERM)
	if err := d.cmd.Wait(); err != nil {
		t.Fatalf("stop: %v\n%s", err, d.stderr.String())
	}
	logs := d.stderr.String()
	d = startDaemon(t, bin, cfg, "-log-level", "info")
	b.base = d.url
	if agenda := b.get("/agents/agenda"); agenda.StatusCode != http.StatusOK || !strings.Contains(agenda.body, "Mon agenda") {
		t.Errorf("agenda after a restart: %d", agenda.StatusCode)
	}
	if page := newPageClient(t, d.url).get(link); page.StatusCode != http.StatusGone {
		t.Errorf("the used link after a restart: %d", page.StatusCode)
	}
	// Neither the link's token nor the session id is in the logs.
	u, _ := url.Parse(d.url)
	secrets := []string{html.UnescapeString(jeton[1])}
	for _, ck := range b.http.Jar.Cookies(u) {
		if ck.Name == "rdvsync_agent" {
			secrets = append(secrets, ck.Value)
		}
	}
	if len(secrets) != 2 {
		t.Fatalf("no session cookie: %v", b.http.Jar.Cookies(u))
	}
	logs += d.stderr.String()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			t.Error("the daemon logged a sign-in token or session id")
		}
	}
	if !strings.Contains(logs, "agent signed in") {
		t.Errorf("the sign-in is not in the log (wrong level?):\n%s", logs)
	}
}

// readEmail returns the To, the decoded Subject and the text part of an .eml.
func readEmail(t *testing.T, path string) (to, subject, text string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	if err != nil {
		t.Fatal(err)
	}
	subject, _ = new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		t.Fatal(err)
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "text/plain") {
			b, _ := io.ReadAll(p) // multipart decodes quoted-printable
			text = string(b)
		}
	}
	return msg.Header.Get("To"), subject, text
}

// pageClient is a browser-like client of the daemon's pages: cookies
// kept, redirects not followed, forms posted same-origin.
type pageClient struct {
	t    *testing.T
	base string
	http *http.Client
}

type pageResponse struct {
	*http.Response
	body string
}

func newPageClient(t *testing.T, base string) *pageClient {
	jar, _ := cookiejar.New(nil)
	return &pageClient{t: t, base: base, http: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (c *pageClient) do(req *http.Request) pageResponse {
	c.t.Helper()
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return pageResponse{res, string(b)}
}

func (c *pageClient) get(path string) pageResponse {
	req, _ := http.NewRequest(http.MethodGet, c.base+path, nil)
	return c.do(req)
}

func (c *pageClient) post(path string, form url.Values) pageResponse {
	req, _ := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.base)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	return c.do(req)
}

// csrf returns the token of the form posting to action on the page at path.
func (c *pageClient) csrf(path, action string) string {
	c.t.Helper()
	res := c.get(path)
	if i := strings.Index(res.body, `action="`+action+`"`); i >= 0 {
		if m := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(res.body[i:]); m != nil {
			return m[1]
		}
	}
	c.t.Fatalf("GET %s (%d): no form to %s", path, res.StatusCode, action)
	return ""
}
