package daemon

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

// configKeys lists "section key" for every key of Config, as toml names them.
func configKeys(t reflect.Type, section string, out map[string]bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if name == "" || name == "-" {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Slice {
			ft = ft.Elem()
		}
		// A table is an unnamed struct ([odoo]) or a slice of structs
		// ([[users]]); a named struct such as Duration is one value.
		if ft.Kind() == reflect.Struct && (ft.Name() == "" || f.Type.Kind() == reflect.Slice) {
			configKeys(ft, strings.TrimSpace(section+" "+name), out)
			continue
		}
		out[strings.TrimSpace(section+" "+name)] = true
	}
}

// TestTheDocsNameOnlyKeysThatExist: every `[section] key` the README and
// docs/ name is a key of the config, and the manager user they show has the
// rights config.toml says it needs.
func TestTheDocsNameOnlyKeysThatExist(t *testing.T) {
	keys := map[string]bool{}
	configKeys(reflect.TypeOf(Config{}), "", keys)
	configKeys(reflect.TypeOf(PBXConfig{}), "pbx", keys) // [pbx] or [[pbx]]
	if !keys["odoo api_key"] || !keys["web trusted_proxies"] || !keys["users login"] {
		t.Fatalf("the key list is wrong: %v", keys)
	}
	docs, _ := filepath.Glob("../../docs/*.md")
	docs = append(docs, "../../README.md")
	ref := regexp.MustCompile("`\\[\\[?([a-z_.]+)\\]\\]? ([a-z_]+)")
	manager := regexp.MustCompile(`(?m)^(read|write) = (\S+)`)
	toml, err := os.ReadFile("../../config.toml")
	if err != nil {
		t.Fatal(err)
	}
	named := 0
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ref.FindAllStringSubmatch(string(b), -1) {
			if m[1] == "compat" { // Asterisk's asterisk.conf
				continue
			}
			named++
			if k := strings.ReplaceAll(m[1], ".", " ") + " " + m[2]; !keys[k] {
				t.Errorf("%s names `[%s] %s`, which is no config key", filepath.Base(doc), m[1], m[2])
			}
		}
		for _, m := range manager.FindAllStringSubmatch(string(b), -1) {
			if want := "= call, write = originate"; m[1] == "read" && m[2] != "call" || m[1] == "write" && m[2] != "originate" || !strings.Contains(string(toml), want) {
				t.Errorf("%s: the manager user has %s = %s; config.toml says %q", filepath.Base(doc), m[1], m[2], want)
			}
		}
	}
	if named < 20 {
		t.Errorf("only %d keys named in the docs: the pattern no longer finds them", named)
	}
}
