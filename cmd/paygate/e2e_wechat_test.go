package main

// End to end with WeChat Pay: a node wired by newApp with a wechat: section,
// the WeChat Pay simulator mounted beside Alipay's as in the demo, on both
// stores. Orders go through the signed merchant API (the client package),
// buyers pay through the simulator's HTTP routes, and WeChat Pay's signed,
// encrypted notifications reach POST /notify/wechat.

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/client"
	"github.com/paygate/paygate/wechatpay"
	"github.com/paygate/paygate/wechatpaysim"
)

// e2eHooks is a merchant's webhook receiver on loopback: it keeps every
// delivery whose signature verifies with the merchant's secret, and fails
// the test on one that does not.
type e2eHooks struct {
	url string
	mu  sync.Mutex
	got []e2eHook
}

type e2eHook struct {
	event client.Event
	data  client.EventData
}

func newE2EHooks(t *testing.T, secret string) *e2eHooks {
	t.Helper()
	h := &e2eHooks{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		ev, data, err := client.ParseWebhook(secret, r.Header.Get(client.WebhookSignatureHeader), body, 0, time.Now())
		if err != nil {
			t.Errorf("webhook %s: %v", body, err)
			http.Error(w, "bad signature", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.got = append(h.got, e2eHook{*ev, *data})
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	h.url = srv.URL + "/hooks"
	return h
}

// wait returns the first delivery of event type for outTradeNo, waiting
// up to 10 s for it.
func (h *e2eHooks) wait(t *testing.T, typ, outTradeNo string) e2eHook {
	t.Helper()
	var found e2eHook
	e2eEventually(t, typ+" webhook for "+outTradeNo, func() bool {
		h.mu.Lock()
		defer h.mu.Unlock()
		for _, d := range h.got {
			if d.event.Type == typ && d.data.Order.OutTradeNo == outTradeNo {
				found = d
				return true
			}
		}
		return false
	})
	return found
}

// wxTrade is the WeChat Pay simulator's truth for merchant A's order.
func (e *e2eEnv) wxTrade(t *testing.T, outTradeNo string) wechatpaysim.TradeView {
	t.Helper()
	channelNo := e.stored(t, e.idA, outTradeNo).ChannelNo
	for _, tr := range e.wx.Trades() {
		if tr.OutTradeNo == channelNo {
			return tr
		}
	}
	t.Fatalf("the WeChat Pay simulator holds no order for %s (channel no %s)", outTradeNo, channelNo)
	return wechatpaysim.TradeView{}
}

// e2eWechatHooks turns WeChat Pay on and lets webhooks reach a receiver on
// loopback over http, promptly.
func e2eWechatHooks(cfg *config, sim *alipaysim.Config) {
	e2eWechat(cfg, sim)
	cfg.Webhooks.AllowPrivateNetworks, cfg.Webhooks.AllowHTTP = true, true
	cfg.Jobs.PollInterval = 100 * time.Millisecond
}

// TestE2EWechatQR: a WeChat Pay QR order from creation to a partial refund.
// The buyer pays the weixin:// code through POST /sim/pay, WeChat Pay's
// notification to /notify/wechat makes the order paid (and is
// acknowledged), the merchant's webhook says so with the channel, and a
// refund succeeds at WeChat Pay and here.
func TestE2EWechatQR(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind, e2eWechatHooks)
		hooks := newE2EHooks(t, e.credsA.WebhookSecret)
		req := e2eQR("WQ1", "9.90")
		req.Channel, req.NotifyURL = "wechat", hooks.url
		o := e2eCreate(t, e.a, req, http.StatusCreated)
		if o.Channel != "wechat" || o.Status != "pending" || !wechatpaysim.IsCodeURL(o.QRCode) ||
			o.QRCodes["wechat"] != o.QRCode || len(o.QRCodes) != 1 || o.CashierURL == "" {
			t.Fatalf("created order = %+v", o)
		}
		tr := e.wxTrade(t, "WQ1")
		if tr.TradeState != wechatpay.TradeNotPay || tr.Total != 990 || tr.CodeURL != o.QRCode || tr.MchID != e2eMchID ||
			tr.AppID != e2eWxAppID || tr.TradeType != wechatpay.TradeTypeNative {
			t.Fatalf("simulator order = %+v", tr)
		}
		if n := len(e.sim.Trades()); n != 0 {
			t.Fatalf("a WeChat Pay order made %d Alipay trades", n)
		}

		// The buyer pays: the weixin:// code goes to WeChat Pay's simulator.
		e.pay(t, o.QRCode)
		paid := e2eWaitStatus(t, e.a, "WQ1", "paid")
		tr = e.wxTrade(t, "WQ1")
		if tr.TradeState != wechatpay.TradeSuccess || paid.TradeNo != tr.TransactionID || paid.BuyerID != tr.OpenID ||
			paid.Channel != "wechat" || paid.PaidAt == nil || paid.RefundedAmount != "0.00" {
			t.Fatalf("paid order = %+v, simulator %+v", paid, tr)
		}
		channelNo := e.stored(t, e.idA, "WQ1").ChannelNo
		e2eEventually(t, "the payment notification acknowledged", func() bool {
			for _, n := range e.wx.Notifications() {
				if n.OutTradeNo == channelNo && n.EventType == wechatpay.EventTransactionSuccess && n.Acked {
					return true
				}
			}
			return false
		})
		hook := hooks.wait(t, "order.paid", "WQ1")
		if got := hook.data.Order; got.Channel != "wechat" || got.Status != "paid" || got.TradeNo != tr.TransactionID || got.TotalAmount != "9.90" {
			t.Fatalf("order.paid webhook carries %+v", got)
		}

		// A partial refund: PROCESSING at WeChat Pay, then SUCCESS.
		r, err := e.a.Refund(context.Background(), "WQ1", refundReq("R1", "3.00"))
		if err != nil || r.Amount != "3.00" || (r.Status != "pending" && r.Status != "succeeded") {
			t.Fatalf("refund = %+v, %v", r, err)
		}
		e2eEventually(t, "the refund to succeed", func() bool {
			l, err := e.a.ListRefunds(context.Background(), "WQ1")
			if err != nil {
				t.Fatal(err)
			}
			return len(l) == 1 && l[0].Status == "succeeded" && l[0].SucceededAt != nil
		})
		if got := e2eGet(t, e.a, "WQ1"); got.Status != "paid" || got.RefundedAmount != "3.00" {
			t.Fatalf("after the refund: %+v", got)
		}
		tr = e.wxTrade(t, "WQ1")
		if tr.Refunded != 300 || len(tr.Refunds) != 1 || tr.Refunds[0].Status != wechatpay.RefundSuccess || tr.Refunds[0].Amount != 300 {
			t.Fatalf("simulator refunds = %+v", tr)
		}
		if hook := hooks.wait(t, "refund.succeeded", "WQ1"); hook.data.Refund == nil || hook.data.Refund.Amount != "3.00" ||
			hook.data.Order.Channel != "wechat" {
			t.Fatalf("refund.succeeded webhook carries %+v", hook.data)
		}
	})
}

