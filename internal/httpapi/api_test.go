package httpapi_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
)

const (
	rsa         = "rsa-orientation"
	arrasCentre = "mds-arras-centre"
	thu9        = "2026-12-03T09:00:00+01:00" // only camille-martin works then
)

func thursdaySlots(t *testing.T, s *testServer) []string {
	t.Helper()
	return slotStarts(t, s.must(http.StatusOK, req{method: "GET",
		path: "/api/v1/slots?motif_id=rsa-orientation&lieu_id=mds-arras-centre&from=2026-12-03&to=2026-12-03"}))
}

// TestPrescriptionExterne follows one RDV booked by an anonymous
// prescripteur: booked once, refused twice, seen by the agent with who
// booked it, cancelled by the agent, and its slot offered again.
func TestPrescriptionExterne(t *testing.T) {
	s := newServer(t, serverOptions{})
	if got := thursdaySlots(t, s); !slices.Contains(got, thu9) {
		t.Fatalf("before booking, slots %v lack %s", got, thu9)
	}

	booked := decodeJSON[rdvJSON](t, s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs",
		body: prescription(rsa, arrasCentre, thu9, "camille-martin")}))
	if booked.ID == "" || booked.Status != "unknown" || booked.StartsAt != thu9 || booked.EndsAt != "2026-12-03T09:45:00+01:00" ||
		booked.DurationMinutes != 45 || !slices.Equal(booked.AgentIDs, []string{"camille-martin"}) || booked.OrganisationID != "mds-arras" {
		t.Errorf("booked RDV = %+v", booked)
	}
	if booked.CreatedBy.Type != "prescripteur" {
		t.Errorf("created_by.type = %q, want prescripteur", booked.CreatedBy.Type)
	}
	if booked.UsagerURL != "" {
		t.Errorf("the prescripteur received the usager's link %q", booked.UsagerURL)
	}
	if booked.Usager == nil || booked.Usager.FirstName != "Léa" || booked.Usager.ID != "" || booked.Usager.Email != "" {
		t.Errorf("prescripteur's view of the usager = %+v, want only the names it typed", booked.Usager)
	}

	again := s.do(req{method: "POST", path: "/api/v1/rdvs", body: prescription(rsa, arrasCentre, thu9, "camille-martin")})
	if e := decodeJSON[errorJSON](t, again); again.status != http.StatusConflict || e.Error.Code != "slot_unavailable" {
		t.Errorf("second booking of the slot: %d %s, want 409 slot_unavailable", again.status, again.body)
	}
	if got := thursdaySlots(t, s); slices.Contains(got, thu9) {
		t.Errorf("after booking, public slots %v still offer %s", got, thu9)
	}

	list := decodeJSON[struct {
		RDVs []rdvJSON `json:"rdvs"`
	}](t, s.must(http.StatusOK, req{method: "GET", path: "/api/v1/rdvs?from=2026-12-01&to=2026-12-31", agent: "camille-martin"}))
	if len(list.RDVs) != 1 || list.RDVs[0].ID != booked.ID {
		t.Fatalf("agent's list = %+v, want the one RDV %s", list.RDVs, booked.ID)
	}
	one := decodeJSON[rdvJSON](t, s.must(http.StatusOK, req{method: "GET", path: "/api/v1/rdvs/" + booked.ID, agent: "camille-martin"}))
	for name, seen := range map[string]rdvJSON{"list": list.RDVs[0], "get": one} {
		cb := seen.CreatedBy
		if cb.Type != "prescripteur" || cb.FirstName != "Jean" || cb.LastName != "Petit" ||
			cb.Email != "jean.petit@mediatheque.example.org" || cb.PhoneNumber != "+33321000000" {
			t.Errorf("%s: agent sees pris par = %+v", name, cb)
		}
		if !strings.Contains(seen.UsagerURL, "/rdv/"+booked.ID+"?token=") {
			t.Errorf("%s: agent sees usager_url %q", name, seen.UsagerURL)
		}
		if seen.Usager == nil || seen.Usager.Email != "lea@example.org" || seen.Usager.PhoneNumber != "+33612345678" {
			t.Errorf("%s: agent sees usager %+v", name, seen.Usager)
		}
	}

	cancelled := decodeJSON[rdvJSON](t, s.must(http.StatusOK, req{method: "POST", path: "/api/v1/rdvs/" + booked.ID + "/cancel",
		agent: "camille-martin", body: map[string]string{"reason": "Usager réorienté vers le CCAS."}}))
	if cancelled.ID != booked.ID || cancelled.Status != "revoked" || cancelled.CancelledAt == nil || cancelled.CancelReason != "Usager réorienté vers le CCAS." {
		t.Errorf("cancelled by the agent: %+v, want status revoked with cancelled_at and the reason", cancelled)
	}
	if got := thursdaySlots(t, s); !slices.Contains(got, thu9) {
		t.Errorf("after cancellation, slots %v lack %s", got, thu9)
	}
	s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", body: prescription(rsa, arrasCentre, thu9, "camille-martin")})
}

