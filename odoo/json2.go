package odoo

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// JSON-2 (Odoo 19+): POST /json/2/<model>/<method> with a bearer API key
// and one JSON object of named arguments; HTTP statuses for errors, with a
// JSON body {name, message, arguments, context, debug}. The debug
// traceback is never logged: the message is enough (docs/odoo-wire.md).

// errNoJSON2 is an Odoo with no JSON-2 route: before 19, or a wrong
// database (an HTML 404 either way).
var errNoJSON2 = errors.New("odoo: no JSON-2 API")

// json2Args turns an execute_kw call into named arguments. It maps the
// positional arguments of the methods odoo-agi calls; others must come as
// kwargs. The body is always an object: one that is not makes Odoo drop
// every argument, and an unfiltered search_read returns every record.
func json2Args(model, method string, args []any, kwargs map[string]any) (map[string]any, error) {
	body := map[string]any{}
	for k, v := range kwargs {
		body[k] = v
	}
	arg := func(i int) any {
		if i < len(args) {
			return args[i]
		}
		return nil
	}
	switch method {
	case "search_read", "search", "search_count":
		if d := arg(0); d != nil {
			body["domain"] = d
		}
	case "create":
		v := arg(0)
		if _, one := v.(map[string]any); one {
			v = []any{v}
		}
		body["vals_list"] = v
	case "message_post":
		body["ids"] = arg(0)
	case "write":
		body["ids"], body["vals"] = arg(0), arg(1)
	default:
		if len(args) > 0 {
			return nil, fmt.Errorf("odoo: %s.%s takes named arguments over JSON-2; pass them as kwargs", model, method)
		}
	}
	return body, nil
}

// json2 calls model.method over JSON-2.
func (c *Client) json2(ctx context.Context, model, method string, args []any, kwargs map[string]any) (any, error) {
	start := time.Now()
	res, err := c.json2Post(ctx, model, method, args, kwargs)
	c.observe(ctx, JSON2, model, method, start, err)
	return res, err
}

func (c *Client) json2Post(ctx context.Context, model, method string, args []any, kwargs map[string]any) (any, error) {
	params, err := json2Args(model, method, args, kwargs)
	if err != nil {
		return nil, err
	}
	body, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("odoo: encode %s.%s: %w", model, method, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL+"/json/2/"+model+"/"+method, bytes.NewReader(body))
	if err != nil {
		return nil, &Error{Kind: ErrUnreachable, Err: err, Msg: fmt.Sprintf("odoo: bad URL %q (check [odoo] url)", c.shown)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "bearer "+c.cfg.APIKey)
	req.Header.Set("X-Odoo-Database", c.cfg.DB)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, &Error{Kind: ErrUnreachable, Err: err, Msg: fmt.Sprintf("odoo: cannot reach %s: %s", c.shown, shortNetErr(err))}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return nil, &Error{Kind: ErrUnreachable, Err: err, Msg: fmt.Sprintf("odoo: reading the answer from %s: %s", c.shown, shortNetErr(err))}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, c.json2Error(resp.StatusCode, data, model, method)
	}
	if v, ok := jsonValue(data); ok {
		return v, nil
	}
	var out any
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, &Error{Kind: ErrServer, Err: err, Msg: fmt.Sprintf("odoo: unreadable answer from %s/json/2/%s/%s: %v", c.shown, model, method, err)}
	}
	return out, nil
}

// json2Error turns an error status into the error the same Fault would
// give over XML-RPC: 401 is Fault 3, 403 Fault 4, 404 and 422 Fault 2,
// 500 Fault 1.
func (c *Client) json2Error(status int, body []byte, model, method string) error {
	var e struct {
		Name    string `json:"name"`
		Message string `json:"message"`
	}
	isJSON := json.Unmarshal(body, &e) == nil && e.Name != ""
	msg := e.Message
	switch {
	case status == http.StatusUnauthorized:
		return &Error{Kind: ErrLogin, Fault: 3, Msg: fmt.Sprintf("odoo: the API key for %q was refused on db %q: %s (check [odoo] api_key)", c.cfg.User, c.cfg.DB, firstLine(msg))}
	case status == http.StatusForbidden && isJSON:
		err := &Error{Kind: ErrAccess, Fault: 4, Groups: grantingGroups(msg),
			Msg: fmt.Sprintf("odoo: user %q is not allowed to %s %s: %s", c.cfg.User, verb(method), model, firstLine(msg))}
		if len(err.Groups) > 0 {
			err.Msg += " Odoo grants it to the groups: " + strings.Join(err.Groups, "; ") + " (give the user one of them)"
		}
		return err
	case status == http.StatusNotFound && !isJSON:
		return &Error{Kind: ErrServer, Err: errors.Join(errNoJSON2, ErrNoDatabase), Fault: 1,
			Msg: fmt.Sprintf("odoo: %s has no JSON-2 API for db %q: it needs Odoo 19 or later and the right [odoo] db", c.shown, c.cfg.DB)}
	case (status == http.StatusNotFound || status == http.StatusUnprocessableEntity) && isJSON:
		return &Error{Kind: ErrUser, Fault: 2, Msg: fmt.Sprintf("odoo: %s.%s refused: %s", model, method, oneLine(msg))}
	case status == http.StatusInternalServerError && isJSON, status == http.StatusBadRequest, status == http.StatusUnsupportedMediaType:
		return &Error{Kind: ErrServer, Fault: 1, Msg: fmt.Sprintf("odoo: server error in %s.%s (HTTP %d): %s", model, method, status, cmp.Or(lastLine(msg), e.Name))}
	}
	return &Error{Kind: ErrUnreachable, Msg: fmt.Sprintf("odoo: %s/json/2/%s/%s answered HTTP %d (is Odoo running behind it?)", c.shown, model, method, status)}
}
