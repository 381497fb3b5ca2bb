package main

import (
	"context"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paygate/paygate/testenv/browser"
)

// TestCashierBrowser drives real headless Chromium on both stores: a QR
// order made through the signed API is opened at its cashier_url (QR
// drawn, amount shown, countdown running), paid by clicking on the
// simulator's phone page in a second tab, and the cashier turns "paid" by
// itself, without a reload; a closed order turns "closed"; the phone page
// shows a barcode auth code. Screenshots go to $PAYGATE_SCREENSHOTS.
func TestCashierBrowser(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		req := e2eQR("WEB_1", "12.30")
		req.Subject = "Flat white 馥芮白"
		req.ReturnURL = "https://shop.example/thanks?o=WEB_1"
		o := e2eCreate(t, e.a, req, http.StatusCreated)

		ctx := browser.New(t, browser.Options{})
		step := browser.Timeout(t, ctx, 30*time.Second)
		if err := chromedp.Do(step,
			chromedp.Navigate(o.CashierURL),
			chromedp.WaitVisible(chromedp.CSS("svg.qr-code")),
			// A mark on the window: a reload would lose it.
			chromedp.Evaluate[chromedp.Void](`window.paygateNoReload = "still here"`),
		); err != nil {
			t.Fatal(err)
		}
		wantText(t, step, "#amount .figure", "12.30")
		wantText(t, step, ".subject", "Flat white 馥芮白")
		wantText(t, step, ".shop", "shop A")
		wantText(t, step, "#status", "Waiting for your payment…")
		modules, err := chromedp.Run(step, chromedp.Evaluate[int](`document.querySelector("svg.qr-code path").getAttribute("d").split("z").length`))
		if err != nil || modules < 50 {
			t.Fatalf("the QR code's path has %d runs (%v)", modules, err)
		}
		// The countdown runs (m:ss, below the 15 minutes of the default... or
		// the config's 2 h: h:mm:ss).
		if err := chromedp.Do(step, chromedp.Poll[chromedp.Void](`/^\d+:\d\d(:\d\d)?$/.test(document.getElementById("countdown").textContent)`)); err != nil {
			t.Fatal(err)
		}
		first, _ := chromedp.Run(step, chromedp.Text(chromedp.CSS("#countdown")))
		if err := chromedp.Do(step, chromedp.Poll[chromedp.Void](`document.getElementById("countdown").textContent !== `+strconv.Quote(first))); err != nil {
			t.Fatalf("the countdown does not tick: %v", err)
		}
		noOverflow(t, step)
		browser.Screenshot(t, ctx, "cashier-pending")

		// The buyer's phone, in another tab: pick the code, press Pay.
		phone, cancel := chromedp.NewContext(ctx)
		defer cancel()
		pstep := browser.Timeout(t, phone, 30*time.Second)
		pick := `input[name="pick"][value="` + o.QRCode + `"]`
		if err := chromedp.Do(pstep,
			chromedp.Navigate(e.base+"/sim/"),
			chromedp.WaitVisible(chromedp.CSS(pick)),
		); err != nil {
			t.Fatal(err)
		}
		noOverflow(t, pstep)
		browser.Screenshot(t, phone, "phone-codes")
		if err := chromedp.Do(pstep,
			chromedp.Click(chromedp.CSS(pick)),
			chromedp.Click(chromedp.CSS("#pay")),
			chromedp.WaitVisible(chromedp.CSS("#result.ok")),
		); err != nil {
			t.Fatal(err)
		}
		wantText(t, pstep, "#result h2", "Paid ¥12.30")
		browser.Screenshot(t, phone, "phone-paid")

		// The cashier, untouched, turns paid by itself.
		if err := chromedp.Do(step,
			chromedp.Poll[chromedp.Void](`document.getElementById("cashier").dataset.state === "paid"`),
		); err != nil {
			t.Fatalf("the cashier did not turn paid: %v", err)
		}
		mark, err := chromedp.Run(step, chromedp.Evaluate[string](`window.paygateNoReload || ""`))
		if err != nil || mark != "still here" {
			t.Fatalf("the cashier page was reloaded (mark %q, %v)", mark, err)
		}
		wantText(t, step, "#status", "Paid. Thank you!")
		wantVisible(t, step, "#return a", true)
		wantVisible(t, step, "svg.qr-code", false)
		href, err := chromedp.Run(step, chromedp.Evaluate[string](`document.querySelector("#return a").href`))
		if err != nil || href != req.ReturnURL {
			t.Fatalf("return link %q (%v)", href, err)
		}
		browser.Screenshot(t, ctx, "cashier-paid")
		e2eWaitStatus(t, e.a, "WEB_1", "paid")

		// A closed order shows "closed", also by itself.
		c := e2eCreate(t, e.a, e2eQR("WEB_2", "5.00"), http.StatusCreated)
		if err := chromedp.Do(step,
			chromedp.Navigate(c.CashierURL),
			chromedp.WaitVisible(chromedp.CSS("svg.qr-code")),
		); err != nil {
			t.Fatal(err)
		}
		e2eCall(t, e.a, http.MethodPost, "/api/v1/orders/WEB_2/close", nil, nil).want(t, "close", http.StatusOK, "")
		if err := chromedp.Do(step,
			chromedp.Poll[chromedp.Void](`document.getElementById("cashier").dataset.state === "closed"`),
		); err != nil {
			t.Fatalf("the cashier did not turn closed: %v", err)
		}
		wantText(t, step, "#status", "This order was closed; it can no longer be paid.")
		browser.Screenshot(t, ctx, "cashier-closed")

		// The phone shows a barcode auth code of the kind picked.
		if err := chromedp.Do(pstep,
			chromedp.Navigate(e.base+"/sim/"),
			chromedp.Click(chromedp.CSS("#kind-29")),
			chromedp.Click(chromedp.CSS("#show-code")),
			chromedp.WaitVisible(chromedp.CSS("#auth-code")),
		); err != nil {
			t.Fatal(err)
		}
		digits, err := chromedp.Run(pstep, chromedp.Text(chromedp.CSS("#auth-code")))
		if err != nil || !regexp.MustCompile(`^29 \d{4} \d{4} \d{4} \d{4}$`).MatchString(strings.TrimSpace(digits)) {
			t.Fatalf("auth code shown %q (%v)", digits, err)
		}
		noOverflow(t, pstep)
		browser.Screenshot(t, phone, "phone-barcode")
	})
}

// noOverflow fails when the page is wider than the phone's screen (a
// sideways scroll).
func noOverflow(t *testing.T, ctx context.Context) {
	t.Helper()
	widths, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`[document.documentElement.scrollWidth, document.documentElement.clientWidth]`))
	if err != nil {
		t.Fatal(err)
	}
	if widths[0] > widths[1] {
		t.Fatalf("the page is %d px wide on a %d px screen", widths[0], widths[1])
	}
}

func wantText(t *testing.T, ctx context.Context, sel, want string) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	if strings.TrimSpace(got) != want {
		t.Fatalf("%s shows %q, want %q", sel, got, want)
	}
}

// wantVisible checks whether sel's element is rendered (laid out with a
// size), or, for want false, absent or hidden.
func wantVisible(t *testing.T, ctx context.Context, sel string, want bool) {
	t.Helper()
	got, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const el = document.querySelector(`+strconv.Quote(sel)+`);
		return !!el && el.getClientRects().length > 0; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Fatalf("%s visible %v, want %v", sel, got, want)
	}
}