// TestPublicSlotNeedsOneFreeAgent: on Monday 09:00 camille and thomas both
// receive rsa-orientation; the public slot stays until both are taken.
func TestPublicSlotNeedsOneFreeAgent(t *testing.T) {
	s := newServer(t, serverOptions{})
	const mon9 = "2026-12-07T09:00:00+01:00"
	monday := func() []string {
		return slotStarts(t, s.must(http.StatusOK, req{method: "GET",
			path: "/api/v1/slots?motif_id=rsa-orientation&from=2026-12-07&to=2026-12-07"}))
	}
	agentView := func() []string {
		var out []string
		body := decodeJSON[struct {
			Slots []slotJSON `json:"slots"`
		}](t, s.must(http.StatusOK, req{method: "GET", path: "/api/v1/slots?motif_id=rsa-orientation&from=2026-12-07&to=2026-12-07", agent: "camille-martin"}))
		for _, sl := range body.Slots {
			if sl.StartsAt == mon9 {
				out = append(out, sl.AgentID)
			}
		}
		return out
	}
	if got := agentView(); !slices.Equal(got, []string{"camille-martin", "thomas-leroy"}) {
		t.Fatalf("agents free at %s: %v", mon9, got)
	}
	s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", body: prescription(rsa, arrasCentre, mon9, "camille-martin")})
	if got := monday(); !slices.Contains(got, mon9) {
		t.Errorf("with thomas-leroy still free, public slots %v lack %s", got, mon9)
	}
	if got := agentView(); !slices.Equal(got, []string{"thomas-leroy"}) {
		t.Errorf("agents free at %s after one booking: %v", mon9, got)
	}
	// No agent_id: the free one is chosen.
	second := decodeJSON[rdvJSON](t, s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", body: prescription(rsa, arrasCentre, mon9, "")}))
	if !slices.Equal(second.AgentIDs, []string{"thomas-leroy"}) {
		t.Errorf("second booking went to %v, want thomas-leroy", second.AgentIDs)
	}
	if got := monday(); slices.Contains(got, mon9) {
		t.Errorf("with both agents taken, public slots %v still offer %s", got, mon9)
	}
	resp := s.do(req{method: "POST", path: "/api/v1/rdvs", body: prescription(rsa, arrasCentre, mon9, "")})
	if resp.status != http.StatusConflict {
		t.Errorf("third booking: %d %s, want 409", resp.status, resp.body)
	}
}

// TestUsagerBooksMovesAndCancels: an usager books an everyone motif for
// itself and manages it through the link it received.
func TestUsagerBooksMovesAndCancels(t *testing.T) {
	s := newServer(t, serverOptions{})
	booked := decodeJSON[rdvJSON](t, s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", body: map[string]any{
		"motif_id": "atelier-numerique", "lieu_id": "mediatheque-arras-verlaine", "starts_at": "2026-12-02T10:00:00+01:00",
		"usager": map[string]any{"first_name": "Marc", "last_name": "Leclerc", "email": "marc@example.org", "phone_number": "06 11 22 33 44"},
	}}))
	if booked.CreatedBy.Type != "usager" {
		t.Errorf("created_by.type = %q, want usager", booked.CreatedBy.Type)
	}
	tok := booked.usagerToken(t)
	link := "/api/v1/rdvs/" + booked.ID + "?token=" + tok

	seen := decodeJSON[rdvJSON](t, s.must(http.StatusOK, req{method: "GET", path: link}))
	if seen.ID != booked.ID || seen.Usager == nil || seen.Usager.Email != "marc@example.org" {
		t.Errorf("usager reads its RDV: %+v", seen)
	}
	moved := decodeJSON[rdvJSON](t, s.must(http.StatusOK, req{method: "PATCH", path: link,
		body: map[string]string{"starts_at": "2026-12-05T11:00:00+01:00"}}))
	if moved.ID != booked.ID || moved.StartsAt != "2026-12-05T11:00:00+01:00" || moved.EndsAt != "2026-12-05T12:00:00+01:00" || moved.Status != "unknown" {
		t.Errorf("moved RDV = %+v", moved)
	}
	// The old time is free again, the new one taken.
	wed := slotStarts(t, s.must(http.StatusOK, req{method: "GET", path: "/api/v1/slots?motif_id=atelier-numerique&from=2026-12-02&to=2026-12-05"}))
	if !slices.Contains(wed, "2026-12-02T10:00:00+01:00") || slices.Contains(wed, "2026-12-05T11:00:00+01:00") {
		t.Errorf("slots after the move: %v", wed)
	}
	cancelled := decodeJSON[rdvJSON](t, s.must(http.StatusOK, req{method: "POST", path: "/api/v1/rdvs/" + booked.ID + "/cancel?token=" + tok,
		body: map[string]string{"reason": "Je suis malade."}}))
	if cancelled.Status != "excused" || cancelled.CancelledAt == nil || cancelled.CancelReason != "Je suis malade." {
		t.Errorf("cancelled by the usager: %+v, want excused with its reason", cancelled)
	}
	// The agents read the usager's reason.
	if seen := decodeJSON[rdvJSON](t, s.must(http.StatusOK, req{method: "GET", path: "/api/v1/rdvs/" + booked.ID, agent: "julie-lefebvre"})); seen.CancelReason != "Je suis malade." {
		t.Errorf("the agent reads cancel_reason %q", seen.CancelReason)
	}
	resp := s.do(req{method: "POST", path: "/api/v1/rdvs/" + booked.ID + "/cancel?token=" + tok})
	if e := decodeJSON[errorJSON](t, resp); resp.status != http.StatusConflict || e.Error.Code != "rdv_cancelled" {
		t.Errorf("cancelling twice: %d %s, want 409 rdv_cancelled", resp.status, resp.body)
	}
}

