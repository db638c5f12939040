package httpapi_test

import (
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
)

const validStart = "2026-12-07T09:45:00+01:00" // Monday: camille and thomas

// validBooking is a prescripteur's booking that would succeed; rows break
// one thing in a copy of it.
func validBooking(change func(b map[string]any)) map[string]any {
	b := prescription(rsa, arrasCentre, validStart, "")
	b["usager"] = maps.Clone(b["usager"].(map[string]any))
	b["prescripteur"] = maps.Clone(jean)
	if change != nil {
		change(b)
	}
	return b
}

func usagerField(k string, v any) func(map[string]any) {
	return func(b map[string]any) {
		if v == nil {
			delete(b["usager"].(map[string]any), k)
		} else {
			b["usager"].(map[string]any)[k] = v
		}
	}
}

func prescripteurField(k string, v any) func(map[string]any) {
	return func(b map[string]any) {
		if v == nil {
			delete(b["prescripteur"].(map[string]any), k)
		} else {
			b["prescripteur"].(map[string]any)[k] = v
		}
	}
}

func field(k string, v any) func(map[string]any) {
	return func(b map[string]any) {
		if v == nil {
			delete(b, k)
		} else {
			b[k] = v
		}
	}
}

// TestHostileRequests: malformed, invalid, unauthenticated and forbidden
// requests get the documented status and error code, never a 5xx, and
// change nothing.
func TestHostileRequests(t *testing.T) {
	s := newServer(t, serverOptions{})
	victim := decodeJSON[rdvJSON](t, s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs",
		body: prescription(rsa, arrasCentre, thu9, "camille-martin")}))
	s.must(http.StatusCreated, req{method: "POST", path: "/api/v1/rdvs", body: prescription(rsa, arrasCentre, "2026-12-03T10:30:00+01:00", "camille-martin")})
	rdvPath := "/api/v1/rdvs/" + victim.ID
	unknownPath := "/api/v1/rdvs/00000000-0000-4000-8000-000000000000"
	huge := `{"motif_id":"rsa-orientation","context":"` + strings.Repeat("a", 10<<20) + `"}`
	basic := "Basic Y2FtaWxsZS1tYXJ0aW46ZGVtby10b2tlbi1jYW1pbGxlLW1hcnRpbg==" // camille-martin:demo-token-camille-martin

	tests := []struct {
		name   string
		r      req
		status int
		code   string
		fields []string // for 422: exactly these keys
	}{
		// Bodies that are not a booking at all.
		{"truncated JSON", req{method: "POST", path: "/api/v1/rdvs", body: `{"motif_id": `}, 400, "malformed_json", nil},
		{"not JSON", req{method: "POST", path: "/api/v1/rdvs", body: "motif_id=rsa-orientation"}, 400, "malformed_json", nil},
		{"JSON array", req{method: "POST", path: "/api/v1/rdvs", body: `[{"motif_id": "rsa-orientation"}]`}, 400, "malformed_json", nil},
		{"starts_at as number", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("starts_at", 1796630400))}, 400, "malformed_json", nil},
		{"usager as string", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("usager", "Léa Dubois"))}, 400, "malformed_json", nil},
		{"unknown field", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("colour", "blue"))}, 400, "malformed_json", nil},
		{"empty body", req{method: "POST", path: "/api/v1/rdvs", body: ""}, 400, "malformed_json", nil},
		{"two JSON values", req{method: "POST", path: "/api/v1/rdvs", body: `{} {}`}, 400, "malformed_json", nil},
		{"deeply nested", req{method: "POST", path: "/api/v1/rdvs", body: `{"usager":` + strings.Repeat("[", 100_000)}, 400, "malformed_json", nil},
		{"10 MB body", req{method: "POST", path: "/api/v1/rdvs", body: huge}, 413, "body_too_large", nil},
		{"JSON null", req{method: "POST", path: "/api/v1/rdvs", body: `null`}, 422, "invalid_fields", []string{"motif_id", "starts_at", "usager"}},

		// Missing fields, one at a time.
		{"missing motif_id", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("motif_id", nil))}, 422, "invalid_fields", []string{"motif_id"}},
		{"missing lieu_id", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("lieu_id", nil))}, 422, "invalid_fields", []string{"lieu_id"}},
		{"missing starts_at", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("starts_at", nil))}, 422, "invalid_fields", []string{"starts_at"}},
		{"missing usager", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("usager", nil))}, 422, "invalid_fields", []string{"usager"}},
		{"missing usager.first_name", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(usagerField("first_name", nil))}, 422, "invalid_fields", []string{"usager.first_name"}},
		{"blank usager.last_name", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(usagerField("last_name", "   "))}, 422, "invalid_fields", []string{"usager.last_name"}},
		{"missing prescripteur", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("prescripteur", nil))}, 422, "invalid_fields", []string{"prescripteur"}},
		{"missing prescripteur.first_name", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(prescripteurField("first_name", nil))}, 422, "invalid_fields", []string{"prescripteur.first_name"}},
		{"missing prescripteur.last_name", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(prescripteurField("last_name", nil))}, 422, "invalid_fields", []string{"prescripteur.last_name"}},
		{"missing prescripteur.email", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(prescripteurField("email", nil))}, 422, "invalid_fields", []string{"prescripteur.email"}},

		// Unknown or mismatched ids.
		{"unknown motif", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("motif_id", "rsa-orientation-bis"))}, 422, "invalid_fields", []string{"motif_id"}},
		{"unknown lieu", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("lieu_id", "mds-arras-nord"))}, 422, "invalid_fields", []string{"lieu_id"}},
		{"lieu of another motif", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("lieu_id", "mds-lens-centre"))}, 422, "invalid_fields", []string{"lieu_id"}},
		{"unknown agent", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("agent_id", "camille-martine"))}, 422, "invalid_fields", []string{"agent_id"}},
		{"usager_id from anonymous", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("usager_id", "0f8c"))}, 422, "invalid_fields", []string{"usager_id"}},

		// Times that are not slots.
		{"starts_at not aligned", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("starts_at", "2026-12-07T09:10:00+01:00"))}, 422, "invalid_fields", []string{"starts_at"}},
		{"starts_at not RFC 3339", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("starts_at", "07/12/2026 09:45"))}, 422, "invalid_fields", []string{"starts_at"}},
		{"starts_at in the past", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("starts_at", "2026-11-30T09:00:00+01:00"))}, 422, "invalid_fields", []string{"starts_at"}},
		{"starts_at outside any plage", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("starts_at", "2026-12-07T14:00:00+01:00"))}, 422, "invalid_fields", []string{"starts_at"}},
		{"starts_at beyond max delay", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("starts_at", "2027-06-07T09:00:00+02:00"))}, 422, "invalid_fields", []string{"starts_at"}},
		{"starts_at of another agent", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("agent_id", "sophie-dupont"))}, 422, "invalid_fields", []string{"starts_at"}},

		// Field contents.
		{"CRLF in usager name", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(usagerField("last_name", "Dubois\r\nBcc: victim@example.org"))}, 422, "invalid_fields", []string{"usager.last_name"}},
		{"NUL in prescripteur name", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(prescripteurField("first_name", "Je\x00an"))}, 422, "invalid_fields", []string{"prescripteur.first_name"}},
		{"right-to-left override in usager name", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(usagerField("last_name", "Dubois\u202egnp.exe"))}, 422, "invalid_fields", []string{"usager.last_name"}},
		{"isolate in prescripteur name", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(prescripteurField("last_name", "Petit\u2066x\u2069"))}, 422, "invalid_fields", []string{"prescripteur.last_name"}},
		{"zero-width space in usager name", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(usagerField("first_name", "L\u200béa"))}, 422, "invalid_fields", []string{"usager.first_name"}},
		{"byte-order mark in prescripteur name", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(prescripteurField("first_name", "\ufeffJean"))}, 422, "invalid_fields", []string{"prescripteur.first_name"}},
		{"word joiner in usager name", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(usagerField("last_name", "Du\u2060bois"))}, 422, "invalid_fields", []string{"usager.last_name"}},
		{"C1 control in usager name", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(usagerField("last_name", "Du\u0085bois"))}, 422, "invalid_fields", []string{"usager.last_name"}},
		{"override in context", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("context", "voir \u202eelbissopmi"))}, 422, "invalid_fields", []string{"context"}},
		{"escape in context", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(field("context", "ok\x1b[2J"))}, 422, "invalid_fields", []string{"context"}},
		{"name too long", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(usagerField("first_name", strings.Repeat("é", 101)))}, 422, "invalid_fields", []string{"usager.first_name"}},
		{"invalid usager email", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(usagerField("email", "lea@"))}, 422, "invalid_fields", []string{"usager.email"}},
		{"email with display name", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(prescripteurField("email", "Jean <jean@example.org>"))}, 422, "invalid_fields", []string{"prescripteur.email"}},
		{"invalid phone", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(usagerField("phone_number", "12"))}, 422, "invalid_fields", []string{"usager.phone_number"}},
		{"birth date in the future", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(usagerField("birth_date", "2030-01-01"))}, 422, "invalid_fields", []string{"usager.birth_date"}},
		{"bad postal code", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(usagerField("postal_code", "62 00"))}, 422, "invalid_fields", []string{"usager.postal_code"}},
		{"several problems at once", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(func(b map[string]any) {
			usagerField("email", "x")(b)
			usagerField("phone_number", "12")(b)
			prescripteurField("email", nil)(b)
		})}, 422, "invalid_fields", []string{"usager.email", "usager.phone_number", "prescripteur.email"}},
		{"Idempotency-Key too long", req{method: "POST", path: "/api/v1/rdvs", body: validBooking(nil),
			header: map[string]string{"Idempotency-Key": strings.Repeat("k", 256)}}, 422, "invalid_fields", []string{"Idempotency-Key"}},

		// Slot searches.
		{"slots window over 31 days", req{method: "GET", path: "/api/v1/slots?motif_id=rsa-orientation&from=2026-12-01&to=2027-01-01"}, 422, "invalid_fields", []string{"to"}},
		{"slots bad from", req{method: "GET", path: "/api/v1/slots?motif_id=rsa-orientation&from=2026-13-01"}, 422, "invalid_fields", []string{"from"}},
		{"slots bad to", req{method: "GET", path: "/api/v1/slots?motif_id=rsa-orientation&from=2026-12-01&to=2026-02-30"}, 422, "invalid_fields", []string{"to"}},
		{"slots to before from", req{method: "GET", path: "/api/v1/slots?motif_id=rsa-orientation&from=2026-12-10&to=2026-12-01"}, 422, "invalid_fields", []string{"to"}},
		{"slots without motif", req{method: "GET", path: "/api/v1/slots"}, 422, "invalid_fields", []string{"motif_id"}},
		{"slots unknown motif", req{method: "GET", path: "/api/v1/slots?motif_id=%00%0d%0a"}, 422, "invalid_fields", []string{"motif_id"}},
		{"next slot unknown lieu", req{method: "GET", path: "/api/v1/slots/next?motif_id=rsa-orientation&lieu_id=nowhere"}, 422, "invalid_fields", []string{"lieu_id"}},
		{"catalog unknown organisation", req{method: "GET", path: "/api/v1/catalog?organisation_id=nowhere"}, 422, "invalid_fields", []string{"organisation_id"}},

		// Credentials.
		{"forged Bearer token", req{method: "POST", path: "/api/v1/rdvs", auth: "Bearer demo-token-camille-martine", body: validBooking(nil)}, 401, "unauthenticated", nil},
		{"forged Bearer on slots", req{method: "GET", path: "/api/v1/slots?motif_id=rsa-orientation", auth: "Bearer x"}, 401, "unauthenticated", nil},
		{"empty Bearer", req{method: "GET", path: "/api/v1/rdvs", auth: "Bearer  "}, 401, "unauthenticated", nil},
		{"Basic auth on the list", req{method: "GET", path: "/api/v1/rdvs", auth: basic}, 401, "unauthenticated", nil},
		{"Basic auth on a booking", req{method: "POST", path: "/api/v1/rdvs", auth: basic, body: validBooking(nil)}, 401, "unauthenticated", nil},
		{"no credentials on the list", req{method: "GET", path: "/api/v1/rdvs"}, 401, "unauthenticated", nil},
		{"usager token on the list", req{method: "GET", path: "/api/v1/rdvs?token=" + victim.ID}, 401, "unauthenticated", nil},
		{"no credentials on an RDV", req{method: "GET", path: rdvPath}, 401, "unauthenticated", nil},
		{"forged usager token on GET", req{method: "GET", path: rdvPath + "?token=forged"}, 401, "unauthenticated", nil},
		{"forged usager token on cancel", req{method: "POST", path: rdvPath + "/cancel?token=forged"}, 401, "unauthenticated", nil},
		{"forged usager token on move", req{method: "PATCH", path: rdvPath + "?token=forged", body: `{"starts_at": "2026-12-10T09:00:00+01:00"}`}, 401, "unauthenticated", nil},
		{"prescripteur cancels", req{method: "POST", path: rdvPath + "/cancel", body: `{"reason": "erreur"}`}, 401, "unauthenticated", nil},
		{"prescripteur moves", req{method: "PATCH", path: rdvPath, body: `{"starts_at": "2026-12-10T09:00:00+01:00"}`}, 401, "unauthenticated", nil},
		{"usager token sets a status", req{method: "POST", path: rdvPath + "/status?token=forged", body: `{"status": "seen"}`}, 401, "unauthenticated", nil},
		{"usager link books", req{method: "POST", path: "/api/v1/rdvs?token=forged", body: validBooking(nil)}, 403, "forbidden", nil},
		{"agent of another organisation reads", req{method: "GET", path: rdvPath, agent: "sophie-dupont"}, 403, "forbidden", nil},
		{"agent of another organisation cancels", req{method: "POST", path: rdvPath + "/cancel", agent: "nadia-morel"}, 403, "forbidden", nil},
		{"list of another organisation", req{method: "GET", path: "/api/v1/rdvs?organisation_id=mds-arras", agent: "sophie-dupont"}, 403, "forbidden", nil},

		// Agents' calls with bad input.
		{"status with bad value", req{method: "POST", path: rdvPath + "/status", agent: "camille-martin", body: `{"status": "cancelled"}`}, 422, "invalid_fields", []string{"status"}},
		{"status as number", req{method: "POST", path: rdvPath + "/status", agent: "camille-martin", body: `{"status": 2}`}, 400, "malformed_json", nil},
		{"move to a bad time", req{method: "PATCH", path: rdvPath, agent: "camille-martin", body: `{"starts_at": "demain"}`}, 422, "invalid_fields", []string{"starts_at"}},
		{"move to an unknown lieu", req{method: "PATCH", path: rdvPath, agent: "camille-martin", body: `{"starts_at": "2026-12-10T09:00:00+01:00", "lieu_id": "x"}`}, 422, "invalid_fields", []string{"lieu_id"}},
		{"move to a taken time", req{method: "PATCH", path: rdvPath, agent: "camille-martin", body: `{"starts_at": "2026-12-03T10:30:00+01:00"}`}, 409, "slot_unavailable", nil},
		{"PATCH an unknown id", req{method: "PATCH", path: unknownPath, agent: "camille-martin", body: `{"starts_at": "2026-12-10T09:00:00+01:00"}`}, 404, "not_found", nil},
		{"GET an unknown id", req{method: "GET", path: unknownPath, agent: "camille-martin"}, 404, "not_found", nil},
		{"cancel an unknown id", req{method: "POST", path: "/api/v1/rdvs/..%2f..%2fetc%2fpasswd/cancel", agent: "camille-martin"}, 404, "not_found", nil},
		{"list with bad dates", req{method: "GET", path: "/api/v1/rdvs?from=hier", agent: "camille-martin"}, 422, "invalid_fields", []string{"from"}},
		{"list over a year", req{method: "GET", path: "/api/v1/rdvs?from=2026-01-01&to=2027-12-31", agent: "camille-martin"}, 422, "invalid_fields", []string{"to"}},
		{"usager search too short", req{method: "GET", path: "/api/v1/usagers?q=a", agent: "camille-martin"}, 422, "invalid_fields", []string{"q"}},

		// Routing.
		{"unknown API path", req{method: "GET", path: "/api/v1/appointments"}, 404, "not_found", nil},
		{"unknown API version", req{method: "GET", path: "/api/v2/rdvs"}, 404, "not_found", nil},
		{"DELETE an RDV", req{method: "DELETE", path: rdvPath, agent: "camille-martin"}, 405, "method_not_allowed", nil},
		{"PUT the collection", req{method: "PUT", path: "/api/v1/rdvs", body: validBooking(nil)}, 405, "method_not_allowed", nil},
		{"GET a cancel", req{method: "GET", path: rdvPath + "/cancel"}, 405, "method_not_allowed", nil},
	}
	if len(tests) < 30 {
		t.Fatalf("only %d rows", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := s.do(tt.r)
			if resp.status >= 500 {
				t.Fatalf("server error %d: %s", resp.status, resp.body)
			}
			e := decodeJSON[errorJSON](t, resp)
			if resp.status != tt.status || e.Error.Code != tt.code {
				t.Errorf("got %d %s, want %d %s; body: %.300s", resp.status, e.Error.Code, tt.status, tt.code, resp.body)
			}
			if ct := resp.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			if !frenchMessage(e.Error.Message) {
				t.Errorf("message %q is not a plain French sentence", e.Error.Message)
			}
			var got []string
			for k, msg := range e.Error.Fields {
				got = append(got, k)
				if !frenchMessage(msg) {
					t.Errorf("fields[%s] = %q", k, msg)
				}
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tt.fields))
			if !slices.Equal(got, want) {
				t.Errorf("fields %v, want %v (%v)", got, want, e.Error.Fields)
			}
			if tt.status == http.StatusMethodNotAllowed && resp.header.Get("Allow") == "" {
				t.Error("405 without an Allow header")
			}
		})
	}

	s.must(http.StatusOK, req{method: "GET", path: "/healthz"})
	after := decodeJSON[rdvJSON](t, s.must(http.StatusOK, req{method: "GET", path: rdvPath, agent: "camille-martin"}))
	if after.Status != "unknown" || after.StartsAt != thu9 || after.CancelledAt != nil {
		t.Errorf("the hostile requests changed the RDV: %+v", after)
	}
	list := decodeJSON[struct {
		RDVs []rdvJSON `json:"rdvs"`
	}](t, s.must(http.StatusOK, req{method: "GET", path: "/api/v1/rdvs?from=2026-12-01&to=2027-11-30", agent: "camille-martin"}))
	if len(list.RDVs) != 2 {
		t.Errorf("%d RDVs after the hostile requests, want the 2 booked before", len(list.RDVs))
	}
}

// frenchMessage reports whether msg reads as a message for users: not
// empty, and without Go or JSON library internals.
func frenchMessage(msg string) bool {
	if strings.TrimSpace(msg) == "" {
		return false
	}
	for _, leak := range []string{"json:", "booking.", "httpapi.", "rdv.", "struct", "interface {", "map[", "<nil>", "bbolt", "panic"} {
		if strings.Contains(msg, leak) {
			return false
		}
	}
	return true
}
