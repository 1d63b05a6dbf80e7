package ami

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/odoo-agi/odoo-agi/internal/astarg"
)

// Var is one channel variable for Originate.
type Var struct{ Name, Value string }

// Originate is the Originate action (manager.c action_originate), always
// sent with Async: true so that Asterisk answers at once and reports the
// outcome in an OriginateResponse event.
type Originate struct {
	Channel   string // e.g. Local/ring@odoo-originate
	Context   string
	Exten     string
	Priority  int
	Timeout   time.Duration // how long the channel may ring
	CallerID  string        // "Name" <number>
	Variables []Var
}

// OriginateResult is the OriginateResponse event.
type OriginateResult struct {
	Success  bool   // Response: Success
	Reason   int    // the last control frame (channel.c __ast_request_and_dial)
	Channel  string // as Asterisk named it
	UniqueID string
}

// Originate reasons: AST_CONTROL_* values that OriginateResponse carries.
const (
	ReasonFailed     = 0 // no such channel or extension
	ReasonHangup     = 1 // hung up before answering
	ReasonRinging    = 3 // still ringing when the timeout came
	ReasonAnswered   = 4
	ReasonBusy       = 5
	ReasonCongestion = 8
)

// Message renders the action. Variable values are escaped for
// man_do_variable_value, which splits each Variable header with
// AST_STANDARD_APP_ARGS: a ',' would start a new variable, a '"' would
// vanish and a '\' would eat the next byte.
func (o Originate) Message() (Message, error) {
	a := NewAction("Originate")
	a.Add("Channel", o.Channel)
	a.Add("Context", o.Context)
	a.Add("Exten", o.Exten)
	a.Add("Priority", strconv.Itoa(max(o.Priority, 1)))
	a.Add("Timeout", strconv.FormatInt(o.Timeout.Milliseconds(), 10))
	if o.CallerID != "" {
		a.Add("CallerID", o.CallerID)
	}
	for _, v := range o.Variables {
		if !validVarName(v.Name) {
			return Message{}, fmt.Errorf("ami: variable name %q is not allowed", v.Name)
		}
		a.Add("Variable", v.Name+"="+astarg.Escape(v.Value))
	}
	a.Add("Async", "true")
	return a, nil
}

// validVarName accepts NAME, _NAME, __NAME and FUNC(arg) such as
// CHANNEL(hangup_handler_push): nothing AST_STANDARD_APP_ARGS would split.
func validVarName(n string) bool {
	base, arg, fn := strings.Cut(n, "(")
	if fn && !strings.HasSuffix(arg, ")") {
		return false
	}
	arg = strings.TrimSuffix(arg, ")")
	word := func(s string) bool {
		for _, r := range s {
			if !(r == '_' || r >= '0' && r <= '9' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z') {
				return false
			}
		}
		return s != ""
	}
	return word(base) && (!fn || word(arg))
}

// Originate places the call and waits for its OriginateResponse, at most
// until ctx ends. Give ctx some seconds more than o.Timeout.
func (c *Client) Originate(ctx context.Context, o Originate) (OriginateResult, error) {
	c.init()
	a, err := o.Message()
	if err != nil {
		return OriginateResult{}, err
	}
	cn, err := c.conn()
	if err != nil {
		return OriginateResult{}, err
	}
	id := c.nextID()
	w, err := cn.send(ctx, a, id, "OriginateResponse")
	if err != nil {
		return OriginateResult{}, err
	}
	defer cn.forget(id)
	r, err := cn.await(ctx, w.resp, "Originate")
	if err != nil {
		return OriginateResult{}, err
	}
	if strings.EqualFold(r.Get("Response"), "Error") {
		return OriginateResult{}, &Error{Action: "Originate", Message: r.Get("Message")}
	}
	ev, err := cn.await(ctx, w.ev, "OriginateResponse")
	if err != nil {
		return OriginateResult{}, err
	}
	reason, _ := strconv.Atoi(strings.TrimSpace(ev.Get("Reason")))
	return OriginateResult{
		Success:  strings.EqualFold(ev.Get("Response"), "Success"),
		Reason:   reason,
		Channel:  ev.Get("Channel"),
		UniqueID: ev.Get("Uniqueid"),
	}, nil
}