// TestUsagerLimits: an usager may neither cancel nor move less than 4 h
// before the RDV, nor at all when the motif forbids it.
func TestUsagerLimits(t *testing.T) {
	s := newServer(t, serverOptions{})
	soon := decodeJSON[rdvJSON](t, s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", body: map[string]any{
		"motif_id": "atelier-numerique", "lieu_id": "mediatheque-arras-verlaine", "starts_at": "2026-12-02T11:00:00+01:00",
		"usager": usager("Inès", "Roux", "ines@example.org")}}))
	ccas := decodeJSON[rdvJSON](t, s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs",
		body: prescription("aide-numerique-ccas", "ccas-lens-mairie", "2026-12-01T14:00:00+01:00", "")}))
	ccasAsAgent := decodeJSON[rdvJSON](t, s.must(http.StatusOK, req{method: "GET", path: "/api/v1/rdvs/" + ccas.ID, agent: "nadia-morel"}))

	tests := []struct {
		name    string
		rdv     rdvJSON
		token   string
		clock   string
		method  string
		suffix  string
		body    any
		wantErr string
	}{
		{"cancel 3 h before", soon, soon.usagerToken(t), "2026-12-02T08:00:00+01:00", "POST", "/cancel", nil, "too_late"},
		{"move 3 h before", soon, soon.usagerToken(t), "2026-12-02T08:00:00+01:00", "PATCH", "",
			map[string]string{"starts_at": "2026-12-05T10:00:00+01:00"}, "too_late"},
		{"cancel a motif not cancellable", ccas, ccasAsAgent.usagerToken(t), "", "POST", "/cancel", nil, "not_cancellable"},
		{"move a motif not cancellable", ccas, ccasAsAgent.usagerToken(t), "", "PATCH", "",
			map[string]string{"starts_at": "2026-12-01T14:45:00+01:00"}, "not_cancellable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.clock != "" {
				s.clock.Set(mustTime(tt.clock))
				defer s.clock.Set(now)
			}
			resp := s.do(req{method: tt.method, path: "/api/v1/rdvs/" + tt.rdv.ID + tt.suffix + "?token=" + tt.token, body: tt.body})
			if e := decodeJSON[errorJSON](t, resp); resp.status != http.StatusForbidden || e.Error.Code != tt.wantErr {
				t.Errorf("%d %s, want 403 %s", resp.status, resp.body, tt.wantErr)
			}
			orgAgent := map[string]string{"mediatheque-arras": "julie-lefebvre", "ccas-lens": "nadia-morel"}
			after := decodeJSON[rdvJSON](t, s.must(http.StatusOK, req{method: "GET", path: "/api/v1/rdvs/" + tt.rdv.ID,
				agent: orgAgent[tt.rdv.OrganisationID]}))
			if after.Status != "unknown" || after.StartsAt != tt.rdv.StartsAt {
				t.Errorf("refused change altered the RDV: %+v", after)
			}
		})
	}
	// The agent is not bound by the usager's limits.
	s.clock.Set(mustTime("2026-12-02T08:00:00+01:00"))
	defer s.clock.Set(now)
	got := decodeJSON[rdvJSON](t, s.must(http.StatusOK, req{method: "POST", path: "/api/v1/rdvs/" + soon.ID + "/cancel", agent: "julie-lefebvre"}))
	if got.Status != "revoked" {
		t.Errorf("agent cancelling 3 h before: status %q, want revoked", got.Status)
	}
}

