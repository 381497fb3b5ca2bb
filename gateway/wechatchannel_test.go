package gateway_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/gateway"
	"github.com/paygate/paygate/wechatpay"
	"github.com/paygate/paygate/wechatpaysim"
)

// The WechatChannel tests run a real wechatpaysim server over HTTP, a real
// wechatpay.Client and a real notify_url that captures what the simulator
// sends. They need no store.

// Two merchants of the simulator, sharing the test's keys and AppID: the
// second one's notifications verify and decrypt with the first one's
// client, so the mchid check is what refuses them.
const (
	wxMchID      = "1900000001"
	wxAppID      = "wxd678efh567hg6787"
	wxOtherMchID = "1900000002"
)

// wxKeys are the test's keys, generated once per test binary: the
// merchant's API key, the simulator's WeChat Pay (platform) key, their
// serials and the APIv3 key.
type wxKeys struct {
	merchant, platform             *rsa.PrivateKey
	merchantSerial, platformSerial string
	apiv3                          wechatpay.APIv3Key
}

var wxKeySet = sync.OnceValues(func() (*wxKeys, error) {
	merchant, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	platform, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	apiv3, err := wechatpay.ParseAPIv3Key([]byte(wxHex(16)))
	if err != nil {
		return nil, err
	}
	return &wxKeys{merchant: merchant, platform: platform, merchantSerial: strings.ToUpper(wxHex(20)),
		platformSerial: strings.ToUpper(wxHex(20)), apiv3: apiv3}, nil
})

func wxTestKeys(t *testing.T) *wxKeys {
	t.Helper()
	k, err := wxKeySet()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// wxHex is n random bytes in lower-case hex.
func wxHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// wxChannelNo is a fresh channel number of paygate's form.
func wxChannelNo() string {
	return "PG" + time.Now().UTC().Format("20060102") + strings.ToUpper(wxHex(8))
}

// wxAuthCode is a fresh 18-digit payment code with prefix (10 pays at once,
// 11 after the buyer confirms, 12 never, 13 lacks balance).
func wxAuthCode(prefix string) string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	return prefix + string(b)
}

// wxEnv is a simulator, its merchant's client and channel, and the
// notify_url the channel gives WeChat Pay.
type wxEnv struct {
	keys   *wxKeys
	sim    *wechatpaysim.Server
	simURL string
	recv   *wxReceiver
	ch     *gateway.WechatChannel
}

