package config

import (
	"encoding"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Pos is a position in the YAML file.
type Pos struct{ Line, Column int }

// decoder walks a yaml.Node tree into the raw structs, collecting every error
// with its path and position instead of stopping at the first, and recording
// the position of every path so validation can point at the right line.
type decoder struct {
	file   string
	errs   *Errors
	pos    map[string]Pos
	failed map[string]bool // paths whose value could not be decoded
	// budget is how many more nodes the walk may visit. Aliases make a
	// small file stand for an exponentially larger tree (the "billion
	// laughs"), and the walk follows them: without a bound, a 20 KB file
	// takes seconds and hundreds of MB to decode, at every SIGHUP too.
	budget int
	// spent is set once the budget is exhausted: the walk then stops.
	spent bool
	// via is the outermost alias being expanded, where an exhausted
	// budget is reported (the nodes inside belong to the anchor).
	via *yaml.Node
}

// aliasFactor bounds the walk at this many times the nodes the file itself
// holds: far more than any sharing of blocks through anchors needs.
const aliasFactor = 100

// countNodes is the number of nodes written in the file (aliases count as
// one node each, not as what they stand for).
func countNodes(n *yaml.Node) int {
	c := 1
	for _, k := range n.Content {
		c += countNodes(k)
	}
	return c
}

var textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()

func (d *decoder) errorf(n *yaml.Node, path, format string, args ...any) {
	d.errs.add(d.file, Pos{n.Line, n.Column}, path, fmt.Sprintf(format, args...))
	d.failed[path] = true
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.spent {
		return
	}
	if d.budget--; d.budget < 0 {
		d.spent = true
		at := n
		if d.via != nil {
			at = d.via
		}
		d.errorf(at, path, "the aliases (*name) of this file expand to more than %d times the values it holds; "+
			"refusing to decode it (write the repeated blocks out, or use fewer nested aliases)", aliasFactor)
		return
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	if n.Kind == yaml.AliasNode {
		if d.via == nil {
			d.via = n
			defer func() { d.via = nil }()
		}
		n = n.Alias
	}
	d.pos[path] = Pos{n.Line, n.Column}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return
	}
	if v.Kind() != reflect.Pointer && v.CanAddr() && v.Addr().Type().Implements(textUnmarshalerType) {
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, path, "expected a single value, not a %s", kindName(n))
			return
		}
		if err := v.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(n.Value)); err != nil {
			d.errorf(n, path, "%s", err)
		}
		return
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.decode(n, v.Elem(), path)
	case reflect.Struct:
		d.decodeStruct(n, v, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.errorf(n, path, "expected a list, not a %s", kindName(n))
			return
		}
		v.Set(reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content)))
		for i, c := range n.Content {
			d.decode(c, v.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			d.errorf(n, path, "expected a mapping, not a %s", kindName(n))
			return
		}
		v.Set(reflect.MakeMap(v.Type()))
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			elem := reflect.New(v.Type().Elem()).Elem()
			d.decode(val, elem, joinPath(path, k.Value))
			v.SetMapIndex(reflect.ValueOf(k.Value), elem)
		}
	case reflect.String:
		if n.Kind != yaml.ScalarNode {
			d.errorf(n, path, "expected a text value, not a %s", kindName(n))
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		b, err := strconv.ParseBool(n.Value)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.errorf(n, path, "%q is not a boolean (use true or false)", n.Value)
			return
		}
		v.SetBool(b)
	case reflect.Int, reflect.Int64:
		i, err := strconv.ParseInt(n.Value, 10, 64)
		if n.Kind != yaml.ScalarNode || err != nil {
			d.errorf(n, path, "%q is not a whole number", n.Value)
			return
		}
		v.SetInt(i)
	default:
		panic(fmt.Sprintf("config: unsupported field kind %s at %s", v.Kind(), path))
	}
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.MappingNode {
		d.errorf(n, path, "expected a mapping of keys, not a %s", kindName(n))
		return
	}
	fields := map[string]int{}
	var known []string
	for i := 0; i < v.NumField(); i++ {
		name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("yaml"), ",")
		if name != "" && name != "-" {
			fields[name] = i
			known = append(known, name)
		}
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		p := joinPath(path, k.Value)
		idx, ok := fields[k.Value]
		if !ok {
			d.errorf(k, p, "unknown key %q (known keys: %s)", k.Value, strings.Join(known, ", "))
			continue
		}
		if seen[k.Value] {
			d.errorf(k, p, "key %q is given twice", k.Value)
			continue
		}
		seen[k.Value] = true
		d.decode(val, v.Field(idx), p)
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.SequenceNode:
		return "list"
	case yaml.MappingNode:
		return "mapping"
	default:
		return "single value"
	}
}
