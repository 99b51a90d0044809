package config

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strings"
)

// Write prints cfg as a TOML file in which every section and key is preceded
// by its documentation, so the output is itself a valid, commented config.
func Write(w io.Writer, cfg *Config) error {
	for _, f := range Fields(cfg) {
		if !f.Value.IsValid() {
			if _, err := fmt.Fprintf(w, "\n# %s\n[%s]\n", f.Doc, f.Key); err != nil {
				return fmt.Errorf("write config: %w", err)
			}
			continue
		}
		_, key := splitKey(f.Key)
		if f.Value.Kind() == reflect.Slice && f.Value.Type().Elem().Kind() == reflect.Struct {
			if err := writeTables(w, f); err != nil {
				return err
			}
			continue
		}
		live := ""
		if f.Live {
			live = "; applied by reload"
		}
		if _, err := fmt.Fprintf(w, "# %s (env %s%s)\n%s = %s\n", f.Doc, f.Env, live, key, masked(f)); err != nil {
			return fmt.Errorf("write config: %w", err)
		}
	}
	return nil
}

// writeTables prints a list of tables ([[pusher.apps]]), secrets masked, or
// a commented example when it is empty. It must be its section's last key.
func writeTables(w io.Writer, f Field) error {
	if _, err := fmt.Fprintf(w, "# %s\n", f.Doc); err != nil {
		return fmt.Errorf("write config: %w", err)
	}
	t := f.Value.Type().Elem()
	if f.Value.Len() == 0 {
		_, err := fmt.Fprintf(w, "# [[%s]]\n", f.Key)
		for i := 0; i < t.NumField() && err == nil; i++ {
			_, err = fmt.Fprintf(w, "# %s = ...  # %s\n", t.Field(i).Tag.Get("toml"), t.Field(i).Tag.Get("doc"))
		}
		if err != nil {
			return fmt.Errorf("write config: %w", err)
		}
		return nil
	}
	for i := range f.Value.Len() {
		if _, err := fmt.Fprintf(w, "[[%s]]\n", f.Key); err != nil {
			return fmt.Errorf("write config: %w", err)
		}
		e := f.Value.Index(i)
		for j := range t.NumField() {
			sf := t.Field(j)
			secret, isSecret := sf.Tag.Lookup("secret")
			if isSecret && secret == "" {
				secret = "key"
			}
			v := masked(Field{Secret: secret, Value: e.Field(j)})
			if _, err := fmt.Fprintf(w, "%s = %s\n", sf.Tag.Get("toml"), v); err != nil {
				return fmt.Errorf("write config: %w", err)
			}
		}
	}
	return nil
}

// Masked is what a secret is printed as.
const Masked = "********"

// masked is f's value as printed: a secret that is set shows as Masked, a
// URL with its password masked.
func masked(f Field) string {
	s := f.Value.String()
	switch {
	case f.Secret == "key" && s != "":
		return quote(Masked)
	case f.Secret == "url" && s != "":
		if u, err := url.Parse(s); err == nil {
			if _, has := u.User.Password(); has {
				u.User = url.UserPassword(u.User.Username(), Masked)
				return quote(strings.Replace(u.String(), url.QueryEscape(Masked), Masked, 1))
			}
			return quote(s)
		}
		return quote(Masked) // not a URL: it may be anything
	}
	return tomlValue(f.Value)
}

func splitKey(k string) (section, key string) {
	for i := range len(k) {
		if k[i] == '.' {
			return k[:i], k[i+1:]
		}
	}
	return "", k
}

func tomlValue(v reflect.Value) string {
	if m, ok := v.Interface().(interface{ MarshalText() ([]byte, error) }); ok {
		b, _ := m.MarshalText()
		return quote(string(b))
	}
	switch v.Kind() {
	case reflect.String:
		return quote(v.String())
	default:
		return fmt.Sprint(v.Interface())
	}
}

// quote writes a TOML basic string; JSON string escapes are a subset of TOML's.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
