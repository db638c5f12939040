package web_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/ratelimit"
	"rdvsync/internal/slots"
	"rdvsync/internal/web"
)

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// bookThroughPages books start through the prescripteur link as a browser
// does (two forms, then the recap's confirmation) and returns the first
// answer that is not the expected one, or the confirmation's.
func bookThroughPages(c *client, start time.Time) response {
	c.t.Helper()
	sel := "prescripteur=1&adresse=3+rue+Ronville&code_postal=62000&commune=Arras&service=social&motif=rsa-orientation&lieu=mds-arras-centre&date=" +
		start.In(paris).Format("2006-01-02") + "&creneau=" + url.QueryEscape(start.In(paris).Format(time.RFC3339))
	form, _ := url.ParseQuery(sel)
	form.Set("csrf", c.csrf("/prendre_rdv/prescripteur?"+sel, "/prendre_rdv/prescripteur"))
	form.Set("prenom", "Jean")
	form.Set("nom", "Petit")
	form.Set("email", "jean.petit@mediatheque.example.org")
	if res := c.post("/prendre_rdv/prescripteur", form); res.StatusCode != http.StatusSeeOther {
		return res
	}
	form, _ = url.ParseQuery(sel)
	form.Set("csrf", c.csrf("/prendre_rdv/beneficiaire?"+sel, "/prendre_rdv/beneficiaire"))
	form.Set("prenom", "Léa")
	form.Set("nom", "Dubois")
	recap := c.post("/prendre_rdv/beneficiaire", form)
	if recap.StatusCode != http.StatusOK {
		return recap
	}
	i := strings.Index(recap.body, `action="/prendre_rdv/confirmer"`)
	end := i + strings.Index(recap.body[i:], "</form>")
	confirm := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(recap.body[i:end], -1) {
		confirm.Add(m[1], html.UnescapeString(m[2]))
	}
	return c.post("/prendre_rdv/confirmer", confirm)
}

// wantTooMany checks the HTML error page with 429 and Retry-After.
func wantTooMany(t *testing.T, res response, what string) {
	t.Helper()
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(res.body, "Trop de") || !strings.Contains(res.body, `data-page="error"`) {
		t.Fatalf("%s: %d, want the 429 error page", what, res.StatusCode)
	}
	if secs, err := strconv.Atoi(res.Header.Get("Retry-After")); err != nil || secs < 1 || secs > 90 {
		t.Errorf("%s: Retry-After %q", what, res.Header.Get("Retry-After"))
	}
}

// TestPagesFloodIsLimited: the pages bypassed the API's anonymous limit
// (40 bookings in 2.3 s from one IP through /prendre_rdv). Now the forms
// and the slot pages spend the same per-client budget as the API.
func TestPagesFloodIsLimited(t *testing.T) {
	h := newHarness(t, func(o *web.Options) { o.Anonymous = ratelimit.PerMinute(120, 30) })
	agent := h.client()
	agent.login("camille-martin") // before the flood: signing in is a form too
	var list []slots.Slot
	for _, w := range [][2]string{{"2026-12-03", "2026-12-31"}, {"2027-01-01", "2027-01-31"}} {
		l, err := h.svc.Slots(context.Background(), booking.Caller{}, booking.SlotsRequest{
			MotifID: "rsa-orientation", LieuID: "mds-arras-centre", From: w[0], To: w[1]})
		if err != nil {
			t.Fatal(err)
		}
		list = append(list, l...)
	}
	if len(list) < 40 {
		t.Fatalf("%d slots", len(list))
	}
	c := h.client()
	var refused response
	for _, s := range list[:40] {
		res := bookThroughPages(c, s.Start)
		if res.StatusCode == http.StatusSeeOther {
			continue
		}
		refused = res
		break
	}
	if refused.Response == nil {
		t.Fatalf("40 bookings through the pages, none refused")
	}
	wantTooMany(t, refused, "flood of bookings")
	if n := len(h.rdvs()); n > 10 {
		t.Errorf("%d bookings went through, want at most 10 (3 forms each within a burst of 30)", n)
	}
	// The slot pages are limited too; a signed-in agent is not.
	wantTooMany(t, c.get("/prendre_rdv?"+selArras), "slot page")
	if res := agent.get("/prendre_rdv?" + selArras); res.StatusCode != http.StatusOK {
		t.Errorf("signed-in agent: %d", res.StatusCode)
	}
}

// TestUsagerLinkGuessingThrottled: wrong tokens on /rdv/{id}?token= are
// failed authentications; after 10, even the right link waits.
func TestUsagerLinkGuessingThrottled(t *testing.T) {
	h := newHarness(t)
	lea := h.book(firstSlot, booking.UsagerInput{FirstName: "Léa", LastName: "Dubois"})
	c := h.client()
	for i := range 10 {
		if res := c.get("/rdv/" + lea.RDV.ID + "?token=guess" + strconv.Itoa(i)); res.StatusCode != http.StatusNotFound {
			t.Fatalf("guess %d: %d", i, res.StatusCode)
		}
	}
	wantTooMany(t, c.get("/rdv/"+lea.RDV.ID+"?token="+url.QueryEscape(lea.RDV.UsagerToken)), "right link after 10 wrong ones")
	wantTooMany(t, c.get("/rdv/"+lea.RDV.ID+"/rdv.ics?token=x"), "the .ics")
}

// TestOneThrottleForEveryCredential: failures on the sign-in form and on
// usager links add up in the throttle the daemon shares with the API and
// CalDAV.
func TestOneThrottleForEveryCredential(t *testing.T) {
	shared := ratelimit.NewFailures(0, 0)
	h := newHarness(t, func(o *web.Options) { o.Failures = shared })
	c := h.client()
	tok := c.csrf("/agents/connexion", "/agents/connexion")
	for i := range 5 {
		c.post("/agents/connexion", url.Values{"csrf": {tok}, "identifiant": {"camille-martin"}, "jeton": {"guess" + strconv.Itoa(i)}})
	}
	for i := range 4 {
		c.get("/rdv/x?token=guess" + strconv.Itoa(i))
	}
	shared.Failed("127.0.0.1", time.Now()) // say, a wrong Bearer token on the API
	res := c.post("/agents/connexion", url.Values{"csrf": {tok}, "identifiant": {"camille-martin"}, "jeton": {"demo-token-camille-martin"}})
	if res.StatusCode != http.StatusTooManyRequests || res.Header.Get("Retry-After") == "" {
		t.Errorf("sign-in after 10 failures of any kind: %d", res.StatusCode)
	}
}
