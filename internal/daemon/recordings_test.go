package daemon

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/odoo-agi/odoo-agi/internal/wait"
)

// wav is seconds of a 440 Hz tone as 8 kHz 16-bit mono PCM, as MixMonitor writes.
func wav(seconds int) []byte {
	n := 8000 * seconds
	var b bytes.Buffer
	w := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	b.WriteString("RIFF")
	w(uint32(36 + 2*n))
	b.WriteString("WAVEfmt ")
	w(uint32(16))
	w(uint16(1))
	w(uint16(1))
	w(uint32(8000))
	w(uint32(16000))
	w(uint16(2))
	w(uint16(16))
	b.WriteString("data")
	w(uint32(2 * n))
	for i := range n {
		w(int16(8000 * math.Sin(2*math.Pi*440*float64(i)/8000)))
	}
	return b.Bytes()
}

// TestARecordingPlaysForWhoWasOnTheCall: john answers a call that Asterisk
// recorded; his Recent calls play it, and the player seeks with range
// requests; ann, who was not on it, gets 403, and a call never recorded 404.
func TestARecordingPlaysForWhoWasOnTheCall(t *testing.T) {
	dir := t.TempDir()
	w := newPhoneWorldWeb(t, `odoo_url = "https://odoo.example.com"`, fmt.Sprintf("[recordings]\ndir = %q", dir), "",
		"[[users]]\nlogin = \"ann\"\nexten = \"102\"")
	w.odoo.AddUser("ann", "Ann Other")
	w.odoo.SetPassword("ann", "ann-password")
	trunk, phone := w.incoming(t, "1795836600.0")
	w.pbx.EmitDialBegin(trunk, phone, "101")
	w.pbx.EmitDialEnd(trunk, phone, "ANSWER")
	w.pbx.EmitHangup(trunk, 16, "Normal Clearing")
	wait.For(t, "the answered call in john's history", 10*time.Second, func() bool {
		h := w.d.Live.History("john")
		return len(h) == 1 && h[0].State == "ended"
	})
	if err := os.WriteFile(filepath.Join(dir, "1795836600.0.wav"), wav(3), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx := browse(t)
	var mu sync.Mutex
	var statuses []int64
	chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventResponseReceived); ok && strings.Contains(e.Response.URL, "/recordings/") {
			mu.Lock()
			statuses = append(statuses, e.Response.Status)
			mu.Unlock()
		}
	})
	signIn(t, ctx, w)
	do(t, ctx, "the recording in Recent calls", chromedp.WaitVisible(chromedp.CSS(`li[data-call="1795836600.0"] audio.recording`)))
	dur := 0.0
	wait.For(t, "the player to read the recording", 10*time.Second, func() bool {
		dur = get(t, ctx, "duration", chromedp.Evaluate[float64](`document.querySelector("audio.recording").duration || 0`))
		return dur > 0
	})
	if dur < 2.9 || dur > 3.1 {
		t.Errorf("the player reads %.2f s, want 3", dur)
	}
	seeked := get(t, ctx, "seek to 2 s", chromedp.Evaluate[float64](`new Promise(ok => { const a = document.querySelector("audio.recording");
		a.addEventListener("seeked", () => ok(a.currentTime), {once: true}); a.currentTime = 2; })`, chromedp.EvalAwaitPromise))
	if seeked < 1.9 {
		t.Errorf("seeked to %.2f s", seeked)
	}
	mu.Lock()
	if len(statuses) == 0 || statuses[0] != http.StatusPartialContent {
		t.Errorf("the player's requests got %v, want 206 (range requests)", statuses)
	}
	mu.Unlock()

	get2 := func(login, password, path string) int {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar}
		r, err := c.PostForm(w.url+"/login", url.Values{"login": {login}, "password": {password}})
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		r, err = c.Get(w.url + path)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		return r.StatusCode
	}
	if code := get2("ann", "ann-password", "/recordings/1795836600.0"); code != http.StatusForbidden {
		t.Errorf("ann, not on the call: %d, want 403", code)
	}
	if code := get2("john", "john-password", "/recordings/1795836699.0"); code != http.StatusNotFound {
		t.Errorf("a call never recorded: %d, want 404", code)
	}
	if code := get2("john", "john-password", "/recordings/..%2f..%2fetc%2fpasswd"); code != http.StatusNotFound {
		t.Errorf("a path for a name: %d, want 404", code)
	}
}

func TestOldRecordingsGoAndNothingElse(t *testing.T) {
	dir := t.TempDir()
	now := time.Now()
	for name, age := range map[string]time.Duration{"1.1.wav": 91 * 24 * time.Hour, "2.2.wav": 89 * 24 * time.Hour, "notes.txt": 200 * 24 * time.Hour} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte("x"), 0o644)
		os.Chtimes(p, now.Add(-age), now.Add(-age))
	}
	n, err := sweepRecordings(dir, 90*24*time.Hour, now)
	if err != nil || n != 1 {
		t.Fatalf("deleted %d: %v", n, err)
	}
	left, _ := os.ReadDir(dir)
	var names []string
	for _, e := range left {
		names = append(names, e.Name())
	}
	if strings.Join(names, " ") != "2.2.wav notes.txt" {
		t.Errorf("left %v", names)
	}
}
