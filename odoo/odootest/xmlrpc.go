package odootest

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
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

// pythonEscape is xmlrpc.client.escape: only &, < and > are escaped; quotes,
// tabs, newlines and carriage returns are written as they are.
var pythonEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

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
		b.WriteString(pythonEscape.Replace(x))
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
			b.WriteString(pythonEscape.Replace(k))
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

// arrive counts a request, waits its latency, and answers 502 while the
// emulator is down. It reports whether to go on.
func (s *Server) arrive(w http.ResponseWriter, r *http.Request) bool {
	s.total.Add(1)
	s.mu.Lock()
	lat, down, held := s.latency, s.down, s.held
	s.mu.Unlock()
	if held != nil {
		select {
		case <-held:
		case <-r.Context().Done():
			return false
		}
	}
	if lat > 0 {
		select {
		case <-time.After(lat):
		case <-r.Context().Done():
			return false
		}
	}
	if down {
		http.Error(w, "502 Bad Gateway", http.StatusBadGateway)
		return false
	}
	return true
}

func (s *Server) gate(w http.ResponseWriter, r *http.Request) (string, []any, bool) {
	if !s.arrive(w, r) {
		return "", nil, false
	}
	s.xmlrpcN.Add(1)
	if s.major() >= 19 {
		// Odoo 19 logs this at WARNING on every XML-RPC request.
		s.deprecations.Add(1)
	}
	if r.Method != http.MethodPost {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return "", nil, false
	}
	method, params, err := decodeCall(r.Body)
	if err != nil {
		encodeFault(w, 1, "Traceback (most recent call last):\nxml.parsers.expat.ExpatError: "+err.Error())
		return "", nil, false
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	return method, params, true
}

func (s *Server) serveCommon(w http.ResponseWriter, r *http.Request) {
	method, params, ok := s.gate(w, r)
	if !ok {
		return
	}
	switch method {
	case "version":
		v := s.major()
		encodeResponse(w, map[string]any{"server_version": fmt.Sprintf("%d.0", v), "server_serie": fmt.Sprintf("%d.0", v),
			"server_version_info": []any{v, 0, 0, "final", 0, ""}, "protocol_version": 1})
	case "authenticate", "login":
		s.authN.Add(1)
		if len(params) < 3 {
			encodeFault(w, 1, "TypeError: authenticate() missing required positional arguments")
			return
		}
		db, _ := params[0].(string)
		login, _ := params[1].(string)
		pw, _ := params[2].(string)
		if db != s.DB {
			encodeFault(w, 1, fmt.Sprintf("Traceback (most recent call last):\npsycopg2.OperationalError: connection to server failed: FATAL:  database \"%s\" does not exist", db))
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for _, u := range s.users {
			if u.Login == login && !u.Archived && (u.Password == pw || u.APIKey != "" && u.APIKey == pw) {
				encodeResponse(w, u.ID)
				return
			}
		}
		encodeResponse(w, false) // a bad login is False, not a Fault
	default:
		encodeFault(w, 1, fmt.Sprintf("Traceback (most recent call last):\nKeyError: '%s'", method))
	}
}

func (s *Server) serveObject(w http.ResponseWriter, r *http.Request) {
	method, params, ok := s.gate(w, r)
	if !ok {
		return
	}
	if method != "execute_kw" || len(params) < 6 {
		encodeFault(w, 1, "Traceback (most recent call last):\nNameError: method "+method+" is not supported")
		return
	}
	db, _ := params[0].(string)
	uid, _ := params[1].(int)
	pw, _ := params[2].(string)
	model, _ := params[3].(string)
	fn, _ := params[4].(string)
	args, _ := params[5].([]any)
	kwargs := map[string]any{}
	if len(params) > 6 {
		kwargs, _ = params[6].(map[string]any)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[model+"."+fn]++
	if db != s.DB {
		encodeFault(w, 1, fmt.Sprintf("Traceback (most recent call last):\npsycopg2.OperationalError: FATAL:  database \"%s\" does not exist", db))
		return
	}
	// Odoo 14 and later take an API key in place of the password.
	if u, ok := s.users[uid]; !ok || u.Password != pw && (u.APIKey == "" || u.APIKey != pw) {
		encodeFault(w, 3, "Access Denied")
		return
	}
	v, err := s.dispatch(uid, model, fn, args, kwargs)
	if err != nil {
		if f, ok := err.(*Fault); ok {
			encodeFault(w, f.Code, f.Msg)
			return
		}
		encodeFault(w, 1, "Traceback (most recent call last):\n"+err.Error())
		return
	}
	encodeResponse(w, v)
}

// dispatch runs one model method as uid, for either API. It runs under s.mu.
func (s *Server) dispatch(uid int, model, fn string, args []any, kwargs map[string]any) (any, error) {
	var err error
	if s.active, err = s.activeCompanies(uid, kwargs); err != nil {
		return nil, err
	}
	switch {
	case model == "mail.message" && fn == "create":
		return s.messageCreate(uid, args)
	case model == "crm.lead":
		return s.crmLead(uid, fn, args, kwargs)
	case model == "res.partner" && fn == "create":
		return s.partnerCreate(uid, args)
	case model == "res.partner" && fn == "write":
		return s.partnerWrite(uid, args)
	case model == "res.partner" && fn == "message_post":
		return s.messagePost(uid, args, kwargs)
	case model == "res.partner" && fn == "activity_schedule":
		return s.activitySchedule(uid, args, kwargs)
	case model == "mail.activity" && fn == "create":
		return s.activityCreate(uid, args, kwargs)
	case model == "mail.activity" && fn == "default_get":
		return s.activityDefaults(args, kwargs)
	case model == "res.users" && fn == "context_get":
		return map[string]any{"lang": "en_US", "tz": "Europe/Brussels", "uid": uid}, nil
	case (model == "ir.model" || model == "ir.model.data") && !s.users[uid].Admin:
		return nil, noAccess(model)
	}
	return s.execute(uid, model, fn, args, kwargs)
}