func wxSetup(t *testing.T) *wxEnv {
	t.Helper()
	k := wxTestKeys(t)
	merchant := func(mchID, appID string) wechatpaysim.Merchant {
		return wechatpaysim.Merchant{MchID: mchID, AppID: appID, SerialNo: k.merchantSerial,
			PublicKey: &k.merchant.PublicKey, APIv3Key: k.apiv3}
	}
	sim, err := wechatpaysim.New(wechatpaysim.Config{
		WechatPayKey: k.platform, WechatPayID: k.platformSerial,
		Merchants: []wechatpaysim.Merchant{merchant(wxMchID, wxAppID), merchant(wxOtherMchID, wxAppID)},
		PayDelay:  300 * time.Millisecond, RefundDelay: 200 * time.Millisecond, SweepInterval: 10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(func() { srv.Close(); _ = sim.Close() })
	e := &wxEnv{keys: k, sim: sim, simURL: srv.URL, recv: wxNewReceiver(t)}
	e.ch = e.channel(t, wxMchID, wxAppID, nil, k.apiv3)
	return e
}

// client is a real client of merchant mchID at the simulator, on clock now
// (nil: time.Now), decrypting with apiv3.
func (e *wxEnv) client(t *testing.T, mchID, appID string, now func() time.Time, apiv3 wechatpay.APIv3Key) *wechatpay.Client {
	t.Helper()
	c, err := wechatpay.New(wechatpay.Config{
		MchID: mchID, AppID: appID, BaseURL: e.simURL, PrivateKey: e.keys.merchant, SerialNo: e.keys.merchantSerial,
		WechatPayKeys: []wechatpay.PublicKey{e.sim.WechatPayPublicKey()}, APIv3Key: apiv3, Now: now, Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func (e *wxEnv) channel(t *testing.T, mchID, appID string, now func() time.Time, apiv3 wechatpay.APIv3Key) *gateway.WechatChannel {
	t.Helper()
	ch, err := gateway.NewWechatChannel(e.client(t, mchID, appID, now, apiv3), gateway.WechatConfig{NotifyURL: e.recv.srv.URL + "/notify/wechat"})
	if err != nil {
		t.Fatal(err)
	}
	return ch
}

// trade is the simulator's view of out_trade_no.
func (e *wxEnv) trade(t *testing.T, outTradeNo string) wechatpaysim.TradeView {
	t.Helper()
	for _, v := range e.sim.Trades() {
		if v.OutTradeNo == outTradeNo {
			return v
		}
	}
	t.Fatalf("the simulator has no trade %s", outTradeNo)
	return wechatpaysim.TradeView{}
}

// precreate makes a Native order of amount and returns its channel number
// and code_url.
func (e *wxEnv) precreate(t *testing.T, ch *gateway.WechatChannel, amount paygate.Money) (string, string) {
	t.Helper()
	no := wxChannelNo()
	p, err := ch.Precreate(context.Background(), gateway.PrecreateRequest{ChannelNo: no, Subject: "测试商品 ☕ 🍵 tea",
		Amount: amount, ExpiresAt: time.Now().Add(15 * time.Minute), TimeLeft: 15 * time.Minute})
	if err != nil {
		t.Fatalf("precreate: %v", err)
	}
	if !wechatpaysim.IsCodeURL(p.QRCode) {
		t.Fatalf("precreate: QR code %q is not a code_url", p.QRCode)
	}
	return no, p.QRCode
}

// pay charges a fresh payment code of prefix for amount.
func (e *wxEnv) pay(t *testing.T, prefix string, amount paygate.Money) (string, *gateway.Trade, error) {
	t.Helper()
	no := wxChannelNo()
	tr, err := e.ch.Pay(context.Background(), gateway.PayRequest{ChannelNo: no, AuthCode: wxAuthCode(prefix), Subject: "barcode", Amount: amount})
	if tr == nil {
		t.Fatalf("pay %s: nil trade (err %v)", prefix, err)
	}
	return no, tr, err
}

// notification waits for a captured notification that ch parses without
// error and that match accepts.
func (e *wxEnv) notification(t *testing.T, ch *gateway.WechatChannel, match func(*gateway.Notification) bool) (gateway.NotificationInput, *gateway.Notification) {
	t.Helper()
	var in gateway.NotificationInput
	var got *gateway.Notification
	wxEventually(t, "a matching notification", func() bool {
		for _, cand := range e.recv.inputs() {
			if n, err := ch.ParseNotification(cand); err == nil && match(n) {
				in, got = cand, n
				return true
			}
		}
		return false
	})
	return in, got
}

// wxReceiver is a notify_url: it keeps every request as it came and
// acknowledges it (204).
type wxReceiver struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []gateway.NotificationInput
}

func wxNewReceiver(t *testing.T) *wxReceiver {
	r := &wxReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, err := io.ReadAll(req.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, gateway.NotificationInput{Header: req.Header.Clone(), Body: body})
		r.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *wxReceiver) inputs() []gateway.NotificationInput {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

func wxEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// wxChannelError fails unless err is a *gateway.ChannelError of the WeChat
// channel with this method and outcome.
func wxChannelError(t *testing.T, err error, method string, outcome gateway.Outcome) *gateway.ChannelError {
	t.Helper()
	var ce *gateway.ChannelError
	if !errors.As(err, &ce) {
		t.Fatalf("error %v (%T) is not a *gateway.ChannelError", err, err)
	}
	if ce.Channel != "wechat" || ce.Method != method || ce.Outcome != outcome {
		t.Fatalf("error %v: channel %q method %q outcome %v, want wechat %s %v", err, ce.Channel, ce.Method, ce.Outcome, method, outcome)
	}
	var we *wechatpay.Error
	if !errors.As(err, &we) && !errors.Is(err, wechatpay.ErrMismatch) {
		t.Fatalf("error %v does not wrap the wechatpay error", err)
	}
	return ce
}

func TestWechatChannelSetup(t *testing.T) {
	zero := &gateway.WechatChannel{}
	want := map[gateway.Op]string{
		gateway.OpPrecreate: "wechatpay.native", gateway.OpPay: "wechatpay.codepay", gateway.OpQuery: "wechatpay.query",
		gateway.OpCancel: "wechatpay.reverse", gateway.OpClose: "wechatpay.close", gateway.OpRefund: "wechatpay.refund",
		gateway.OpRefundQuery: "wechatpay.refund_query",
	}
	for _, op := range gateway.Ops {
		if got := zero.Method(op); got != want[op] {
			t.Errorf("Method(%s) = %q, want %q", op, got, want[op])
		}
		if !slices.Contains(gateway.ChannelMethods, want[op]) {
			t.Errorf("ChannelMethods lacks %s", want[op])
		}
	}
	if zero.Name() != "wechat" {
		t.Errorf("Name() = %q", zero.Name())
	}

	e := wxSetup(t)
	if got := e.ch.Account(); got != wxMchID {
		t.Errorf("Account() = %q, want %s", got, wxMchID)
	}
	client := e.client(t, wxMchID, wxAppID, nil, e.keys.apiv3)
	if _, err := gateway.NewWechatChannel(nil, gateway.WechatConfig{NotifyURL: "https://shop.example/notify/wechat"}); err == nil {
		t.Error("a channel without a client was made")
	}
	for _, url := range []string{"", "/notify/wechat", "ftp://shop.example/notify", "https://shop.example/notify/wechat?a=1"} {
		if _, err := gateway.NewWechatChannel(client, gateway.WechatConfig{NotifyURL: url}); err == nil {
			t.Errorf("notify URL %q was accepted", url)
		}
	}
}

// A Native order: the code, the order waiting before the scan, paid after
// it, its notification, and a close refused once paid.
func TestWechatChannelNative(t *testing.T) {
	t.Parallel()
	e := wxSetup(t)
	ctx := context.Background()
	no, code := e.precreate(t, e.ch, 1234)
	if v := e.trade(t, no); v.Description != "测试商品 ☕  tea" || v.Total != 1234 {
		t.Errorf("the simulator holds description %q total %d", v.Description, v.Total)
	}

	tr, err := e.ch.Query(ctx, no)
	if err != nil || tr.State != gateway.TradeWaiting || tr.Status != wechatpay.TradeNotPay || tr.Amount != 1234 || tr.TradeNo != "" || !tr.PaidAt.IsZero() {
		t.Fatalf("query before the scan: %+v, %v", tr, err)
	}

	paid, err := e.sim.Pay(code, "")
	if err != nil {
		t.Fatal(err)
	}
	tr, err = e.ch.Query(ctx, no)
	if err != nil {
		t.Fatal(err)
	}
	paidAt := paid.PaidAt.Truncate(time.Second) // WeChat Pay's times are whole seconds
	want := gateway.Trade{State: gateway.TradePaid, Status: wechatpay.TradeSuccess, TradeNo: paid.TransactionID,
		BuyerID: paid.OpenID, Amount: 1234}
	if got := *tr; !got.PaidAt.Equal(paidAt) || !tr.Paid() {
		t.Errorf("query after the payment: %+v, want paid at %v", got, paidAt)
	} else if got.PaidAt = (time.Time{}); got != want {
		t.Errorf("query after the payment: %+v, want %+v", got, want)
	}

	_, n := e.notification(t, e.ch, func(n *gateway.Notification) bool { return n.ChannelNo == no })
	wantN := gateway.Notification{ID: n.ID, ChannelNo: no, TradeNo: paid.TransactionID, Status: wechatpay.TradeSuccess,
		State: gateway.TradePaid, Amount: 1234, BuyerID: paid.OpenID}
	if got := *n; !got.PaidAt.Equal(paidAt) || got.ID == "" {
		t.Errorf("notification %+v, want an id and paid at %v", got, paidAt)
	} else if got.PaidAt = (time.Time{}); got != wantN {
		t.Errorf("notification %+v, want %+v", got, wantN)
	}

	err = e.ch.Close(ctx, no)
	ce := wxChannelError(t, err, "wechatpay.close", gateway.OutcomeFailed)
	if !gateway.HasReason(err, gateway.ReasonTradeStatus) || ce.Code != "ORDERPAID" || ce.Message == "" || !ce.Answered || ce.Retry {
		t.Errorf("close of a paid order: %+v", ce)
	}
	if gateway.IsChannelFailure(err) {
		t.Error("a close refused for a paid order counts as a channel failure")
	}
}

// A close of an order nobody scanned succeeds (WeChat Pay's orders exist
// from the prepay on), as do a repeat and a close of an unknown number.
func TestWechatChannelClose(t *testing.T) {
	t.Parallel()
	e := wxSetup(t)
	ctx := context.Background()
	no, code := e.precreate(t, e.ch, 500)
	if err := e.ch.Close(ctx, no); err != nil {
		t.Fatalf("close of an order nobody scanned: %v", err)
	}
	tr, err := e.ch.Query(ctx, no)
	if err != nil || tr.State != gateway.TradeClosed || tr.Status != wechatpay.TradeClosed || tr.Paid() {
		t.Fatalf("query after close: %+v, %v", tr, err)
	}
	if _, err := e.sim.Pay(code, ""); !errors.Is(err, wechatpaysim.ErrOrderClosed) {
		t.Errorf("a closed order's code paid: %v", err)
	}
	if err := e.ch.Close(ctx, no); err != nil {
		t.Errorf("second close: %v", err)
	}
	if err := e.ch.Close(ctx, wxChannelNo()); err != nil {
		t.Errorf("close of an unknown order: %v", err)
	}
}

func TestWechatChannelQueryUnknown(t *testing.T) {
	t.Parallel()
	e := wxSetup(t)
	tr, err := e.ch.Query(context.Background(), wxChannelNo())
	if tr == nil || *tr != (gateway.Trade{}) {
		t.Errorf("trade %+v with the error, want an empty one", tr)
	}
	ce := wxChannelError(t, err, "wechatpay.query", gateway.OutcomeFailed)
	if !gateway.HasReason(err, gateway.ReasonTradeNotExist) || ce.Code != "ORDER_NOT_EXIST" || ce.Message == "" || !ce.Answered {
		t.Errorf("query of an unknown trade: %+v", ce)
	}
}

func TestWechatChannelPay(t *testing.T) {
	t.Parallel()
	e := wxSetup(t)
	ctx := context.Background()

	t.Run("paid at once", func(t *testing.T) {
		no, tr, err := e.pay(t, "10", 888)
		if err != nil {
			t.Fatal(err)
		}
		v := e.trade(t, no)
		want := gateway.Trade{State: gateway.TradePaid, Status: wechatpay.TradeSuccess, TradeNo: v.TransactionID,
			BuyerID: v.OpenID, Amount: 888}
		got := *tr
		got.PaidAt = time.Time{}
		if got != want || v.TransactionID == "" || v.OpenID == "" || !tr.PaidAt.Equal(v.PaidAt.Truncate(time.Second)) {
			t.Errorf("pay: %+v, want %+v (the simulator: %+v)", *tr, want, v)
		}
	})

	t.Run("the buyer confirms", func(t *testing.T) {
		no, tr, err := e.pay(t, "11", 999)
		if err != nil || tr.State != gateway.TradeWaiting || tr.Status != wechatpay.TradeUserPaying {
			t.Fatalf("pay: %+v, %v; want a waiting trade and no error", tr, err)
		}
		wxEventually(t, "the payment after the buyer confirms", func() bool {
			q, err := e.ch.Query(ctx, no)
			if err != nil {
				t.Fatal(err)
			}
			if q.State == gateway.TradeWaiting && q.Status != wechatpay.TradeUserPaying {
				t.Fatalf("waiting as %s", q.Status)
			}
			return q.Paid() && q.TradeNo != "" && q.BuyerID != "" && q.Amount == 999 && !q.PaidAt.IsZero()
		})
	})

	t.Run("no balance", func(t *testing.T) {
		_, tr, err := e.pay(t, "13", 100)
		ce := wxChannelError(t, err, "wechatpay.codepay", gateway.OutcomeFailed)
		if ce.Code != "NOT_ENOUGH" || !ce.Answered || tr.State != 0 {
			t.Errorf("pay without balance: %+v, trade %+v", ce, tr)
		}
	})

	t.Run("not a payment code", func(t *testing.T) {
		_, tr, err := e.pay(t, "99", 100)
		ce := wxChannelError(t, err, "wechatpay.codepay", gateway.OutcomeConfig)
		if ce.Answered || ce.Code != "" || tr.State != 0 {
			t.Errorf("pay with a bad code: %+v, trade %+v", ce, tr)
		}
	})
}

func TestWechatChannelCancel(t *testing.T) {
	t.Parallel()
	e := wxSetup(t)
	ctx := context.Background()

	t.Run("paid", func(t *testing.T) {
		no, _, err := e.pay(t, "10", 700)
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.ch.Cancel(ctx, no)
		if err != nil || !c.Refunded {
			t.Fatalf("cancel: %+v, %v", c, err)
		}
		tr, err := e.ch.Query(ctx, no)
		if err != nil || tr.State != gateway.TradeClosed || tr.Status != wechatpay.TradeRevoked {
			t.Errorf("query after the reverse: %+v, %v", tr, err)
		}
		if v := e.trade(t, no); v.Refunded != 700 || len(v.Refunds) != 1 || !v.Refunds[0].ByReverse {
			t.Errorf("the simulator after the reverse: refunded %d, refunds %+v", v.Refunded, v.Refunds)
		}
		if c, err := e.ch.Cancel(ctx, no); err != nil || !c.Refunded {
			t.Errorf("second cancel: %+v, %v", c, err)
		}
	})

	t.Run("never paid", func(t *testing.T) {
		no, tr, err := e.pay(t, "12", 300)
		if err != nil || tr.State != gateway.TradeWaiting {
			t.Fatalf("pay: %+v, %v", tr, err)
		}
		c, err := e.ch.Cancel(ctx, no)
		if err != nil || !c.Refunded {
			t.Fatalf("cancel: %+v, %v", c, err)
		}
		q, err := e.ch.Query(ctx, no)
		if err != nil || q.State != gateway.TradeClosed || q.Status != wechatpay.TradeRevoked || q.Paid() {
			t.Errorf("query after the reverse: %+v, %v", q, err)
		}
		if v := e.trade(t, no); v.Refunded != 0 || v.PaidAt != nil {
			t.Errorf("the simulator after the reverse: %+v", v)
		}
	})

	t.Run("unknown trade", func(t *testing.T) {
		c, err := e.ch.Cancel(ctx, wxChannelNo())
		if err != nil || c == nil || c.Refunded {
			t.Errorf("cancel of a trade WeChat Pay does not have: %+v, %v; want cancelled, nothing refunded", c, err)
		}
	})

	t.Run("system error asks for another reverse", func(t *testing.T) {
		no, _, err := e.pay(t, "10", 100)
		if err != nil {
			t.Fatal(err)
		}
		if err := e.sim.SetFaults(wechatpaysim.Faults{GatewayErrorRate: 1}); err != nil {
			t.Fatal(err)
		}
		c, err := e.ch.Cancel(ctx, no)
		if ferr := e.sim.SetFaults(wechatpaysim.Faults{}); ferr != nil {
			t.Fatal(ferr)
		}
		ce := wxChannelError(t, err, "wechatpay.reverse", gateway.OutcomeUnknown)
		if c == nil || !ce.Retry || !ce.Answered || ce.Code != "SYSTEM_ERROR" {
			t.Errorf("reverse answered SYSTEM_ERROR: %+v, %+v", c, ce)
		}
		if c, err := e.ch.Cancel(ctx, no); err != nil || !c.Refunded {
			t.Errorf("the reverse again: %+v, %v", c, err)
		}
	})
}

func TestWechatChannelRefund(t *testing.T) {
	t.Parallel()
	e := wxSetup(t)
	ctx := context.Background()
	no, _, err := e.pay(t, "10", 1000)
	if err != nil {
		t.Fatal(err)
	}
	txn := e.trade(t, no).TransactionID
	long := strings.Repeat("r", 64)

	for _, c := range []struct {
		outRequestNo string
		amount       paygate.Money
	}{{"r1", 300}, {long, 200}} {
		req := gateway.RefundRequest{ChannelNo: no, OutRequestNo: c.outRequestNo, Amount: c.amount, Total: 1000, Reason: "退货 📦"}
		res, err := e.ch.Refund(ctx, req)
		if err != nil || res.Done || res.Status != wechatpay.RefundProcessing || res.Amount != c.amount {
			t.Fatalf("refund %s: %+v, %v; want accepted, processing", c.outRequestNo, res, err)
		}
		if res, err := e.ch.Refund(ctx, req); err != nil || res.Amount != c.amount {
			t.Fatalf("refund %s again: %+v, %v", c.outRequestNo, res, err)
		}
		wxEventually(t, "refund "+c.outRequestNo+" done", func() bool {
			res, err := e.ch.RefundQuery(ctx, gateway.RefundRef{ChannelNo: no, OutRequestNo: c.outRequestNo})
			if err != nil {
				t.Fatal(err)
			}
			return res.Done && res.Amount == c.amount && res.Status == wechatpay.RefundSuccess
		})
	}

	v := e.trade(t, no)
	var sent []string
	for _, r := range v.Refunds {
		sent = append(sent, r.OutRefundNo)
	}
	if want := []string{no + "-r1", gateway.WechatOutRefundNo(no, long)}; !slices.Equal(sent, want) || v.Refunded != 500 {
		t.Errorf("the simulator holds refunds %v (refunded %d), want %v (500)", sent, v.Refunded, want)
	}

	for _, refundNo := range []string{"r1", gateway.WechatOutRefundNo(no, long)} {
		_, n := e.notification(t, e.ch, func(n *gateway.Notification) bool { return n.RefundNo == refundNo })
		want := gateway.Notification{ID: n.ID, ChannelNo: no, TradeNo: txn, Status: wechatpay.RefundSuccess,
			State: gateway.TradePaid, Amount: 1000, RefundNo: refundNo}
		if *n != want || n.ID == "" {
			t.Errorf("refund notification %+v, want %+v", *n, want)
		}
	}

	res, err := e.ch.Refund(ctx, gateway.RefundRequest{ChannelNo: no, OutRequestNo: "r3", Amount: 600, Total: 1000})
	ce := wxChannelError(t, err, "wechatpay.refund", gateway.OutcomeFailed)
	if res == nil || res.Done || ce.Code != "INVALID_REQUEST" || !ce.Answered {
		t.Errorf("refund past the remainder: %+v, %+v", res, ce)
	}

	res, err = e.ch.RefundQuery(ctx, gateway.RefundRef{ChannelNo: no, OutRequestNo: "nope"})
	ce = wxChannelError(t, err, "wechatpay.refund_query", gateway.OutcomeFailed)
	if res == nil || res.Done || ce.Code != "RESOURCE_NOT_EXISTS" {
		t.Errorf("query of an unknown refund: %+v, %+v", res, ce)
	}
	// paygate's hashed number under its raw form is not taken for a refund
	// made elsewhere: the use case would record its own refund twice.
	res, err = e.ch.RefundQuery(ctx, gateway.RefundRef{ChannelNo: no, OutRequestNo: gateway.WechatOutRefundNo(no, long)})
	if ce := wxChannelError(t, err, "wechatpay.refund_query", gateway.OutcomeFailed); res.Done || ce.Code != "RESOURCE_NOT_EXISTS" {
		t.Errorf("query by a hashed number: %+v, %+v", res, ce)
	}
}

// A refund whose out_refund_no paygate did not derive (as one made at WeChat
// Pay's console) is named by it as it is, in the notification and in the
// refund query.
func TestWechatChannelForeignRefund(t *testing.T) {
	t.Parallel()
	e := wxSetup(t)
	ctx := context.Background()
	no, _, err := e.pay(t, "10", 1000)
	if err != nil {
		t.Fatal(err)
	}
	console := e.client(t, wxMchID, wxAppID, nil, e.keys.apiv3)
	foreign := "console" + strings.ToUpper(wxHex(6))
	if _, err := console.Refund(ctx, wechatpay.RefundRequest{OutTradeNo: no, OutRefundNo: foreign,
		NotifyURL: e.recv.srv.URL + "/notify/wechat", Amount: wechatpay.RefundAmount{Refund: 100, Total: 1000}}); err != nil {
		t.Fatal(err)
	}
	_, n := e.notification(t, e.ch, func(n *gateway.Notification) bool { return n.RefundNo != "" })
	if n.RefundNo != foreign || n.ChannelNo != no {
		t.Fatalf("notification of a console refund: %+v, want RefundNo %s", n, foreign)
	}
	res, err := e.ch.RefundQuery(ctx, gateway.RefundRef{ChannelNo: no, OutRequestNo: n.RefundNo})
	if err != nil || !res.Done || res.Amount != 100 {
		t.Errorf("refund query of a console refund: %+v, %v", res, err)
	}
	other, _, err := e.pay(t, "10", 1000)
	if err != nil {
		t.Fatal(err)
	}
	res, err = e.ch.RefundQuery(ctx, gateway.RefundRef{ChannelNo: other, OutRequestNo: foreign})
	if ce := wxChannelError(t, err, "wechatpay.refund_query", gateway.OutcomeFailed); res.Done || ce.Code != "RESOURCE_NOT_EXISTS" {
		t.Errorf("another trade's refund was taken: %+v, %+v", res, ce)
	}
}

func TestWechatOutRefundNo(t *testing.T) {
	wire := regexp.MustCompile(`^[0-9A-Za-z_-]{1,64}$`)
	c := "PG20240518" + "0123456789ABCDEF"
	max := strings.Repeat("x", 64-len(c)-1)
	cases := []struct {
		name, channelNo, outRequestNo, want string
	}{
		{"fits", c, "r1", c + "-r1"},
		{"fits exactly", c, max, c + "-" + max},
		{"paygate's late refund", c, "late_" + c, c + "-late_" + c},
		{"one too long", c, max + "x", ""},
		{"64 characters", c, strings.Repeat("9", 64), ""},
		{"a dash", c, "a-b", ""},
		{"a star", c, "a*b", ""},
		{"not ASCII", c, "退款1", ""},
		{"empty", c, "", ""},
		{"a channel number too long for WeChat Pay", strings.Repeat("C", 50), "a-b", ""},
	}
	seen := map[string]string{}
	for _, tc := range cases {
		got := gateway.WechatOutRefundNo(tc.channelNo, tc.outRequestNo)
		if again := gateway.WechatOutRefundNo(tc.channelNo, tc.outRequestNo); again != got {
			t.Errorf("%s: %q then %q", tc.name, got, again)
		}
		if !wire.MatchString(got) {
			t.Errorf("%s: %q is not 1 to 64 of [0-9A-Za-z_-]", tc.name, got)
		}
		switch {
		case tc.want != "" && got != tc.want:
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		case tc.want == "" && len(tc.channelNo) <= 32 && !strings.HasPrefix(got, tc.channelNo+"--"):
			t.Errorf("%s: %q is not the channel number, -- and a hash", tc.name, got)
		case tc.want == "" && len(got) < len(tc.channelNo)+2+30 && len(tc.channelNo) <= 32:
			t.Errorf("%s: %q has a hash shorter than 30 digits", tc.name, got)
		}
		seen[got] = tc.name
	}
	if len(seen) != len(cases) {
		t.Errorf("%d numbers for %d cases: %v", len(seen), len(cases), seen)
	}

	// Unique over pairs built to collide: one request number under many
	// channel numbers, prefixes of each other, and request numbers that
	// differ only in a dash or an underscore.
	seen = map[string]string{}
	nos := []string{"PG1", "PG12", "PG", c, c + "0", strings.Repeat("Z", 32)}
	reqs := []string{"x", "1-x", "2", "12", "a_b", "a-b", "-x", "x-", "", strings.Repeat("q", 37), strings.Repeat("q", 38),
		strings.Repeat("L", 64)}
	for _, no := range nos {
		for _, r := range reqs {
			got := gateway.WechatOutRefundNo(no, r)
			key := no + " / " + r
			if prev, dup := seen[got]; dup {
				t.Errorf("%s and %s both give %q", prev, key, got)
			}
			seen[got] = key
		}
	}
}

// Notifications that must be refused: tampered, stale, another merchant's,
// undecryptable, not JSON.
func TestWechatChannelNotificationRefused(t *testing.T) {
	t.Parallel()
	e := wxSetup(t)
	no, code := e.precreate(t, e.ch, 300)
	if _, err := e.sim.Pay(code, ""); err != nil {
		t.Fatal(err)
	}
	in, _ := e.notification(t, e.ch, func(n *gateway.Notification) bool { return n.ChannelNo == no })

	wantRefused := func(t *testing.T, what string, ch *gateway.WechatChannel, in gateway.NotificationInput, want error) {
		t.Helper()
		n, err := ch.ParseNotification(in)
		if !errors.Is(err, want) {
			t.Errorf("%s: %+v, %v; want %v", what, n, err, want)
		}
		for _, other := range []error{gateway.ErrNotifySignature, gateway.ErrNotifyMalformed, gateway.ErrNotifyMismatch} {
			if other != want && errors.Is(err, other) {
				t.Errorf("%s: %v is also %v", what, err, other)
			}
		}
	}

	tampered := in
	tampered.Body = []byte(strings.Replace(string(in.Body), `"TRANSACTION.SUCCESS"`, `"TRANSACTION.SUCCESs"`, 1))
	if string(tampered.Body) == string(in.Body) {
		t.Fatalf("nothing to tamper with in %s", in.Body)
	}
	wantRefused(t, "tampered body", e.ch, tampered, gateway.ErrNotifySignature)

	forged := in
	forged.Header = in.Header.Clone()
	forged.Header.Set(wechatpay.HeaderSignature, wechatpay.SignatureProbePrefix+"probe")
	wantRefused(t, "signature probe", e.ch, forged, gateway.ErrNotifySignature)

	later := func() time.Time { return time.Now().Add(10 * time.Minute) }
	wantRefused(t, "stale timestamp", e.channel(t, wxMchID, wxAppID, later, e.keys.apiv3), in, gateway.ErrNotifySignature)

	otherKey, err := wechatpay.ParseAPIv3Key([]byte(wxHex(16)))
	if err != nil {
		t.Fatal(err)
	}
	wantRefused(t, "another APIv3 key", e.channel(t, wxMchID, wxAppID, nil, otherKey), in, gateway.ErrNotifyMalformed)

	signer := wechatpay.Signer{ID: e.keys.platformSerial, Key: e.keys.platform}
	junk := gateway.NotificationInput{Header: http.Header{}, Body: []byte(`{"id":`)}
	if err := signer.SignHeaders(junk.Header, junk.Body, time.Now()); err != nil {
		t.Fatal(err)
	}
	wantRefused(t, "signed junk", e.ch, junk, gateway.ErrNotifyMalformed)

	otherCh := e.channel(t, wxOtherMchID, wxAppID, nil, e.keys.apiv3)
	otherNo, otherCode := e.precreate(t, otherCh, 400)
	if _, err := e.sim.Pay(otherCode, ""); err != nil {
		t.Fatal(err)
	}
	otherIn, _ := e.notification(t, otherCh, func(n *gateway.Notification) bool { return n.ChannelNo == otherNo })
	wantRefused(t, "another merchant's notification", e.ch, otherIn, gateway.ErrNotifyMismatch)
}

// No answer at all: every verb is unknown, unanswered, without a code,
// with a result.
func TestWechatChannelTransportFailure(t *testing.T) {
	t.Parallel()
	e := wxSetup(t)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()
	k := e.keys
	client, err := wechatpay.New(wechatpay.Config{MchID: wxMchID, AppID: wxAppID, BaseURL: dead.URL, PrivateKey: k.merchant,
		SerialNo: k.merchantSerial, WechatPayKeys: []wechatpay.PublicKey{e.sim.WechatPayPublicKey()}, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ch, err := gateway.NewWechatChannel(client, gateway.WechatConfig{NotifyURL: "https://shop.example/notify/wechat"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	no := wxChannelNo()
	calls := map[string]func() (any, error){
		"wechatpay.native": func() (any, error) {
			return ch.Precreate(ctx, gateway.PrecreateRequest{ChannelNo: no, Subject: "s", Amount: 1, ExpiresAt: time.Now().Add(time.Hour)})
		},
		"wechatpay.codepay": func() (any, error) {
			return ch.Pay(ctx, gateway.PayRequest{ChannelNo: no, AuthCode: wxAuthCode("10"), Subject: "s", Amount: 1})
		},
		"wechatpay.query":   func() (any, error) { return ch.Query(ctx, no) },
		"wechatpay.reverse": func() (any, error) { return ch.Cancel(ctx, no) },
		"wechatpay.close":   func() (any, error) { return nil, ch.Close(ctx, no) },
		"wechatpay.refund": func() (any, error) {
			return ch.Refund(ctx, gateway.RefundRequest{ChannelNo: no, OutRequestNo: "r1", Amount: 1, Total: 1})
		},
		"wechatpay.refund_query": func() (any, error) {
			return ch.RefundQuery(ctx, gateway.RefundRef{ChannelNo: no, OutRequestNo: "r1"})
		},
	}
	for method, call := range calls {
		res, err := call()
		ce := wxChannelError(t, err, method, gateway.OutcomeUnknown)
		if ce.Answered || ce.Code != "" || ce.Retry || !gateway.IsChannelFailure(err) {
			t.Errorf("%s without an answer: %+v", method, ce)
		}
		if method != "wechatpay.close" && (res == nil || fmt.Sprint(res) == "<nil>") {
			t.Errorf("%s: nil result with the error", method)
		}
	}
}
