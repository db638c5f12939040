// Package config owns the YAML file of rdvsync (docs/design.md §4): its schema,
// decoding with file:line:column errors, defaults, secrets read from *_file
// and *_env, and the validation of every cross-reference. Unknown keys are
// errors. Every problem is reported, not only the first.
package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Load reads, decodes and validates the file at path. On failure the error
// is an Errors value listing every problem.
func Load(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes and validates data read from the file named path (used in
// messages and to resolve relative paths).
func Parse(path string, data []byte) (*File, error) {
	var root yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: path, Pos: Pos{1, 1}, Msg: "the file is empty"}}
		}
		return nil, Errors{{File: path, Pos: syntaxPos(err), Msg: "YAML syntax: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	f := &File{Path: path}
	var errs Errors
	d := &decoder{file: path, errs: &errs, pos: map[string]Pos{}, failed: map[string]bool{}, budget: aliasFactor * countNodes(&root)}
	d.decode(&root, reflect.ValueOf(f).Elem(), "")
	if d.spent {
		// What was decoded is a fragment: validating it would only add
		// errors about what the walk did not reach.
		return nil, errs.sorted()
	}
	v := &validator{f: f, d: d, dir: filepath.Dir(path)}
	v.run()
	if len(errs) > 0 {
		return nil, errs.sorted()
	}
	return f, nil
}

// syntaxPos extracts "line N" from a yaml.v3 syntax error.
func syntaxPos(err error) Pos {
	var line int
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		fmt.Sscanf(s[i:], "line %d", &line)
	}
	return Pos{Line: line, Column: 1}
}

// Resolve makes a path given in the file relative to the file's directory.
func (f *File) Resolve(p string) string { return f.resolve(p) }

func (f *File) resolve(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(filepath.Dir(f.Path), p)
}
