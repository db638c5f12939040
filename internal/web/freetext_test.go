package web_test

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// A context typed on two lines in the booking page (browsers send CRLF)
// is stored with LF, the form a calendar can carry; a name with a
// right-to-left override is refused at the step where it was typed.
func TestBookingPageNormalisesFreeText(t *testing.T) {
	h := newHarness(t)
	c := h.client()
	sel := selArras + "&creneau=" + url.QueryEscape(firstSlot)
	form, _ := url.ParseQuery(sel)
	form.Set("csrf", c.csrf("/prendre_rdv/prescripteur?"+sel, "/prendre_rdv/prescripteur"))
	form.Set("prenom", "Jean")
	form.Set("nom", "Petit")
	form.Set("email", "jean.petit@mediatheque.example.org")
	if res := c.post("/prendre_rdv/prescripteur", form); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("prescripteur: %d", res.StatusCode)
	}
	beneficiaire := func(last, context string) response {
		form, _ := url.ParseQuery(sel)
		form.Set("csrf", c.csrf("/prendre_rdv/beneficiaire?"+sel, "/prendre_rdv/beneficiaire"))
		form.Set("prenom", "Léa")
		form.Set("nom", last)
		form.Set("contexte", context)
		return c.post("/prendre_rdv/beneficiaire", form)
	}
	res := beneficiaire("Dubois\u202egnp.exe", "")
	if res.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(res.body, "changement de sens d&#39;écriture") {
		t.Errorf("name with a right-to-left override: %d, want the form again with a field error", res.StatusCode)
	}
	recap := beneficiaire("Dubois", "Première ligne\r\nSeconde ligne")
	if recap.StatusCode != http.StatusOK {
		t.Fatalf("recap: %d", recap.StatusCode)
	}
	i := strings.Index(recap.body, `action="/prendre_rdv/confirmer"`)
	end := i + strings.Index(recap.body[i:], "</form>")
	confirm := url.Values{}
	for _, m := range regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`).FindAllStringSubmatch(recap.body[i:end], -1) {
		// A browser submits every line break as CRLF (HTML §4.10.21.8).
		v := strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(html.UnescapeString(m[2]))
		confirm.Add(m[1], strings.ReplaceAll(v, "\n", "\r\n"))
	}
	if res := c.post("/prendre_rdv/confirmer", confirm); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("confirm: %d", res.StatusCode)
	}
	list := h.rdvs()
	if len(list) != 1 || list[0].RDV.Context != "Première ligne\nSeconde ligne" {
		for _, b := range list {
			t.Errorf("stored context %q", b.RDV.Context)
		}
		t.Fatalf("%d RDVs, want 1 with an LF context", len(list))
	}
}
