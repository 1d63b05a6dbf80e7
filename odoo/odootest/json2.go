// Odoo 19's JSON-2 API, as a real Odoo 19 answered it (docs/odoo-wire.md):
// a bearer API key, one JSON object of named arguments, HTTP statuses and
// JSON error bodies, and the same data and rights as XML-RPC.

package odootest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
)

// json2Error is an error body: always with the traceback in debug.
func json2Error(w http.ResponseWriter, status int, name, msg string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"name": name, "message": msg, "arguments": []any{msg}, "context": map[string]any{},
		"debug": "Traceback (most recent call last):\n  File \"/usr/lib/python3/dist-packages/odoo/http.py\", line 2161, in _serve_db\n" + name + ": " + msg})
}

func htmlError(w http.ResponseWriter, status int, title string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "<!doctype html>\n<html lang=en>\n<title>%d %s</title>\n<h1>%s</h1>\n", status, title, title)
}

// jsonInts turns JSON numbers that are whole into int, as the XML-RPC
// decoder gives them, so that one dispatch serves both APIs.
func jsonInts(v any) any {
	switch x := v.(type) {
	case float64:
		if x == float64(int(x)) {
			return int(x)
		}
	case []any:
		for i := range x {
			x[i] = jsonInts(x[i])
		}
	case map[string]any:
		for k := range x {
			x[k] = jsonInts(x[k])
		}
	}
	return v
}

func toInt(v any) int {
	i, _ := v.(int)
	return i
}

// modelMethods take no ids: passing some is a 422.
var modelMethods = map[string]bool{"search": true, "search_read": true, "search_count": true, "create": true,
	"fields_get": true, "default_get": true, "context_get": true}

func (s *Server) serveJSON2(w http.ResponseWriter, r *http.Request) {
	if !s.arrive(w, r) {
		return
	}
	s.json2N.Add(1)
	if s.major() < 19 || r.Method != http.MethodPost {
		htmlError(w, http.StatusNotFound, "Not Found") // no such route before 19
		return
	}
	if db := r.Header.Get("X-Odoo-Database"); db != "" && db != s.DB {
		htmlError(w, http.StatusNotFound, "Not Found")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		htmlError(w, http.StatusUnsupportedMediaType, "Unsupported Media Type")
		return
	}
	scheme, key, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "bearer") || key == "" {
		json2Error(w, http.StatusUnauthorized, "werkzeug.exceptions.Unauthorized", "User not authenticated, use an API Key with a Bearer Authorization header.")
		return
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 16<<20))
	var body any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &body); err != nil {
			json2Error(w, http.StatusBadRequest, "werkzeug.exceptions.BadRequest", "could not parse the body as json: "+err.Error())
			return
		}
	}
	// A body that is not an object drops every argument: the trap of
	// docs/odoo-wire.md, kept here so a client that sends one is caught.
	named, _ := jsonInts(body).(map[string]any)
	if named == nil {
		named = map[string]any{}
	}
	model, fn := r.PathValue("model"), r.PathValue("method")
	s.mu.Lock()
	defer s.mu.Unlock()
	uid := 0
	for _, u := range s.users {
		if u.APIKey != "" && u.APIKey == key && !u.Archived {
			uid = u.ID
		}
	}
	if uid == 0 {
		json2Error(w, http.StatusUnauthorized, "werkzeug.exceptions.Unauthorized", "Invalid apikey")
		return
	}
	s.calls[model+"."+fn]++
	args, kwargs, status, name, msg := json2Call(model, fn, named)
	if status != 0 {
		json2Error(w, status, name, msg)
		return
	}
	v, err := s.dispatch(uid, model, fn, args, kwargs)
	if err != nil {
		status, name, msg := json2Fault(err, model)
		json2Error(w, status, name, msg)
		return
	}
	switch fn {
	case "create", "message_post":
		if _, list := v.([]any); !list {
			v = []any{v} // a returned recordset becomes a list of ids
		}
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	json.NewEncoder(w).Encode(v)
}

// json2Call maps named arguments back to the positional call the shared
// dispatch takes, refusing what Odoo 19 refused.
func json2Call(model, fn string, named map[string]any) (args []any, kwargs map[string]any, status int, name, msg string) {
	ids, hasIDs := named["ids"]
	delete(named, "ids")
	if hasIDs && modelMethods[fn] {
		return nil, nil, http.StatusUnprocessableEntity, "werkzeug.exceptions.UnprocessableEntity", fmt.Sprintf("cannot call %s.%s with ids", model, fn)
	}
	kwargs = map[string]any{}
	if c, ok := named["context"]; ok {
		kwargs["context"] = c
		delete(named, "context")
	}
	take := func(k string) any { v := named[k]; delete(named, k); return v }
	allowed := map[string][]string{
		"search_read": {"fields", "limit", "offset", "order"}, "search": {"limit", "offset", "order"}, "search_count": {"limit"},
		"fields_get": {"allfields", "attributes"}, "message_post": {"body", "message_type", "subtype_xmlid"},
		"activity_schedule": {"summary", "note", "user_id", "date_deadline", "act_type_xmlid"},
	}
	switch fn {
	case "search_read", "search", "search_count":
		d := take("domain")
		if d == nil {
			d = []any{}
		}
		args = []any{d}
	case "read":
		args = []any{ids, take("fields")}
	case "create":
		vl, _ := take("vals_list").([]any)
		if vl == nil {
			return nil, nil, http.StatusUnprocessableEntity, "werkzeug.exceptions.UnprocessableEntity", "missing a required argument: 'vals_list'"
		}
		args = []any{vl}
	case "default_get":
		args = []any{cmpAny(take("fields_list"), take("fields"))}
	case "message_post", "activity_schedule":
		args = []any{ids}
	case "write":
		args = []any{ids, take("vals")}
	}
	for _, k := range allowed[fn] {
		if v, ok := named[k]; ok {
			kwargs[k] = v
			delete(named, k)
		}
	}
	for k := range named {
		return nil, nil, http.StatusInternalServerError, "builtins.TypeError", fmt.Sprintf("%s.%s() got an unexpected keyword argument '%s'", model, fn, k)
	}
	return args, kwargs, 0, "", ""
}

func cmpAny(a, b any) any {
	if a != nil {
		return a
	}
	return b
}

// json2Fault gives the status and error body a Fault becomes over JSON-2.
func json2Fault(err error, model string) (int, string, string) {
	f, ok := err.(*Fault)
	if !ok {
		return http.StatusInternalServerError, "builtins.Exception", err.Error()
	}
	last := f.Msg
	if i := strings.LastIndex(strings.TrimSpace(f.Msg), "\n"); i >= 0 {
		last = strings.TrimSpace(f.Msg[i+1:])
	}
	switch {
	case f.Code == 4:
		return http.StatusForbidden, "odoo.exceptions.AccessError", f.Msg
	case f.Code == 2 && strings.Contains(f.Msg, "doesn't exist"):
		return http.StatusNotFound, "werkzeug.exceptions.NotFound", fmt.Sprintf("the model '%s' does not exist", model)
	case f.Code == 2 && strings.Contains(f.Msg, "Record does not exist"):
		return http.StatusNotFound, "odoo.exceptions.MissingError", f.Msg
	case f.Code == 2:
		return http.StatusUnprocessableEntity, "odoo.exceptions.ValidationError", f.Msg
	case strings.Contains(last, "ValueError: "):
		return http.StatusInternalServerError, "builtins.ValueError", strings.TrimPrefix(last[strings.Index(last, "ValueError: "):], "ValueError: ")
	}
	return http.StatusInternalServerError, "builtins.Exception", last
}
