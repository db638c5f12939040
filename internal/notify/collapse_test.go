package notify

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// The loops of collapse.go give what the regular expressions they
// replaced give, on random texts of whitespace (including the ones \s does
// not match) and letters.
func TestCollapseAsTheExpressions(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	alphabet := []string{" ", "\t", "\n", "\n", "\r", "\f", "\v", "a", "é", "\u00a0", "\u202f"}
	cases := []struct {
		name string
		got  func(string) string
		want func(string) string
	}{
		{"oneLine", oneLine, func(s string) string { return strings.TrimSpace(regexp.MustCompile(`\s+`).ReplaceAllString(s, " ")) }},
		{"trimLineEnds", trimLineEnds, func(s string) string { return regexp.MustCompile(`[ \t]+\n`).ReplaceAllString(s, "\n") }},
		{"squeezeBlankLines", squeezeBlankLines, func(s string) string { return regexp.MustCompile(`\n{3,}`).ReplaceAllString(s, "\n\n") }},
		{"dropBlankHTMLLines", dropBlankHTMLLines, func(s string) string { return regexp.MustCompile(`\n\s*\n+`).ReplaceAllString(s, "\n") }},
	}
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n := r.IntN(24); n > 0; n-- {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		s := b.String()
		for _, c := range cases {
			if got, want := c.got(s), c.want(s); got != want {
				t.Fatalf("%s(%q) = %q, the expression gives %q", c.name, s, got, want)
			}
		}
	}
}
