// Package amitest is an Asterisk manager for tests: it speaks the AMI wire
// format of Asterisk 22 (banner, Login, Ping, Command, Logoff, Originate
// with Async and its OriginateResponse event) on loopback, records every
// Originate as Asterisk would parse it, and answers with scripted outcomes.
// Tests emit call events (Newchannel, DialBegin, DialState, DialEnd,
// Hangup) in the field order of a real Asterisk 22; like Asterisk, it sends
// call events only to users with read = call.
package amitest

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/odoo-agi/odoo-agi/ami"
	"github.com/odoo-agi/odoo-agi/internal/astarg"
	"github.com/odoo-agi/odoo-agi/internal/wait"
)

// Banner is what Asterisk 22 sends first.
const Banner = "Asterisk Call Manager/11.0.0"

// User is a manager.conf user.
type User struct {
	Secret    string
	Originate bool // has write = originate
	// ReadCall is read = call: without it Asterisk sends the session no
	// call events, OriginateResponse included.
	ReadCall bool
}

// Originated is one Originate action as Asterisk read it.
type Originated struct {
	Received time.Time           // when the action arrived
	Fields   []ami.Field         // the headers, in order
	Vars     []ami.Var           // Variable headers split as man_do_variable_value does
	Header   func(string) string // first value of a header
}

// Var returns a variable's value.
func (o Originated) Var(name string) string {
	for _, v := range o.Vars {
		if v.Name == name {
			return v.Value
		}
	}
	return ""
}

// Outcome is how the emulated call ends.
type Outcome struct {
	Success bool
	Reason  int // ami.Reason*
	Delay   time.Duration
}

// Server is the emulated manager.
type Server struct {
	mu         sync.Mutex
	users      map[string]User
	decide     func(Originated) Outcome
	ln         net.Listener
	conns      map[net.Conn]bool
	originates []Originated
	logins     int
	sessions   map[*session]bool // logged in
	wg         sync.WaitGroup
}

// New returns a manager with the user odoo/secret, with write = originate
// and read = call.
func New() *Server {
	return &Server{users: map[string]User{"odoo": {Secret: "secret", Originate: true, ReadCall: true}}, conns: map[net.Conn]bool{}, sessions: map[*session]bool{}}
}

// AddUser adds or replaces a manager user.
func (s *Server) AddUser(name string, u User) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users[name] = u
}

// Decide sets how each Originate ends; nil answers at once.
func (s *Server) Decide(f func(Originated) Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.decide = f
}

func (s *Server) user(name string) (User, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[name]
	return u, ok
}

// Start listens on a free loopback port and returns its address.
func (s *Server) Start() (string, error) { return s.StartOn("127.0.0.1:0") }

// StartOn listens on addr (to come back on the same port after Stop).
func (s *Server) StartOn(addr string) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.mu.Lock()
			s.conns[c] = true
			s.mu.Unlock()
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				s.serve(c)
			}()
		}
	}()
	return ln.Addr().String(), nil
}

// Stop closes the listener and every session, as an Asterisk restart does.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.ln != nil {
		s.ln.Close()
	}
	for c := range s.conns {
		c.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// Originates returns the Originate actions received so far.
func (s *Server) Originates() []Originated {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Originated(nil), s.originates...)
}

// Logins counts successful logins.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

type session struct {
	c      net.Conn
	wmu    sync.Mutex
	user   string
	ok     bool
	events bool // read = call, and Events not off
}

func (ss *session) write(fields ...string) {
	var b strings.Builder
	for i := 0; i+1 < len(fields); i += 2 {
		b.WriteString(fields[i] + ": " + fields[i+1] + "\r\n")
	}
	b.WriteString("\r\n")
	ss.wmu.Lock()
	ss.c.Write([]byte(b.String()))
	ss.wmu.Unlock()
}

