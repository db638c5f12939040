package web_test

import (
	"context"
	"html"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"rdvsync/internal/booking"
	"rdvsync/internal/testenv"
)

// daySection returns the HTML of one day of the agenda.
func daySection(t *testing.T, body, date string) string {
	t.Helper()
	i := strings.Index(body, `aria-labelledby="jour-`+date+`"`)
	if i < 0 {
		t.Fatalf("no day %s in the agenda", date)
	}
	s := body[i:]
	if j := strings.Index(s, "</section>"); j >= 0 {
		s = s[:j]
	}
	return s
}

var (
	tags   = regexp.MustCompile(`<[^>]*>|^[^<]*>`)
	blanks = regexp.MustCompile(`\s+`)
)

// text flattens HTML to its words, one space apart.
func text(s string) string {
	return strings.TrimSpace(blanks.ReplaceAllString(html.UnescapeString(tags.ReplaceAllString(s, " ")), " "))
}

func TestAgendaWeek(t *testing.T) {
	h := newHarness(t)
	b := h.book(firstSlot, booking.UsagerInput{FirstName: "Léa", LastName: "Dubois"})
	c := h.client()
	if res := c.get("/agents/agenda"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("agenda signed out: %d", res.StatusCode)
	}
	c.login("camille-martin")

	res := c.get("/agents/agenda")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("agenda: %d", res.StatusCode)
	}
	body := res.body
	for _, want := range []string{"<h1>Mon agenda</h1>", "Semaine du lundi 30 novembre au dimanche 6 décembre 2026",
		`href="/agents/agenda?semaine=2026-11-23&amp;vue=moi"`, `href="/agents/agenda?semaine=2026-12-07&amp;vue=moi"`,
		`href="/agents/agenda?semaine=2026-12-01&amp;vue=moi" aria-current="page"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the agenda lacks %q", want)
		}
	}
	if got := text(daySection(t, body, "2026-12-01")); !strings.Contains(got, "Aujourd'hui") || !strings.Contains(got, "Rien de prévu") {
		t.Errorf("Tuesday 1 December: %q", got)
	}
	thursday := daySection(t, body, "2026-12-03")
	got := text(thursday)
	for _, want := range []string{"9 h 00 – 12 h 00 · Plage d'ouverture MDS Arras Centre Orientation RSA",
		"9 h 00 – 9 h 45 · Rendez-vous Orientation RSA Léa Dubois · À venir"} {
		if !strings.Contains(got, want) {
			t.Errorf("Thursday 3 December lacks %q:\n%s", want, got)
		}
	}
	if !strings.Contains(thursday, `href="/agents/rdvs/`+b.RDV.ID+`"`) {
		t.Error("the RDV does not link to its page")
	}

	// Christmas week: the absence, the holiday.
	body = c.get("/agents/agenda?vue=moi&semaine=2026-12-23").body
	if got := text(daySection(t, body, "2026-12-24")); !strings.Contains(got, "Toute la journée · Absence Absent·e") {
		t.Errorf("Thursday 24 December: %q", got)
	}
	if got := text(daySection(t, body, "2026-12-25")); !strings.Contains(got, "Jour férié") {
		t.Errorf("Friday 25 December: %q", got)
	}

	// The organisation: every agent's plages, with their names.
	body = c.get("/agents/agenda?vue=organisation:mds-arras&semaine=2026-12-07").body
	got = text(daySection(t, body, "2026-12-07"))
	for _, want := range []string{"Agenda de MDS Arras", "9 h 00 – 10 h 30 · Plage d'ouverture MDS Arras Centre Orientation RSA Thomas Leroy",
		"9 h 00 – 12 h 00 · Plage d'ouverture MDS Arras Centre Orientation RSA, Suivi social Camille Martin"} {
		if !strings.Contains(text(body), want) && !strings.Contains(got, want) {
			t.Errorf("the organisation's agenda lacks %q:\n%s", want, got)
		}
	}

	// Only the agent's organisations and their agents.
	for _, path := range []string{"/agents/agenda?vue=organisation:mds-lens", "/agents/agenda?vue=agent:sophie-dupont",
		"/agents/agenda?vue=organisation:inconnue", "/agents/agenda?vue=agent:thomas-leroy&semaine=hier"} {
		if res := c.get(path); res.StatusCode != http.StatusNotFound && res.StatusCode != http.StatusBadRequest {
			t.Errorf("GET %s: %d", path, res.StatusCode)
		}
	}
	if res := c.get("/agents/agenda?vue=agent:thomas-leroy"); res.StatusCode != http.StatusOK || !strings.Contains(res.body, "Agenda de Thomas Leroy") {
		t.Errorf("a colleague's agenda: %d", res.StatusCode)
	}
}

// An agent of two organisations: a colleague from one of them sees its
// RDVs in the other as busy times, without the usager.
func TestAgendaHidesOtherOrganisations(t *testing.T) {
	cat := testenv.Example(t, "email: thomas.leroy@example.org\n    organisations: [mds-arras]",
		"email: thomas.leroy@example.org\n    organisations: [mds-arras, mds-lens]")
	h := newHarnessWith(t, cat)
	if _, err := h.svc.Book(context.Background(), booking.Caller{Agent: cat.Agent("thomas-leroy")}, booking.BookRequest{
		MotifID: "rsa-orientation", LieuID: "mds-arras-centre", StartsAt: "2026-12-07T09:00:00+01:00", AgentID: "thomas-leroy",
		Usager: &booking.UsagerInput{FirstName: "Léa", LastName: "Dubois"}}, nil); err != nil {
		t.Fatal(err)
	}
	lens := h.client()
	lens.login("sophie-dupont")
	res := lens.get("/agents/agenda?vue=agent:thomas-leroy&semaine=2026-12-07")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("agenda of Thomas for Sophie: %d", res.StatusCode)
	}
	monday := text(daySection(t, res.body, "2026-12-07"))
	if !strings.Contains(monday, "9 h 00 – 9 h 45 · Occupé·e Indisponible") {
		t.Errorf("Monday 7 December, seen from Lens: %q", monday)
	}
	if strings.Contains(res.body, "Dubois") || strings.Contains(res.body, "/agents/rdvs/") || strings.Contains(res.body, "MDS Arras Centre") {
		t.Error("Sophie sees the usager, the page or the plages of an RDV of MDS Arras")
	}
	arras := h.client()
	arras.login("camille-martin")
	if got := text(daySection(t, arras.get("/agents/agenda?vue=agent:thomas-leroy&semaine=2026-12-07").body, "2026-12-07")); !strings.Contains(got, "Léa Dubois") {
		t.Errorf("Camille, of MDS Arras, sees %q", got)
	}
}
