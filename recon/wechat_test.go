package recon_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/recon"
	"github.com/paygate/paygate/wechatpay"
	"github.com/paygate/paygate/wechatpaysim"
)

// The WeChat Pay reconciliation tests run the real thing: a gateway with
// both channels over HTTP, Alipay's and WeChat Pay's simulators (each
// serving its bill of today, bill_same_day), real clients, notifications
// to a real endpoint, and both stores.

const (
	wxMchID = "1900000001"
	wxAppID = "wxd678efh567hg6787"
	aliApp  = "2021000000000001"
)

// testKeys are the test binary's keys: the Alipay app's and Alipay's, the
// WeChat Pay merchant's and WeChat Pay's (platform), and the APIv3 key.
type testKeys struct {
	app, ali, merchant, platform *rsa.PrivateKey
	serial, platformSerial       string
	apiv3                        wechatpay.APIv3Key
}

var keySet = sync.OnceValues(func() (*testKeys, error) {
	var k testKeys
	for _, p := range []**rsa.PrivateKey{&k.app, &k.ali, &k.merchant, &k.platform} {
		key, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, err
		}
		*p = key
	}
	apiv3, err := wechatpay.ParseAPIv3Key([]byte(randHex(16)))
	if err != nil {
		return nil, err
	}
	k.apiv3, k.serial, k.platformSerial = apiv3, strings.ToUpper(randHex(20)), strings.ToUpper(randHex(20))
	return &k, nil
})

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// wxAuthCode is a fresh WeChat payment code with prefix (10: paid at once;
// 12: never paid).
func wxAuthCode(prefix string) string {
	b := make([]byte, 16)
	rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return prefix + string(b)
}

// both is a gateway with Alipay and WeChat Pay over their simulators.
type both struct {
	st       paygate.Store
	svc      *gateway.Service
	ali      *alipaysim.Server
	aliCli   *alipay.Client
	wx       *wechatpaysim.Server
	wxCli    *wechatpay.Client
	merchant *paygate.Merchant
}

