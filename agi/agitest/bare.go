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
