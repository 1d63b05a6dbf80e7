package ami

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on what the reader accepts from Asterisk.
const (
	maxLineBytes = 64 << 10
	maxFields    = 4096
)

// ErrMalformed reports bytes that are not an AMI message.
var ErrMalformed = errors.New("ami: malformed message")

// Field is one "Key: Value" line.
type Field struct{ Key, Value string }

// Message is an action, a response or an event: ordered fields, where a
// key may repeat (Variable: on actions, Output: on Command responses).
type Message struct{ Fields []Field }

// NewAction starts an action message.
func NewAction(name string) Message {
	return Message{Fields: []Field{{"Action", name}}}
}

// Add appends a field.
func (m *Message) Add(key, value string) { m.Fields = append(m.Fields, Field{key, value}) }

// Get returns the first value of key, compared case-insensitively as
// manager.c astman_get_header does.
func (m Message) Get(key string) string {
	for _, f := range m.Fields {
		if strings.EqualFold(f.Key, key) {
			return f.Value
		}
	}
	return ""
}

// Has reports whether key is present.
func (m Message) Has(key string) bool {
	for _, f := range m.Fields {
		if strings.EqualFold(f.Key, key) {
			return true
		}
	}
	return false
}

// All returns every value of key, in order.
func (m Message) All(key string) []string {
	var out []string
	for _, f := range m.Fields {
		if strings.EqualFold(f.Key, key) {
			out = append(out, f.Value)
		}
	}
	return out
}

// String renders the message for debug logs, with Secret redacted.
func (m Message) String() string {
	var b strings.Builder
	for i, f := range m.Fields {
		if i > 0 {
			b.WriteString(" | ")
		}
		v := f.Value
		if strings.EqualFold(f.Key, "Secret") {
			v = "[redacted]"
		}
		b.WriteString(f.Key + ": " + v)
	}
	return b.String()
}

// encode renders the message on the wire. A CR, LF or NUL in a key or a
// value is refused: it would end the header or the whole action early.
func (m Message) encode() ([]byte, error) {
	var b []byte
	for _, f := range m.Fields {
		if f.Key == "" || strings.ContainsAny(f.Key, "\r\n\x00: \t") {
			return nil, fmt.Errorf("ami: header name %q is not allowed", f.Key)
		}
		if strings.ContainsAny(f.Value, "\r\n\x00") {
			return nil, fmt.Errorf("ami: %s: a value may not contain CR, LF or NUL", f.Key)
		}
		b = append(b, f.Key...)
		b = append(b, ": "...)
		b = append(b, f.Value...)
		b = append(b, "\r\n"...)
	}
	return append(b, "\r\n"...), nil
}

// ReadMessage reads one message. A line without a colon is kept as an
// Output field, which is how Asterisk before 14 sent Command output
// ("Response: Follows" … "--END COMMAND--").
func ReadMessage(r *bufio.Reader) (Message, error) {
	var m Message
	follows := false
	for {
		line, err := readLine(r)
		if err != nil {
			if errors.Is(err, io.EOF) && len(m.Fields) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return Message{}, err
		}
		if follows {
			if end, ok := strings.CutSuffix(line, "--END COMMAND--"); ok {
				for _, l := range strings.Split(strings.TrimRight(end, "\n"), "\n") {
					if l != "" {
						m.Add("Output", l)
					}
				}
				follows = false
				continue
			}
		}
		if line == "" {
			if len(m.Fields) == 0 {
				continue // stray blank line between messages
			}
			return m, nil
		}
		if len(m.Fields) >= maxFields {
			return Message{}, fmt.Errorf("%w: more than %d fields", ErrMalformed, maxFields)
		}
		k, v, ok := strings.Cut(line, ":")
		if !ok || k == "" || strings.ContainsAny(k, " \t") ||
			follows && !strings.EqualFold(k, "ActionID") && !strings.EqualFold(k, "Privilege") {
			m.Add("Output", line)
			continue
		}
		v = strings.TrimPrefix(v, " ")
		m.Add(k, v)
		if len(m.Fields) == 1 && strings.EqualFold(k, "Response") && strings.EqualFold(v, "Follows") {
			follows = true
		}
	}
}

// readLine reads one line without its CRLF or LF.
func readLine(r *bufio.Reader) (string, error) {
	var buf []byte
	for {
		chunk, isPrefix, err := r.ReadLine()
		if err != nil {
			return "", err
		}
		if len(buf)+len(chunk) > maxLineBytes {
			return "", fmt.Errorf("%w: a line longer than %d bytes", ErrMalformed, maxLineBytes)
		}
		buf = append(buf, chunk...)
		if !isPrefix {
			// A stray CR or NUL inside a line is noise; never pass it on.
			for i, c := range buf {
				if c == '\r' || c == 0 {
					buf[i] = ' '
				}
			}
			return string(buf), nil
		}
	}
}