// TestIdempotencyKey: a retried booking returns the first RDV; the key
// cannot be reused for another booking.
func TestIdempotencyKey(t *testing.T) {
	s := newServer(t, serverOptions{})
	key := map[string]string{"Idempotency-Key": "9a4f1c2e-retry"}
	body := prescription(rsa, arrasCentre, "2026-12-03T09:45:00+01:00", "camille-martin")
	first := s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", body: body, header: key})
	if first.header.Get("Idempotent-Replayed") != "" {
		t.Errorf("first response says Idempotent-Replayed: %q", first.header.Get("Idempotent-Replayed"))
	}
	firstID := decodeJSON[rdvJSON](t, first).ID

	// The same JSON, keys in another order and spaced differently.
	same := `{ "usager": {"phone_number": "0612345678", "email": "lea@example.org", "last_name": "Dubois", "first_name": "Léa"},
	  "starts_at": "2026-12-03T09:45:00+01:00", "motif_id": "rsa-orientation", "lieu_id": "mds-arras-centre",
	  "agent_id": "camille-martin",
	  "prescripteur": {"phone_number": "0321000000", "email": "jean.petit@mediatheque.example.org", "last_name": "Petit", "first_name": "Jean"} }`
	for i, b := range []any{body, same} {
		replay := s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", body: b, header: key})
		if got := decodeJSON[rdvJSON](t, replay).ID; got != firstID {
			t.Errorf("replay %d: RDV %s, want the first one %s", i, got, firstID)
		}
		if replay.header.Get("Idempotent-Replayed") != "true" {
			t.Errorf("replay %d: Idempotent-Replayed = %q, want true", i, replay.header.Get("Idempotent-Replayed"))
		}
	}

	other := prescription(rsa, arrasCentre, "2026-12-03T10:30:00+01:00", "camille-martin")
	resp := s.do(req{method: "POST", path: "/api/v1/rdvs", body: other, header: key})
	if e := decodeJSON[errorJSON](t, resp); resp.status != http.StatusUnprocessableEntity || e.Error.Code != "idempotency_key_reused" {
		t.Errorf("same key, other body: %d %s, want 422 idempotency_key_reused", resp.status, resp.body)
	}
	list := decodeJSON[struct {
		RDVs []rdvJSON `json:"rdvs"`
	}](t, s.must(http.StatusOK, req{method: "GET", path: "/api/v1/rdvs?from=2026-12-03&to=2026-12-03", agent: "camille-martin"}))
	if len(list.RDVs) != 1 {
		t.Errorf("%d RDVs booked, want 1", len(list.RDVs))
	}
	// The metrics count one booking, not three.
	metrics := string(s.must(http.StatusOK, req{method: "GET", path: "/metrics"}).body)
	for _, want := range []string{`rdvsync_bookings_total{outcome="booked"} 1`, `rdvsync_bookings_total{outcome="replayed"} 2`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// TestUsagerDeduplication: an agent booking a person its organisation
// already knows reuses the usager; anybody else (an usager booking itself,
// an agent of another organisation) gets a new one.
func TestUsagerDeduplication(t *testing.T) {
	s := newServer(t, serverOptions{})
	book := func(start, agent string, u map[string]any) rdvJSON {
		t.Helper()
		return decodeJSON[rdvJSON](t, s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", agent: agent, body: map[string]any{
			"motif_id": "atelier-numerique", "lieu_id": "mediatheque-arras-verlaine", "starts_at": start, "usager": u}}))
	}
	paul, anne := usager("Paul", "Henry", "paul.henry@example.org"), map[string]any{"first_name": "Anne", "last_name": "Noël", "phone_number": "0699887766"}
	tests := []struct {
		name        string
		agent       string // who books the second time; the first is the usager itself
		first, then map[string]any
		same        bool
	}{
		{"same email, the médiathèque's agent", "julie-lefebvre", paul, usager("Paul", "HENRY", "Paul.Henry@example.org"), true},
		{"same names and phone, the médiathèque's agent", "julie-lefebvre", anne,
			map[string]any{"first_name": "Anne", "last_name": "Noël", "phone_number": "+33 6 99 88 77 66"}, true},
		{"other email", "julie-lefebvre", paul, usager("Paul", "Henry", "p.henry@example.org"), false},
		{"same email, the usager itself", "", paul, usager("Paul", "Henry", "paul.henry@example.org"), false},
		{"same email, an agent of another organisation", "camille-martin", paul, usager("Paul", "Henry", "paul.henry@example.org"), false},
	}
	starts := []string{"2026-12-02T10:00:00+01:00", "2026-12-02T11:00:00+01:00", "2026-12-05T10:00:00+01:00",
		"2026-12-05T11:00:00+01:00", "2026-12-09T10:00:00+01:00", "2026-12-09T11:00:00+01:00",
		"2026-12-12T10:00:00+01:00", "2026-12-12T11:00:00+01:00", "2026-12-16T10:00:00+01:00", "2026-12-16T11:00:00+01:00"}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := book(starts[2*i], "", tt.first), book(starts[2*i+1], tt.agent, tt.then)
			if a.Usager == nil || b.Usager == nil || a.Usager.ID == "" {
				t.Fatalf("usager views lack ids: %+v %+v", a.Usager, b.Usager)
			}
			if same := a.Usager.ID == b.Usager.ID; same != tt.same {
				t.Errorf("usager ids %s and %s: same = %v, want %v", a.Usager.ID, b.Usager.ID, same, tt.same)
			}
		})
	}
}