func (s *Server) serve(c net.Conn) {
	defer func() {
		c.Close()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	ss := &session{c: c}
	defer func() {
		s.mu.Lock()
		delete(s.sessions, ss)
		s.mu.Unlock()
	}()
	fmt.Fprintf(c, "%s\r\n", Banner)
	br := bufio.NewReader(c)
	var calls sync.WaitGroup
	defer calls.Wait()
	for {
		m, err := ami.ReadMessage(br)
		if err != nil {
			return
		}
		id := m.Get("ActionID")
		action := strings.ToLower(m.Get("Action"))
		if !ss.ok && action != "login" {
			ss.write("Response", "Error", "ActionID", id, "Message", "Permission denied")
			continue
		}
		switch action {
		case "login":
			u, ok := s.user(m.Get("Username"))
			if !ok || u.Secret != m.Get("Secret") {
				// manager.c: the session ends after a failed login.
				ss.write("Response", "Error", "ActionID", id, "Message", "Authentication failed")
				return
			}
			ss.user, ss.ok = m.Get("Username"), true
			ss.events = u.ReadCall && !strings.EqualFold(m.Get("Events"), "off")
			s.mu.Lock()
			s.logins++
			s.sessions[ss] = true
			s.mu.Unlock()
			ss.write("Response", "Success", "ActionID", id, "Message", "Authentication accepted")
			ss.write("Event", "FullyBooted", "Privilege", "system,all", "Uptime", "42", "LastReload", "42", "Status", "Fully Booted")
		case "ping":
			ss.write("Response", "Success", "ActionID", id, "Ping", "Pong", "Timestamp", fmt.Sprintf("%d.000000", time.Now().Unix()))
		case "command":
			ss.write("Response", "Success", "ActionID", id, "Message", "Command output follows",
				"Output", "Asterisk 22.10.1 built by emulator", "Output", "(command: "+m.Get("Command")+")")
		case "logoff":
			ss.write("Response", "Goodbye", "ActionID", id, "Message", "Thanks for all the fish.")
			return
		case "originate":
			if u, _ := s.user(ss.user); !u.Originate {
				ss.write("Response", "Error", "ActionID", id, "Message", "Permission denied")
				continue
			}
			o := originated(m)
			o.Received = time.Now()
			s.mu.Lock()
			s.originates = append(s.originates, o)
			decide := s.decide
			s.mu.Unlock()
			ss.write("Response", "Success", "ActionID", id, "Message", "Originate successfully queued")
			out := Outcome{Success: true, Reason: ami.ReasonAnswered}
			if decide != nil {
				out = decide(o)
			}
			calls.Add(1)
			go func() {
				defer calls.Done()
				time.Sleep(out.Delay)
				// Unrelated traffic, as on a busy PBX.
				if !ss.events {
					return // no read = call: Asterisk sends no OriginateResponse either
				}
				ss.write("Event", "Newchannel", "Privilege", "call,all", "Channel", m.Get("Channel")+"-00000001;1", "Uniqueid", "1700000000.1")
				resp := "Failure"
				if out.Success {
					resp = "Success"
				}
				ss.write("Event", "OriginateResponse", "Privilege", "call,all", "ActionID", id, "Response", resp,
					"Channel", m.Get("Channel"), "Context", m.Get("Context"), "Exten", m.Get("Exten"),
					"Application", "", "Data", "", "Reason", fmt.Sprint(out.Reason), "Uniqueid", "1700000000.1",
					"CallerIDNum", "<unknown>", "CallerIDName", "<unknown>")
			}()
		default:
			ss.write("Response", "Error", "ActionID", id, "Message", "Invalid/unknown command: "+m.Get("Action")+". Use Action: ListCommands to show available commands.")
		}
	}
}

// originated splits Variable headers as manager.c man_do_variable_value:
// AST_STANDARD_APP_ARGS on ',', then name=value on the first '='.
func originated(m ami.Message) Originated {
	o := Originated{Fields: m.Fields, Header: m.Get}
	for _, h := range m.All("Variable") {
		for _, item := range astarg.Separate(strings.TrimLeft(h, " \t"), ',', 0) {
			name, value, ok := strings.Cut(item, "=")
			if !ok || name == "" {
				continue
			}
			o.Vars = append(o.Vars, ami.Var{Name: name, Value: value})
		}
	}
	return o
}

// Chan is one channel as call events describe it (docs/asterisk-wire.md).
type Chan struct {
	Name                        string // PJSIP/trunk-00000000
	State                       int    // 0 Down, 4 Ring, 5 Ringing, 6 Up
	CallerIDNum, CallerIDName   string
	ConnectedNum, ConnectedName string
	Context, Exten              string
	Priority                    int
	Uniqueid, Linkedid          string
}

var stateDesc = map[int]string{0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}

func (c Chan) fields(prefix string) []string {
	or := func(s string) string {
		if s == "" {
			return "<unknown>"
		}
		return s
	}
	return []string{
		prefix + "Channel", c.Name, prefix + "ChannelState", fmt.Sprint(c.State), prefix + "ChannelStateDesc", stateDesc[c.State],
		prefix + "CallerIDNum", or(c.CallerIDNum), prefix + "CallerIDName", or(c.CallerIDName),
		prefix + "ConnectedLineNum", or(c.ConnectedNum), prefix + "ConnectedLineName", or(c.ConnectedName),
		prefix + "Language", "en", prefix + "AccountCode", "", prefix + "Context", c.Context, prefix + "Exten", c.Exten,
		prefix + "Priority", fmt.Sprint(max(c.Priority, 1)), prefix + "Uniqueid", c.Uniqueid, prefix + "Linkedid", c.Linkedid,
	}
}

// emit sends an event to every session that receives call events, with
// the fields in the order Asterisk 22 sends them.
func (s *Server) emit(name string, fields ...string) {
	head := []string{"Event", name, "Privilege", "call,all", "Timestamp", fmt.Sprintf("%.6f", float64(time.Now().UnixMicro())/1e6)}
	all := append(head, fields...)
	s.mu.Lock()
	var to []*session
	for ss := range s.sessions {
		if ss.events {
			to = append(to, ss)
		}
	}
	s.mu.Unlock()
	for _, ss := range to {
		ss.write(all...)
	}
}

// EmitNewchannel announces a channel.
func (s *Server) EmitNewchannel(c Chan) { s.emit("Newchannel", c.fields("")...) }

// EmitDialBegin is Dial starting to ring dest for caller.
func (s *Server) EmitDialBegin(caller, dest Chan, dialString string) {
	s.emit("DialBegin", append(append(caller.fields(""), dest.fields("Dest")...), "DialString", dialString)...)
}

// EmitDialState is a progress report, e.g. RINGING.
func (s *Server) EmitDialState(caller, dest Chan, status string) {
	s.emit("DialState", append(append(caller.fields(""), dest.fields("Dest")...), "DialStatus", status)...)
}

// EmitDialEnd is the end of one dial attempt: ANSWER, BUSY, NOANSWER,
// CANCEL (another phone won), CHANUNAVAIL or CONGESTION.
func (s *Server) EmitDialEnd(caller, dest Chan, status string) {
	s.emit("DialEnd", append(append(caller.fields(""), dest.fields("Dest")...), "DialStatus", status)...)
}

// EmitHangup is a channel going away.
func (s *Server) EmitHangup(c Chan, cause int, causeTxt string) {
	s.emit("Hangup", append(c.fields(""), "Cause", fmt.Sprint(cause), "Cause-txt", causeTxt)...)
}

// StartT starts a fresh manager for a test and stops it when the test ends.
func StartT(t wait.TB) (*Server, string) {
	t.Helper()
	s := New()
	return wait.Started(t, s, s.Start, s.Stop)
}
