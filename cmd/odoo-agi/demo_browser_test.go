package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/odoo-agi/odoo-agi/internal/browsertest"
	"github.com/odoo-agi/odoo-agi/internal/wait"
)

// TestANewcomerCallsTheDemosSoftphone: sign in to the demo's page as the
// README says, and a call from the softphone to any number gets the
// emulated Asterisk's tone.
func TestANewcomerCallsTheDemosSoftphone(t *testing.T) {
	browsertest.Chromium(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, logs := &wait.Buffer{}, &wait.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- runDemo(ctx, demoOptions{listen: "127.0.0.1:0", http: "127.0.0.1:0", every: time.Hour}, out, logs)
	}()
	t.Cleanup(func() { cancel(); <-done })
	wait.For(t, "the demo's banner", 20*time.Second, func() bool { return strings.Contains(out.String(), "softphone too") })
	page := regexp.MustCompile(`Phone page: (http://\S+)/`).FindStringSubmatch(out.String())[1]

	b := browsertest.Browse(t, browsertest.Media...)
	browsertest.Do(t, b, "sign in as the README says",
		chromedp.Navigate(page+"/"),
		chromedp.SendKeys(chromedp.ID("login"), "john"),
		chromedp.SendKeys(chromedp.ID("password"), "demo"),
		chromedp.Submit(chromedp.ID("password")),
		chromedp.WaitVisible(chromedp.CSS(`#softphone[data-state="registered"]`)))
	browsertest.Do(t, b, "call 0475 12 34 56 from the page",
		chromedp.SendKeys(chromedp.ID("number"), "0475 12 34 56"),
		chromedp.Click(chromedp.CSS("#dial button")),
		chromedp.WaitVisible(chromedp.ID("sp-hangup")))
	type stats struct{ Received int }
	wait.For(t, "the tone", 15*time.Second, func() bool {
		st := browsertest.Get(t, b, "getStats", chromedp.Evaluate[stats](`window.odooSoftphone.stats()`, chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
		return st.Received > 2000 // a quarter of a second of PCMU
	})
	browsertest.Do(t, b, "hang up", chromedp.Click(chromedp.ID("sp-hangup")), chromedp.WaitNotVisible(chromedp.ID("sp-call")))
}
