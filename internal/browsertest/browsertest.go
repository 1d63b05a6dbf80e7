// Package browsertest drives Debian's chromium over CDP for the tests of
// the phone page: start it, run steps with a screenshot on failure, read
// values. Outside CI a machine without chromium skips those tests; in CI
// they must run (.ci/run installs chromium).
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Chromium returns the browser's path, or skips the test (fails it in CI).
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("chromium is not installed; .ci/run installs it with apt-get")
	}
	t.Skip("chromium is not installed (apt-get install chromium); the browser tests run in CI")
	return ""
}

// Media are the options of a browser with a fake microphone it may use
// without a prompt, loopback ICE candidates (a CI machine may have no
// other interface), and sound that plays without a click.
var Media = []chromedp.ExecAllocatorOption{
	chromedp.Flag("use-fake-device-for-media-stream", true),
	chromedp.Flag("use-fake-ui-for-media-stream", true),
	chromedp.Flag("allow-loopback-in-peer-connection", true),
	chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
}

// Browse starts a headless chromium for the test, with these extra options,
// and returns its context; the whole test gets 90 s.
func Browse(t testing.TB, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(Chromium(t)),
		chromedp.NoSandbox, // CI runs as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.WindowSize(1200, 800),
		chromedp.UserDataDir(t.TempDir()),
	)
	opts = append(opts, extra...)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	ctx, cancelT := context.WithTimeout(ctx, 90*time.Second)
	t.Cleanup(cancelT)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshotOnFailure saves a screenshot of a failed step and logs its path.
func screenshotOnFailure(t testing.TB, ctx context.Context, what string) {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if png, err := chromedp.Run(sctx, chromedp.FullScreenshot(80)); err == nil {
		path := filepath.Join(t.TempDir(), strings.ReplaceAll(what, " ", "-")+".png")
		os.WriteFile(path, png, 0o644)
		t.Logf("screenshot: %s", path)
	}
}

// Do runs steps, or fails the test with a screenshot.
func Do(t testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		screenshotOnFailure(t, ctx, what)
		t.Fatalf("%s: %v", what, err)
	}
}

// Get runs one action that returns a value, or fails the test.
func Get[T any](t testing.TB, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		screenshotOnFailure(t, ctx, what)
		t.Fatalf("%s: %v", what, err)
	}
	return v
}
