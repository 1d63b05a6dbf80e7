package odoo

import (
	"errors"
	"fmt"
	"strings"

	"github.com/kolo/xmlrpc"
)

// Errors the Odoo client returns; callers branch on them with errors.Is.
var (
	ErrLogin       = errors.New("odoo: login failed")
	ErrAccess      = errors.New("odoo: access denied")
	ErrUser        = errors.New("odoo: user error")
	ErrServer      = errors.New("odoo: server error")
	ErrUnreachable = errors.New("odoo: unreachable")
	// ErrNoDatabase comes with ErrServer when [odoo] db does not exist.
	ErrNoDatabase = errors.New("odoo: no such database")
)

// Error is one failed Odoo call, with a message an admin can act on.
type Error struct {
	Kind   error    // one of the Err… sentinels
	Fault  int      // XML-RPC fault code, 0 for transport errors
	Msg    string   // the whole sentence
	Err    error    // the cause, for transport errors
	Groups []string // for access errors: the groups Odoo says grant the right
}

func (e *Error) Error() string { return e.Msg }

// Unwrap exposes the sentinel and the cause to errors.Is.
func (e *Error) Unwrap() []error { return []error{e.Kind, e.Err} }

// fault turns an Odoo Fault into one sentence: 3 wrong password, 4 access
// rights, 2 user errors, 1 server tracebacks (its last line is the cause).
func (c *Client) fault(f xmlrpc.FaultError, model, method string) error {
	last := lastLine(f.String)
	e := &Error{Fault: f.Code}
	switch f.Code {
	case 3:
		e.Kind = ErrLogin
		e.Msg = fmt.Sprintf("odoo: login failed for user %q on db %q: wrong password (check [odoo] password)", c.cfg.User, c.cfg.DB)
	case 4:
		e.Kind = ErrAccess
		e.Groups = grantingGroups(f.String)
		e.Msg = fmt.Sprintf("odoo: user %q is not allowed to %s %s: %s", c.cfg.User, verb(method), model, firstLine(f.String))
		if len(e.Groups) > 0 {
			e.Msg += " Odoo grants it to the groups: " + strings.Join(e.Groups, "; ") + " (give the user one of them)"
		}
	case 2:
		e.Kind = ErrUser
		e.Msg = fmt.Sprintf("odoo: %s.%s refused: %s", model, method, oneLine(f.String))
	default:
		e.Kind = ErrServer
		if strings.Contains(f.String, "does not exist") && strings.Contains(f.String, "database") {
			e.Err = ErrNoDatabase
			e.Msg = fmt.Sprintf("odoo: database %q does not exist on %s (check [odoo] db)", c.cfg.DB, c.shown)
		} else {
			e.Msg = fmt.Sprintf("odoo: server error in %s.%s: %s", model, method, last)
		}
	}
	return e
}

// grantingGroups reads the groups from an access fault: "This operation is
// allowed for the following groups:" then one "\t- Group" line each.
func grantingGroups(fault string) []string {
	_, list, ok := strings.Cut(fault, "allowed for the following groups:")
	if !ok {
		return nil
	}
	var out []string
	for _, l := range strings.Split(list, "\n") {
		l = strings.TrimSpace(l)
		if g, ok := strings.CutPrefix(l, "- "); ok {
			out = append(out, g)
		} else if l != "" && len(out) > 0 {
			break
		}
	}
	return out
}

// oneLine folds a multi-line fault into one line.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

func verb(method string) string {
	switch method {
	case "search_read", "read", "search", "search_count", "fields_get":
		return "read"
	case "create", "default_get":
		return "create"
	case "write", "message_post":
		return "write"
	}
	return "call " + method + " on"
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[:i])
	}
	return s
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return strings.TrimSpace(s[i+1:])
	}
	return s
}
