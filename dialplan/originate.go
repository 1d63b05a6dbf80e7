package dialplan

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/odoo-agi/odoo-agi/ami"
	"github.com/odoo-agi/odoo-agi/lookup"
)

// Manager originates calls; *ami.Client satisfies it.
type Manager interface {
	Originate(ctx context.Context, o ami.Originate) (ami.OriginateResult, error)
}

// The dialplan contract with extensions_odoo.conf: the first leg runs
// ring@odoo-originate, and each phone's pre-dial handler runs
// autoanswer@odoo-originate.
const (
	// /n keeps the Local channel in the call: optimized away, its ;1 side
	// would hang up, and run the call log's hangup handler, as soon as
	// the second leg is bridged.
	OriginateChannel = "Local/ring@odoo-originate/n"
	// Once a phone answers, the first leg runs dial@odoo-originate: it sets
	// the user's caller ID again (a Local channel copies the answering
	// phone's connected line into its ;1 caller, core_unreal.c
	// unreal_colp_redirect_indicate), then goes to the user's context.
	OriginateContext = "odoo-originate"
	OriginateExten   = "dial"
	// DefaultOriginateTimeout is how long the user's phones ring.
	DefaultOriginateTimeout = 30 * time.Second
)

// Errors a click-to-dial request can fail with before anything rings.
var (
	ErrUnknownUser   = errors.New("unknown user")
	ErrNoChannel     = errors.New("no originate channel")
	ErrBadNumber     = errors.New("not a phone number")
	ErrPBXDown       = errors.New("Asterisk manager is not connected")
	ErrPBXPermission = errors.New("the AMI user may not originate")
	ErrDenied        = errors.New("this number may not be dialed")
	ErrTooMany       = errors.New("too many calls")
)

// CallRequest is one click-to-dial: a user (login or extension) calls a number.
type CallRequest struct {
	User      string
	Number    string
	PartnerID int // optional: the Odoo partner the user clicked
}

// Call statuses.
const (
	Answered = "answered"
	Busy     = "busy"
	NoAnswer = "no_answer"
	Failed   = "failed"
)

// CallResult is how the first leg ended.
type CallResult struct {
	Status  string // answered, busy, no_answer, failed
	Detail  string
	E164    string // the number in E.164, when it is a phone number
	Dialed  string // what the PBX dials for the second leg
	Context string
	Partner string // the name shown on the user's phone, if known
}

// Originator places click-to-dial calls: it rings all of the user's
// originate channels at once, with each one's auto-answer header, and once
// one answers, dials the number through the user's context.
type Originator struct {
	Settings   func() *Settings  // the current users, name format and timeouts
	Directory  Directory         // the partner's name for the phones' display
	Normalizer lookup.Normalizer // when the user's PBX has no rules of its own
	Manager    Manager           // the only PBX's, when Managers is nil
	// Managers are each PBX's manager, by name: a user's calls go through
	// their own PBX's, never another's.
	Managers map[string]Manager
	// LogCalls pushes the odoo-hangup handler on the second leg, so that
	// the call log records the call.
	LogCalls bool
	Logger   *slog.Logger

	mu     sync.Mutex
	recent map[string][]time.Time // each user's calls in the last minute
}

