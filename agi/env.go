package agi

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"

	cyagi "github.com/CyCoreSystems/agi"
)

// Limits on the environment block. Asterisk 22 sends about 25 lines and
// 500 bytes, plus one line per AGI argument.
const (
	maxEnvLines    = 256
	maxEnvLineSize = 4096
	maxEnvBytes    = 64 << 10
)

// ErrBadEnv: the environment block was cut short, too large or not AGI.
var ErrBadEnv = errors.New("agi: bad environment block")

// envReader feeds the library's bufio.Scanner one line per Read, so the
// scanner never holds bytes beyond the blank line that ends the block.
type envReader struct {
	br      *bufio.Reader
	pending []byte
	lines   int
	bytes   int
	done    bool // the blank line was read
	err     error
}

func (e *envReader) Read(p []byte) (int, error) {
	if len(e.pending) == 0 {
		if e.done {
			return 0, io.EOF
		}
		line, err := e.br.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			e.err = fmt.Errorf("%w: a line is longer than %d bytes", ErrBadEnv, maxEnvLineSize)
			return 0, e.err
		case err != nil:
			e.err = err
			return 0, err
		}
		e.lines++
		e.bytes += len(line)
		if e.lines > maxEnvLines || e.bytes > maxEnvBytes {
			e.err = fmt.Errorf("%w: more than %d lines or %d bytes", ErrBadEnv, maxEnvLines, maxEnvBytes)
			return 0, e.err
		}
		if len(line) == 1 || (len(line) == 2 && line[0] == '\r') {
			e.done = true
		} else if e.lines == 1 && !strings.HasPrefix(string(line), "agi_") {
			e.err = fmt.Errorf("%w: it does not start with agi_", ErrBadEnv)
			return 0, e.err
		}
		e.pending = line
	}
	n := copy(p, e.pending)
	e.pending = e.pending[n:]
	return n, nil
}

// readEnv parses the environment block with the library's parser.
func readEnv(br *bufio.Reader) (map[string]string, error) {
	er := &envReader{br: br}
	a := cyagi.New(er, io.Discard)
	if !er.done {
		if er.err == nil {
			er.err = fmt.Errorf("%w: no blank line ends it", ErrBadEnv)
		}
		switch {
		case errors.Is(er.err, io.EOF):
			er.err = fmt.Errorf("%w: the peer closed before the blank line", ErrBadEnv)
		case errors.Is(er.err, os.ErrDeadlineExceeded):
			er.err = fmt.Errorf("%w: not complete within the env deadline", ErrBadEnv)
		}
		return nil, er.err
	}
	if er.lines < 2 {
		return nil, fmt.Errorf("%w: it is empty", ErrBadEnv)
	}
	return a.Variables, nil
}

// route splits agi_network_script ("incoming?foo=bar") into its name and query.
func route(script string) (string, url.Values) {
	name, query, _ := strings.Cut(script, "?")
	name = strings.Trim(name, "/")
	if query == "" {
		return name, nil // Get on a nil url.Values is ""
	}
	params, _ := url.ParseQuery(query)
	return name, params
}

// envArgs collects agi_arg_1..N in order; Asterisk numbers them without
// gaps, an empty argument included.
func envArgs(env map[string]string) []string {
	var out []string
	key := make([]byte, 0, 16)
	for n := int64(1); ; n++ {
		key = strconv.AppendInt(append(key[:0], "agi_arg_"...), n, 10)
		v, ok := env[string(key)]
		if !ok {
			return out
		}
		out = append(out, v)
	}
}