// newBoth wires a gateway on st to both simulators; wxNow is WeChat Pay's
// and its client's clock (nil: time.Now).
func newBoth(t *testing.T, st paygate.Store, wxNow func() time.Time) *both {
	t.Helper()
	k, err := keySet()
	if err != nil {
		t.Fatal(err)
	}
	b := &both{st: st}
	b.ali, err = alipaysim.New(alipaysim.Config{AlipayKey: k.ali, PayDelay: 100 * time.Millisecond, SweepInterval: 50 * time.Millisecond,
		Apps: []alipaysim.App{{AppID: aliApp, PublicKey: &k.app.PublicKey}}, Faults: alipaysim.Faults{BillSameDay: true}})
	if err != nil {
		t.Fatal(err)
	}
	aliSrv := httptest.NewServer(b.ali)
	t.Cleanup(func() { aliSrv.Close(); b.ali.Close() })
	if b.aliCli, err = alipay.New(alipay.Config{AppID: aliApp, GatewayURL: aliSrv.URL + "/gateway.do", PrivateKey: k.app,
		AlipayPublicKey: &k.ali.PublicKey}); err != nil {
		t.Fatal(err)
	}
	b.wx, err = wechatpaysim.New(wechatpaysim.Config{WechatPayKey: k.platform, WechatPayID: k.platformSerial, Now: wxNow,
		Merchants: []wechatpaysim.Merchant{{MchID: wxMchID, AppID: wxAppID, SerialNo: k.serial, PublicKey: &k.merchant.PublicKey, APIv3Key: k.apiv3}},
		PayDelay:  200 * time.Millisecond, RefundDelay: 100 * time.Millisecond, SweepInterval: 20 * time.Millisecond,
		Faults: wechatpaysim.Faults{BillSameDay: true}})
	if err != nil {
		t.Fatal(err)
	}
	wxSrv := httptest.NewServer(b.wx)
	t.Cleanup(func() { wxSrv.Close(); b.wx.Close() })
	if b.wxCli, err = wechatpay.New(wechatpay.Config{MchID: wxMchID, AppID: wxAppID, BaseURL: wxSrv.URL, PrivateKey: k.merchant,
		SerialNo: k.serial, WechatPayKeys: []wechatpay.PublicKey{b.wx.WechatPayPublicKey()}, APIv3Key: k.apiv3, Now: wxNow,
		Timeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	notify := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/notify/wechat" {
			body, err := io.ReadAll(r.Body)
			if err == nil {
				err = b.svc.HandleWechatNotification(r.Context(), r.Header, body)
			}
			if err != nil {
				w.WriteHeader(http.StatusInternalServerError)
				return
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		form, err := alipay.ReadNotificationForm(r)
		if err == nil {
			err = b.svc.HandleNotification(r.Context(), form)
		}
		if err != nil {
			w.Write([]byte("failure"))
			return
		}
		w.Write([]byte(alipay.NotifyAck))
	}))
	t.Cleanup(notify.Close)
	aliCh, err := gateway.NewAlipayChannel(b.aliCli, gateway.AlipayConfig{NotifyURL: notify.URL + "/notify/alipay"})
	if err != nil {
		t.Fatal(err)
	}
	wxCh, err := gateway.NewWechatChannel(b.wxCli, gateway.WechatConfig{NotifyURL: notify.URL + "/notify/wechat"})
	if err != nil {
		t.Fatal(err)
	}
	if b.svc, err = gateway.New(gateway.Config{Store: st, Channels: []gateway.Channel{aliCh, wxCh}, PollInterval: 100 * time.Millisecond,
		PollTimeout: 1500 * time.Millisecond, CancelInterval: 50 * time.Millisecond, CallTimeout: 5 * time.Second}); err != nil {
		t.Fatal(err)
	}
	b.merchant = &paygate.Merchant{Name: "shop", AccessKey: "ak_" + randHex(8), SecretKey: "sk", WebhookSecret: "wh", CreatedAt: time.Now()}
	if err := st.CreateMerchant(context.Background(), b.merchant); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *both) create(t *testing.T, req paygate.CreateOrder) *paygate.Order {
	t.Helper()
	req.Subject = "coffee"
	o, _, err := b.svc.CreateOrder(context.Background(), b.merchant, req)
	if err != nil {
		t.Fatalf("create %s: %v", req.OutTradeNo, err)
	}
	return o
}

