package cashier_test

import (
	"context"
	"crypto/rand"
	"html"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/cashier"
)

// wechatCode is a WeChat Pay code_url as Native payment answers one.
func wechatCode() string { return "weixin://wxpay/bizpayurl?pr=" + rand.Text()[:7] }

// onWechat makes the fixture's order a WeChat order (its code_url, no
// Alipay code).
func onWechat(o *paygate.Order) {
	o.Channel, o.QRCode, o.WechatCode = paygate.ChannelWechat, "", wechatCode()
}

// onBoth makes the fixture's order one either wallet can pay: both codes,
// set directly.
func onBoth(o *paygate.Order) {
	o.Channel, o.WechatCode = paygate.ChannelAuto, wechatCode()
}

// pay moves o to paid on channel, as the gateway applies a payment: an
// auto order names the channel that was paid from then on.
func (f *fixture) pay(t *testing.T, o *paygate.Order, channel paygate.Channel) {
	t.Helper()
	err := f.st.Tx(context.Background(), func(tx paygate.StoreTx) error {
		cur, err := tx.OrderForUpdate(context.Background(), o.ID)
		if err != nil {
			return err
		}
		if err := cur.Transition(paygate.StatusPaid, time.Now()); err != nil {
			return err
		}
		cur.Channel = channel
		return tx.UpdateOrder(context.Background(), cur)
	})
	if err != nil {
		t.Fatalf("pay order on %s: %v", channel, err)
	}
}

// svgOf is the code the page must draw for content, with its label.
func svgOf(t *testing.T, content, wallet string, f *fixture) string {
	t.Helper()
	svg, err := cashier.QRSVG(content, "QR code to scan with "+wallet+": pay 9.90 yuan to "+f.merchant.Name)
	if err != nil {
		t.Fatal(err)
	}
	return svg
}

// TestPageCodes: the page draws every code the order has, each labelled
// with its wallet and read out with the wallet and the amount: an Alipay
// order's as before, a WeChat order's code_url alone, both side by side
// for an order either wallet can pay, with a line saying so.
func TestPageCodes(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		f := setup(t, st)
		alipayLabel := `<figcaption class="wallet-name"><span lang="zh">支付宝</span> Alipay</figcaption>`
		wechatLabel := `<figcaption class="wallet-name"><span lang="zh">微信支付</span> WeChat Pay</figcaption>`
		either := `id="either"`
		tests := []struct {
			name           string
			edit           func(o *paygate.Order)
			alipay, wechat bool
		}{
			{"alipay", nil, true, false},
			{"wechat", onWechat, false, true},
			{"auto", onBoth, true, true},
		}
		for _, tt := range tests {
			o := f.order(t, tt.edit)
			status, _, body := f.get(t, "/pay/"+o.CashierToken)
			if status != http.StatusOK {
				t.Fatalf("%s: GET page: %d", tt.name, status)
			}
			has := func(s string) bool { return strings.Contains(body, s) }
			n := 0
			for _, c := range []struct {
				on                 bool
				id, label, wallet  string
				content, alt, scan string
			}{
				{tt.alipay, `id="qr-alipay"`, alipayLabel, "Alipay", o.QRCode,
					`aria-label="QR code to scan with Alipay: pay 9.90 yuan to ` + html.EscapeString(f.merchant.Name) + `"`,
					"Open Alipay and scan this code"},
				{tt.wechat, `id="qr-wechat"`, wechatLabel, "WeChat Pay", o.WechatCode,
					`aria-label="QR code to scan with WeChat Pay: pay 9.90 yuan to ` + html.EscapeString(f.merchant.Name) + `"`,
					"Open WeChat and scan this code"},
			} {
				if !c.on {
					for _, never := range []string{c.id, c.label, c.alt, c.scan} {
						if has(never) {
							t.Errorf("%s: the page shows %s", tt.name, never)
						}
					}
					continue
				}
				n++
				for _, want := range []string{c.id, c.label, c.alt, c.scan, svgOf(t, c.content, c.wallet, f)} {
					if !has(want) {
						t.Errorf("%s: the page lacks %.120s", tt.name, want)
					}
				}
			}
			if got := strings.Count(body, `<svg xmlns="http://www.w3.org/2000/svg" class="qr-code"`); got != n {
				t.Errorf("%s: %d codes drawn, want %d", tt.name, got, n)
			}
			if !has(`data-has-qr="true" data-codes="` + strconv.Itoa(n) + `"`) {
				t.Errorf("%s: the page does not say it has %d codes", tt.name, n)
			}
			if has(either) != (n == 2) {
				t.Errorf("%s: the line to scan either code: %v, want %v", tt.name, has(either), n == 2)
			}
			if n == 2 && strings.Index(body, `id="qr-alipay"`) > strings.Index(body, `id="qr-wechat"`) {
				t.Errorf("%s: the WeChat code comes before the Alipay one", tt.name)
			}
			if has(o.ChannelNo) || has(o.OutTradeNo) {
				t.Errorf("%s: the page shows the order's numbers", tt.name)
			}
		}
		// A WeChat order whose code is not made yet says it is coming.
		o := f.order(t, func(o *paygate.Order) { onWechat(o); o.WechatCode = "" })
		if _, _, body := f.get(t, "/pay/"+o.CashierToken); strings.Contains(body, "<svg") ||
			!strings.Contains(body, `data-has-qr="false" data-codes="0"`) || !strings.Contains(body, `class="qr-missing"`) {
			t.Errorf("wechat without a code: %s", body)
		}
	})
}

