package webhook

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"rdvsync/internal/booking"
	"rdvsync/internal/catalog"
	"rdvsync/internal/config"
	"rdvsync/internal/rdv"
)

// Mapping turns another tool's payload (a form builder's answers, say)
// into the booking body of docs/design.md §5. Each rule fills one booking field
// (config.MappingTargets) from either
//
//   - a JSON pointer into the payload (RFC 6901: "/data/fields/3/value"),
//     with one extension for arrays of answers: a reference token
//     "name=value" on an array selects its first element that is an object
//     whose member name (dots reach nested members: "field.ref=prenom")
//     equals value — "/data/fields/key=question_prenom/value". A standard
//     pointer never has such a token on an array, so the extension changes
//     the meaning of no valid pointer; or
//   - a constant: "=rsa-orientation" fills the field with "rsa-orientation".
//     starts_at: "=first_available" (config.FirstAvailable) is no start
//     but asks for the first free slot (Submission.FirstAvailable), from
//     the not_before answer if the mapping has one.
//
// A pointer to nothing (or to null, or to "") leaves the field empty: the
// booking then says which required field is missing. Strings are taken as
// they are, numbers and booleans as their JSON text, arrays of those
// joined with ", " (multiple-choice answers); an object is an error.
type Mapping struct {
	rules []rule
}

type rule struct {
	target   string
	source   string   // as configured, for messages
	constant *string  // set for "=…" rules
	tokens   []string // unescaped reference tokens of the pointer
}

// ErrMalformedPayload says the body is not JSON at all (400, not 422).
var ErrMalformedPayload = errors.New("webhook payload is not valid JSON")

// CompileMapping checks and prepares a configured mapping.
func CompileMapping(m map[string]string) (*Mapping, error) {
	out := &Mapping{}
	for target, src := range m {
		if !slices.Contains(config.MappingTargets, target) {
			return nil, fmt.Errorf("mapping: %q is not a booking field", target)
		}
		r := rule{target: target, source: src}
		switch {
		case strings.HasPrefix(src, "="):
			c := src[1:]
			r.constant = &c
		case strings.HasPrefix(src, "/"):
			for _, tok := range strings.Split(src[1:], "/") {
				r.tokens = append(r.tokens, strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~"))
			}
		default:
			return nil, fmt.Errorf("mapping: %s: %q is neither a JSON pointer nor a constant", target, src)
		}
		out.rules = append(out.rules, r)
	}
	slices.SortFunc(out.rules, func(a, b rule) int { return strings.Compare(a.target, b.target) })
	return out, nil
}

// Submission is a form's payload translated into a booking.
type Submission struct {
	Request booking.BookRequest
	// FirstAvailable books the first free slot (starts_at:
	// "=first_available"), from NotBefore when it is not zero.
	FirstAvailable bool
	NotBefore      time.Time
}

// Apply builds the booking request from payload. Times given without an
// offset ("2026-12-03T09:00", or starts_at.date + starts_at.time) are
// read in the motif's organisation's zone, as a person filling a form
// means them.
func (m *Mapping) Apply(cat *catalog.Catalog, payload []byte) (booking.BookRequest, error) {
	sub, err := m.Submission(cat, payload)
	return sub.Request, err
}

// Submission is Apply with the "first available slot" request.
func (m *Mapping) Submission(cat *catalog.Catalog, payload []byte) (Submission, error) {
	var sub Submission
	req := &sub.Request
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return sub, ErrMalformedPayload
	}
	if _, err := dec.Token(); err != io.EOF {
		return sub, ErrMalformedPayload // trailing data
	}
	values := map[string]string{}
	fe := map[string]string{}
	for _, r := range m.rules {
		if r.constant != nil {
			values[r.target] = *r.constant
			continue
		}
		v, ok := resolve(doc, r.tokens)
		if !ok {
			continue
		}
		s, ok := scalarText(v)
		if !ok {
			fe[r.target] = fmt.Sprintf("la valeur lue en %s n'est pas un texte", r.source)
			continue
		}
		values[r.target] = strings.TrimSpace(s)
	}
	body := map[string]any{}
	for _, r := range m.rules {
		group, field, nested := strings.Cut(r.target, ".")
		switch {
		case group == "starts_at" && nested: // starts_at.date and .time: see startsAt
		case r.target == "not_before":
		case r.target == "starts_at" && r.source == config.FirstAvailable:
			sub.FirstAvailable = true
		case nested:
			// The usager and prescripteur objects exist as soon as the
			// mapping names one of their fields, so a missing answer reads
			// "prescripteur.email: obligatoire", not "prescripteur: obligatoire".
			sub, _ := body[group].(map[string]any)
			if sub == nil {
				sub = map[string]any{}
				body[group] = sub
			}
			sub[field] = values[r.target]
		default:
			body[r.target] = values[r.target]
		}
	}
	// The targets are the booking body's own JSON names.
	b, err := json.Marshal(body)
	if err == nil {
		err = json.Unmarshal(b, req)
	}
	if err != nil {
		return sub, fmt.Errorf("webhook mapping: %w", err)
	}
	startsAt(cat, req, values, fe)
	if s := values["not_before"]; s != "" && sub.FirstAvailable {
		sub.NotBefore = notBefore(cat, req.MotifID, s, fe)
	}
	if len(fe) > 0 {
		return sub, &rdv.InvalidError{Fields: fe}
	}
	return sub, nil
}

