package notify

import "strings"

// The text clean-ups of rendered messages, written as loops: they ran as
// regular expressions on every message, a twentieth of a delivery's CPU.
// Whitespace is what RE2's \s is: tab, newline, form feed, carriage
// return and space (not the no-break spaces French typography puts in
// "9 h 00"). collapse_test.go checks them against the expressions.

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

// oneLine is s with each run of whitespace replaced by one space, trimmed
// (`\s+` → " ").
func oneLine(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) {
			space = true
			continue
		}
		if space && b.Len() > 0 {
			b.WriteByte(' ')
		}
		space = false
		b.WriteByte(s[i])
	}
	return strings.TrimSpace(b.String())
}

// trimLineEnds removes the spaces and tabs that end lines (`[ \t]+\n` →
// "\n").
func trimLineEnds(s string) string {
	out := make([]byte, 0, len(s))
	spaces := -1 // where the spaces and tabs being read begin in out
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case ' ', '\t':
			if spaces < 0 {
				spaces = len(out)
			}
			out = append(out, c)
		case '\n':
			if spaces >= 0 {
				out = out[:spaces]
			}
			out = append(out, c)
			spaces = -1
		default:
			out = append(out, c)
			spaces = -1
		}
	}
	return string(out)
}

// squeezeBlankLines makes three or more newlines in a row two
// (`\n{3,}` → "\n\n").
func squeezeBlankLines(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if s[i] != '\n' {
			b.WriteByte(s[i])
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == '\n' {
			j++
		}
		b.WriteString(s[i:min(j, i+2)])
		i = j
	}
	return b.String()
}

// dropBlankHTMLLines replaces a newline followed by whitespace holding
// another newline, up to the last such newline, by one newline
// (`\n\s*\n+` → "\n").
func dropBlankHTMLLines(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if s[i] != '\n' {
			b.WriteByte(s[i])
			i++
			continue
		}
		last := -1 // the last newline of the whitespace after s[i]
		j := i + 1
		for ; j < len(s) && isSpace(s[j]); j++ {
			if s[j] == '\n' {
				last = j
			}
		}
		b.WriteByte('\n')
		if last < 0 {
			i++
			continue
		}
		i = last + 1
	}
	return b.String()
}