// TestPagePaidWallet: a paid (or refunded) page names the wallet that was
// paid; an order either wallet could pay names the one that paid it.
func TestPagePaidWallet(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		f := setup(t, st)
		now := time.Now()
		const (
			alipay = "Paid with Alipay · 支付宝"
			wechat = "Paid with WeChat Pay · 微信支付"
		)
		tests := []struct {
			name   string
			edit   func(o *paygate.Order)
			paidOn paygate.Channel // "": stays pending
			refund bool
			wallet string // data-wallet
			line   string
		}{
			{"alipay pending", nil, "", false, "", ""},
			{"wechat pending", onWechat, "", false, "", ""},
			{"auto pending", onBoth, "", false, "", ""},
			{"alipay paid", nil, paygate.ChannelAlipay, false, "alipay", alipay},
			{"wechat paid", onWechat, paygate.ChannelWechat, false, "wechat", wechat},
			{"auto paid on wechat", onBoth, paygate.ChannelWechat, false, "wechat", wechat},
			{"auto paid on alipay", onBoth, paygate.ChannelAlipay, false, "alipay", alipay},
			{"wechat refunded", onWechat, paygate.ChannelWechat, true, "wechat", wechat},
		}
		for _, tt := range tests {
			o := f.order(t, tt.edit)
			if tt.paidOn != "" {
				f.pay(t, o, tt.paidOn)
			}
			if tt.refund {
				f.move(t, o, paygate.StatusRefunded, now)
			}
			_, _, body := f.get(t, "/pay/"+o.CashierToken)
			if !strings.Contains(body, `data-wallet="`+tt.wallet+`"`) {
				t.Errorf("%s: data-wallet is not %q", tt.name, tt.wallet)
			}
			if !strings.Contains(body, "\n  >"+tt.line+"</p>") {
				t.Errorf("%s: the wallet line is not %q", tt.name, tt.line)
			}
			if tt.paidOn != "" && !tt.refund && !strings.Contains(body, ">Paid. Thank you!</p>") {
				t.Errorf("%s: the status is not paid", tt.name)
			}
		}
	})
}

// TestEventsWechat: the watcher follows a WeChat order's code as it does
// Alipay's (a page drawn without one reloads when it exists), counts an
// order's codes, and names the wallet an order was paid with.
func TestEventsWechat(t *testing.T) {
	t.Parallel()
	stores(t, func(t *testing.T, st paygate.Store) {
		f := setup(t, st)
		ctx := context.Background()

		// A WeChat order with its code: has_qr from the first event.
		o := f.order(t, onWechat)
		s := f.open(t, "/pay/"+o.CashierToken+"/events")
		if ev, _ := s.next(t, 5*time.Second); ev.data["has_qr"] != true || ev.data["codes"] != 1.0 || ev.data["wallet"] != nil {
			t.Fatalf("wechat order's first event: %+v", ev)
		}

		// A WeChat order whose code comes later: the watcher reports it.
		late := f.order(t, func(o *paygate.Order) { onWechat(o); o.WechatCode = "" })
		ls := f.open(t, "/pay/"+late.CashierToken+"/events")
		if ev, _ := ls.next(t, 5*time.Second); ev.data["has_qr"] != false || ev.data["codes"] != 0.0 {
			t.Fatalf("no code yet: %+v", ev)
		}
		err := st.Tx(ctx, func(tx paygate.StoreTx) error {
			cur, err := tx.OrderForUpdate(ctx, late.ID)
			if err != nil {
				return err
			}
			cur.WechatCode = wechatCode()
			return tx.UpdateOrder(ctx, cur)
		})
		if err != nil {
			t.Fatal(err)
		}
		ev, ok := ls.next(t, 5*time.Second)
		if !ok || ev.data["has_qr"] != true || ev.data["codes"] != 1.0 || ev.data["state"] != "pending" || ev.data["final"] != false {
			t.Fatalf("after the code_url is stored: %+v (open %v)", ev, ok)
		}

		// An order either wallet can pay: two codes; paid on WeChat, the
		// final event names it.
		both := f.order(t, onBoth)
		bs := f.open(t, "/pay/"+both.CashierToken+"/events")
		if ev, _ := bs.next(t, 5*time.Second); ev.data["has_qr"] != true || ev.data["codes"] != 2.0 {
			t.Fatalf("auto order's first event: %+v", ev)
		}
		f.pay(t, both, paygate.ChannelWechat)
		ev, ok = bs.next(t, 5*time.Second)
		if !ok || ev.data["state"] != "paid" || ev.data["final"] != true || ev.data["wallet"] != "wechat" {
			t.Fatalf("auto order paid on WeChat: %+v (open %v)", ev, ok)
		}
		bs.ends(t, 5*time.Second)
	})
}