// notBefore reads a "not before" answer: a date (the start of that day)
// or a date-time, in the motif's organisation's zone unless it has an
// offset. An unknown motif is left to booking to report.
func notBefore(cat *catalog.Catalog, motifID, s string, fe map[string]string) time.Time {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t
	}
	m := cat.Motif(motifID)
	if m == nil {
		return time.Time{}
	}
	loc := m.Organisation.Location
	for _, layout := range localDateTimes {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t
		}
	}
	if d, ok := parseAny(localDates, s); ok {
		return time.Date(d.Year(), d.Month(), d.Day(), 0, 0, 0, 0, loc)
	}
	fe["not_before"] = "date invalide (AAAA-MM-JJ ou JJ/MM/AAAA)"
	return time.Time{}
}

// Wall-clock layouts a form may send, read in the organisation's zone.
var (
	localDateTimes = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", "2006-01-02 15:04", "2006-01-02 15:04:05"}
	localDates     = []string{"2006-01-02", "02/01/2006"}
	localTimes     = []string{"15:04", "15:04:05", "15h04", "15h"}
)

// startsAt turns a start without offset into RFC 3339 in the motif's
// organisation's zone; an unknown motif is left to booking to report.
func startsAt(cat *catalog.Catalog, req *booking.BookRequest, values, fe map[string]string) {
	date, clock := values["starts_at.date"], values["starts_at.time"]
	if req.StartsAt == "" && (date != "" || clock != "") {
		if date == "" {
			fe["starts_at.date"] = "obligatoire avec starts_at.time"
			return
		}
		if clock == "" {
			fe["starts_at.time"] = "obligatoire avec starts_at.date"
			return
		}
		d, ok := parseAny(localDates, date)
		if !ok {
			fe["starts_at.date"] = "date invalide (AAAA-MM-JJ ou JJ/MM/AAAA)"
		}
		c, ok2 := parseAny(localTimes, clock)
		if !ok2 {
			fe["starts_at.time"] = "heure invalide (HH:MM)"
		}
		if !ok || !ok2 {
			return
		}
		req.StartsAt = d.Format(time.DateOnly) + "T" + c.Format(time.TimeOnly)
	}
	if req.StartsAt == "" {
		return
	}
	if _, err := time.Parse(time.RFC3339, req.StartsAt); err == nil {
		return
	}
	m := cat.Motif(req.MotifID)
	if m == nil {
		return
	}
	for _, layout := range localDateTimes {
		if t, err := time.ParseInLocation(layout, req.StartsAt, m.Organisation.Location); err == nil {
			req.StartsAt = t.Format(time.RFC3339)
			return
		}
	}
}

func parseAny(layouts []string, s string) (time.Time, bool) {
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// resolve follows a pointer's tokens through a decoded JSON document.
func resolve(doc any, tokens []string) (any, bool) {
	cur := doc
	for _, tok := range tokens {
		switch node := cur.(type) {
		case map[string]any:
			v, ok := node[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			if i, ok := arrayIndex(tok); ok {
				if i >= len(node) {
					return nil, false
				}
				cur = node[i]
				continue
			}
			name, want, ok := strings.Cut(tok, "=")
			if !ok {
				return nil, false
			}
			found := false
			for _, el := range node {
				if v, ok := member(el, name); ok {
					if s, ok := scalarText(v); ok && s == want {
						cur, found = el, true
						break
					}
				}
			}
			if !found {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	return cur, cur != nil
}

// arrayIndex parses an RFC 6901 array index: digits, no leading zero.
func arrayIndex(tok string) (int, bool) {
	if tok == "" || (len(tok) > 1 && tok[0] == '0') {
		return 0, false
	}
	for _, c := range tok {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	i, err := strconv.Atoi(tok)
	return i, err == nil
}

// member follows a dotted member path ("field.ref") through objects.
func member(v any, dotted string) (any, bool) {
	for _, name := range strings.Split(dotted, ".") {
		obj, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = obj[name]; !ok {
			return nil, false
		}
	}
	return v, true
}

// scalarText renders a JSON scalar, or an array of scalars, as text.
func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "", true
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		return strconv.FormatBool(x), true
	case []any:
		parts := make([]string, 0, len(x))
		for _, el := range x {
			s, ok := scalarText(el)
			if !ok || isArray(el) {
				return "", false
			}
			if s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", "), true
	}
	return "", false
}

func isArray(v any) bool { _, ok := v.([]any); return ok }
