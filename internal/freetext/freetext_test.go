package freetext

import "testing"

func TestLineAndMultiline(t *testing.T) {
	for _, tc := range []struct{ in, line, multi string }{
		{"  Le\u0301a ", "L\u00e9a", "L\u00e9a"},
		{"a\r\nb\rc\nd", "a\r\nb\rc\nd", "a\nb\nc\nd"},
		{"\r\n\r\n", "", ""},
	} {
		if got := Line(tc.in); got != tc.line {
			t.Errorf("Line(%q) = %q, want %q", tc.in, got, tc.line)
		}
		if got := Multiline(tc.in); got != tc.multi {
			t.Errorf("Multiline(%q) = %q, want %q", tc.in, got, tc.multi)
		}
	}
}

func TestForbidden(t *testing.T) {
	for _, tc := range []struct {
		in          string
		name, multi bool // refused in a name, in a multi-line field
	}{
		{`O"Brien`, false, false},
		{"D'Ornano-Lefèvre", false, false},
		{"محمد", false, false},
		{"a\nb", true, false},
		{"a\tb", true, false},
		{"a\rb", true, true},
		{"a\x00b", true, true},
		{"a\x7fb", true, true},
		{"a\u0085b", true, true},
		{"a\u202eb", true, true},
		{"a\u2066b\u2069", true, true},
		{"a\u200bb", true, false},
		{"👨\u200d👩", true, false},
		{"\ufeffa", true, false},
		{"a\u2060b", true, false},
		{"a\u200eb", false, false}, // a left-to-right mark does not reorder
		{"a\xffb", true, true},
		{"a\uFFFDb", false, false}, // a replacement character typed as such
	} {
		if _, got := Forbidden(tc.in); got != tc.name {
			t.Errorf("Forbidden(%q) = %v, want %v", tc.in, got, tc.name)
		}
		if _, got := ForbiddenMultiline(tc.in); got != tc.multi {
			t.Errorf("ForbiddenMultiline(%q) = %v, want %v", tc.in, got, tc.multi)
		}
	}
}

func TestPrintable(t *testing.T) {
	for _, tc := range []struct {
		in        string
		multiline bool
		want      string
	}{
		{"a\r\nb\rc\nd\te", true, "a\nb\nc\nd\te"},
		{"a\r\nb\x1b[2J\x00c\u0085", true, "a\nb[2Jc"},
		{"Léa\r\nO\"Brien\x00", false, "LéaO\"Brien"},
		{"a\xffb", false, "a\uFFFDb"},
	} {
		if got := Printable(tc.in, tc.multiline); got != tc.want {
			t.Errorf("Printable(%q, %v) = %q, want %q", tc.in, tc.multiline, got, tc.want)
		}
	}
}
