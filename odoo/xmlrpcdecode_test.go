package odoo

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/kolo/xmlrpc"
)

// python wraps a value the way Python's xmlrpc.client writes a response.
func python(value string) string {
	return "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n" + value + "</param>\n</params>\n</methodResponse>\n"
}

// A search_read page as Odoo 16 writes it: False for empty fields, a
// many2one as [id, name], text with quotes, tabs and newlines unescaped.
var pythonPage = python("<value><array><data>\n<value><struct>\n" +
	"<member>\n<name>id</name>\n<value><int>7</int></value>\n</member>\n" +
	"<member>\n<name>name</name>\n<value><string>O'Brien &amp; \"Sons\"\tLtd\n&lt;b&gt;</string></value>\n</member>\n" +
	"<member>\n<name>phone</name>\n<value><boolean>0</boolean></value>\n</member>\n" +
	"<member>\n<name>comment</name>\n<value><string></string></value>\n</member>\n" +
	"<member>\n<name>parent_id</name>\n<value><array><data>\n<value><int>3</int></value>\n<value><string>ACME SA</string></value>\n</data></array></value>\n</member>\n" +
	"<member>\n<name>category_id</name>\n<value><array><data>\n</data></array></value>\n</member>\n" +
	"<member>\n<name>score</name>\n<value><double>-1.5e3</double></value>\n</member>\n" +
	"<member>\n<name>none</name>\n<value><nil/></value></member>\n" +
	"<member>\n<name>when</name>\n<value><dateTime.iso8601>20261128T06:00:00</dateTime.iso8601></value>\n</member>\n" +
	"<member>\n<name>ctx</name>\n<value><struct>\n</struct></value>\n</member>\n" +
	"<member>\n<name>&#233;t&#xE9;</name>\n<value><i4>-2</i4></value>\n</member>\n" +
	"</struct></value>\n</data></array></value>\n")

// kolo reads data as the client read every response before: it is the
// reference the fast reader must agree with.
func kolo(data []byte) (any, error) {
	r := xmlrpc.Response(data)
	if err := r.Err(); err != nil {
		return nil, err
	}
	var v any
	err := r.Unmarshal(&v)
	return v, err
}

func same(a, b any) bool {
	return reflect.DeepEqual(a, b) || fmt.Sprintf("%#v", a) == fmt.Sprintf("%#v", b) // NaN is not equal to itself
}

func TestResponseValueReadsWhatPythonWrites(t *testing.T) {
	for _, body := range []string{
		pythonPage,
		python("<value><int>42</int></value>\n"),
		python("<value><boolean>1</boolean></value>\n"),
		python("<value><string>16.0</string></value>\n"),
		python("<value><array><data>\n</data></array></value>\n"),
	} {
		got, err := responseValue([]byte(body))
		if err != nil {
			t.Fatalf("responseValue: %v\n%s", err, body)
		}
		want, err := kolo([]byte(body))
		if err != nil {
			t.Fatalf("kolo: %v", err)
		}
		if !same(got, want) {
			t.Errorf("responseValue = %#v\nkolo gives      %#v", got, want)
		}
	}
	rec := must(responseValue([]byte(pythonPage)))[0].(map[string]any)
	if rec["name"] != "O'Brien & \"Sons\"\tLtd\n<b>" || rec["comment"] != nil || rec["phone"] != false || rec["été"] != int64(-2) {
		t.Errorf("record read as %#v", rec)
	}
}

func must(v any, err error) []any {
	if err != nil {
		panic(err)
	}
	return v.([]any)
}

// What is not the plain shape goes to kolo/xmlrpc, which reads it (or
// refuses it) as XML does.
func TestResponseValueLeavesTheRestToKolo(t *testing.T) {
	for name, body := range map[string]string{
		"a fault":             "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n<member>\n<name>faultCode</name>\n<value><int>1</int></value>\n</member>\n</struct></value>\n</fault>\n</methodResponse>\n",
		"a comment":           python("<value><!-- x --><int>1</int></value>\n"),
		"CDATA":               python("<value><string><![CDATA[a<b]]></string></value>\n"),
		"a carriage return":   python("<value><string>a\r\nb</string></value>\n"),
		"an attribute":        python("<value><int a=\"1\">1</int></value>\n"),
		"an empty value":      python("<value></value>\n"),
		"an unknown entity":   python("<value><string>&nbsp;</string></value>\n"),
		"a NUL reference":     python("<value><string>&#0;</string></value>\n"),
		"a bad int":           python("<value><int> 1</int></value>\n"),
		"an unknown type":     python("<value><bignum>1</bignum></value>\n"),
		"trailing garbage":    python("<value><int>1</int></value>\n") + "<x>",
		"two params":          "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n<value><int>1</int></value>\n</param>\n<param>\n<value><int>2</int></value>\n</param>\n</params>\n</methodResponse>\n",
		"invalid UTF-8":       python("<value><string>\xff</string></value>\n"),
		"a control character": python("<value><string>\x01</string></value>\n"),
		"nesting past maxDepth": python(strings.Repeat("<value><array><data>", maxDepth+1) + "<value><int>1</int></value>" +
			strings.Repeat("</data></array></value>", maxDepth+1)),
	} {
		if v, err := responseValue([]byte(body)); !errors.Is(err, errNotPlain) {
			t.Errorf("%s: read as %#v, %v; want errNotPlain", name, v, err)
		}
	}
}

func FuzzResponseMatchesKolo(f *testing.F) {
	f.Add([]byte(pythonPage))
	f.Add([]byte(python("<value><string>a&#x41;&#65;&quot;&apos;</string></value>\n")))
	f.Add([]byte(python("<value><double>NaN</double></value>\n")))
	f.Add([]byte(python("<value><array><data>\n<value><i8>1</i8></value>\n<value><nil/></value></data></array></value>\n")))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := responseValue(data)
		if err != nil {
			return
		}
		want, kerr := kolo(data)
		if kerr != nil {
			t.Fatalf("responseValue read %#v where kolo/xmlrpc fails: %v", got, kerr)
		}
		if !same(got, want) {
			t.Fatalf("responseValue = %#v\nkolo gives      %#v", got, want)
		}
	})
}