// TestPrescriptionInterne: an agent finds an usager and books for it.
func TestPrescriptionInterne(t *testing.T) {
	s := newServer(t, serverOptions{})
	s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", body: prescription(rsa, arrasCentre, thu9, "")})

	found := decodeJSON[struct {
		Usagers []struct {
			ID, FirstName, LastName string
		} `json:"usagers"`
	}](t, s.must(http.StatusOK, req{method: "GET", path: "/api/v1/usagers?q=dubois", agent: "camille-martin"}))
	if len(found.Usagers) != 1 || found.Usagers[0].ID == "" {
		t.Fatalf("usager search for dubois: %+v", found.Usagers)
	}
	id := found.Usagers[0].ID

	booked := decodeJSON[rdvJSON](t, s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", agent: "camille-martin",
		body: map[string]any{"motif_id": rsa, "lieu_id": arrasCentre, "starts_at": "2026-12-03T10:30:00+01:00",
			"agent_id": "camille-martin", "usager_id": id, "context": "Suite de l'entretien du 3."}}))
	if booked.CreatedBy.Type != "agent" || booked.CreatedBy.AgentID != "camille-martin" {
		t.Errorf("created_by = %+v, want agent camille-martin", booked.CreatedBy)
	}
	if booked.Usager == nil || booked.Usager.ID != id || booked.Usager.Email != "lea@example.org" {
		t.Errorf("usager = %+v, want the known usager %s", booked.Usager, id)
	}
	if booked.UsagerURL == "" {
		t.Error("the agent did not receive the usager's link")
	}
	// Agents are not bound by booking delays: at 10:50, 11:15 is inside
	// rsa-orientation's 30 min minimum, which binds only the public.
	s.clock.Set(mustTime("2026-12-03T10:50:00+01:00"))
	defer s.clock.Set(now)
	resp := s.do(req{method: "POST", path: "/api/v1/rdvs", body: prescription(rsa, arrasCentre, "2026-12-03T11:15:00+01:00", "")})
	if e := decodeJSON[errorJSON](t, resp); resp.status != http.StatusUnprocessableEntity || e.Error.Fields["starts_at"] == "" {
		t.Errorf("prescripteur inside the minimum delay: %d %s, want 422 on starts_at", resp.status, resp.body)
	}
	s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", agent: "thomas-leroy",
		body: map[string]any{"motif_id": rsa, "lieu_id": arrasCentre, "starts_at": "2026-12-03T11:15:00+01:00", "usager_id": id}})
}

// TestWhoMayBook: the motif's bookable_by decides who books it online.
func TestWhoMayBook(t *testing.T) {
	s := newServer(t, serverOptions{})
	suivi := map[string]any{"motif_id": "suivi-social-arras", "lieu_id": arrasCentre, "starts_at": thu9,
		"usager": usager("Léa", "Dubois", "")}
	withPrescripteur := map[string]any{"motif_id": "suivi-social-arras", "lieu_id": arrasCentre, "starts_at": thu9,
		"usager": usager("Léa", "Dubois", ""), "prescripteur": jean}
	rsaBody := map[string]any{"motif_id": rsa, "lieu_id": arrasCentre, "starts_at": "2026-12-03T09:45:00+01:00",
		"usager": usager("Léa", "Dubois", "")}
	tests := []struct {
		name, method, path, agent string
		body                      any
		status                    int
		code                      string
	}{
		{"agent of another organisation, agents-only motif", "POST", "/api/v1/rdvs", "sophie-dupont", suivi, 403, "motif_not_bookable"},
		{"anonymous prescripteur, agents-only motif", "POST", "/api/v1/rdvs", "", withPrescripteur, 403, "motif_not_bookable"},
		{"anonymous slots of an agents-only motif", "GET", "/api/v1/slots?motif_id=suivi-social-arras", "", nil, 403, "motif_not_bookable"},
		{"anonymous usager, prescripteur motif", "POST", "/api/v1/rdvs", "", rsaBody, 422, "invalid_fields"},
		{"agent of another organisation, open motif", "POST", "/api/v1/rdvs", "sophie-dupont", rsaBody, 201, ""},
		{"agent of the organisation, agents-only motif", "POST", "/api/v1/rdvs", "thomas-leroy", suivi, 201, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.do(req{method: tt.method, path: tt.path, agent: tt.agent, body: tt.body})
			if resp.status != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.status, tt.status, resp.body)
			}
			if tt.code != "" {
				if e := decodeJSON[errorJSON](t, resp); e.Error.Code != tt.code {
					t.Errorf("code %q, want %q", e.Error.Code, tt.code)
				}
			}
		})
	}
}

