package web_test

import (
	"context"
	"crypto/rand"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/store"
	"rdvsync/internal/testenv"
	"rdvsync/internal/web"
)

var paris = mustZone("Europe/Paris")

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// now is Tuesday 1 December 2026, 10:00 in Paris. The example
// configuration then offers "Orientation RSA" at the MDS Arras on
// Thursday 3 December from 9:00 (Camille Martin alone) and on Monday 7
// December from 9:00 (Camille Martin and Thomas Leroy).
var now = time.Date(2026, 12, 1, 10, 0, 0, 0, paris)

// The first créneau of "Orientation RSA" at the MDS Arras, and a
// selection that reaches it (the prescripteur link, an usager in Arras).
const (
	firstSlot = "2026-12-03T09:00:00+01:00"
	selArras  = "prescripteur=1&adresse=3+rue+Ronville&code_postal=62000&commune=Arras&service=social&motif=rsa-orientation&lieu=mds-arras-centre&date=2026-12-03"
)

type harness struct {
	t    *testing.T
	now  *atomic.Pointer[time.Time] // the clock of booking and of the pages
	svc  *booking.Service
	cat  *catalog.Catalog
	srv  *httptest.Server
	web  *web.Web
	opts web.Options // what web was built with
}

// newHarness serves the pages of the example configuration on a fresh
// store, at the fixed clock.
func newHarness(t *testing.T, edit ...func(*web.Options)) *harness {
	t.Helper()
	return newHarnessWith(t, testenv.Example(t), edit...)
}

// newHarnessWith serves the pages of cat on a fresh store.
func newHarnessWith(t *testing.T, cat *catalog.Catalog, edit ...func(*web.Options)) *harness {
	t.Helper()
	return newHarnessEffects(t, cat, nil, edit...)
}

// effects returns what booking does with each change beside the store
// (notifications, as the daemon wires them), on the harness's clock.
type effects func(cat *catalog.Catalog, st *store.Store, clock func() time.Time) []booking.Effect

// newHarnessEffects serves the pages of cat on a fresh store, with the
// booking effects of wire (nil: none).
func newHarnessEffects(t *testing.T, cat *catalog.Catalog, wire effects, edit ...func(*web.Options)) *harness {
	t.Helper()
	st := testenv.Store(t)
	h := &harness{t: t, cat: cat, now: new(atomic.Pointer[time.Time])}
	h.setNow(now)
	clock := func() time.Time { return *h.now.Load() }
	var eff []booking.Effect
	if wire != nil {
		eff = wire(cat, st, clock)
	}
	h.svc = booking.New(func() *catalog.Catalog { return cat }, st, booking.Options{Now: clock, Effects: eff})
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	// A key of the harness's own, as the daemon reads one from the store:
	// its replicas (replica) sign forms with it too.
	key := make([]byte, 32)
	rand.Read(key)
	opts := web.Options{Booking: h.svc, Store: st, Key: key, Now: clock, PublicURL: srv.URL,
		Wrap: func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("X-Test-Wrapped", "1")
				h.ServeHTTP(w, r)
			})
		}}
	for _, e := range edit {
		e(&opts)
	}
	h.web, h.srv, h.opts = web.New(opts), srv, opts
	h.web.Register(mux)
	return h
}

// replica serves the pages of h from another web.Web on the same store,
// with the same options (form key, public URL, clock): a second daemon
// behind the load balancer, or this one after a restart.
func (h *harness) replica() *harness {
	h.t.Helper()
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	h.t.Cleanup(srv.Close)
	r := &harness{t: h.t, now: h.now, svc: h.svc, cat: h.cat, srv: srv, web: web.New(h.opts), opts: h.opts}
	r.web.Register(mux)
	return r
}

// setNow moves the clock.
func (h *harness) setNow(t time.Time) { h.now.Store(&t) }

// book books a créneau of "Orientation RSA" for an usager through a
// prescripteur, as the API would.
func (h *harness) book(start string, u booking.UsagerInput) *booking.Booked {
	h.t.Helper()
	b, err := h.svc.Book(context.Background(), booking.Caller{}, booking.BookRequest{
		MotifID: "rsa-orientation", LieuID: "mds-arras-centre", StartsAt: start, Usager: &u,
		Prescripteur: &booking.PrescripteurInput{FirstName: "Jean", LastName: "Petit", Email: "jean.petit@mediatheque.example.org", PhoneNumber: "03 21 00 00 20"},
	}, nil)
	if err != nil {
		h.t.Fatalf("book %s: %v", start, err)
	}
	return b
}

// rdvsOf lists the RDVs an agent of mds-arras sees in December 2026.
func (h *harness) rdvs() []*booking.Booked {
	h.t.Helper()
	list, err := h.svc.List(context.Background(), h.cat.Agent("camille-martin"), booking.ListRequest{From: "2026-12-01", To: "2026-12-31"})
	if err != nil {
		h.t.Fatal(err)
	}
	return list
}

// client is a browser-like HTTP client: cookies kept, redirects not followed.
type client struct {
	t    *testing.T
	h    *harness
	http *http.Client
}

func (h *harness) client() *client {
	jar, _ := cookiejar.New(nil)
	return &client{t: h.t, h: h, http: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}}
}

type response struct {
	*http.Response
	body string
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{res, string(b)}
}

func (c *client) get(path string) response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.h.srv.URL+path, nil)
	return c.do(req)
}

// post sends a form as a same-origin browser does.
func (c *client) post(path string, form url.Values, header ...string) response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.h.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.h.srv.URL)
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return c.do(req)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf returns the token of the form posting to action on the page at path.
func (c *client) csrf(path, action string) string {
	c.t.Helper()
	res := c.get(path)
	if i := strings.Index(res.body, `action="`+action+`"`); i >= 0 {
		if m := csrfField.FindStringSubmatch(res.body[i:]); m != nil {
			return m[1]
		}
	}
	c.t.Fatalf("GET %s (%d): no form to %s", path, res.StatusCode, action)
	return ""
}

// login signs the client in as an agent of the example configuration.
func (c *client) login(agentID string) {
	c.t.Helper()
	tok := c.csrf("/agents/connexion", "/agents/connexion")
	res := c.post("/agents/connexion", url.Values{"csrf": {tok}, "identifiant": {agentID}, "jeton": {"demo-token-" + agentID}})
	if res.StatusCode != http.StatusSeeOther {
		c.t.Fatalf("login %s: %d", agentID, res.StatusCode)
	}
}

func cookieNamed(res *http.Response, name string) *http.Cookie {
	for _, ck := range res.Cookies() {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func mustTime(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}
