package configfile

import (
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:-[^}]*)?\}`)

// EnvNames lists the variables s refers to (${NAME} or ${NAME:-default}),
// in order; a section reads them in BeforeExpand.
func EnvNames(s string) []string {
	var out []string
	for _, m := range envRef.FindAllStringSubmatch(s, -1) {
		out = append(out, m[1])
	}
	return out
}

// expand replaces ${VAR} and ${VAR:-default} in s. Only the braced form is
// expanded, so a literal '$' in a password stays as it is. A variable set
// to "" takes the default, as in the shell's ${VAR:-default}.
func expand(s string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string {
		sub := envRef.FindStringSubmatch(m)
		if v, ok := os.LookupEnv(sub[1]); ok && v != "" {
			return v
		}
		return strings.TrimPrefix(sub[2], ":-")
	})
}

// checkEnv rejects malformed ${...} references with their line.
func checkEnv(path string, n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${") {
		rest := envRef.ReplaceAllString(n.Value, "")
		if strings.Contains(rest, "${") {
			return fmt.Errorf("%s:%d: malformed environment reference in %q (want ${NAME} or ${NAME:-default})", path, n.Line, n.Value)
		}
	}
	for _, c := range n.Content {
		if err := checkEnv(path, c); err != nil {
			return err
		}
	}
	return nil
}

// expandStrings expands environment references in every string reachable
// from v (struct fields, map values, slice elements).
func expandStrings(v reflect.Value) {
	switch v.Kind() {
	case reflect.String:
		if v.CanSet() {
			v.SetString(expand(v.String()))
		}
	case reflect.Pointer:
		if !v.IsNil() {
			expandStrings(v.Elem())
		}
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() {
				expandStrings(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			expandStrings(v.Index(i))
		}
	case reflect.Map:
		for _, k := range v.MapKeys() {
			e := v.MapIndex(k)
			switch e.Kind() {
			case reflect.String:
				v.SetMapIndex(k, reflect.ValueOf(expand(e.String())).Convert(e.Type()))
			case reflect.Struct: // map values are not addressable
				c := reflect.New(e.Type()).Elem()
				c.Set(e)
				expandStrings(c)
				v.SetMapIndex(k, c)
			default:
				expandStrings(e)
			}
		}
	}
}
