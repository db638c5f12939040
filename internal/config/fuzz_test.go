package config

import (
	"errors"
	"os"
	"testing"
)

// FuzzParse parses any bytes as the configuration file: Parse returns a
// File or Errors naming the file, never panics, and the alias budget keeps
// each input quick.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(example)
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("fuzz.yaml", data)
		var errs Errors
		switch {
		case err == nil:
			if file == nil {
				t.Fatal("Parse returned neither a file nor an error")
			}
		case !errors.As(err, &errs) || len(errs) == 0:
			t.Fatalf("Parse error is not Errors: %v", err)
		default:
			for _, e := range errs {
				if e.File != "fuzz.yaml" || e.Msg == "" || e.Pos.Line < 0 {
					t.Fatalf("error without its place or message: %#v", e)
				}
			}
		}
	})
}