func (b *both) order(t *testing.T, outTradeNo string) *paygate.Order {
	t.Helper()
	o, err := b.st.OrderByOutTradeNo(context.Background(), b.merchant.ID, outTradeNo)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func (b *both) refund(t *testing.T, outTradeNo, no string, amount paygate.Money) {
	t.Helper()
	if _, _, err := b.svc.Refund(context.Background(), b.merchant, outTradeNo, paygate.CreateRefund{OutRequestNo: no, Amount: amount}); err != nil {
		t.Fatalf("refund %s %s: %v", outTradeNo, no, err)
	}
	eventually(t, "refund "+no+" of "+outTradeNo+" settled", func() bool {
		rs, err := b.st.RefundsByOrder(context.Background(), b.order(t, outTradeNo).ID)
		for _, r := range rs {
			if r.OutRequestNo == no {
				return err == nil && r.Status == paygate.RefundSucceeded
			}
		}
		return false
	})
}

// wxTrade is WeChat Pay's view of a trade.
func (b *both) wxTrade(t *testing.T, channelNo string) wechatpaysim.TradeView {
	t.Helper()
	for _, tr := range b.wx.Trades() {
		if tr.OutTradeNo == channelNo {
			return tr
		}
	}
	t.Fatalf("WeChat Pay has no trade %s", channelNo)
	return wechatpaysim.TradeView{}
}

// wxRefundsDone reports whether every refund of the trade succeeded.
func (b *both) wxRefundsDone(t *testing.T, channelNo string, n int) bool {
	tr := b.wxTrade(t, channelNo)
	if len(tr.Refunds) != n {
		return false
	}
	for _, r := range tr.Refunds {
		if r.Status != wechatpay.RefundSuccess {
			return false
		}
	}
	return true
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (b *both) reconciler(t *testing.T, bills recon.Bills) *recon.Reconciler {
	t.Helper()
	rc, err := recon.New(recon.Config{Store: b.st, Bills: bills, Repairer: b.svc, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	return rc
}

// TestWechatReconcileDay: a day of both channels, reconciled by each
// channel against its simulator's bill of today. WeChat Pay's day: QR and
// barcode orders paid, refunded in part (one refund under a hashed
// out_refund_no), a barcode never paid and reversed, one paid and reversed
// (paid and refunded in full at WeChat Pay, closed here), an auto order
// paid on both channels whose WeChat payment was a late one refunded by
// policy. Then money the books do not have: a payment whose notification
// was lost (the order still pending) and a refund made at the merchant
// platform. The first run finds both and repairs them by WeChat Pay's word;
// the next is clean. Alipay's reconciliation of the same day ignores every
// WeChat Pay order (it called them missing before the books had channels).
func TestWechatReconcileDay(t *testing.T) {
	stores(t, func(t *testing.T, st paygate.Store) {
		ctx := context.Background()
		b := newBoth(t, st, nil)
		day := recon.DayOf(time.Now())

		// Alipay: a QR order paid and refunded in part.
		a := b.create(t, paygate.CreateOrder{OutTradeNo: "A-QR", TotalAmount: 900, Mode: paygate.ModeQR})
		if err := b.ali.PayQR(ctx, a.QRCode, "2088000000000042"); err != nil {
			t.Fatal(err)
		}
		eventually(t, "A-QR paid", func() bool { return b.order(t, "A-QR").Status == paygate.StatusPaid })
		b.refund(t, "A-QR", "ar1", 100)

		// WeChat Pay: a QR order paid, refunded in part; a barcode paid
		// and refunded under a number too long to send as it is.
		w := b.create(t, paygate.CreateOrder{OutTradeNo: "W-QR", TotalAmount: 1000, Mode: paygate.ModeQR, Channel: paygate.ChannelWechat})
		if _, err := b.wx.Pay(w.WechatCode, ""); err != nil {
			t.Fatal(err)
		}
		eventually(t, "W-QR paid", func() bool { return b.order(t, "W-QR").Status == paygate.StatusPaid })
		b.refund(t, "W-QR", "wr1", 300)
		long := b.create(t, paygate.CreateOrder{OutTradeNo: "W-LONG", TotalAmount: 500, Mode: paygate.ModeBarcode,
			AuthCode: wxAuthCode("10"), Channel: paygate.ChannelWechat})
		if long.Status != paygate.StatusPaid {
			t.Fatalf("W-LONG: %s", long.Status)
		}
		longNo := "refund-" + strings.Repeat("x", 40)
		b.refund(t, "W-LONG", longNo, 200)
		if no := gateway.WechatOutRefundNo(long.ChannelNo, longNo); !strings.Contains(no, "--") {
			t.Fatalf("the long refund went as %s, not hashed", no)
		}
		// A code never confirmed: polled, then reversed unpaid.
		o, _, err := b.svc.CreateOrder(ctx, b.merchant, paygate.CreateOrder{OutTradeNo: "W-B12", Subject: "tea", TotalAmount: 250,
			Mode: paygate.ModeBarcode, AuthCode: wxAuthCode("12"), Channel: paygate.ChannelWechat})
		if err != nil || o.Status != paygate.StatusClosed {
			t.Fatalf("W-B12: %+v, %v", o, err)
		}
		// A barcode paid and reversed: what the gateway's cancel leaves when
		// its poll could not see the payment (closed here; paid, then
		// refunded in full under the trade's own number at WeChat Pay).
		rev := &paygate.Order{MerchantID: b.merchant.ID, OutTradeNo: "W-REV", ChannelNo: "PG" + strings.ToUpper(randHex(12)),
			Mode: paygate.ModeBarcode, Channel: paygate.ChannelWechat, Subject: "tea", TotalAmount: 400, Status: paygate.StatusClosed,
			CreatedAt: time.Now(), UpdatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour), ClosedAt: time.Now(),
			CancelRequestedAt: time.Now()}
		if err := st.(paygate.BulkOrderLoader).BulkInsertOrders(ctx, []*paygate.Order{rev}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := b.wxCli.CodePay(ctx, wechatpay.CodePayRequest{Description: "tea", OutTradeNo: rev.ChannelNo,
			Payer: wechatpay.CodePayPayer{AuthCode: wxAuthCode("10")}, Amount: wechatpay.Amount{Total: 400, Currency: wechatpay.CurrencyCNY},
			SceneInfo: wechatpay.SceneInfo{DeviceID: "paygate"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := b.wxCli.Reverse(ctx, rev.ChannelNo); err != nil {
			t.Fatal(err)
		}
		// An auto order paid on both before either was heard of: Alipay's
		// payment decides it (queried first); WeChat Pay's is a late
		// payment, refunded there by policy.
		if err := b.ali.SetFaults(alipaysim.Faults{NotifyDropRate: 1, BillSameDay: true}); err != nil {
			t.Fatal(err)
		}
		if err := b.wx.SetFaults(wechatpaysim.Faults{NotifyDropRate: 1, BillSameDay: true}); err != nil {
			t.Fatal(err)
		}
		auto := b.create(t, paygate.CreateOrder{OutTradeNo: "AUTO", TotalAmount: 300, Mode: paygate.ModeQR, Channel: paygate.ChannelAuto})
		if err := b.ali.PayQR(ctx, auto.QRCode, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := b.wx.Pay(auto.WechatCode, ""); err != nil {
			t.Fatal(err)
		}
		if got, err := b.svc.GetOrder(ctx, b.merchant, "AUTO", true); err != nil || got.Channel != paygate.ChannelAlipay {
			t.Fatalf("AUTO refreshed: %+v, %v", got, err)
		}
		eventually(t, "AUTO's WeChat payment refunded", func() bool { return b.wxRefundsDone(t, auto.ChannelNo, 1) })

		// What the books lack: W-LOST paid at WeChat Pay, its notification
		// dropped; a refund of W-QR made at the merchant platform.
		lost := b.create(t, paygate.CreateOrder{OutTradeNo: "W-LOST", TotalAmount: 700, Mode: paygate.ModeQR, Channel: paygate.ChannelWechat})
		if _, err := b.wx.Pay(lost.WechatCode, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := b.wxCli.Refund(ctx, wechatpay.RefundRequest{OutTradeNo: w.ChannelNo, OutRefundNo: "console-1", Reason: "by hand",
			Amount: wechatpay.RefundAmount{Refund: 50, Total: 1000, Currency: wechatpay.CurrencyCNY}}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the platform's refund done", func() bool { return b.wxRefundsDone(t, w.ChannelNo, 2) })
		eventually(t, "the reverse's refund done", func() bool { return b.wxRefundsDone(t, rev.ChannelNo, 1) })
		if got := b.order(t, "W-LOST"); got.Status != paygate.StatusPending {
			t.Fatalf("W-LOST is %s, want pending (its notification dropped)", got.Status)
		}

		wx := b.reconciler(t, recon.Wechat(b.wxCli))
		rep, err := wx.Run(ctx, day, recon.Options{Repair: true})
		if err != nil {
			t.Fatal(err)
		}
		ali := b.reconciler(t, recon.Alipay(b.aliCli))
		aliRep, err := ali.Run(ctx, day, recon.Options{Repair: true})
		if err != nil {
			t.Fatal(err)
		}
		if recon.DayOf(time.Now()) != day {
			t.Skip("the day (China time) ended during the test")
		}
		// The bill: W-QR and its two refunds, W-LONG and its refund, W-REV
		// and the reverse's refund, AUTO and its late refund, W-LOST.
		if rep.Channel != paygate.ChannelWechat || rep.ChannelRows != 10 || rep.DifferenceCount != 2 || rep.Repairs != 2 || rep.OpenCount != 0 {
			t.Fatalf("WeChat Pay's first run: %s, %d rows, %d differences, %d repairs, %d open; want wechat, 10, 2, 2, 0: %v",
				rep.Channel, rep.ChannelRows, rep.DifferenceCount, rep.Repairs, rep.OpenCount, describe(rep))
		}
		if got, want := kinds(rep), map[string][]string{
			recon.StatusMismatch: {lost.ChannelNo},
			recon.RefundMismatch: {w.ChannelNo + "/console-1"},
		}; !mapsEqual(got, want) {
			t.Fatalf("WeChat Pay's differences %v, want %v", got, want)
		}
		for _, d := range rep.Differences {
			if !d.Repaired || !strings.Contains(d.Action, "WeChat Pay") || d.BillChannel != paygate.ChannelWechat {
				t.Errorf("difference %s %s: repaired %v, action %q, channel %q", d.Kind, d.ChannelNo, d.Repaired, d.Action, d.BillChannel)
			}
		}
		// Matched: W-QR, wr1, W-LONG, its refund, W-REV and its reverse's
		// refund (closed here, refunded in full), AUTO and its late refund
		// (Alipay's order). The books' rows: W-QR, wr1, W-LONG, its refund.
		if rep.Matched != 8 || rep.LocalRows != 4 {
			t.Fatalf("WeChat Pay's first run matched %d, book rows %d; want 8, 4", rep.Matched, rep.LocalRows)
		}
		if got := b.order(t, "W-LOST"); got.Status != paygate.StatusPaid || got.TradeNo == "" {
			t.Fatalf("W-LOST after the repair: %+v", got)
		}
		if got := b.order(t, "W-QR"); got.RefundedAmount != 350 {
			t.Fatalf("W-QR refunded %s after the repair, want 3.50", got.RefundedAmount.Yuan())
		}
		// Alipay's: A-QR, its refund and AUTO; no WeChat Pay order.
		if aliRep.Channel != paygate.ChannelAlipay || aliRep.DifferenceCount != 0 || aliRep.ChannelRows != 3 || aliRep.Matched != 3 || aliRep.LocalRows != 3 {
			t.Fatalf("Alipay's run: %s, %d rows, matched %d, book rows %d, differences %v", aliRep.Channel, aliRep.ChannelRows,
				aliRep.Matched, aliRep.LocalRows, describe(aliRep))
		}

		again, err := wx.Run(ctx, day, recon.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if recon.DayOf(time.Now()) != day {
			t.Skip("the day (China time) ended during the test")
		}
		if again.DifferenceCount != 0 || again.Matched != 10 || again.LocalRows != 6 {
			t.Fatalf("WeChat Pay's second run: matched %d, book rows %d, differences %v; want 10, 6, none",
				again.Matched, again.LocalRows, describe(again))
		}
		// Both reports of the day are kept, side by side, each with its
		// own repair log.
		kept, err := st.Reconciliation(ctx, day, paygate.ChannelWechat)
		if err != nil || kept.DifferenceCount != 0 || len(kept.RepairLog) != 2 {
			t.Fatalf("WeChat Pay's kept report: %+v, %v", kept, err)
		}
		if kept, err := st.Reconciliation(ctx, day, paygate.ChannelAlipay); err != nil || kept.ChannelRows != 3 || len(kept.RepairLog) != 0 {
			t.Fatalf("Alipay's kept report: %+v, %v", kept, err)
		}
		list, err := st.ListReconciliations(ctx, "", 1)
		if err != nil || len(list) != 2 || list[0].Channel != paygate.ChannelAlipay || list[1].Channel != paygate.ChannelWechat {
			t.Fatalf("the day's reports: %v, %v", list, err)
		}
	})
}

// describe lists a report's differences for a failure message.
func describe(rep *paygate.Reconciliation) string {
	var out []string
	for _, d := range rep.Differences {
		out = append(out, fmt.Sprintf("%s %s %s (%s)", d.Kind, d.ChannelNo, d.OutRequestNo, d.Action))
	}
	return strings.Join(out, "; ")
}
