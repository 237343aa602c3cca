package configfile

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// Two sections as two packages would declare them.
type server struct {
	Listen  string            `yaml:"listen"`
	Limits  limits            `yaml:"limits"`
	Keys    map[string]string `yaml:"keys"`
	Size    ByteSize          `yaml:"size"`
	envSeen []string
}

type limits struct {
	Timeout time.Duration `yaml:"timeout"`
	Routes  `yaml:",inline"`
}

type Routes struct {
	Via string `yaml:"via"`
}

func (s *server) BeforeExpand() { s.envSeen = EnvNames(s.Listen) }

func (s *server) Validate(c *Checker) {
	if s.Limits.Timeout < 0 {
		c.Bad("limits.timeout cannot be negative", "limits", "timeout")
	}
}

type rules struct {
	Rules []rule `yaml:"rules"`
}

type rule struct {
	Name string `yaml:"name"`
}

func (r *rules) Validate(c *Checker) {
	for i, x := range r.Rules {
		if x.Name == "" {
			c.Bad("rules: name is required", "rules", fmt.Sprintf("[%d]", i))
		}
	}
}

func TestParseComposesSections(t *testing.T) {
	t.Setenv("CONFIGFILE_TEST_HOST", "10.1.2.3")
	s := &server{Listen: "default:1", Keys: map[string]string{"a": "1"}, Limits: limits{Timeout: time.Second}}
	r := &rules{}
	err := Parse("x.yaml", []byte("listen: ${CONFIGFILE_TEST_HOST}:80\nkeys: {b: '${CONFIGFILE_TEST_UNSET:-two}'}\nsize: 2MiB\nrules:\n  - {name: one}\n"), s, r)
	if err != nil {
		t.Fatal(err)
	}
	if s.Listen != "10.1.2.3:80" || s.Size != 2<<20 || len(r.Rules) != 1 || r.Rules[0].Name != "one" {
		t.Fatalf("decoded %+v %+v", s, r)
	}
	if s.Limits.Timeout != time.Second || s.Keys["a"] != "1" || s.Keys["b"] != "two" {
		t.Fatalf("defaults or mapping merge lost: %+v", s)
	}
	if !slices.Equal(s.envSeen, []string{"CONFIGFILE_TEST_HOST"}) {
		t.Fatalf("BeforeExpand saw %v", s.envSeen)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, yaml, want string }{
		{"top_level_lists_every_section", "listen: x\nrulez: []\n", `x.yaml:2: unknown key "rulez" (expected one of: listen, limits, keys, size, rules)`},
		{"nested_with_inline", "limits:\n  timeout: 1s\n  vai: x\n", `x.yaml:3: unknown key "vai" (expected one of: timeout, via)`},
		{"in_a_list", "rules:\n  - {nme: a}\n", `x.yaml:2: unknown key "nme" (expected one of: name)`},
		{"wrong_type", "limits: {timeout: soon}\n", `x.yaml:1: "soon" is not a valid duration`},
		{"wrong_shape", "limits: 5\n", "mapping with keys timeout, via"},
		{"bad_size", "size: lots\n", `x.yaml:1: "lots" is not a size`},
		{"validator_line", "listen: x\nlimits:\n  timeout: -1s\n", "x.yaml:3: limits.timeout cannot be negative"},
		{"validator_list_item", "rules:\n  - {name: a}\n  - {}\n", "x.yaml:3: rules: name is required"},
		{"malformed_env", "listen: '${HOST'\n", "x.yaml:1: malformed environment reference"},
		{"syntax", "listen: [\n", "x.yaml:"},
		{"key_with_colon_masked", "\"user:secret\": 1\n", `unknown key "user:…"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Parse("x.yaml", []byte(tc.yaml), &server{}, &rules{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Fatalf("error shows a secret: %v", err)
			}
		})
	}
}

func TestEmptyFileKeepsDefaults(t *testing.T) {
	s := &server{Listen: "d:1"}
	if err := Parse("x.yaml", nil, s); err != nil || s.Listen != "d:1" {
		t.Fatalf("%v %+v", err, s)
	}
}

func TestDuplicateKeyIsAProgrammingError(t *testing.T) {
	defer func() {
		if r := recover(); r == nil || !strings.Contains(r.(string), `key "listen"`) {
			t.Fatalf("recovered %v", r)
		}
	}()
	type other struct {
		Listen int `yaml:"listen"`
	}
	_ = Parse("x.yaml", nil, &server{}, &other{})
}

func TestDocumentAsWritten(t *testing.T) {
	doc, err := Document("x.yaml", []byte("listen: ${HOST}\nrules: [{name: a}]\n"))
	if err != nil || doc["listen"] != "${HOST}" || len(doc["rules"].([]any)) != 1 {
		t.Fatalf("%v %v", doc, err)
	}
}