// TestStatus: agents mark what happened; a cancelled RDV can be reopened
// while its time is free.
func TestStatus(t *testing.T) {
	s := newServer(t, serverOptions{})
	id := decodeJSON[rdvJSON](t, s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs",
		body: prescription(rsa, arrasCentre, thu9, "")})).ID
	for _, st := range []string{"seen", "noshow", "revoked", "unknown"} {
		got := decodeJSON[rdvJSON](t, s.must(http.StatusOK, req{method: "POST", path: "/api/v1/rdvs/" + id + "/status",
			agent: "thomas-leroy", body: map[string]string{"status": st}}))
		if got.Status != st || (got.CancelledAt != nil) != (st == "revoked") {
			t.Errorf("after status %s: status %q, cancelled_at %v", st, got.Status, got.CancelledAt)
		}
	}
	resp := s.do(req{method: "POST", path: "/api/v1/rdvs/" + id + "/status", agent: "sophie-dupont", body: map[string]string{"status": "seen"}})
	if resp.status != http.StatusForbidden {
		t.Errorf("agent of another organisation sets a status: %d %s, want 403", resp.status, resp.body)
	}
}

func TestOperationalEndpoints(t *testing.T) {
	s := newServer(t, serverOptions{})
	s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", body: prescription(rsa, arrasCentre, thu9, "")})
	s.must(http.StatusConflict, req{method: "POST", path: "/api/v1/rdvs", body: prescription(rsa, arrasCentre, thu9, "")})
	tests := []struct {
		path string
		want []string
	}{
		{"/healthz", []string{`"status":"ok"`}},
		{"/readyz", []string{`"status":"ready"`}},
		{"/metrics", []string{`rdvsync_bookings_total{outcome="booked"} 1`, `rdvsync_bookings_total{outcome="slot_unavailable"} 1`,
			`rdvsync_http_requests_total{route="POST /api/v1/rdvs",status="201"} 1`}},
		{"/api/v1/openapi.json", []string{`"openapi"`}},
	}
	for _, tt := range tests {
		resp := s.must(http.StatusOK, req{method: "GET", path: tt.path})
		for _, w := range tt.want {
			if !strings.Contains(string(resp.body), w) {
				t.Errorf("GET %s lacks %s", tt.path, w)
			}
		}
	}
}

// TestProbesLoggedAtDebug: orchestrators probe /healthz and /readyz every
// few seconds; at INFO those lines would bury the requests that matter.
func TestProbesLoggedAtDebug(t *testing.T) {
	var logs bytes.Buffer
	s := newServer(t, serverOptions{logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))})
	s.must(http.StatusOK, req{method: "GET", path: "/healthz"})
	s.must(http.StatusOK, req{method: "GET", path: "/readyz"})
	s.must(http.StatusOK, req{method: "GET", path: "/api/v1/catalog"})
	out := logs.String()
	if strings.Contains(out, "/healthz") || strings.Contains(out, "/readyz") || !strings.Contains(out, `route="GET /api/v1/catalog"`) {
		t.Errorf("INFO log:\n%s", out)
	}
}

// TestConcurrentBookingsOfOneSlot: many requests for one agent's slot at
// once; exactly one wins.
func TestConcurrentBookingsOfOneSlot(t *testing.T) {
	s := newServer(t, serverOptions{})
	const n = 50
	statuses := make([]int, n)
	codes := make([]string, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := prescription(rsa, arrasCentre, "2026-12-03T11:15:00+01:00", "camille-martin")
			body["usager"] = usager("Usager", "Numéro", "usager"+string(rune('a'+i%26))+string(rune('a'+i/26))+"@example.org")
			<-start
			resp, err := s.try(req{method: "POST", path: "/api/v1/rdvs", body: body})
			if err != nil {
				errs[i] = err
				return
			}
			statuses[i] = resp.status
			var e errorJSON
			if resp.status != http.StatusCreated {
				if e, err = decodeJSONErr(resp); err != nil {
					errs[i] = err
				}
			}
			codes[i] = e.Error.Code
		})
	}
	close(start)
	wg.Wait()
	count := map[int]int{}
	for i := range n {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		count[statuses[i]]++
		if statuses[i] == http.StatusConflict && codes[i] != "slot_unavailable" {
			t.Errorf("409 with code %q", codes[i])
		}
	}
	if count[http.StatusCreated] != 1 || count[http.StatusConflict] != n-1 {
		t.Errorf("statuses %v, want 1 × 201 and %d × 409", count, n-1)
	}
	list := decodeJSON[struct {
		RDVs []rdvJSON `json:"rdvs"`
	}](t, s.must(http.StatusOK, req{method: "GET", path: "/api/v1/rdvs?from=2026-12-03&to=2026-12-03", agent: "camille-martin"}))
	if len(list.RDVs) != 1 {
		t.Errorf("%d RDVs stored, want 1", len(list.RDVs))
	}
}