// Call runs one click-to-dial and waits for the first leg's outcome.
func (o *Originator) Call(ctx context.Context, req CallRequest) (CallResult, error) {
	st := o.Settings()
	u, ok := st.Users.ByLogin(strings.TrimSpace(req.User))
	if !ok {
		return CallResult{}, fmt.Errorf("%w %q: no [[users]] entry has this login", ErrUnknownUser, req.User)
	}
	var chans []Channel
	for _, c := range u.Channels {
		if c.Originate {
			chans = append(chans, c)
		}
	}
	if len(chans) == 0 {
		return CallResult{}, fmt.Errorf("%w: user %q has no channel with originate = true", ErrNoChannel, u.Login)
	}
	mgr, norm := o.Manager, o.Normalizer
	if o.Managers != nil {
		if mgr = o.Managers[u.PBX]; mgr == nil {
			return CallResult{}, fmt.Errorf("%w: PBX %q of user %q has no manager ([[pbx]] ami_secret)", ErrPBXDown, u.PBX, u.Login)
		}
	}
	if p, ok := st.PBX(u.PBX); ok && p.Normalizer.Country != "" {
		norm = p.Normalizer
	}
	dialed, e164, err := target(norm, req.Number)
	if err != nil {
		return CallResult{}, err
	}
	if p := denied(st.Deny, dialed, e164); p != "" {
		return CallResult{}, fmt.Errorf("%w: %s starts with %s, which [originate] deny lists", ErrDenied, cmp.Or(e164, dialed), p)
	}
	if !o.admit(u.Login, st.PerUserPerMinute) {
		return CallResult{}, fmt.Errorf("%w: %s placed %d calls in the last minute ([originate] per_user_per_minute)", ErrTooMany, u.Login, st.PerUserPerMinute)
	}
	res := CallResult{Dialed: dialed, E164: e164, Context: chans[0].Context}
	calleeNum := e164
	if e164 != "" {
		lctx, cancel := context.WithTimeout(ctx, st.LookupTimeout)
		var company int
		if p, ok := st.PBX(u.PBX); ok {
			company = p.Company
		}
		r := o.Directory.LookupLine(lctx, e164, lookup.Line{Company: company})
		cancel()
		if r.Status == lookup.Found {
			res.Partner = st.Format.Name(r.Partner)
		}
	} else {
		calleeNum = dialed
	}

	timeout := st.OriginateTimeout
	if timeout <= 0 {
		timeout = DefaultOriginateTimeout
	}
	names := make([]string, len(chans))
	vars := []ami.Var{}
	for i, c := range chans {
		names[i] = c.Name
		h, err := ParseAutoAnswer(c.AutoAnswer)
		if err != nil {
			return CallResult{}, fmt.Errorf("user %q, channel %s: %w", u.Login, c.Name, err)
		}
		if h != nil {
			// One leading '_': the phone channels Dial creates inherit them.
			key := autoAnswerKey(c.Name)
			vars = append(vars, ami.Var{Name: "_ODOO_AAH_" + key, Value: h.Name}, ami.Var{Name: "_ODOO_AAV_" + key, Value: h.Value})
		}
	}
	// The phones show the partner, or the number: never the user's own name.
	calleeName := cmp.Or(res.Partner, lookup.Pretty(e164), dialed)
	userName := cmp.Or(o.Directory.UserName(u.Login), u.Login)
	vars = append([]ami.Var{
		{Name: "ODOO_DIAL", Value: strings.Join(names, "&")},
		{Name: "ODOO_RING_TIMEOUT", Value: strconv.Itoa(int(timeout.Round(time.Second) / time.Second))},
		{Name: "ODOO_CALLEE_NUM", Value: calleeNum},
		{Name: "ODOO_CALLEE_NAME", Value: calleeName},
		{Name: "ODOO_USER", Value: u.Login},
		// dial@odoo-originate sets the second leg's caller ID from these,
		// whichever phone answered, then goes to the user's context.
		{Name: "ODOO_USER_NUM", Value: u.Exten},
		{Name: "ODOO_USER_NAME", Value: userName},
		{Name: "ODOO_DIAL_CONTEXT", Value: res.Context},
		{Name: "ODOO_DIAL_NUMBER", Value: dialed},
	}, vars...)
	if req.PartnerID > 0 {
		vars = append(vars, ami.Var{Name: "ODOO_PARTNER_ID", Value: strconv.Itoa(req.PartnerID)})
	}
	if o.LogCalls {
		// The second leg's hangup handler logs the call (odoo-hangup).
		pid := ""
		if req.PartnerID > 0 {
			pid = strconv.Itoa(req.PartnerID)
		}
		vars = append(vars, ami.Var{Name: "CHANNEL(hangup_handler_push)",
			Value: fmt.Sprintf("odoo-hangup,s,1(click,%s,%s,%d)", orEmpty(e164, dialed), pid, time.Now().Unix())})
	}
	act := ami.Originate{
		Channel:   OriginateChannel,
		Context:   OriginateContext,
		Exten:     OriginateExten,
		Priority:  1,
		Timeout:   timeout,
		CallerID:  userCallerID(u, userName),
		Variables: vars,
	}
	actx, cancel := context.WithTimeout(ctx, timeout+10*time.Second)
	defer cancel()
	out, err := mgr.Originate(actx, act)
	switch {
	case errors.Is(err, ami.ErrNotConnected):
		return res, fmt.Errorf("%w: %v", ErrPBXDown, err)
	case errors.Is(err, ami.ErrPermission):
		return res, fmt.Errorf("%w: give it write = originate (and call) in manager.conf: %v", ErrPBXPermission, err)
	case err != nil:
		res.Status, res.Detail = Failed, err.Error()
		return res, nil
	}
	res.Status, res.Detail = outcome(out, u, names, dialed, res.Context, timeout)
	o.log().Info("click-to-dial", "user", u.Login, "pbx", u.PBX, "number", dialed, "status", res.Status, "reason", out.Reason)
	return res, nil
}

