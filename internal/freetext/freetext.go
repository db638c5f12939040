// Package freetext owns the rules for text typed by people (usagers,
// prescripteurs, agents, webhook sources) before rdvsync stores it: one
// normalisation at the edge, so that every encoder downstream (iCalendar,
// email headers, HTML pages, JSON) can rely on what it receives.
//
//   - Everything is put in Unicode normalisation form C (UAX #15), so "é"
//     typed as e + U+0301 and as U+00E9 is one string for searches and
//     de-duplication.
//   - Multi-line fields (the booking context, a cancel reason) have their
//     line breaks as LF only: browsers send CRLF (HTML §4.10.5.1.2), and
//     a CR is what go-ical refuses to encode (RFC 5545 §3.1 content lines
//     end in CRLF, so a bare CR in a value is not representable).
//   - Names and other one-line fields must not hold control characters
//     (C0, DEL, C1), bidirectional embeddings, overrides or isolates
//     (U+202A–U+202E, U+2066–U+2069: they reorder what a reader sees, as in
//     "Trojan Source", CVE-2021-42574) nor zero-width characters (U+200B–
//     U+200D, U+2060, U+FEFF), which make two different names look alike.
package freetext

import (
	"strings"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Line normalises a one-line field: NFC, surrounding spaces trimmed.
// It does not check it: see Forbidden.
func Line(s string) string {
	return strings.TrimSpace(norm.NFC.String(s))
}

// Multiline normalises a multi-line field: NFC, every CRLF and lone CR
// turned into LF, surrounding spaces trimmed.
func Multiline(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.TrimSpace(norm.NFC.String(s))
}

// Control reports whether r is a C0 or C1 control character or DEL.
func Control(r rune) bool {
	return r < 0x20 || (r >= 0x7f && r <= 0x9f)
}

// Bidi reports whether r is a bidirectional embedding, override or
// isolate (the explicit formatting characters of UAX #9 §2, except the
// marks U+200E, U+200F and U+061C, which do not reorder text).
func Bidi(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// ZeroWidth reports whether r is a zero-width space, joiner or no-break
// space (byte-order mark).
func ZeroWidth(r rune) bool {
	return (r >= 0x200b && r <= 0x200d) || r == 0x2060 || r == 0xfeff
}

// Forbidden returns the first rune a name or one-line field must not hold,
// and whether there is one; invalid UTF-8 counts as utf8.RuneError.
func Forbidden(s string) (rune, bool) {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n <= 1 {
				return r, true
			}
		}
		if Control(r) || Bidi(r) || ZeroWidth(r) {
			return r, true
		}
	}
	return 0, false
}

// ForbiddenMultiline is Forbidden for a multi-line field already passed
// through Multiline: LF and TAB are allowed, and so are zero-width
// characters (emoji sequences and some scripts need the joiners in
// running text, where they cannot disguise a name).
func ForbiddenMultiline(s string) (rune, bool) {
	for i, r := range s {
		if r == utf8.RuneError {
			if _, n := utf8.DecodeRuneInString(s[i:]); n <= 1 {
				return r, true
			}
		}
		if (Control(r) && r != '\n' && r != '\t') || Bidi(r) {
			return r, true
		}
	}
	return 0, false
}

// Printable drops from s what no text encoder can carry, for data that did
// not come through the edge (stored before these rules, or from the
// configuration): CR and CRLF become LF when multiline is true; other
// control characters but TAB (and LF when multiline) are removed.
func Printable(s string, multiline bool) string {
	if multiline {
		s = strings.ReplaceAll(s, "\r\n", "\n")
	}
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\t':
			return r
		case multiline && (r == '\n' || r == '\r'):
			return '\n'
		case Control(r):
			return -1
		}
		return r
	}, strings.ToValidUTF8(s, "\uFFFD"))
}