// TestOfferedSlotIsBookable: every slot GET /slots offers can be booked,
// including those whose grid is shifted by an RDV of another duration or
// by the current time falling inside the plage.
func TestOfferedSlotIsBookable(t *testing.T) {
	tests := []struct {
		name  string
		clock string
		setup []map[string]any // booked by camille-martin first
		start string
	}{
		{"after a 30 min suivi social", "", []map[string]any{{"motif_id": "suivi-social-arras", "lieu_id": arrasCentre,
			"starts_at": thu9, "usager": usager("Léa", "Dubois", "")}}, "2026-12-03T09:30:00+01:00"},
		{"same day, after a booked RDV", "2026-12-03T10:10:00+01:00", []map[string]any{{"motif_id": rsa, "lieu_id": arrasCentre,
			"starts_at": "2026-12-03T10:30:00+01:00", "usager": usager("Léa", "Dubois", "")}}, "2026-12-03T11:15:00+01:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newServer(t, serverOptions{})
			for _, b := range tt.setup {
				s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", agent: "camille-martin", body: b})
			}
			if tt.clock != "" {
				s.clock.Set(mustTime(tt.clock))
			}
			if got := thursdaySlots(t, s); !slices.Contains(got, tt.start) {
				t.Fatalf("slots %v do not offer %s", got, tt.start)
			}
			s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", body: prescription(rsa, arrasCentre, tt.start, "")})
		})
	}
}

// TestUsagerExportAndErasure: only agents of an organisation that knows
// the usager export or erase it; after the erasure, nothing of it is
// served. (This API has no notifications wired: the erasure is immediate;
// cmd/rdvsync's TestRetentionJob covers the wait for cancellation notices.)
func TestUsagerExportAndErasure(t *testing.T) {
	s := newServer(t, serverOptions{})
	created := decodeJSON[rdvJSON](t, s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs",
		body: prescription(rsa, arrasCentre, thu9, "camille-martin")}))
	booked := decodeJSON[rdvJSON](t, s.must(http.StatusOK, req{method: "GET", path: "/api/v1/rdvs/" + created.ID, agent: "camille-martin"}))
	id := booked.Usager.ID
	export := "/api/v1/usagers/" + id + "/export"
	for _, tt := range []struct {
		name   string
		r      req
		status int
	}{
		{"anonymous export", req{method: "GET", path: export}, http.StatusUnauthorized},
		{"export by the usager's link", req{method: "GET", path: export + "?token=" + booked.usagerToken(t)}, http.StatusUnauthorized},
		{"export by another organisation", req{method: "GET", path: export, agent: "julie-lefebvre"}, http.StatusNotFound},
		{"export of an unknown usager", req{method: "GET", path: "/api/v1/usagers/nobody/export", agent: "camille-martin"}, http.StatusNotFound},
		{"erasure by another organisation", req{method: "DELETE", path: "/api/v1/usagers/" + id, agent: "julie-lefebvre"}, http.StatusNotFound},
		{"anonymous erasure", req{method: "DELETE", path: "/api/v1/usagers/" + id}, http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) { s.must(tt.status, tt.r) })
	}
	exp := decodeJSON[struct {
		Usager struct {
			FirstName string `json:"first_name"`
		} `json:"usager"`
		RDVs []struct {
			ID      string `json:"id"`
			Contact struct {
				FirstName string `json:"first_name"`
			} `json:"contact"`
		} `json:"rdvs"`
	}](t, s.must(http.StatusOK, req{method: "GET", path: export, agent: "thomas-leroy"}))
	if len(exp.RDVs) != 1 || exp.RDVs[0].ID != booked.ID || exp.Usager.FirstName != booked.Usager.FirstName || exp.RDVs[0].Contact.FirstName != booked.Usager.FirstName {
		t.Errorf("export %+v", exp)
	}
	e := decodeJSON[struct {
		UsagerID      string `json:"usager_id"`
		RDVsCancelled int    `json:"rdvs_cancelled"`
		Erased        bool   `json:"erased"`
	}](t, s.must(http.StatusOK, req{method: "DELETE", path: "/api/v1/usagers/" + id, agent: "thomas-leroy"}))
	if e.UsagerID != id || e.RDVsCancelled != 1 || !e.Erased {
		t.Errorf("erasure %+v", e)
	}
	s.must(http.StatusNotFound, req{method: "GET", path: "/api/v1/rdvs/" + booked.ID, agent: "camille-martin"})
	s.must(http.StatusNotFound, req{method: "GET", path: export, agent: "camille-martin"})
	s.must(http.StatusNotFound, req{method: "DELETE", path: "/api/v1/usagers/" + id, agent: "camille-martin"})
	if got := slotStarts(t, s.must(http.StatusOK, req{method: "GET", path: "/api/v1/slots?motif_id=rsa-orientation&from=2026-12-03&to=2026-12-03"})); !slices.Contains(got, thu9) {
		t.Errorf("the erased usager's slot is not free again: %v", got)
	}
}

