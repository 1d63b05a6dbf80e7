package odootest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
)

// decodeCall parses an XML-RPC methodCall into its name and params, with
// the generic types Odoo's Python side sees: int, float64, bool, string,
// nil, []any and map[string]any.
func decodeCall(r io.Reader) (string, []any, error) {
	d := xml.NewDecoder(r)
	var method string
	var params []any
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return method, params, nil
		}
		if err != nil {
			return "", nil, err
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		switch se.Name.Local {
		case "methodName":
			var s string
			if err := d.DecodeElement(&s, &se); err != nil {
				return "", nil, err
			}
			method = strings.TrimSpace(s)
		case "value":
			v, err := decodeValue(d)
			if err != nil {
				return "", nil, err
			}
			params = append(params, v)
		}
	}
}

// decodeValue reads the inside of a <value> element up to its end tag.
func decodeValue(d *xml.Decoder) (any, error) {
	var text bytes.Buffer
	var out any
	typed := false
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			text.Write(t)
		case xml.EndElement:
			if t.Name.Local == "value" {
				if !typed {
					return text.String(), nil
				}
				return out, nil
			}
		case xml.StartElement:
			typed = true
			switch t.Name.Local {
			case "array":
				var arr []any
				for {
					tok, err := d.Token()
					if err != nil {
						return nil, err
					}
					if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "value" {
						v, err := decodeValue(d)
						if err != nil {
							return nil, err
						}
						arr = append(arr, v)
					}
					if ee, ok := tok.(xml.EndElement); ok && ee.Name.Local == "array" {
						break
					}
				}
				if arr == nil {
					arr = []any{}
				}
				out = arr
			case "struct":
				m := map[string]any{}
				var name string
				for {
					tok, err := d.Token()
					if err != nil {
						return nil, err
					}
					if se, ok := tok.(xml.StartElement); ok {
						switch se.Name.Local {
						case "name":
							if err := d.DecodeElement(&name, &se); err != nil {
								return nil, err
							}
						case "value":
							v, err := decodeValue(d)
							if err != nil {
								return nil, err
							}
							m[name] = v
						}
					}
					if ee, ok := tok.(xml.EndElement); ok && ee.Name.Local == "struct" {
						break
					}
				}
				out = m
			case "nil":
				out = nil
				d.Skip()
			default:
				var s string
				if err := d.DecodeElement(&s, &t); err != nil {
					return nil, err
				}
				switch t.Name.Local {
				case "int", "i4", "i8":
					n, err := strconv.Atoi(strings.TrimSpace(s))
					if err != nil {
						return nil, err
					}
					out = n
				case "boolean":
					out = strings.TrimSpace(s) == "1"
				case "double":
					f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
					if err != nil {
						return nil, err
					}
					out = f
				default: // string, dateTime.iso8601, base64
					out = s
				}
			}
		}
	}
}

// encodeResponse writes a methodResponse the way Python's xmlrpc.client
// marshals Odoo's return values: False as <boolean>0</boolean>.
func encodeResponse(w io.Writer, v any) {
	var b bytes.Buffer
	b.WriteString("<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n")
	encodeValue(&b, v)
	b.WriteString("</param>\n</params>\n</methodResponse>\n")
	w.Write(b.Bytes())
}

// encodeFault writes an Odoo Fault.
func encodeFault(w io.Writer, code int, msg string) {
	var b bytes.Buffer
	b.WriteString("<?xml version='1.0'?>\n<methodResponse>\n<fault>\n")
	encodeValue(&b, map[string]any{"faultCode": code, "faultString": msg})
	b.WriteString("</fault>\n</methodResponse>\n")
	w.Write(b.Bytes())
}

func encodeValue(b *bytes.Buffer, v any) {
	b.WriteString("<value>")
	switch x := v.(type) {
	case nil:
		b.WriteString("<nil/>")
	case bool:
		if x {
			b.WriteString("<boolean>1</boolean>")
		} else {
			b.WriteString("<boolean>0</boolean>")
		}
	case int:
		fmt.Fprintf(b, "<int>%d</int>", x)
	case int64:
		fmt.Fprintf(b, "<int>%d</int>", x)
	case float64:
		fmt.Fprintf(b, "<double>%v</double>", x)
	case string:
		b.WriteString("<string>")
		xml.EscapeText(b, []byte(x))
		b.WriteString("</string>")
	case time.Time:
		fmt.Fprintf(b, "<dateTime.iso8601>%s</dateTime.iso8601>", x.Format("20060102T15:04:05"))
	case []any:
		b.WriteString("<array><data>\n")
		for _, e := range x {
			encodeValue(b, e)
		}
		b.WriteString("</data></array>")
	case []int:
		b.WriteString("<array><data>\n")
		for _, e := range x {
			encodeValue(b, e)
		}
		b.WriteString("</data></array>")
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteString("<struct>\n")
		for _, k := range keys {
			b.WriteString("<member>\n<name>")
			xml.EscapeText(b, []byte(k))
			b.WriteString("</name>\n")
			encodeValue(b, x[k])
			b.WriteString("</member>\n")
		}
		b.WriteString("</struct>")
	default:
		fmt.Fprintf(b, "<string>%v</string>", x)
	}
	b.WriteString("</value>\n")
}
