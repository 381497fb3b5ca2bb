package browser

import (
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paygate/paygate/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// TestBrowserRendersLoopbackPage: the browser starts, loads a page served on
// loopback, runs its script and is screenshotted.
func TestBrowserRendersLoopbackPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/app.js" {
			w.Header().Set("Content-Type", "text/javascript")
			w.Write([]byte(`document.getElementById("out").textContent = "ran";`))
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>t</title><p id="out">not yet</p><script src="/app.js"></script>`))
	}))
	defer srv.Close()
	ctx := New(t, Options{})
	step := Timeout(t, ctx, 30*time.Second)
	if err := chromedp.Do(step,
		chromedp.Navigate(srv.URL),
		chromedp.WaitVisible(chromedp.CSS("#out")),
		chromedp.Poll[chromedp.Void](`document.getElementById("out").textContent === "ran"`),
	); err != nil {
		t.Fatal(err)
	}
	text, err := chromedp.Run(step, chromedp.Text(chromedp.CSS("#out")))
	if err != nil {
		t.Fatal(err)
	}
	if text != "ran" {
		t.Fatalf("text = %q", text)
	}
	path := Screenshot(t, ctx, "page")
	if st, err := os.Stat(path); err != nil || st.Size() == 0 {
		t.Fatalf("screenshot: %v", err)
	}
}