// TestE2EWechatBarcode: WeChat Pay payment codes decide as the simulator's
// table says: 10… paid at once, 11… paid once the buyer confirms, 12…
// never confirmed (reversed), 13… declined; "auto" takes a 10… code to
// WeChat Pay.
func TestE2EWechatBarcode(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind, e2eWechat)
		barcode := func(no, channel, authCode string) client.CreateOrderRequest {
			return client.CreateOrderRequest{OutTradeNo: no, Subject: "bun", TotalAmount: "6.50", Mode: "barcode", Channel: channel, AuthCode: authCode}
		}
		t.Run("10 paid at once", func(t *testing.T) {
			t.Parallel()
			o := e2eCreate(t, e.a, barcode("WB10", "wechat", "100000000000000001"), http.StatusCreated)
			tr := e.wxTrade(t, "WB10")
			if o.Status != "paid" || o.Channel != "wechat" || o.TradeNo == "" || o.TradeNo != tr.TransactionID || o.BuyerID != tr.OpenID ||
				o.PaidAt == nil || tr.TradeState != wechatpay.TradeSuccess || tr.Total != 650 || tr.TradeType != wechatpay.TradeTypeMicropay {
				t.Fatalf("order %+v, simulator %+v", o, tr)
			}
		})
		t.Run("11 paid after the buyer confirms", func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			o := e2eCreate(t, e.a, barcode("WB11", "wechat", "110000000000000001"), http.StatusCreated)
			took := time.Since(start)
			tr := e.wxTrade(t, "WB11")
			if o.Status != "paid" || o.TradeNo != tr.TransactionID || o.PaidAt == nil || tr.TradeState != wechatpay.TradeSuccess {
				t.Fatalf("order %+v, simulator %+v", o, tr)
			}
			if took < 300*time.Millisecond {
				t.Fatalf("answered after %v, before the buyer could confirm (300 ms)", took)
			}
		})
		t.Run("12 never confirmed: reversed", func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			o := e2eCreate(t, e.a, barcode("WB12", "wechat", "120000000000000001"), http.StatusCreated)
			took := time.Since(start)
			tr := e.wxTrade(t, "WB12")
			if o.Status != "closed" || o.PaidAt != nil || tr.TradeState != wechatpay.TradeRevoked || tr.PaidAt != nil {
				t.Fatalf("order %+v, simulator %+v", o, tr)
			}
			if took < 1500*time.Millisecond {
				t.Fatalf("answered after %v, before the 1.5 s wait ended", took)
			}
		})
		t.Run("13 no balance", func(t *testing.T) {
			t.Parallel()
			r := e2eCall(t, e.a, "POST", "/api/v1/orders", nil, barcode("WB13", "wechat", "130000000000000001"))
			r.want(t, "create", http.StatusPaymentRequired, paygate.EPaymentFailed)
			if !bytes.Contains(r.body, []byte(wechatpay.CodeNotEnough)) {
				t.Fatalf("message does not name the code: %s", r.body)
			}
			e.wantDeclinedOrder(t, r, "WB13")
			if tr := e.wxTrade(t, "WB13"); tr.PaidAt != nil {
				t.Fatalf("simulator paid a declined code: %+v", tr)
			}
		})
		t.Run("auto routes a WeChat code", func(t *testing.T) {
			t.Parallel()
			o := e2eCreate(t, e.a, barcode("WBAUTO", "auto", "100000000000000002"), http.StatusCreated)
			if tr := e.wxTrade(t, "WBAUTO"); o.Status != "paid" || o.Channel != "wechat" || o.TradeNo != tr.TransactionID {
				t.Fatalf("order %+v, simulator %+v", o, tr)
			}
		})
	})
}

