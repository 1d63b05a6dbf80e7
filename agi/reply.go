package agi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Errors a Session returns; callers branch on them with errors.Is.
var (
	// ErrHangup: Asterisk sent HANGUP. The session's work is over.
	ErrHangup = errors.New("agi: channel hung up")
	// ErrInvalidCommand: 510, Asterisk does not know the command.
	ErrInvalidCommand = errors.New("agi: invalid or unknown command (510)")
	// ErrDeadChannel: 511, the command is not permitted on a dead channel.
	ErrDeadChannel = errors.New("agi: command not permitted on a dead channel (511)")
	// ErrUsage: 520, Asterisk rejected the command's syntax.
	ErrUsage = errors.New("agi: invalid command syntax (520)")
	// ErrNoApplication: EXEC of an application Asterisk does not have (result=-2).
	ErrNoApplication = errors.New("agi: no such dialplan application")
	// ErrMalformedReply: a reply line that is none of the above.
	ErrMalformedReply = errors.New("agi: malformed reply")
)

// Reply is Asterisk's answer to one command: "200 result=N (value) extra".
type Reply struct {
	Result int    // the number after result=
	Value  string // text between the first '(' and the last ')', if any
	Extra  string // anything after the value, e.g. "endpos=1234"
}

// parse200 parses the text after "200 ". GET VARIABLE escapes nothing, so
// "result=1 (A (B) C))" holds the value "A (B) C)": the first '(' to the last ')'.
func parse200(rest string) (Reply, error) {
	var r Reply
	if !strings.HasPrefix(rest, "result=") {
		return r, fmt.Errorf("%w: %q", ErrMalformedReply, "200 "+rest)
	}
	rest = rest[len("result="):]
	num, tail, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(num)
	if err != nil {
		return r, fmt.Errorf("%w: result %q is not a number", ErrMalformedReply, num)
	}
	r.Result = n
	if open := strings.IndexByte(tail, '('); open >= 0 {
		if end := strings.LastIndexByte(tail, ')'); end > open {
			r.Value = tail[open+1 : end]
			r.Extra = strings.TrimSpace(tail[end+1:])
			return r, nil
		}
	}
	r.Extra = strings.TrimSpace(tail)
	return r, nil
}
