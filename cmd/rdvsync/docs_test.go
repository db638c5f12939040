package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDesignCitations: the code cites the design contract as
// "docs/design.md §N"; each cited section exists in that file, and no
// citation names a document that is not in the repository.
func TestDesignCitations(t *testing.T) {
	design, err := os.ReadFile("../../docs/design.md")
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^## (\d+)\. `).FindAllStringSubmatch(string(design), -1) {
		sections[m[1]] = true
	}
	cite := regexp.MustCompile(`docs/design\.md §(\d+)`)
	stale := regexp.MustCompile(`\bDESIGN(\.md)? §`)
	n := 0
	err = filepath.WalkDir("../..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "node_modules" || d.Name() == "data") {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".md")) {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range cite.FindAllStringSubmatch(string(data), -1) {
			n++
			if !sections[m[1]] {
				t.Errorf("%s cites docs/design.md §%s, which does not exist", path, m[1])
			}
		}
		if stale.Match(data) {
			t.Errorf("%s cites the old DESIGN document, which is not in the repository: cite docs/design.md", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 20 {
		t.Errorf("only %d citations of docs/design.md found: is the walk reading the tree?", n)
	}
}
