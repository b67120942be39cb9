package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/trove-memory/trove/internal/dburl"
)

// Source says where a setting's effective value came from.
type Source struct {
	// Kind is "default", "file", "env" or "flag".
	Kind string
	// Name is the file's path, the variable or the flag; "" for a default.
	Name string
}

func (s Source) String() string {
	if s.Name == "" {
		return s.Kind
	}
	return s.Kind + " " + s.Name
}

// Setting is one effective setting as `trove config` shows it.
type Setting struct {
	// Key is the config-file key, dotted for nested ones: "embedding.apiKey".
	Key string
	// Value is the effective value; for a secret, only whether it is set
	// and its length ("(set, 32 chars)"), never the secret itself.
	Value  any
	Secret bool
	Source Source
}

// origin is what Load learned about where values came from. Config carries
// it so that provenance is recorded where values are applied, not guessed
// later by parsing the same inputs again.
type origin struct {
	file       string
	fileLoaded bool
	// sources maps a key to where its value came from; absent is "default".
	sources map[string]Source
}

// File is the config file Load looked at, and whether it existed and was read.
func (c Config) File() (path string, loaded bool) { return c.origin.file, c.origin.fileLoaded }

// Settings lists every setting with its effective value and source, in the
// order of the config file's keys. Secrets (API keys, tokens) are masked.
func (c Config) Settings() []Setting {
	var out []Setting
	eachLeaf(reflect.ValueOf(&c).Elem(), "", func(key string, f reflect.Value) {
		src, ok := c.origin.sources[key]
		if !ok {
			src = Source{Kind: "default"}
		}
		s := Setting{Key: key, Source: src, Secret: isSecret(key)}
		switch {
		case s.Secret:
			s.Value = mask(f)
		case key == "db":
			// A PostgreSQL URL may carry a password.
			s.Value = dburl.Redact(f.String())
		default:
			s.Value = plain(f)
		}
		out = append(out, s)
	})
	return out
}

// SetFlag applies a command-line flag to the setting key (a config-file
// key such as "db") and records the flag as its source.
func (c *Config) SetFlag(key, value string) error {
	f, ok := c.field(key)
	if !ok {
		return fmt.Errorf("--%s: no setting %q", key, key)
	}
	if err := setString(f, value); err != nil {
		return fmt.Errorf("--%s=%q: %w", key, value, err)
	}
	c.setSource(key, Source{Kind: "flag", Name: "--" + key})
	return nil
}

// recordPtr notes that the field dst points at was set from src. dst must
// point into c: the env helpers call it with the field they just set.
func (c *Config) recordPtr(dst any, src Source) {
	want := reflect.ValueOf(dst).Pointer()
	found := ""
	eachLeaf(reflect.ValueOf(c).Elem(), "", func(key string, f reflect.Value) {
		if f.Addr().Pointer() == want {
			found = key
		}
	})
	if found == "" {
		panic(fmt.Sprintf("config: %s sets a field that is not a setting", src))
	}
	c.setSource(found, src)
}

// recordFile notes every key the config file at path gave a value.
func (c *Config) recordFile(path string, b []byte) {
	var doc map[string]any
	if json.Unmarshal(b, &doc) != nil {
		return
	}
	eachLeaf(reflect.ValueOf(c).Elem(), "", func(key string, _ reflect.Value) {
		if present(doc, strings.Split(key, ".")) {
			c.setSource(key, Source{Kind: "file", Name: path})
		}
	})
}

func (c *Config) setSource(key string, src Source) {
	// A copy of a Config must not see sources recorded on another copy.
	m := maps.Clone(c.origin.sources)
	if m == nil {
		m = map[string]Source{}
	}
	m[key] = src
	c.origin.sources = m
}

func (c *Config) field(key string) (reflect.Value, bool) {
	var out reflect.Value
	eachLeaf(reflect.ValueOf(c).Elem(), "", func(k string, f reflect.Value) {
		if k == key {
			out = f
		}
	})
	return out, out.IsValid()
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// eachLeaf calls fn for every setting in v, a Config or a section of one,
// with its dotted JSON key. A section (a struct without its own JSON form)
// is walked into; anything else — strings, numbers, durations, maps — is a
// setting.
func eachLeaf(v reflect.Value, prefix string, fn func(key string, f reflect.Value)) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		key := prefix + name
		f := v.Field(i)
		if f.Kind() == reflect.Struct && !reflect.PointerTo(f.Type()).Implements(unmarshalerType) {
			eachLeaf(f, key+".", fn)
			continue
		}
		fn(key, f)
	}
}

// present reports whether the decoded JSON document has a non-null value
// at path. Keys match case-insensitively, as encoding/json matches them.
func present(doc map[string]any, path []string) bool {
	for k, v := range doc {
		if !strings.EqualFold(k, path[0]) || v == nil {
			continue
		}
		if len(path) == 1 {
			return true
		}
		if sub, ok := v.(map[string]any); ok && present(sub, path[1:]) {
			return true
		}
	}
	return false
}

// isSecret is decided by the key's name, so that a credential added to the
// config later is masked without anyone remembering to mark it.
func isSecret(key string) bool {
	last := strings.ToLower(key[strings.LastIndex(key, ".")+1:])
	for _, w := range []string{"apikey", "token", "secret", "password"} {
		if strings.Contains(last, w) {
			return true
		}
	}
	return false
}

func mask(f reflect.Value) string {
	switch f.Kind() {
	case reflect.String:
		if f.Len() == 0 {
			return "(not set)"
		}
		return fmt.Sprintf("(set, %d chars)", len([]rune(f.String())))
	case reflect.Map, reflect.Slice:
		if f.Len() == 0 {
			return "(not set)"
		}
		return fmt.Sprintf("(set, %d entries)", f.Len())
	}
	if f.IsZero() {
		return "(not set)"
	}
	return "(set)"
}

func plain(f reflect.Value) any {
	if d, ok := f.Interface().(Duration); ok {
		return d.String()
	}
	if f.Kind() == reflect.Map && f.IsNil() {
		return reflect.MakeMap(f.Type()).Interface() // {} rather than null
	}
	return f.Interface()
}

func setString(f reflect.Value, s string) error {
	if d, ok := f.Addr().Interface().(*Duration); ok {
		v, err := time.ParseDuration(s)
		if err != nil {
			return fmt.Errorf("not a duration (use e.g. 30s or 2m)")
		}
		d.Duration = v
		return nil
	}
	switch f.Kind() {
	case reflect.String:
		f.SetString(s)
	case reflect.Int:
		n, err := strconv.Atoi(s)
		if err != nil {
			return fmt.Errorf("not a whole number")
		}
		f.SetInt(int64(n))
	case reflect.Float64:
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("not a number")
		}
		f.SetFloat(n)
	default:
		return fmt.Errorf("cannot be set from the command line: use the config file")
	}
	return nil
}
