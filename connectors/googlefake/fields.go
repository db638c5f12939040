package googlefake

import (
	"fmt"
	"reflect"
	"strings"
)

// selection is a parsed `fields` parameter (Google's partial response,
// https://developers.google.com/calendar/api/guides/performance#partial):
// each selected field maps to the selection inside it, nil for the whole
// field; "*" selects every field of its level.
type selection map[string]selection

// parseFields parses the grammar Google accepts: a comma-separated list
// of paths ("a/b/c"), each optionally followed by a parenthesised
// sub-list ("items(id,start/dateTime)"). Anything else is malformed, which
// Google answers with 400 invalidParameter.
func parseFields(s string) (selection, error) {
	p := &fieldsParser{s: s}
	sel, err := p.list()
	if err == nil && p.pos < len(s) {
		err = fmt.Errorf("unexpected %q at %d", s[p.pos], p.pos)
	}
	return sel, err
}

type fieldsParser struct {
	s   string
	pos int
}

func (p *fieldsParser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

func (p *fieldsParser) list() (selection, error) {
	sel := selection{}
	for {
		if err := p.item(sel); err != nil {
			return nil, err
		}
		if p.peek() != ',' {
			return sel, nil
		}
		p.pos++
	}
}

func (p *fieldsParser) item(sel selection) error {
	start := p.pos
	for p.pos < len(p.s) && (isNameByte(p.s[p.pos]) || p.s[p.pos] == '*') {
		p.pos++
	}
	name := p.s[start:p.pos]
	if name == "" || (strings.Contains(name, "*") && name != "*") {
		return fmt.Errorf("expected a field name at %d", start)
	}
	switch p.peek() {
	case '/':
		p.pos++
		sub := selection{}
		if err := p.item(sub); err != nil {
			return err
		}
		sel.add(name, sub)
	case '(':
		p.pos++
		sub, err := p.list()
		if err != nil {
			return err
		}
		if p.peek() != ')' {
			return fmt.Errorf("missing ) at %d", p.pos)
		}
		p.pos++
		sel.add(name, sub)
	default:
		sel.add(name, nil)
	}
	return nil
}

func isNameByte(b byte) bool {
	return b == '_' || b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9'
}

// add merges sub into the selection of name: a whole field stays whole.
func (sel selection) add(name string, sub selection) {
	old, ok := sel[name]
	switch {
	case !ok:
		sel[name] = sub
	case old == nil || sub == nil:
		sel[name] = nil
	default:
		for k, v := range sub {
			old.add(k, v)
		}
	}
}

// check returns the path of a selected field that the resource type t
// does not have, or ""; below a map (extendedProperties.private) any key
// goes.
func (sel selection) check(t reflect.Type, path string) string {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() == reflect.Map {
		return ""
	}
	for name, sub := range sel {
		if name == "*" {
			continue
		}
		f, ok := jsonField(t, name)
		if !ok {
			return path + name
		}
		if sub != nil {
			if bad := sub.check(f.Type, path+name+"/"); bad != "" {
				return bad
			}
		}
	}
	return ""
}

func jsonField(t reflect.Type, name string) (reflect.StructField, bool) {
	if t.Kind() != reflect.Struct {
		return reflect.StructField{}, false
	}
	for i := range t.NumField() {
		f := t.Field(i)
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == name && tag != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// apply keeps only the selected fields of v, a decoded JSON value.
func (sel selection) apply(v any) any {
	if sel == nil {
		return v
	}
	switch x := v.(type) {
	case map[string]any:
		if all, ok := sel["*"]; ok && all == nil {
			return x
		}
		out := map[string]any{}
		for k, sub := range sel {
			if val, ok := x[k]; ok {
				out[k] = sub.apply(val)
			}
		}
		return out
	case []any:
		for i := range x {
			x[i] = sel.apply(x[i])
		}
	}
	return v
}
