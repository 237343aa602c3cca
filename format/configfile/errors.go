package configfile

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Errors quote the file (a value of the wrong type, a YAML tag, an unknown
// key): a proxy password typed in the wrong place must not reach a log.
var (
	// credentials matches the user:password@ of a URL's userinfo, with or
	// without a scheme before it.
	credentials = regexp.MustCompile("([^\\s:/@\"'`]+):[^\\s/@\"'`]+@")
	// yamlQuote matches a value yaml's own messages quote in backticks.
	// yaml cuts values longer than 10 bytes to 7 and "...", which can split
	// user:password@ before its @ — past the credentials pattern — and
	// leave the password's first letters ("user:se..."): what follows the
	// colon is masked.
	yamlQuote = regexp.MustCompile("`([^`:]*):[^`]*`")
	// yamlTag matches a YAML tag (!name) with a colon ("cannot unmarshal
	// !user:pass ..."): a tag is the user's own text and is never cut
	// short, so what follows its colon is masked like a quote's.
	yamlTag = regexp.MustCompile("(^|\\s)(![^\\s:`]*):\\S*")
)

// maskQuoted hides credentials and what follows a colon in anything yaml
// quoted from the file.
func maskQuoted(msg string) string {
	msg = credentials.ReplaceAllString(msg, "$1:xxxxx@")
	msg = yamlTag.ReplaceAllString(msg, "$1$2:…")
	return yamlQuote.ReplaceAllString(msg, "`$1:…`")
}

// maskAfterColon hides what follows the first colon of a value yaml quoted
// in an error (see yamlQuote).
func maskAfterColon(v string) string {
	if i := strings.IndexByte(v, ':'); i >= 0 {
		return v[:i+1] + "…"
	}
	return v
}

var (
	lineMsg   = regexp.MustCompile(`^line (\d+): (.*)$`)
	cannotMsg = regexp.MustCompile(`^cannot unmarshal !!(\w+) ` + "`" + `?(.*?)` + "`" + `? into (\S+)$`)
)

// typeNames maps the names yaml.v3 gives struct types in its errors
// ("config.Routes", and the composed type's long struct{…} spelling) to
// the types, for every struct reachable from the composed type.
type typeNames map[string]reflect.Type

func newTypeNames(composed reflect.Type) typeNames {
	names := typeNames{}
	names.add(composed)
	return names
}

func (n typeNames) add(t reflect.Type) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Map || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || n[t.String()] != nil {
		return
	}
	n[t.String()] = t
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).IsExported() {
			n.add(t.Field(i).Type)
		}
	}
}

// unknownKey reads yaml's "field KEY not found in type TYPE". A key may
// hold spaces, and the composed type's name does, so the message is read
// by the type names known, longest first.
func (n typeNames) unknownKey(msg string) (string, reflect.Type, bool) {
	rest, ok := strings.CutPrefix(msg, "field ")
	if !ok {
		return "", nil, false
	}
	var best reflect.Type
	key := ""
	for name, t := range n {
		if k, ok := strings.CutSuffix(rest, " not found in type "+name); ok && (best == nil || len(k) < len(key)) {
			best, key = t, k
		}
	}
	return key, best, best != nil
}

// explain turns yaml.v3's decode errors into "file:line: what is wrong,
// what is expected" lines.
func explain(path string, err error, names typeNames) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		msg := strings.TrimPrefix(err.Error(), "yaml: ")
		if m := lineMsg.FindStringSubmatch(msg); m != nil {
			return fmt.Errorf("%s:%s: %s", path, m[1], m[2])
		}
		return fmt.Errorf("%s: %s", path, msg)
	}
	var out []string
	for _, e := range te.Errors {
		m := lineMsg.FindStringSubmatch(e)
		if m == nil {
			out = append(out, path+": "+e)
			continue
		}
		line, msg := m[1], m[2]
		if key, t, ok := names.unknownKey(msg); ok {
			msg = fmt.Sprintf("unknown key %q (expected one of: %s)", maskAfterColon(key), strings.Join(Keys(t), ", "))
		} else if strings.HasPrefix(msg, "field ") {
			// A shape not understood: keep what cannot hold a secret.
			msg = "unknown key " + maskAfterColon(strings.TrimPrefix(msg, "field "))
		} else if cu := cannotMsg.FindStringSubmatch(msg); cu != nil {
			msg = fmt.Sprintf("%q is not a valid %s", maskAfterColon(cu[2]), names.describe(cu[3]))
		}
		out = append(out, fmt.Sprintf("%s:%s: %s", path, line, msg))
	}
	return errors.New(strings.Join(out, "\n"))
}

// describe says what a Go type named in a yaml error accepts.
func (n typeNames) describe(goType string) string {
	switch goType {
	case "time.Duration":
		return "duration (e.g. 200ms, 30s, 1h)"
	case "int", "int64", "float64", "configfile.ByteSize":
		return "number"
	case "bool", "*bool":
		return "boolean (true or false)"
	case "string":
		return "string"
	}
	if strings.HasPrefix(goType, "map[") {
		return "mapping (key: value lines)"
	}
	if strings.HasPrefix(goType, "[]") {
		return "list"
	}
	if t, ok := n[strings.TrimPrefix(goType, "*")]; ok {
		return "mapping with keys " + strings.Join(Keys(t), ", ")
	}
	return goType
}
