package main

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/lessllm/lessllm/capture/config"
	"github.com/lessllm/lessllm/format/configfile"
)

// keyPaths lists every key path the config accepts, from the types:
// "proxy.auth.username", "providers.*.base_url" (a name the user picks is
// "*"), "budgets[].usd".
func keyPaths(t reflect.Type, prefix string, into map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t.Kind() == reflect.Map:
		keyPaths(t.Elem(), prefix+".*", into)
		return
	case t.Kind() == reflect.Slice:
		keyPaths(t.Elem(), prefix+"[]", into)
		return
	case t.Kind() != reflect.Struct || (t.Name() != "" && !strings.HasPrefix(t.PkgPath(), "github.com/lessllm/lessllm/")) || reflect.PointerTo(t).Implements(reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()):
		return // a value
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch {
		case opts == "inline":
			keyPaths(f.Type, prefix, into)
		case name != "" && name != "-":
			p := strings.TrimPrefix(prefix+"."+name, ".")
			into[p] = true
			keyPaths(f.Type, p, into)
		}
	}
}

// docPaths collects the key paths a YAML example spells out, reading it
// against the schema so that user-chosen names become "*".
func docPaths(n *yaml.Node, t reflect.Type, prefix string, into map[string]bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.DocumentNode {
		for _, c := range n.Content {
			docPaths(c, t, prefix, into)
		}
		return
	}
	switch {
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			docPaths(n.Content[i], t.Elem(), prefix+".*", into)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for _, c := range n.Content {
			docPaths(c, t.Elem(), prefix+"[]", into)
		}
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		fields := map[string]reflect.Type{}
		var collect func(reflect.Type)
		collect = func(t reflect.Type) {
			for i := 0; i < t.NumField(); i++ {
				name, opts, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
				if opts == "inline" {
					collect(t.Field(i).Type)
				} else if name != "" {
					fields[name] = t.Field(i).Type
				}
			}
		}
		collect(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key := n.Content[i].Value
			ft, ok := fields[key]
			if !ok {
				continue
			}
			p := strings.TrimPrefix(prefix+"."+key, ".")
			into[p] = true
			docPaths(n.Content[i+1], ft, p, into)
		}
	}
}

// TestEveryKeyDocumented: every key the config accepts appears in one of
// the README's YAML examples (its "Configuration" section is the
// reference), and every key those examples use is one it accepts — so
// neither the README nor the structs can drift alone.
func TestEveryKeyDocumented(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &Config{File: config.Default()}
	schema := configfile.Schema(append([]any{cfg.File}, cfg.analysisSections()...)...)
	accepted := map[string]bool{}
	keyPaths(schema, "", accepted)
	documented := map[string]bool{}
	blocks := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindAllSubmatch(readme, -1)
	for _, b := range blocks {
		var doc yaml.Node
		if err := yaml.Unmarshal(b[1], &doc); err != nil {
			t.Errorf("README yaml block does not parse: %v\n%s", err, b[1])
			continue
		}
		docPaths(&doc, schema, "", documented)
		if _, err := parseConfig("README.md", b[1]); err != nil && strings.Contains(err.Error(), "unknown key") {
			t.Errorf("a README example uses a key the config does not accept: %v", err)
		}
	}
	var missing []string
	for p := range accepted {
		// A provider's proxy: block takes the top-level block's keys
		// (README "Outbound proxies"), documented there.
		if rest, ok := strings.CutPrefix(p, "providers.*.proxy."); ok && documented["proxy."+rest] {
			continue
		}
		if !documented[p] {
			missing = append(missing, p)
		}
	}
	slices.Sort(missing)
	if len(missing) > 0 {
		t.Errorf("%d of %d keys are in no README example (add them to \"Configuration\"):\n  %s", len(missing), len(accepted), strings.Join(missing, "\n  "))
	}
}
