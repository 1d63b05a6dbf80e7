// Package wait holds what tests share across packages: polling for a
// condition that background work makes true, and starting a server that
// stops when the test ends. It does not import testing, so the emulators,
// which the demo links, can use it.
package wait

import (
	"bytes"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// TB is the part of testing.TB that this package needs.
type TB interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	TempDir() string
}

// Started calls start, fails the test if it fails, and arranges stop for
// the end of the test. It returns s and the address start gave.
func Started[S any](t TB, s S, start func() (string, error), stop func()) (S, string) {
	t.Helper()
	addr, err := start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return s, addr
}

// For polls cond every 10 ms and fails the test if it is still false
// after within.
func For(t TB, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// File writes body to a file called name in a fresh temporary directory
// and returns its path.
func File(t TB, name, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// Buffer is a writer that background work can log to while a test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns what was written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
