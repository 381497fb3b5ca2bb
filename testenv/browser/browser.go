// Package browser starts the real headless Chromium (Debian's chromium) for
// the pages' end-to-end tests and takes their screenshots. Tests drive it
// with chromedp; a machine without chromium skips them (fails in CI, where
// .ci/run installs it).
package browser

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paygate/paygate/testenv"
)

// ScreenshotsVar names a directory where Screenshot keeps its PNGs (for a
// person to look at); without it they go to the test's temporary directory.
const ScreenshotsVar = "PAYGATE_SCREENSHOTS"

// Options change how New starts Chromium.
type Options struct {
	// Width and Height of the window; zero: 390×844, a phone, since the
	// cashier and the simulator's phone page are used on phones first.
	Width, Height int
}

// New starts a headless Chromium in a fresh profile and returns a chromedp
// context for it; it stops with the test. Chromium is started as the
// project's rules say: --headless --no-sandbox --disable-gpu
// --disable-background-networking (and the other switches that keep it off
// the network), so a page can reach only what the test serves.
func New(t testing.TB, o Options) context.Context {
	t.Helper()
	path := testenv.LookPath(t, "chromium")
	if o.Width == 0 {
		o.Width, o.Height = 390, 844
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(o.Width, o.Height),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	// Start the browser now, so a failure to start is reported here.
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("browser: start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}

// Timeout is a context for one step of a browser test: a page that never
// shows what the test waits for fails the test instead of hanging it.
func Timeout(t testing.TB, ctx context.Context, d time.Duration) context.Context {
	t.Helper()
	c, cancel := context.WithTimeout(ctx, d)
	t.Cleanup(cancel)
	return c
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9._-]+`)

// Screenshot saves the whole page as NAME.png under $PAYGATE_SCREENSHOTS
// (or the test's temporary directory) and returns the file's path.
func Screenshot(t testing.TB, ctx context.Context, name string) string {
	t.Helper()
	// Quality 100 is PNG; any other is JPEG.
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("browser: screenshot %s: %v", name, err)
	}
	dir := os.Getenv(ScreenshotsVar)
	if dir == "" {
		dir = t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("browser: %v", err)
	}
	path := filepath.Join(dir, unsafeName.ReplaceAllString(t.Name()+"-"+name, "_")+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("browser: %v", err)
	}
	t.Logf("screenshot %s", path)
	return path
}
