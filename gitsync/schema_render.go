package gitsync

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/dayops/dayops"
)

// The two renderings of the model of schema.go: JSON Schema and Markdown.

// Schema returns the JSON Schema (draft 2020-12) of the definition format,
// indented, with a final newline: what `dayops schema` prints.
func Schema() []byte {
	objs, _ := buildSchema()
	defs := jsonObject{}
	for _, o := range objs[1:] {
		defs = append(defs, jsonMember{o.name, o.json()})
	}
	root := jsonObject{
		{"$schema", "https://json-schema.org/draft/2020-12/schema"},
		{"title", "dayops definition (" + dayops.APIVersion + ")"},
	}
	root = append(root, objs[0].json()...)
	root = append(root, jsonMember{"$defs", defs})
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(root); err != nil {
		panic(fmt.Sprintf("gitsync: encoding the schema: %v", err)) // only plain values above
	}
	return buf.Bytes()
}

// jsonObject is a JSON object that keeps its keys in order.
type jsonObject []jsonMember

type jsonMember struct {
	key   string
	value any
}

// MarshalJSON writes the members in order.
func (o jsonObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, m := range o {
		if i > 0 {
			b.WriteByte(',')
		}
		k, err := json.Marshal(m.key)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(m.value)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func (o *schemaObject) json() jsonObject {
	out := jsonObject{{"description", o.doc}, {"type", "object"}}
	props := jsonObject{}
	var required []string
	for _, f := range o.fields {
		props = append(props, jsonMember{f.key, f.shape.json(f.doc)})
		if f.required {
			required = append(required, f.key)
		}
	}
	out = append(out, jsonMember{"properties", props})
	if len(required) > 0 {
		out = append(out, jsonMember{"required", required})
	}
	out = append(out, jsonMember{"additionalProperties", false})
	if len(o.oneOf) > 0 {
		var alts []jsonObject
		for _, k := range o.oneOf {
			alts = append(alts, jsonObject{{"required", []string{k}}})
		}
		out = append(out, jsonMember{"oneOf", alts})
	}
	// Conditions are if/then pairs rather than dependentRequired, so that
	// editors whose YAML language server knows only draft-07 apply them too.
	var conds []jsonObject
	for _, k := range slices.Sorted(mapKeys(o.needs)) {
		conds = append(conds, jsonObject{
			{"if", jsonObject{{"required", []string{k}}}},
			{"then", jsonObject{{"required", []string{o.needs[k]}}}},
		})
	}
	if o.whenKey != "" {
		conds = append(conds, jsonObject{
			{"if", jsonObject{
				{"properties", jsonObject{{o.whenKey, jsonObject{{"const", o.whenValue}}}}},
				{"required", []string{o.whenKey}},
			}},
			{"then", jsonObject{{"required", []string{o.whenNeeds}}}},
		})
	}
	if len(conds) > 0 {
		out = append(out, jsonMember{"allOf", conds})
	}
	return out
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// types returns the JSON types of a shape, with null when it may be empty.
func (s shape) types(t ...string) any {
	if s.nullable {
		t = append(t, "null")
	}
	if len(t) == 1 {
		return t[0]
	}
	return t
}

func (s shape) json(doc string) jsonObject {
	out := jsonObject{}
	if doc != "" {
		out = append(out, jsonMember{"description", doc})
	}
	switch s.kind {
	case shapeText:
		out = append(out, jsonMember{"type", s.types("string", "number", "boolean")})
	case shapeName, shapeDuration:
		out = append(out, jsonMember{"type", s.types("string")})
	case shapeInt:
		out = append(out, jsonMember{"type", s.types("integer")})
	case shapeBool:
		out = append(out, jsonMember{"type", s.types("boolean")})
	case shapeList:
		out = append(out, jsonMember{"type", s.types("array")}, jsonMember{"items", s.items.json("")})
		if s.unique {
			out = append(out, jsonMember{"uniqueItems", true})
		}
		if s.minItems > 0 {
			out = append(out, jsonMember{"minItems", s.minItems})
		}
	case shapeMapping:
		out = append(out, jsonMember{"type", s.types("object")})
		if s.keys != nil {
			names := s.keys.json("")
			if s.keysNot != "" {
				names = append(names, jsonMember{"not", jsonObject{{"pattern", s.keysNot}}})
			}
			out = append(out, jsonMember{"propertyNames", names})
		}
		out = append(out, jsonMember{"additionalProperties", s.values.json("")})
	case shapeObject:
		ref := jsonMember{"$ref", "#/$defs/" + s.object}
		if s.orText != "" {
			out = append(out, jsonMember{"anyOf", []jsonObject{{{"type", "string"}, {"pattern", `\S`}}, {ref}}})
		} else if s.nullable {
			out = append(out, jsonMember{"anyOf", []jsonObject{{ref}, {{"type", "null"}}}})
		} else {
			out = append(out, ref)
		}
	}
	if s.pattern != "" {
		out = append(out, jsonMember{"pattern", s.pattern})
	}
	if len(s.enum) == 1 {
		out = append(out, jsonMember{"const", s.enum[0]})
	} else if len(s.enum) > 1 {
		out = append(out, jsonMember{"enum", s.enum})
	}
	if s.min != nil {
		out = append(out, jsonMember{"minimum", *s.min})
	}
	if s.max != nil {
		out = append(out, jsonMember{"maximum", *s.max})
	}
	if s.def != nil {
		out = append(out, jsonMember{"default", s.def})
	}
	return out
}

// SchemaMarkdown describes the definition format for people, from the same
// model as Schema: one section per mapping with fixed keys (the definition
// first), each with a table of its keys. Headings are level 2 and their
// anchors are the $defs names of Schema.
func SchemaMarkdown() string {
	objs, _ := buildSchema()
	var b strings.Builder
	for i, o := range objs {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "## %s\n\n%s\n\n", o.name, o.doc)
		b.WriteString("| key | value | required | description |\n|---|---|---|---|\n")
		for _, f := range o.fields {
			req := ""
			if f.required {
				req = "yes"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.key, cell(f.shape.text(objs)), req, cell(f.doc))
		}
		if len(o.oneOf) > 0 {
			fmt.Fprintf(&b, "\nExactly one of %s.\n", codeList(o.oneOf))
		}
		for _, k := range slices.Sorted(mapKeys(o.needs)) {
			fmt.Fprintf(&b, "\n`%s` needs `%s`.\n", k, o.needs[k])
		}
		if o.whenKey != "" {
			fmt.Fprintf(&b, "\n`%s` is required when `%s` is `%s`.\n", o.whenNeeds, o.whenKey, o.whenValue)
		}
	}
	return b.String()
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

func codeList(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = "`" + w + "`"
	}
	return strings.Join(q, ", ")
}

// text says in words what a value may be.
func (s shape) text(objs []*schemaObject) string {
	var out string
	switch s.kind {
	case shapeText:
		out = "text"
		if s.valueNote != "" {
			out += ": " + s.valueNote
		}
	case shapeName:
		switch {
		case s.valueNote != "" && len(s.enum) == 0:
			out = s.valueNote
			if !strings.Contains(s.valueNote, "one of") {
				out += " matching `" + s.pattern + "`"
			}
		case len(s.enum) == 1:
			out = "`" + s.enum[0] + "`"
		case len(s.enum) > 1:
			out = "one of " + codeList(s.enum)
		default:
			out = "text matching `" + s.pattern + "`"
		}
	case shapeInt:
		out = "whole number"
		switch {
		case s.min != nil && s.max != nil:
			out += fmt.Sprintf(" from %d to %d", *s.min, *s.max)
		case s.min != nil:
			out += fmt.Sprintf(", at least %d", *s.min)
		}
	case shapeBool:
		out = "true or false"
	case shapeDuration:
		out = "duration such as `30s`, `10m` or `1h30m`"
	case shapeList:
		out = "list of " + s.items.text(objs)
		if s.unique {
			out += ", each once"
		}
	case shapeMapping:
		key := "NAME"
		if s.keys != nil {
			key = s.keys.text(objs)
		}
		out = "mapping of " + key + " to " + s.values.text(objs)
	case shapeObject:
		title := s.object
		for _, o := range objs {
			if o.name == s.object {
				title = o.title
			}
		}
		out = "[" + title + "](#" + strings.ToLower(s.object) + ")"
		if s.orText != "" {
			out = "text: " + s.orText + ", or a " + out
		}
	}
	if s.def != nil {
		out += fmt.Sprintf(" (default `%v`)", s.def)
	}
	return out
}