// TestPhoneRDVNeedsThePhone: the agent calls the usager at the time of a
// phone RDV; booking one without the usager's number is refused on that
// field, for a new usager and for a known one without a number.
func TestPhoneRDVNeedsThePhone(t *testing.T) {
	s := newServer(t, serverOptions{})
	body := func(phone string) map[string]any {
		return map[string]any{"motif_id": "appel-social-lens", "starts_at": "2026-12-03T10:00:00+01:00",
			"usager": map[string]any{"first_name": "Léa", "last_name": "Dubois", "email": "lea@example.org", "phone_number": phone,
				"city_code": "62498", "postal_code": "62300"},
			"prescripteur": jean}
	}
	resp := s.do(req{method: "POST", path: "/api/v1/rdvs", body: body("")})
	if e := decodeJSON[errorJSON](t, resp); resp.status != http.StatusUnprocessableEntity ||
		e.Error.Fields["usager.phone_number"] != "obligatoire pour un rendez-vous téléphonique" {
		t.Errorf("phone RDV without the usager's phone: %d %s, want 422 on usager.phone_number", resp.status, resp.body)
	}
	s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", body: body("03 21 55 55 55")})

	// Marc, known to the MDS Arras without a number, cannot be called.
	s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", agent: "camille-martin", body: map[string]any{
		"motif_id": rsa, "lieu_id": arrasCentre, "starts_at": thu9,
		"usager": map[string]any{"first_name": "Marc", "last_name": "Leclerc", "email": "marc@example.org"}}})
	found := decodeJSON[struct {
		Usagers []struct{ ID string } `json:"usagers"`
	}](t, s.must(http.StatusOK, req{method: "GET", path: "/api/v1/usagers?q=leclerc", agent: "camille-martin"}))
	if len(found.Usagers) != 1 {
		t.Fatalf("usagers %+v", found.Usagers)
	}
	resp = s.do(req{method: "POST", path: "/api/v1/rdvs", agent: "camille-martin", body: map[string]any{
		"motif_id": "appel-social-lens", "starts_at": "2026-12-03T10:20:00+01:00", "usager_id": found.Usagers[0].ID}})
	if e := decodeJSON[errorJSON](t, resp); resp.status != http.StatusUnprocessableEntity || e.Error.Fields["usager_id"] == "" {
		t.Errorf("phone RDV for a known usager without a phone: %d %s, want 422 on usager_id", resp.status, resp.body)
	}
}

// TestPrescribingAgentReadsOnly: the agent of the médiathèque who booked
// an RDV of the MDS Arras in prescription interne reads it, with the
// usager's cancellation reason, and cannot change it.
func TestPrescribingAgentReadsOnly(t *testing.T) {
	s := newServer(t, serverOptions{})
	booked := decodeJSON[rdvJSON](t, s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", agent: "julie-lefebvre",
		body: map[string]any{"motif_id": rsa, "lieu_id": arrasCentre, "starts_at": thu9,
			"usager": map[string]any{"first_name": "Léa", "last_name": "Dubois", "phone_number": "06 12 34 56 78"}}}))
	path := "/api/v1/rdvs/" + booked.ID
	s.must(http.StatusOK, req{method: "POST", path: path + "/cancel?token=" + booked.usagerToken(t), body: map[string]string{"reason": "Je déménage."}})
	seen := decodeJSON[rdvJSON](t, s.must(http.StatusOK, req{method: "GET", path: path, agent: "julie-lefebvre"}))
	if seen.Status != "excused" || seen.CancelReason != "Je déménage." {
		t.Errorf("the prescribing agent reads %+v", seen)
	}
	if resp := s.do(req{method: "POST", path: path + "/status", agent: "julie-lefebvre", body: map[string]string{"status": "seen"}}); resp.status != http.StatusForbidden {
		t.Errorf("the prescribing agent changes the status: %d %s, want 403", resp.status, resp.body)
	}
	// An agent of an organisation that has nothing to do with it: still 403.
	if resp := s.do(req{method: "GET", path: path, agent: "sophie-dupont"}); resp.status != http.StatusForbidden {
		t.Errorf("another organisation's agent reads it: %d, want 403", resp.status)
	}
}
