package caldavext

import (
	"bytes"
	"unicode/utf8"
)

// maxLineOctets is the longest content line RFC 5545 §3.1 wants, CRLF
// excluded.
const maxLineOctets = 75

// fold folds the content lines of an iCalendar stream to 75 octets
// (RFC 5545 §3.1), never inside a UTF-8 sequence. Lines already short
// enough, folded ones included, are left as they are, so folding twice
// changes nothing.
func fold(data []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(data) + len(data)/maxLineOctets*3)
	for len(data) > 0 {
		line := data
		rest := []byte(nil)
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, rest = data[:i+1], data[i+1:]
		}
		data = rest
		eol := []byte(nil)
		if n := len(line); n >= 2 && line[n-2] == '\r' && line[n-1] == '\n' {
			line, eol = line[:n-2], line[n-2:]
		}
		limit := maxLineOctets
		for len(line) > limit {
			cut := limit
			for cut > 0 && !utf8.RuneStart(line[cut]) {
				cut--
			}
			b.Write(line[:cut])
			b.WriteString("\r\n ")
			line = line[cut:]
			limit = maxLineOctets - 1
		}
		b.Write(line)
		b.Write(eol)
	}
	return b.Bytes()
}
