package caldavext

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// element is a parsed XML element with its namespaces resolved. WebDAV
// bodies have no mixed content, so an element holds either children or
// text (calendar-data, href, status).
type element struct {
	name     xml.Name
	attrs    []xml.Attr // without namespace declarations
	children []*element
	text     string
}

// parseXML reads one document into a tree. Namespace prefixes are resolved
// by encoding/xml, so the tree does not depend on how the writer chose them.
func parseXML(r io.Reader) (*element, error) {
	d := xml.NewDecoder(r)
	var stack []*element
	var root *element
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if root == nil || len(stack) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return root, nil
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			e := &element{name: t.Name}
			for _, a := range t.Attr {
				if a.Name.Space != "xmlns" && a.Name.Local != "xmlns" {
					e.attrs = append(e.attrs, a)
				}
			}
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.children = append(parent.children, e)
			} else if root == nil {
				root = e
			}
			stack = append(stack, e)
		case xml.EndElement:
			if e := stack[len(stack)-1]; len(e.children) > 0 && strings.TrimSpace(e.text) == "" {
				e.text = "" // indentation between children
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(t)
			}
		}
	}
}

// is reports whether e is the element space:local.
func (e *element) is(space, local string) bool {
	return e != nil && e.name.Space == space && e.name.Local == local
}

// child returns the first child named space:local, or nil.
func (e *element) child(space, local string) *element {
	if e == nil {
		return nil
	}
	for _, c := range e.children {
		if c.is(space, local) {
			return c
		}
	}
	return nil
}

// all returns the children named space:local.
func (e *element) all(space, local string) []*element {
	var out []*element
	for _, c := range e.children {
		if c.is(space, local) {
			out = append(out, c)
		}
	}
	return out
}

// value is the text of e without surrounding spaces ("" for nil).
func (e *element) value() string {
	if e == nil {
		return ""
	}
	return strings.TrimSpace(e.text)
}

// attr returns the value of the unqualified attribute local.
func (e *element) attr(local string) (string, bool) {
	for _, a := range e.attrs {
		if a.Name.Space == "" && a.Name.Local == local {
			return a.Value, true
		}
	}
	return "", false
}

// newElement builds an element; children may be nil.
func newElement(space, local string, children ...*element) *element {
	return &element{name: xml.Name{Space: space, Local: local}, children: children}
}

// textElement builds an element holding text.
func textElement(space, local, text string) *element {
	return &element{name: xml.Name{Space: space, Local: local}, text: text}
}

// prefixes are the ones written for the namespaces WebDAV bodies use most;
// others get ns1, ns2… in order of appearance.
var prefixes = map[string]string{nsDAV: "d", nsCalDAV: "c", nsCS: "cs"}

// marshal writes the document with every namespace declared once, on the
// root element.
func (e *element) marshal() []byte {
	names := map[string]string{}
	var order []string
	var collect func(*element)
	collect = func(el *element) {
		for _, space := range append([]string{el.name.Space}, attrSpaces(el)...) {
			if _, ok := names[space]; ok || space == "" {
				continue
			}
			p, ok := prefixes[space]
			if !ok {
				p = fmt.Sprintf("ns%d", len(order)+1)
			}
			names[space] = p
			order = append(order, space)
		}
		for _, c := range el.children {
			collect(c)
		}
	}
	collect(e)
	var b bytes.Buffer
	b.WriteString(xml.Header)
	e.write(&b, names, order)
	return b.Bytes()
}

func attrSpaces(e *element) []string {
	var out []string
	for _, a := range e.attrs {
		out = append(out, a.Name.Space)
	}
	return out
}

func qualified(n xml.Name, names map[string]string) string {
	if n.Space == "" {
		return n.Local
	}
	return names[n.Space] + ":" + n.Local
}

func (e *element) write(b *bytes.Buffer, names map[string]string, declare []string) {
	tag := qualified(e.name, names)
	b.WriteString("<" + tag)
	for _, space := range declare {
		b.WriteString(" xmlns:" + names[space] + `="`)
		escape(b, space, true)
		b.WriteString(`"`)
	}
	for _, a := range e.attrs {
		b.WriteString(" " + qualified(a.Name, names) + `="`)
		escape(b, a.Value, true)
		b.WriteString(`"`)
	}
	if len(e.children) == 0 && e.text == "" {
		b.WriteString("/>")
		return
	}
	b.WriteString(">")
	escape(b, e.text, false)
	for _, c := range e.children {
		c.write(b, names, nil)
	}
	b.WriteString("</" + tag + ">")
}

// escape writes s as XML character data. A carriage return is written as
// a character reference: XML parsers turn a literal CRLF into LF (XML 1.0
// §2.11), and iCalendar lines end with CRLF (RFC 5545 §3.1).
func escape(b *bytes.Buffer, s string, attr bool) {
	if attr {
		attrEscaper.WriteString(b, s)
		return
	}
	textEscaper.WriteString(b, s)
}

var (
	textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;")
	attrEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "\r", "&#xD;",
		`"`, "&quot;", "\n", "&#xA;", "\t", "&#x9;")
)

// namesWellFormed reports whether every element's local name is an XML
// name on its own. encoding/xml checks "A:0" as one name and then splits
// it, so a request may name a property "0"; go-webdav echoes it back as
// <0 xmlns="A">, which no parser (ours included) reads. Found by
// FuzzDAVBody.
func (e *element) namesWellFormed() bool {
	if _, err := xml.NewDecoder(strings.NewReader("<" + e.name.Local + "/>")).Token(); err != nil {
		return false
	}
	for _, c := range e.children {
		if !c.namesWellFormed() {
			return false
		}
	}
	return true
}