// TestE2EWechatCallTimeout: wechat.call_timeout bounds WeChat Pay's calls
// (retries included) apart from alipay.call_timeout: with WeChat Pay slower
// than its own timeout, a WeChat order is answered within it while Alipay's
// orders still wait as long as theirs allows.
func TestE2EWechatCallTimeout(t *testing.T) {
	t.Parallel()
	e := e2e(t, "sqlite", e2eWechat, func(cfg *config, _ *alipaysim.Config) {
		cfg.Wechat.CallTimeout = 400 * time.Millisecond
		cfg.Alipay.CallTimeout = 5 * time.Second
	})
	if status, body := e.simPost(t, "/sim/wechat/faults", wechatpaysim.Faults{LatencyMS: 1500}); status != http.StatusOK {
		t.Fatalf("POST /sim/wechat/faults: %d %s", status, body)
	}
	req := e2eQR("WT1", "1.00")
	req.Channel = "wechat"
	start := time.Now()
	r := e2eCall(t, e.a, "POST", "/api/v1/orders", nil, req)
	took := time.Since(start)
	if r.status < 500 || took > 1200*time.Millisecond {
		t.Fatalf("a WeChat order with WeChat Pay 1.5 s slow: %d %s after %v; want a 5xx within wechat.call_timeout (400 ms)", r.status, r.body, took)
	}
	// Alipay, 1 s slow but within its own 5 s, still takes orders.
	e.setFaults(t, alipaysim.Faults{LatencyMS: 1000})
	if o := e2eCreate(t, e.a, e2eQR("AT1", "1.00"), http.StatusCreated); o.Channel != "alipay" || o.QRCode == "" {
		t.Fatalf("alipay order = %+v", o)
	}
}

// TestE2EAutoQR: an auto QR order through the signed API offers both codes;
// the buyer pays one, the order takes that channel (in the API and in
// order.paid) and the other side's trade is closed at its channel.
func TestE2EAutoQR(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind, e2eWechatHooks)
		hooks := newE2EHooks(t, e.credsA.WebhookSecret)
		for _, tc := range []struct{ no, pays string }{{"AQ1", "alipay"}, {"AQ2", "wechat"}} {
			req := e2eQR(tc.no, "18.00")
			req.Channel, req.NotifyURL = "auto", hooks.url
			o := e2eCreate(t, e.a, req, http.StatusCreated)
			if o.Channel != "auto" || len(o.QRCodes) != 2 || !wechatpaysim.IsCodeURL(o.QRCodes["wechat"]) ||
				o.QRCodes["alipay"] == "" || o.QRCode != o.QRCodes["alipay"] {
				t.Fatalf("created auto order = %+v", o)
			}
			e.pay(t, o.QRCodes[tc.pays])
			paid := e2eWaitStatus(t, e.a, tc.no, "paid")
			if paid.Channel != tc.pays {
				t.Fatalf("%s paid with %s: channel %q", tc.no, tc.pays, paid.Channel)
			}
			if hook := hooks.wait(t, "order.paid", tc.no); hook.data.Order.Channel != tc.pays {
				t.Fatalf("order.paid webhook carries %+v", hook.data.Order)
			}
			// The other side is closed before the payment's notification is
			// answered.
			if tc.pays == "alipay" {
				e2eEventually(t, "WeChat Pay's side closed", func() bool {
					return e.wxTrade(t, tc.no).TradeState == wechatpay.TradeClosed
				})
			} else {
				channelNo := e.stored(t, e.idA, tc.no).ChannelNo
				e2eEventually(t, "the payment notification answered", func() bool {
					for _, n := range e.wx.Notifications() {
						if n.OutTradeNo == channelNo && n.Acked {
							return true
						}
					}
					return false
				})
			}
			other := map[string]string{"alipay": "wechat", "wechat": "alipay"}[tc.pays]
			if e.tryPay(t, o.QRCodes[other]) {
				t.Fatalf("%s: the buyer paid the %s code of an order paid with %s", tc.no, other, tc.pays)
			}
			if got := e2eGet(t, e.a, tc.no); got.Status != "paid" || got.Channel != tc.pays {
				t.Fatalf("after the other code was refused: %+v", got)
			}
		}
	})
}

// tryPay is a buyer paying qrCode through POST /sim/pay; false when the
// simulator refuses it (a closed code, say).
func (e *e2eEnv) tryPay(t *testing.T, qrCode string) bool {
	t.Helper()
	status, _ := e.simPost(t, "/sim/pay", map[string]string{"qr_code": qrCode, "buyer_id": e2eBuyer})
	return status == http.StatusOK
}