// denied returns the deny prefix that dialed or e164 starts with, or "".
func denied(deny []string, dialed, e164 string) string {
	for _, p := range deny {
		if p != "" && (strings.HasPrefix(dialed, p) || e164 != "" && strings.HasPrefix(e164, p)) {
			return p
		}
	}
	return ""
}

// admit counts a call of login against its per-minute cap.
func (o *Originator) admit(login string, perMinute int) bool {
	if perMinute <= 0 {
		return true
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.recent == nil {
		o.recent = map[string][]time.Time{}
	}
	cutoff := time.Now().Add(-time.Minute)
	calls := o.recent[login]
	for len(calls) > 0 && calls[0].Before(cutoff) {
		calls = calls[1:]
	}
	if len(calls) >= perMinute {
		o.recent[login] = calls
		return false
	}
	o.recent[login] = append(calls, time.Now())
	return true
}

func orEmpty(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (o *Originator) log() *slog.Logger {
	if o.Logger == nil {
		return slog.Default()
	}
	return o.Logger
}

// target turns a requested number into what the PBX dials, and its E.164
// form when it is a phone number. Short numbers are extensions, dialed as
// they are.
func target(n lookup.Normalizer, raw string) (dialed, e164 string, err error) {
	e164, err = n.Caller(raw)
	switch {
	case errors.Is(err, lookup.ErrInternal):
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' || r == '*' || r == '#' {
				return r
			}
			return -1
		}, raw)
		return digits, "", nil
	case err != nil:
		return "", "", fmt.Errorf("%w: %q (%v)", ErrBadNumber, raw, err)
	}
	dialed, err = n.Dialable(e164)
	if err != nil {
		return "", "", fmt.Errorf("%w: %q (%v)", ErrBadNumber, raw, err)
	}
	return dialed, e164, nil
}

// userCallerID is the caller ID of the first leg: the user's own, so that
// the PBX applies its outbound caller ID rules to the second.
func userCallerID(u User, name string) string {
	if u.Exten == "" {
		return ""
	}
	name = strings.Map(func(r rune) rune {
		if r == '"' || r == '\\' || r == '<' || r == '>' || r < 0x20 {
			return -1
		}
		return r
	}, name)
	return fmt.Sprintf("%q <%s>", name, u.Exten)
}

// outcome maps OriginateResponse to a status. Reason is the last control
// frame the Local channel saw (channel.c __ast_request_and_dial); the
// odoo-originate context turns a busy phone into Busy().
func outcome(r ami.OriginateResult, u User, chans []string, dialed, context string, timeout time.Duration) (string, string) {
	who := strings.Join(chans, " or ")
	switch {
	case r.Success || r.Reason == ami.ReasonAnswered:
		return Answered, fmt.Sprintf("%s answered; dialing %s through %s", u.Login, dialed, context)
	case r.Reason == ami.ReasonBusy:
		return Busy, fmt.Sprintf("%s is busy or declined the call", who)
	case r.Reason == ami.ReasonRinging || r.Reason == ami.ReasonHangup:
		return NoAnswer, fmt.Sprintf("%s did not answer within %s", who, timeout)
	case r.Reason == ami.ReasonCongestion:
		return Failed, fmt.Sprintf("%s is unavailable (not registered?)", who)
	}
	return Failed, fmt.Sprintf("Asterisk could not ring %s (reason %d: is extensions_odoo.conf loaded?)", who, r.Reason)
}
