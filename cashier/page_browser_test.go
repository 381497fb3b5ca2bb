package cashier_test

import (
	"context"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/sqlite"
	"github.com/paygate/paygate/testenv/browser"
)

// TestWalletsInBrowser drives the real headless Chromium through the
// pages of a WeChat order and of an order either wallet can pay: the
// WeChat code is drawn and labelled (and no Alipay one), the two codes are
// stacked on a phone and side by side on a desktop, nothing scrolls
// sideways, and once the order is paid on WeChat the page says so by
// itself, without a reload. Screenshots go to $PAYGATE_SCREENSHOTS. One
// store: the browser sees only HTML; both stores' pages are checked by the
// handler tests.
func TestWalletsInBrowser(t *testing.T) {
	t.Parallel()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "paygate.db"), sealer(t), sqlite.WithMigrate())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := setup(t, st)

	ctx := browser.New(t, browser.Options{})
	do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(browser.Timeout(t, ctx, 30*time.Second), actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	eval := func(js string) string {
		t.Helper()
		s, err := chromedp.Run(browser.Timeout(t, ctx, 10*time.Second), chromedp.Evaluate[string](js))
		if err != nil {
			t.Fatalf("%s: %v", js, err)
		}
		return s
	}
	text := func(sel string) string {
		t.Helper()
		return strings.TrimSpace(eval(`(() => { const el = document.querySelector(` + strconv.Quote(sel) + `);
			return el ? el.textContent : "(none)"; })()`))
	}
	// box is sel's rendered box, "left top right bottom" in whole pixels;
	// "" when it is absent or not rendered.
	box := func(sel string) []int {
		t.Helper()
		s := eval(`(() => { const el = document.querySelector(` + strconv.Quote(sel) + `);
			if (!el || el.getClientRects().length === 0) return "";
			const r = el.getBoundingClientRect();
			return [r.left, r.top, r.right, r.bottom].map(Math.round).join(" "); })()`)
		if s == "" {
			return nil
		}
		var b []int
		for _, v := range strings.Fields(s) {
			n, _ := strconv.Atoi(v)
			b = append(b, n)
		}
		return b
	}
	shot := func(name string) {
		t.Helper()
		if eval(`String(document.documentElement.scrollWidth <= window.innerWidth)`) != "true" {
			t.Errorf("%s: the page is wider than the window", name)
		}
		browser.Screenshot(t, ctx, name)
	}
	// Chromium keeps a window at least 500 pixels wide: emulate the
	// phone's viewport, so the page is seen (and checked) at 390.
	phone := chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)
	desktop := chromedp.EmulateViewport(1024, 768)

	// A WeChat order: its code alone, labelled, read out with the amount.
	w := f.order(t, onWechat)
	do("open the WeChat order's page", phone, chromedp.Navigate(f.srv.URL+"/pay/"+w.CashierToken),
		chromedp.WaitVisible(chromedp.CSS("#qr-wechat svg.qr-code")))
	if got := text("#qr-wechat .wallet-name"); got != "微信支付 WeChat Pay" {
		t.Errorf("the WeChat code's label: %q", got)
	}
	if got := eval(`document.querySelector("#qr-wechat svg").getAttribute("aria-label")`); !strings.Contains(got, "WeChat Pay: pay 9.90 yuan") {
		t.Errorf("the WeChat code's alt text: %q", got)
	}
	if b := box("#qr-alipay"); b != nil {
		t.Errorf("a WeChat order's page shows an Alipay code at %v", b)
	}
	if b := box("#either"); b != nil {
		t.Errorf("a WeChat order's page says to scan either code")
	}
	if b := box("#qr-wechat svg.qr-code"); b == nil || b[2]-b[0] < 200 {
		t.Errorf("the WeChat code is drawn at %v, under 200 px wide on a phone", b)
	}
	shot("wechat-phone")

	// Both codes: stacked on a phone, side by side on a desktop, Alipay's
	// first, with the line that says either will do.
	a := f.order(t, onBoth)
	do("open the auto order's page", chromedp.Navigate(f.srv.URL+"/pay/"+a.CashierToken),
		chromedp.WaitVisible(chromedp.CSS("#qr-wechat svg.qr-code")),
		chromedp.WaitVisible(chromedp.CSS("#qr-alipay svg.qr-code")),
		chromedp.WaitVisible(chromedp.CSS("#either")),
		chromedp.Evaluate[chromedp.Void](`window.paygateNoReload = "still here"`))
	if got := text("#qr-alipay .wallet-name"); got != "支付宝 Alipay" {
		t.Errorf("the Alipay code's label: %q", got)
	}
	al, wc := box("#qr-alipay svg"), box("#qr-wechat svg")
	if al == nil || wc == nil || wc[1] < al[3] {
		t.Errorf("phone: the codes are not stacked: Alipay %v, WeChat %v", al, wc)
	}
	shot("auto-phone")
	do("a desktop's window", desktop)
	al, wc = box("#qr-alipay svg"), box("#qr-wechat svg")
	if al == nil || wc == nil || al[1] != wc[1] || wc[0] < al[2] || al[2]-al[0] < 200 {
		t.Errorf("desktop: the codes are not side by side: Alipay %v, WeChat %v", al, wc)
	}
	shot("auto-desktop")

	// Paid on WeChat: the page turns paid by itself and names the wallet.
	f.pay(t, a, paygate.ChannelWechat)
	do("wait for paid", chromedp.Poll[chromedp.Void](`document.getElementById("cashier").dataset.state === "paid"`))
	if got := text("#status"); got != "Paid. Thank you!" {
		t.Errorf("status after payment: %q", got)
	}
	do("wait for the wallet", chromedp.Poll[chromedp.Void](`document.getElementById("wallet").textContent !== ""`))
	if got := text("#wallet"); got != "Paid with WeChat Pay · 微信支付" {
		t.Errorf("wallet after payment: %q", got)
	}
	if mark := eval(`window.paygateNoReload || ""`); mark != "still here" {
		t.Errorf("the page was reloaded (mark %q)", mark)
	}
	if b := box("#qr-wechat svg"); b != nil {
		t.Errorf("a paid page shows its code at %v", b)
	}
	do("a phone again", phone)
	shot("auto-paid-phone")
}
