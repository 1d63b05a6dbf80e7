package dialplan

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/odoo-agi/odoo-agi/agi"
	"github.com/odoo-agi/odoo-agi/calllog"
)

// Recorder keeps finished calls for the call log; *calllog.Spool satisfies it.
type Recorder interface {
	Append(ctx context.Context, r calllog.Record) error
}

// Hangup is agi://…/hangup, run by the odoo-hangup handler. It reads the
// call from its arguments, spools it durably and returns: it sends no
// command, so Asterisk never waits on more than the fsync. Arguments, in
// the order extensions_odoo.conf passes them: direction, number, partner
// id, start (epoch), UNIQUEID, CHANNEL(linkedid) (there is no LINKEDID
// variable: it expands to nothing), DIALSTATUS, ANSWEREDTIME,
// DIALEDPEERNAME, DIALEDPEERNUMBER, CALLERID(num).
func (f *Flows) Hangup(ctx context.Context, s *agi.Session) {
	if f.Recorder == nil {
		return // the call log is off
	}
	st := f.Settings()
	pbx := st.PBXFor(s.Peer())
	users := st.Users.On(pbx.Name)
	r := calllog.Record{
		Direction: s.Arg(1),
		Number:    s.Arg(2),
		UniqueID:  s.Arg(5),
		LinkedID:  s.Arg(6),
		Status:    strings.ToUpper(s.Arg(7)),
		End:       time.Now().UTC(),
	}
	switch r.Direction {
	case calllog.Incoming, calllog.Outgoing, calllog.Click:
	default:
		f.Logger.Warn("hangup: unknown direction; is extensions_odoo.conf current?", "direction", r.Direction, "channel", s.Env("channel"))
		return
	}
	if r.UniqueID == "" {
		r.UniqueID = s.Env("uniqueid")
	}
	r.PartnerID, _ = strconv.Atoi(s.Arg(3))
	if epoch, err := strconv.ParseFloat(s.Arg(4), 64); err == nil && epoch > 0 {
		r.Start = time.Unix(int64(epoch), 0).UTC()
	}
	if secs, err := strconv.Atoi(s.Arg(8)); err == nil {
		r.Talk.Duration = time.Duration(secs) * time.Second
	}
	r.Peer = channelOf(s.Arg(9))
	var u User
	var ok bool
	if r.Direction == calllog.Incoming {
		// Who answered, else who was rung last.
		if u, ok = users.byChannel(r.Peer); !ok {
			u, ok = users.byDialed(s.Arg(10))
		}
	} else {
		u, ok = users.ByExten(s.Arg(11))
	}
	if st.Several() {
		r.PBX = pbx.Name
	}
	if ok {
		r.User, r.Exten = u.Login, u.Exten
	}
	if err := f.Recorder.Append(ctx, r); err != nil {
		f.Logger.Error("hangup: could not spool the call; it will be missing from Odoo", "uniqueid", r.UniqueID, "err", err)
	}
}

// channelOf drops the "-0000002a" that chan_pjsip and chan_sip append.
func channelOf(name string) string {
	i := strings.LastIndexByte(name, '-')
	if i < 0 || len(name)-i != 9 {
		return name
	}
	if _, err := strconv.ParseUint(name[i+1:], 16, 32); err != nil {
		return name
	}
	return name[:i]
}

func (us Users) byChannel(ch string) (User, bool) {
	for _, u := range us {
		for _, c := range u.Channels {
			if ch != "" && strings.EqualFold(c.Name, ch) {
				return u, true
			}
		}
	}
	return User{}, false
}

// byDialed matches DIALEDPEERNUMBER ("101" for PJSIP/101) to a user.
func (us Users) byDialed(n string) (User, bool) {
	if n == "" {
		return User{}, false
	}
	n, _, _ = strings.Cut(n, "/")
	for _, u := range us {
		if u.Exten == n {
			return u, true
		}
		for _, c := range u.Channels {
			if _, res, _ := strings.Cut(c.Name, "/"); res == n {
				return u, true
			}
		}
	}
	return User{}, false
}
