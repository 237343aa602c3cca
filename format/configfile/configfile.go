// Package configfile reads lessllm.yaml, the configuration file format,
// without knowing any of its sections.
//
// A section is a pointer to a struct declared by the package that uses it
// (capture/config owns listen, capture, providers…; analyze/pricing owns
// pricing; and so on), whose yaml-tagged fields are top-level keys of the
// file. Parse decodes the file once into all the sections it is given, so
// that a key no section declares is an error at its line, and the error
// lists the keys every section accepts — derived from the Go types, never
// from a hand-kept table. Each package thus owns the types, defaults and
// validation of its settings, as a Caddy module owns its config struct, and
// the program that composes them (cmd/lessllm) names the list.
//
// The file format, beyond YAML:
//   - ${NAME} and ${NAME:-default} are replaced by environment variables in
//     every string value; a lone '$' stays as written (passwords).
//   - Every error is "file:line: what is wrong, what is expected".
//   - Errors never repeat a credential: yaml quotes values in its messages,
//     so user:password@ and whatever follows a colon in a quote is masked.
package configfile

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Validator is implemented by a section that checks its values after
// decoding and ${ENV} expansion; it reports each problem through c.
type Validator interface {
	Validate(c *Checker)
}

// BeforeExpander is implemented by a section that needs some values as
// written, before ${ENV} references are expanded (capture notes which
// variable a provider's key was to come from, to name it when unset).
type BeforeExpander interface {
	BeforeExpand()
}

// Parse decodes YAML data (named path in errors) into sections, each a
// non-nil pointer to a struct whose yaml-tagged fields are top-level keys.
// Values already in a section are its defaults: a key the file sets
// replaces them, and a mapping adds to (or replaces, by key) a default
// mapping. An empty file leaves every section as it was.
//
// Two sections that declare one key are a programming error: Parse panics.
func Parse(path string, data []byte, sections ...any) error {
	if err := parse(path, data, sections); err != nil {
		return errors.New(maskQuoted(err.Error()))
	}
	return nil
}

func parse(path string, data []byte, sections []any) error {
	composed := Schema(sections...)
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return fmt.Errorf("%s: %s", path, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(root.Content) == 0 {
		return nil
	}
	if err := checkEnv(path, &root); err != nil {
		return err
	}
	// Decoding into one struct that inlines every section lets yaml report
	// an unknown key anywhere, the top level included.
	all := reflect.New(composed).Elem()
	for i, s := range sections {
		all.Field(i).Set(reflect.ValueOf(s).Elem())
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(all.Addr().Interface()); err != nil {
		return explain(path, err, newTypeNames(composed))
	}
	for i, s := range sections {
		reflect.ValueOf(s).Elem().Set(all.Field(i))
	}
	for _, s := range sections {
		if b, ok := s.(BeforeExpander); ok {
			b.BeforeExpand()
		}
		expandStrings(reflect.ValueOf(s).Elem())
	}
	c := &Checker{path: path, root: &root}
	for _, s := range sections {
		if v, ok := s.(Validator); ok {
			v.Validate(c)
		}
	}
	if len(c.errs) > 0 {
		return errors.New(strings.Join(c.errs, "\n"))
	}
	return nil
}

// Schema returns the struct type that inlines every section: the whole
// file as YAML sees it (tests walk it to hold the documentation to the
// keys). It panics when a section is not a struct pointer or a key is
// declared twice.
func Schema(sections ...any) reflect.Type {
	fields := make([]reflect.StructField, len(sections))
	owner := map[string]reflect.Type{}
	for i, s := range sections {
		t := reflect.TypeOf(s)
		if t == nil || t.Kind() != reflect.Pointer || t.Elem().Kind() != reflect.Struct || reflect.ValueOf(s).IsNil() {
			panic(fmt.Sprintf("configfile: section %d is %T, want a non-nil pointer to a struct", i, s))
		}
		for _, k := range Keys(t.Elem()) {
			if o, dup := owner[k]; dup {
				panic(fmt.Sprintf("configfile: key %q is declared by both %s and %s", k, o, t.Elem()))
			}
			owner[k] = t.Elem()
		}
		fields[i] = reflect.StructField{Name: "S" + strconv.Itoa(i), Type: t.Elem(), Tag: `yaml:",inline"`}
	}
	return reflect.StructOf(fields)
}

// Keys lists the keys a struct type accepts in YAML, those of inline
// structs included, in declaration order.
func Keys(t reflect.Type) []string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return nil
	}
	var keys []string
	for i := 0; i < t.NumField(); i++ {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
		switch {
		case opts == "inline":
			keys = append(keys, Keys(t.Field(i).Type)...)
		case name != "" && name != "-":
			keys = append(keys, name)
		}
	}
	return keys
}

// Checker collects a section's validation errors, each placed at the line
// of the key it concerns.
type Checker struct {
	path string
	root *yaml.Node
	errs []string
}

// Bad reports msg at the line of the deepest key of keys the file has
// ("providers", "openai", "base_url"; "[2]" steps into a list's third
// item), or at the document's first line when it has none of them.
func (c *Checker) Bad(msg string, keys ...string) {
	c.errs = append(c.errs, fmt.Sprintf("%s:%d: %s", c.path, lineOf(c.root, keys...), msg))
}

// lineOf finds the line of the deepest existing key along keys.
func lineOf(root *yaml.Node, keys ...string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, k := range keys {
		found := false
		if idx, ok := listIndex(k); ok && n.Kind == yaml.SequenceNode {
			if idx < len(n.Content) {
				n = n.Content[idx]
				line, found = n.Line, true
			}
		} else {
			for i := 0; i+1 < len(n.Content) && n.Kind == yaml.MappingNode; i += 2 {
				if n.Content[i].Value == k {
					line, n, found = n.Content[i].Line, n.Content[i+1], true
					break
				}
			}
		}
		if !found {
			break
		}
	}
	return line
}

// listIndex reads "[i]", a step into a list.
func listIndex(k string) (int, bool) {
	inner, ok := strings.CutPrefix(k, "[")
	if inner, ok = strings.CutSuffix(inner, "]"); !ok {
		return 0, false
	}
	i, err := strconv.Atoi(inner)
	return i, err == nil && i >= 0
}

// Document returns the YAML data as written — no defaults merged, no
// ${ENV} reference expanded — as values encoding/json can write (string
// keys, scalars as YAML typed them). `lessllm config json` prints it, so a
// program can take a user's file as its starting point.
func Document(path string, data []byte) (map[string]any, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("%s: %s", path, maskQuoted(strings.TrimPrefix(err.Error(), "yaml: ")))
	}
	if doc == nil {
		doc = map[string]any{}
	}
	return doc, nil
}
