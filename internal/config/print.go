package config

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
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
		live := ""
		if f.Live {
			live = "; applied by reload"
		}
		if _, err := fmt.Fprintf(w, "# %s (env %s%s)\n%s = %s\n", f.Doc, f.Env, live, key, tomlValue(f.Value)); err != nil {
			return fmt.Errorf("write config: %w", err)
		}
	}
	return nil
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
