package agitest

import (
	"bufio"
	"net"
)

// Bare serves the baseline for benchmarks: a FastAGI responder that reads
// the env block, sends lines (each ending in "\n") one at a time, reads each
// reply, and closes — the same exchange as a handler, with no work around
// it. It serves on ln until ln is closed.
func Bare(ln net.Listener, lines []string) {
	payload := make([][]byte, len(lines))
	for i, l := range lines {
		payload[i] = []byte(l)
	}
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go func(c net.Conn) {
			defer c.Close()
			br := bufio.NewReader(c)
			for {
				l, err := br.ReadString('\n')
				if err != nil {
					return
				}
				if l == "\n" || l == "\r\n" {
					break
				}
			}
			for _, p := range payload {
				if _, err := c.Write(p); err != nil {
					return
				}
				if _, err := br.ReadString('\n'); err != nil {
					return
				}
			}
		}(c)
	}
}

// Play is the other side, for load generators and benchmarks: Asterisk as
// cheap as it can be. It opens one session on addr, sends env, answers
// every command "200 result=1" until the server closes, and returns how
// many commands it answered, and the commands themselves when keep is set.
func Play(addr string, env []byte, keep bool) (int, []string, error) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return 0, nil, err
	}
	defer c.Close()
	if _, err := c.Write(env); err != nil {
		return 0, nil, err
	}
	br := bufio.NewReader(c)
	ok := []byte("200 result=1\n")
	n := 0
	var lines []string
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return n, lines, nil
		}
		n++
		if keep {
			lines = append(lines, string(line))
		}
		if _, err := c.Write(ok); err != nil {
			return n, lines, nil
		}
	}
}
