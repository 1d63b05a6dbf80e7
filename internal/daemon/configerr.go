package daemon

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Config errors name file:line and the key, in plain words. The TOML
// library knows lines only for syntax errors, so keys are found again by a
// scan of the file that tracks tables and arrays of tables.

// keyLine is one "key = value" line, or a table header (raw "").
type keyLine struct {
	plain   string // agi.max_sessions, users.channels.name
	indexed string // users[1].channels[0].name
	line    int
	raw     string // the value as written
}

// scanKeys lists the keys and table headers of a TOML file in order.
func scanKeys(data []byte) []keyLine {
	var out []keyLine
	var table []string         // the current table's path, indexed
	counts := map[string]int{} // arrays of tables (indexed parent/name) → entries so far
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		l := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(l, "[["):
			name := strings.TrimSpace(strings.Trim(stripComment(l), "[] "))
			// [[users.channels]] appends to the channels of the last [[users]].
			table = table[:0]
			plain := []string{}
			for i, p := range strings.Split(name, ".") {
				p = strings.TrimSpace(p)
				plain = append(plain, p)
				key := strings.Join(table, ".") + "/" + p
				c, isArray := counts[key]
				switch {
				case i == len(strings.Split(name, "."))-1:
					table = append(table, fmt.Sprintf("%s[%d]", p, c))
					counts[key]++
				case isArray:
					table = append(table, fmt.Sprintf("%s[%d]", p, c-1))
				default:
					table = append(table, p)
				}
			}
			out = append(out, keyLine{plain: strings.Join(plain, "."), indexed: strings.Join(table, "."), line: n})
		case strings.HasPrefix(l, "["):
			name := strings.TrimSpace(strings.Trim(stripComment(l), "[] "))
			table = strings.Split(name, ".")
			out = append(out, keyLine{plain: name, indexed: name, line: n})
		default:
			k, v, ok := strings.Cut(l, "=")
			k = strings.TrimSpace(k)
			if !ok || k == "" || strings.ContainsAny(k[:1], `"'#,]`) {
				continue
			}
			plain := make([]string, 0, len(table)+1)
			for _, p := range table {
				plain = append(plain, p[:strings.IndexByte(p+"[", '[')])
			}
			out = append(out, keyLine{plain: strings.Join(append(plain, k), "."), indexed: strings.Join(append(append([]string(nil), table...), k), "."),
				line: n, raw: strings.TrimSpace(stripComment(v))})
		}
	}
	return out
}

// stripComment drops a trailing # comment outside quotes.
func stripComment(s string) string {
	var quote byte
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case quote != 0 && c == '\\' && quote == '"':
			i++
		case quote != 0 && c == quote:
			quote = 0
		case quote == 0 && (c == '"' || c == '\''):
			quote = c
		case quote == 0 && c == '#':
			return s[:i]
		}
	}
	return s
}

// find returns the first key line whose plain or indexed path is key.
func find(keys []keyLine, key string) (keyLine, bool) {
	for _, k := range keys {
		if k.indexed == key || k.plain == key {
			return k, true
		}
	}
	return keyLine{}, false
}

var badType = regexp.MustCompile(`^toml: (?:line \d+ )?\(last key "([^"]+)"\): incompatible types: TOML value has type (\S+); destination has type (.+)$`)

// typeError rewords the library's type mismatch, or returns "" when err is
// not one.
func typeError(path string, keys []keyLine, err error) string {
	m := badType.FindStringSubmatch(err.Error())
	if m == nil {
		return ""
	}
	want := map[string]string{"integer": "number", "float": "number", "string": "string", "bool": "bool", "slice": "list", "array": "list"}[m[3]]
	if want == "" {
		want = "string" // a duration or another text value
	}
	// The first line of that key whose value is not of the kind wanted:
	// for arrays of tables, the library names the key without its index.
	k, ok := keyLine{}, false
	for _, kl := range keys {
		if kl.plain == m[1] && kl.raw != "" && rawKind(kl.raw) != want {
			k, ok = kl, true
			break
		}
	}
	if !ok {
		return fmt.Sprintf("%s: `%s` must be %s", path, m[1], kindWords[want])
	}
	msg := fmt.Sprintf("%s:%d: `%s` must be %s, not %s", path, k.line, k.indexed, kindWords[want], rawWords(k.raw))
	name := k.indexed[strings.LastIndexByte(k.indexed, '.')+1:]
	switch v := strings.Trim(k.raw, `"'`); {
	case want == "string" && rawKind(k.raw) != "string":
		msg += fmt.Sprintf(", e.g. %s = %q", name, v)
	case want == "number" && rawKind(k.raw) == "string":
		if _, err := strconv.ParseFloat(v, 64); err == nil {
			msg += fmt.Sprintf(", e.g. %s = %s", name, v)
		}
	}
	return msg
}

var kindWords = map[string]string{"number": "a number", "string": "text", "bool": "true or false", "list": "a list such as [\"a\", \"b\"]"}

func rawKind(raw string) string {
	switch {
	case raw == "":
		return ""
	case raw[0] == '"' || raw[0] == '\'':
		return "string"
	case raw == "true" || raw == "false":
		return "bool"
	case raw[0] == '[':
		return "list"
	case raw[0] == '{':
		return "table"
	}
	return "number"
}

func rawWords(raw string) string {
	switch rawKind(raw) {
	case "string":
		return "the string " + raw
	case "bool":
		return raw
	case "list":
		return "a list"
	case "table":
		return "a table"
	}
	return "the number " + raw
}

var (
	sectionKey = regexp.MustCompile(`^\[(\w+)\] (\w+)`)
	userKey    = regexp.MustCompile(`^(users\[\d+\])(?: \([^)]*\))?(?: (channels\[\d+\]))?:? (\w+)?`)
)

// valueLine finds the line of the key a Validate error names: "[agi]
// max_sessions = 0: …" or "users[1] (john) channels[0]: name …".
func valueLine(keys []keyLine, msg string) (int, bool) {
	if m := sectionKey.FindStringSubmatch(msg); m != nil {
		if k, ok := find(keys, m[1]+"."+m[2]); ok {
			return k.line, true
		}
		if k, ok := find(keys, m[1]); ok {
			return k.line, true
		}
		return 0, false
	}
	if m := userKey.FindStringSubmatch(msg); m != nil {
		table := m[1]
		if m[2] != "" {
			table += "." + m[2]
		}
		if k, ok := find(keys, table+"."+m[3]); ok && m[3] != "" {
			return k.line, true
		}
		if k, ok := find(keys, table); ok {
			return k.line, true
		}
	}
	return 0, false
}
