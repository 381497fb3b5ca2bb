package main

// End-to-end tests: the merchant API over real HTTP against a node wired by
// newApp, the Alipay simulator mounted as in the demo, on SQLite and on
// PostgreSQL (see e2e_helpers_test.go). Each test starts its own node per
// store, so tests and stores run in parallel without sharing state.

import (
	"bytes"
	"context"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
	"github.com/paygate/paygate/client"
)

func TestE2EQROrder(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		req := e2eQR("QR1", "9.90")
		before := time.Now()
		first := e2eCreate(t, e.a, req, http.StatusCreated)
		if first.OutTradeNo != "QR1" || first.Mode != "qr" || first.Subject != "coffee" || first.TotalAmount != "9.90" ||
			first.Status != "pending" || first.QRCode == "" || first.RefundedAmount != "0.00" || first.TradeNo != "" ||
			first.BuyerID != "" || first.PaidAt != nil || first.CreatedAt == nil || first.ExpiresAt == nil {
			t.Fatalf("created order = %+v", first)
		}
		if d := first.ExpiresAt.Sub(before); d < 2*time.Hour-time.Minute || d > 2*time.Hour+time.Minute {
			t.Fatalf("expires_at %v is not the default 2 h after creation", first.ExpiresAt)
		}
		tr := e.trade(t, "QR1")
		if tr.QRCode != first.QRCode || tr.TotalAmount != 990 || tr.Subject != "coffee" || tr.TradeStatus != "" || tr.AppID != e2eAppID {
			t.Fatalf("simulator trade = %+v", tr)
		}

		// The same request again: the same order, 200.
		again := e2eCreate(t, e.a, req, http.StatusOK)
		if !reflect.DeepEqual(again, first) {
			t.Fatalf("repeat = %+v, want %+v", again, first)
		}
		// The same out_trade_no with another amount (or subject): 409.
		e2eCall(t, e.a, "POST", "/api/v1/orders", nil, e2eQR("QR1", "9.91")).
			want(t, "other amount", http.StatusConflict, paygate.EOutTradeNoReused)
		other := e2eQR("QR1", "9.90")
		other.Subject = "tea"
		e2eCall(t, e.a, "POST", "/api/v1/orders", nil, other).
			want(t, "other subject", http.StatusConflict, paygate.EOutTradeNoReused)
		if n := len(e.sim.Trades()); n != 1 {
			t.Fatalf("simulator holds %d trades, want 1", n)
		}

		// The buyer pays; the notification makes the order paid.
		e.pay(t, first.QRCode)
		paid := e2eWaitStatus(t, e.a, "QR1", "paid")
		tr = e.trade(t, "QR1")
		if tr.TradeStatus != alipay.TradeSuccess || paid.TradeNo != tr.TradeNo || paid.BuyerID != e2eBuyer ||
			paid.PaidAt == nil || paid.RefundedAmount != "0.00" || paid.QRCode != first.QRCode {
			t.Fatalf("paid order = %+v, simulator trade %+v", paid, tr)
		}
		channelNo := e.stored(t, e.idA, "QR1").ChannelNo
		e2eEventually(t, "the payment notification acknowledged", func() bool {
			for _, n := range e.sim.Notifications() {
				if n.OutTradeNo == channelNo && n.TradeStatus == alipay.TradeSuccess && n.Acked && n.Body == "success" {
					return true
				}
			}
			return false
		})
		// A repeat after payment still answers the order, now paid.
		if o := e2eCreate(t, e.a, req, http.StatusOK); o.Status != "paid" || o.TradeNo != tr.TradeNo {
			t.Fatalf("repeat after payment = %+v", o)
		}
		l, err := e.a.ListOrders(context.Background(), client.ListOrdersParams{})
		if err != nil || len(l.Orders) != 1 || l.Orders[0].OutTradeNo != "QR1" || l.NextCursor != "" {
			t.Fatalf("list = %+v, %v", l, err)
		}
	})
}

func TestE2ERefreshAfterDroppedNotification(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		e.setFaults(t, alipaysim.Faults{NotifyDropRate: 1})
		o := e2eCreate(t, e.a, e2eQR("DROP1", "12.34"), http.StatusCreated)
		e.pay(t, o.QRCode)
		channelNo := e.stored(t, e.idA, "DROP1").ChannelNo
		e2eEventually(t, "the dropped notification", func() bool {
			for _, n := range e.sim.Notifications() {
				if n.OutTradeNo == channelNo && n.Dropped {
					return true
				}
			}
			return false
		})
		if got := e2eGet(t, e.a, "DROP1"); got.Status != "pending" {
			t.Fatalf("without a notification the order is %s, want pending until asked", got.Status)
		}
		r, err := e.a.GetOrder(context.Background(), "DROP1", true)
		if err != nil {
			t.Fatal(err)
		}
		tr := e.trade(t, "DROP1")
		if r.Status != "paid" || r.TradeNo != tr.TradeNo || r.BuyerID != e2eBuyer || r.PaidAt == nil {
			t.Fatalf("refreshed order = %+v, simulator %+v", r, tr)
		}
		if got := e2eGet(t, e.a, "DROP1"); got.Status != "paid" {
			t.Fatalf("after refresh the stored order is %s", got.Status)
		}
		// refresh of an order that is not pending answers it as stored.
		if r, err := e.a.GetOrder(context.Background(), "DROP1", true); err != nil || r.Status != "paid" {
			t.Fatalf("refresh again = %+v, %v", r, err)
		}
	})
}

func TestE2EBarcode(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		barcode := func(no, authCode string) client.CreateOrderRequest {
			return client.CreateOrderRequest{OutTradeNo: no, Subject: "sandwich", TotalAmount: "25.00", Mode: "barcode", AuthCode: authCode}
		}
		t.Run("28 paid at once", func(t *testing.T) {
			t.Parallel()
			o := e2eCreate(t, e.a, barcode("BC28", "280000000000000001"), http.StatusCreated)
			tr := e.trade(t, "BC28")
			if o.Status != "paid" || o.Mode != "barcode" || o.QRCode != "" || o.TradeNo == "" || o.TradeNo != tr.TradeNo ||
				o.BuyerID == "" || o.PaidAt == nil || tr.TradeStatus != alipay.TradeSuccess || tr.TotalAmount != 2500 {
				t.Fatalf("order %+v, simulator %+v", o, tr)
			}
			// The same payment again with a fresh barcode: the same order, no second charge.
			again := e2eCreate(t, e.a, barcode("BC28", "280000000000000002"), http.StatusOK)
			if !reflect.DeepEqual(again, o) {
				t.Fatalf("repeat = %+v, want %+v", again, o)
			}
			if tr := e.trade(t, "BC28"); tr.AuthCode != "280000000000000001" {
				t.Fatalf("simulator trade charged %s", tr.AuthCode)
			}
		})
		t.Run("29 paid after the buyer confirms", func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			o := e2eCreate(t, e.a, barcode("BC29", "290000000000000001"), http.StatusCreated)
			took := time.Since(start)
			tr := e.trade(t, "BC29")
			if o.Status != "paid" || o.TradeNo != tr.TradeNo || o.PaidAt == nil || tr.TradeStatus != alipay.TradeSuccess {
				t.Fatalf("order %+v, simulator %+v", o, tr)
			}
			if took < 300*time.Millisecond {
				t.Fatalf("answered after %v, before the buyer could confirm (300 ms)", took)
			}
		})
		t.Run("27 never confirmed: cancelled", func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			o := e2eCreate(t, e.a, barcode("BC27", "270000000000000001"), http.StatusCreated)
			took := time.Since(start)
			tr := e.trade(t, "BC27")
			if o.Status != "closed" || o.PaidAt != nil || tr.TradeStatus != alipay.TradeClosed {
				t.Fatalf("order %+v, simulator %+v", o, tr)
			}
			if took < 1500*time.Millisecond {
				t.Fatalf("answered after %v, before the 1.5 s wait ended", took)
			}
			if got := e2eGet(t, e.a, "BC27"); got.Status != "closed" {
				t.Fatalf("stored order is %s", got.Status)
			}
		})
		t.Run("26 no balance", func(t *testing.T) {
			t.Parallel()
			r := e2eCall(t, e.a, "POST", "/api/v1/orders", nil, barcode("BC26", "260000000000000001"))
			r.want(t, "create", http.StatusPaymentRequired, paygate.EPaymentFailed)
			if !bytes.Contains(r.body, []byte("ACQ.BUYER_BALANCE_NOT_ENOUGH")) {
				t.Fatalf("message does not name the sub_code: %s", r.body)
			}
			e.wantDeclinedOrder(t, r, "BC26")
			if got := e2eGet(t, e.a, "BC26"); got.Status != "closed" || got.PaidAt != nil {
				t.Fatalf("order after a refusal = %+v", got)
			}
			e.checkNotPaid(t, "BC26")
		})
		t.Run("invalid code", func(t *testing.T) {
			t.Parallel()
			r := e2eCall(t, e.a, "POST", "/api/v1/orders", nil, barcode("BCBAD", "123456789012345678"))
			r.want(t, "create", http.StatusPaymentRequired, paygate.EPaymentFailed)
			e.wantDeclinedOrder(t, r, "BCBAD")
			if !bytes.Contains(r.body, []byte("ACQ.PAYMENT_AUTH_CODE_INVALID")) {
				t.Fatalf("message does not name the sub_code: %s", r.body)
			}
			if got := e2eGet(t, e.a, "BCBAD"); got.Status != "closed" {
				t.Fatalf("order after a refusal = %+v", got)
			}
			e.checkNotPaid(t, "BCBAD")
		})
	})
}

// wantDeclinedOrder checks a 402's body: the closed order beside the error,
// as GET shows it, and the request id.
func (e *e2eEnv) wantDeclinedOrder(t *testing.T, r e2eResult, outTradeNo string) {
	t.Helper()
	var body struct {
		Error struct {
			RequestID string `json:"request_id"`
		} `json:"error"`
		Order *client.Order `json:"order"`
	}
	if err := json.Unmarshal(r.body, &body); err != nil || body.Order == nil {
		t.Fatalf("402 body without the order: %s (%v)", r.body, err)
	}
	if got := e2eGet(t, e.a, outTradeNo); !reflect.DeepEqual(*body.Order, got) || got.Status != "closed" {
		t.Fatalf("402 carries order %+v; GET shows %+v", *body.Order, got)
	}
	if body.Error.RequestID == "" || body.Error.RequestID != r.header.Get("X-Request-Id") {
		t.Fatalf("402 request_id %q, header X-Request-Id %q", body.Error.RequestID, r.header.Get("X-Request-Id"))
	}
}

// checkNotPaid fails if the simulator holds a paid trade for A's order.
func (e *e2eEnv) checkNotPaid(t *testing.T, outTradeNo string) {
	t.Helper()
	channelNo := e.stored(t, e.idA, outTradeNo).ChannelNo
	for _, tr := range e.sim.Trades() {
		if tr.OutTradeNo == channelNo && tr.PaidAt != nil {
			t.Fatalf("the simulator holds a paid trade for %s: %+v", outTradeNo, tr)
		}
	}
}

// waitAcked waits until the simulator's notifications for the order of
// merchantID have been acknowledged, want of them, each at its first
// delivery: the gateway answered "success" to every real notification.
func (e *e2eEnv) waitAcked(t *testing.T, merchantID int64, outTradeNo string, want int) {
	t.Helper()
	channelNo := e.stored(t, merchantID, outTradeNo).ChannelNo
	e2eEventually(t, fmt.Sprintf("%d acknowledged notifications for %s", want, outTradeNo), func() bool {
		acked := 0
		for _, n := range e.sim.Notifications() {
			if n.OutTradeNo != channelNo {
				continue
			}
			if !n.Acked && !n.Dropped && n.Error == "" {
				t.Fatalf("notification %s (%s, out_biz_no %q) answered %d %q", n.NotifyID, n.TradeStatus, n.Form["out_biz_no"], n.HTTPStatus, n.Body)
			}
			if n.Acked {
				acked++
			}
		}
		if acked > want {
			t.Fatalf("%d notifications acknowledged for %s, want %d", acked, outTradeNo, want)
		}
		return acked == want
	})
}

// payQR creates a QR order for A and has the buyer pay it.
func (e *e2eEnv) payQR(t *testing.T, no, amount string) client.Order {
	t.Helper()
	o := e2eCreate(t, e.a, e2eQR(no, amount), http.StatusCreated)
	e.pay(t, o.QRCode)
	return e2eWaitStatus(t, e.a, no, "paid")
}

func refundReq(no, amount string) client.RefundRequest {
	return client.RefundRequest{OutRequestNo: no, Amount: amount, Reason: "returned"}
}

func TestE2ERefunds(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		e.payQR(t, "RF1", "10.00")
		path := "/api/v1/orders/RF1/refunds"

		r := e2eCall(t, e.a, "POST", path, nil, refundReq("R1", "3.00"))
		r.want(t, "partial refund", http.StatusCreated, "")
		var r1 client.Refund
		json.Unmarshal(r.body, &r1)
		if r1.OutRequestNo != "R1" || r1.OutTradeNo != "RF1" || r1.Amount != "3.00" || r1.Reason != "returned" ||
			r1.Status != "succeeded" || r1.CreatedAt == nil || r1.SucceededAt == nil {
			t.Fatalf("refund = %+v", r1)
		}
		if o := e2eGet(t, e.a, "RF1"); o.Status != "paid" || o.RefundedAmount != "3.00" {
			t.Fatalf("after a partial refund: %+v", o)
		}
		// The same out_request_no again: the same refund, 200.
		again := e2eCall(t, e.a, "POST", path, nil, refundReq("R1", "3.00"))
		again.want(t, "repeat", http.StatusOK, "")
		if !bytes.Equal(again.body, r.body) {
			t.Fatalf("repeat = %s, want %s", again.body, r.body)
		}
		e2eCall(t, e.a, "POST", path, nil, refundReq("R1", "4.00")).want(t, "same out_request_no, other amount", http.StatusConflict, paygate.EConflict)
		e2eCall(t, e.a, "POST", path, nil, refundReq("R2", "7.01")).want(t, "beyond the balance", http.StatusConflict, paygate.ERefundExceeds)
		if tr := e.trade(t, "RF1"); tr.RefundFee != 300 || len(tr.Refunds) != 1 {
			t.Fatalf("simulator after refusals: %+v", tr)
		}

		e2eCall(t, e.a, "POST", path, nil, refundReq("R3", "7.00")).want(t, "the rest", http.StatusCreated, "")
		if o := e2eGet(t, e.a, "RF1"); o.Status != "refunded" || o.RefundedAmount != "10.00" {
			t.Fatalf("after a full refund: %+v", o)
		}
		e2eCall(t, e.a, "POST", path, nil, refundReq("R4", "0.01")).want(t, "refund of a refunded order", http.StatusConflict, paygate.ERefundExceeds)

		refunds, err := e.a.ListRefunds(context.Background(), "RF1")
		if err != nil {
			t.Fatal(err)
		}
		if len(refunds) != 2 || refunds[0].OutRequestNo != "R1" || refunds[0].Amount != "3.00" || refunds[1].OutRequestNo != "R3" ||
			refunds[1].Amount != "7.00" || refunds[0].Status != "succeeded" || refunds[1].Status != "succeeded" {
			t.Fatalf("refunds = %+v", refunds)
		}
		tr := e.trade(t, "RF1")
		if tr.RefundFee != 1000 || len(tr.Refunds) != 2 || tr.Refunds[0].OutRequestNo != "R1" || tr.Refunds[1].OutRequestNo != "R3" {
			t.Fatalf("simulator trade = %+v", tr)
		}
		e.waitAcked(t, e.idA, "RF1", 3)
		if o := e2eGet(t, e.a, "RF1"); o.Status != "refunded" || o.RefundedAmount != "10.00" {
			t.Fatalf("after the notifications: %+v", o)
		}

		// A pending order cannot be refunded; nor an unknown one.
		e2eCreate(t, e.a, e2eQR("RFPEND", "5.00"), http.StatusCreated)
		e2eCall(t, e.a, "POST", "/api/v1/orders/RFPEND/refunds", nil, refundReq("R1", "1.00")).want(t, "pending order", http.StatusConflict, paygate.EConflict)
		if refunds, err := e.a.ListRefunds(context.Background(), "RFPEND"); err != nil || len(refunds) != 0 {
			t.Fatalf("refunds of the pending order = %+v, %v", refunds, err)
		}
		e2eCall(t, e.a, "POST", "/api/v1/orders/NOPE/refunds", nil, refundReq("R1", "1.00")).want(t, "unknown order", http.StatusNotFound, paygate.ENotFound)
		e2eCall(t, e.a, "GET", "/api/v1/orders/NOPE/refunds", nil, nil).want(t, "refunds of an unknown order", http.StatusNotFound, paygate.ENotFound)
	})
}

func TestE2EConcurrency(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		t.Run("refunds", func(t *testing.T) {
			e.payQR(t, "CC1", "5.00")
			results := make([]e2eResult, 10)
			var wg sync.WaitGroup
			for i := range results {
				wg.Go(func() {
					results[i] = e2eCall(t, e.a, "POST", "/api/v1/orders/CC1/refunds", nil, refundReq(fmt.Sprintf("C%d", i), "1.00"))
				})
			}
			wg.Wait()
			ok := 0
			for i, r := range results {
				switch {
				case r.status == http.StatusCreated:
					ok++
				case r.status == http.StatusConflict && r.code == paygate.ERefundExceeds:
				default:
					t.Errorf("refund %d: %d %s", i, r.status, r.body)
				}
			}
			if ok != 5 {
				t.Fatalf("%d refunds succeeded, want exactly 5", ok)
			}
			if o := e2eGet(t, e.a, "CC1"); o.Status != "refunded" || o.RefundedAmount != "5.00" {
				t.Fatalf("order = %+v", o)
			}
			if tr := e.trade(t, "CC1"); tr.RefundFee != 500 || len(tr.Refunds) != 5 {
				t.Fatalf("simulator trade = %+v", tr)
			}
			// The payment's and the five refunds' notifications all apply
			// cleanly, and leave the order as it is.
			e.waitAcked(t, e.idA, "CC1", 6)
			if o := e2eGet(t, e.a, "CC1"); o.Status != "refunded" || o.RefundedAmount != "5.00" {
				t.Fatalf("order after the notifications = %+v", o)
			}
			refunds, err := e.a.ListRefunds(context.Background(), "CC1")
			if err != nil || len(refunds) != 5 {
				t.Fatalf("refunds = %+v, %v", refunds, err)
			}
			for _, r := range refunds {
				if r.Status != "succeeded" || r.Amount != "1.00" {
					t.Fatalf("refund %+v", r)
				}
			}
		})
		t.Run("creates", func(t *testing.T) {
			tradesBefore := len(e.sim.Trades())
			results := make([]e2eResult, 8)
			var wg sync.WaitGroup
			for i := range results {
				wg.Go(func() {
					results[i] = e2eCall(t, e.a, "POST", "/api/v1/orders", nil, e2eQR("SAME1", "8.88"))
				})
			}
			wg.Wait()
			created := 0
			var first client.Order
			for i, r := range results {
				if r.status != http.StatusCreated && r.status != http.StatusOK {
					t.Fatalf("create %d: %d %s", i, r.status, r.body)
				}
				if r.status == http.StatusCreated {
					created++
				}
				o := r.order(t)
				if i == 0 {
					first = o
				}
				if o.OutTradeNo != "SAME1" || o.QRCode == "" || o.QRCode != first.QRCode || !o.CreatedAt.Equal(*first.CreatedAt) {
					t.Fatalf("answer %d names another order: %+v, first %+v", i, o, first)
				}
			}
			if created != 1 {
				t.Fatalf("%d answers were 201, want exactly 1", created)
			}
			l, err := e.a.ListOrders(context.Background(), client.ListOrdersParams{Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, o := range l.Orders {
				if o.OutTradeNo == "SAME1" {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("%d orders SAME1, want 1", n)
			}
			if after := len(e.sim.Trades()); after != tradesBefore+1 {
				t.Fatalf("the simulator went from %d to %d trades, want one more", tradesBefore, after)
			}
		})
	})
}

func TestE2EClose(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		t.Run("unscanned", func(t *testing.T) {
			t.Parallel()
			o := e2eCreate(t, e.a, e2eQR("CL1", "3.00"), http.StatusCreated)
			closed, err := e.a.CloseOrder(context.Background(), "CL1")
			if err != nil || closed.Status != "closed" {
				t.Fatalf("close = %+v, %v", closed, err)
			}
			status, body := e.simPost(t, "/sim/pay", map[string]string{"qr_code": o.QRCode, "buyer_id": e2eBuyer})
			if status == http.StatusOK {
				t.Fatalf("the simulator let a buyer pay a closed order's code: %s", body)
			}
			e.checkNotPaid(t, "CL1")
			if got := e2eGet(t, e.a, "CL1"); got.Status != "closed" {
				t.Fatalf("order = %+v", got)
			}
			// Closing again answers the closed order.
			if again, err := e.a.CloseOrder(context.Background(), "CL1"); err != nil || again.Status != "closed" {
				t.Fatalf("close again = %+v, %v", again, err)
			}
		})
		t.Run("scanned", func(t *testing.T) {
			t.Parallel()
			o := e2eCreate(t, e.a, e2eQR("CL2", "3.00"), http.StatusCreated)
			if status, body := e.simPost(t, "/sim/scan", map[string]string{"qr_code": o.QRCode, "buyer_id": e2eBuyer}); status != http.StatusOK {
				t.Fatalf("scan: %d %s", status, body)
			}
			if tr := e.trade(t, "CL2"); tr.TradeStatus != alipay.TradeWaitBuyerPay {
				t.Fatalf("scanned trade = %+v", tr)
			}
			closed, err := e.a.CloseOrder(context.Background(), "CL2")
			if err != nil || closed.Status != "closed" {
				t.Fatalf("close = %+v, %v", closed, err)
			}
			if tr := e.trade(t, "CL2"); tr.TradeStatus != alipay.TradeClosed {
				t.Fatalf("simulator trade after close = %+v", tr)
			}
			status, body := e.simPost(t, "/sim/pay", map[string]string{"qr_code": o.QRCode, "buyer_id": e2eBuyer})
			if status != http.StatusConflict {
				t.Fatalf("paying a closed trade: %d %s, want 409", status, body)
			}
			e.checkNotPaid(t, "CL2")
		})
		t.Run("paid", func(t *testing.T) {
			t.Parallel()
			paid := e.payQR(t, "CL3", "3.00")
			e2eCall(t, e.a, "POST", "/api/v1/orders/CL3/close", nil, nil).want(t, "close a paid order", http.StatusConflict, paygate.EConflict)
			if got := e2eGet(t, e.a, "CL3"); !reflect.DeepEqual(got, paid) {
				t.Fatalf("after a refused close: %+v, want %+v", got, paid)
			}
			if tr := e.trade(t, "CL3"); tr.TradeStatus != alipay.TradeSuccess {
				t.Fatalf("simulator trade = %+v", tr)
			}
		})
		t.Run("unknown", func(t *testing.T) {
			t.Parallel()
			e2eCall(t, e.a, "POST", "/api/v1/orders/NOPE/close", nil, nil).want(t, "close unknown", http.StatusNotFound, paygate.ENotFound)
		})
	})
}

func TestE2EBadInput(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		e2eCreate(t, e.a, e2eQR("SEED", "1.00"), http.StatusCreated)
		e.payQR(t, "PAID", "2.00")
		before := e.snapshot(t)
		unchanged := func(t *testing.T, what string) {
			t.Helper()
			if after := e.snapshot(t); after != before {
				t.Fatalf("%s changed something:\nbefore %s\nafter  %s", what, before, after)
			}
		}

		valid := map[string]any{"out_trade_no": "NEW1", "subject": "coffee", "total_amount": "1.00", "mode": "qr"}
		with := func(kv ...any) []byte {
			m := map[string]any{}
			for k, v := range valid {
				m[k] = v
			}
			for i := 0; i < len(kv); i += 2 {
				if kv[i+1] == nil {
					delete(m, kv[i].(string))
				} else {
					m[kv[i].(string)] = kv[i+1]
				}
			}
			b, _ := json.Marshal(m)
			return b
		}
		bad := []struct {
			name string
			path string
			body []byte
		}{
			{"malformed JSON", "", []byte(`{"out_trade_no":"NEW1",`)},
			{"not JSON", "", []byte(`out_trade_no=NEW1`)},
			{"empty body", "", nil},
			{"array", "", []byte(`[]`)},
			{"two objects", "", append(with(), with()...)},
			{"unknown field", "", with("tip", "1.00")},
			{"duplicate key", "", []byte(`{"out_trade_no":"NEW1","subject":"coffee","total_amount":"1.00","mode":"qr","total_amount":"999.00"}`)},
			{"case-variant key", "", []byte(`{"out_trade_no":"NEW1","subject":"coffee","total_amount":"1.00","mode":"qr","TOTAL_AMOUNT":"999.00"}`)},
			{"key in another case", "", []byte(`{"out_trade_no":"NEW1","subject":"coffee","Total_Amount":"1.00","mode":"qr"}`)},
			{"subject invalid UTF-8", "", []byte("{\"out_trade_no\":\"NEW1\",\"subject\":\"caf\xe9\",\"total_amount\":\"1.00\",\"mode\":\"qr\"}")},
			{"subject unpaired surrogate", "", []byte(`{"out_trade_no":"NEW1","subject":"tea \ud83c","total_amount":"1.00","mode":"qr"}`)},
			{"amount 0", "", with("total_amount", "0")},
			{"amount 0.00", "", with("total_amount", "0.00")},
			{"amount 0.001", "", with("total_amount", "0.001")},
			{"amount -1", "", with("total_amount", "-1")},
			{"amount 1e2", "", with("total_amount", "1e2")},
			{"amount 100000000.01", "", with("total_amount", "100000000.01")},
			{"amount abc", "", with("total_amount", "abc")},
			{"amount missing", "", with("total_amount", nil)},
			{"amount as a number", "", with("total_amount", 1.00)},
			{"out_trade_no too long", "", with("out_trade_no", strings.Repeat("A", 65))},
			{"out_trade_no with -", "", with("out_trade_no", "NEW-1")},
			{"out_trade_no with space", "", with("out_trade_no", "NEW 1")},
			{"out_trade_no not ASCII", "", with("out_trade_no", "订单1")},
			{"out_trade_no missing", "", with("out_trade_no", nil)},
			{"subject too long", "", with("subject", strings.Repeat("咖", 257))},
			{"subject with &", "", with("subject", "coffee & cake")},
			{"subject with =", "", with("subject", "a=b")},
			{"subject with /", "", with("subject", "a/b")},
			{"subject blank", "", with("subject", "  ")},
			{"subject with a control character", "", with("subject", "a\u0007b")},
			{"mode cash", "", with("mode", "cash")},
			{"mode QR", "", with("mode", "QR")},
			{"mode missing", "", with("mode", nil)},
			{"barcode without auth_code", "", with("mode", "barcode")},
			{"barcode with a short auth_code", "", with("mode", "barcode", "auth_code", "28123")},
			{"qr with auth_code", "", with("auth_code", "280000000000000001")},
			{"timeout 30s", "", with("timeout", "30s")},
			{"timeout 90s", "", with("timeout", "90s")},
			{"timeout 16d", "", with("timeout", "16d")},
			{"timeout abc", "", with("timeout", "abc")},
			{"timeout as a number", "", with("timeout", 15)},
			{"notify_url ftp", "", with("notify_url", "ftp://example.com/n")},
			{"notify_url relative", "", with("notify_url", "/notify")},
			{"refund amount 0", "/api/v1/orders/PAID/refunds", []byte(`{"out_request_no":"X1","amount":"0"}`)},
			{"refund amount as a number", "/api/v1/orders/PAID/refunds", []byte(`{"out_request_no":"X1","amount":1}`)},
			{"refund amount abc", "/api/v1/orders/PAID/refunds", []byte(`{"out_request_no":"X1","amount":"abc"}`)},
			{"refund without out_request_no", "/api/v1/orders/PAID/refunds", []byte(`{"amount":"1.00"}`)},
			{"refund out_request_no with -", "/api/v1/orders/PAID/refunds", []byte(`{"out_request_no":"X-1","amount":"1.00"}`)},
			{"refund unknown field", "/api/v1/orders/PAID/refunds", []byte(`{"out_request_no":"X1","amount":"1.00","to":"me"}`)},
			{"refund reason too long", "/api/v1/orders/PAID/refunds", []byte(`{"out_request_no":"X1","amount":"1.00","reason":"` + strings.Repeat("r", 257) + `"}`)},
			{"close with a body", "/api/v1/orders/SEED/close", []byte(`{"force":true}`)},
			{"bad out_trade_no in the path", "/api/v1/orders/SE-ED/close", nil},
		}
		for _, c := range bad {
			path := c.path
			if path == "" {
				path = "/api/v1/orders"
			}
			e2eCall(t, e.a, "POST", path, nil, c.body).want(t, c.name, http.StatusBadRequest, paygate.EInvalid)
			unchanged(t, c.name)
		}
		for _, q := range []url.Values{{"status": {"bogus"}}, {"limit": {"0"}}, {"limit": {"101"}}, {"cursor": {"zzz"}}, {"colour": {"red"}}} {
			e2eCall(t, e.a, "GET", "/api/v1/orders", q, nil).want(t, "list with "+q.Encode(), http.StatusBadRequest, paygate.EInvalid)
		}
		e2eCall(t, e.a, "GET", "/api/v1/orders/SEED", url.Values{"refresh": {"yes"}}, nil).want(t, "refresh=yes", http.StatusBadRequest, paygate.EInvalid)

		t.Run("body too large", func(t *testing.T) {
			big := append([]byte(`{"out_trade_no":"NEW1","subject":"`), bytes.Repeat([]byte("x"), e2eMaxBody)...)
			big = append(big, `"}`...)
			e2eCall(t, e.a, "POST", "/api/v1/orders", nil, big).want(t, "1 MiB body", http.StatusRequestEntityTooLarge, paygate.ETooLarge)
			unchanged(t, "a body over 1 MiB")
			// Without Content-Length (chunked), the limit holds as well.
			sig := e.signer(e.credsA, "POST", "/api/v1/orders", big, time.Now(), "chunked-nonce-1")
			status, body := e.rawRequest(t, "POST", "/api/v1/orders", io.MultiReader(bytes.NewReader(big)), sig)
			if status != http.StatusRequestEntityTooLarge || !bytes.Contains(body, []byte(paygate.ETooLarge)) {
				t.Fatalf("chunked 1 MiB body: %d %s", status, body)
			}
			unchanged(t, "a chunked body over 1 MiB")
		})

		t.Run("authentication", func(t *testing.T) {
			req := e2eQR("AUTH1", "1.00")
			clients := []struct {
				name string
				c    *client.Client
			}{
				{"stale timestamp", e.client(e.credsA.AccessKey, e.credsA.SecretKey,
					client.WithClock(func() time.Time { return time.Now().Add(-10 * time.Minute) }))},
				{"future timestamp", e.client(e.credsA.AccessKey, e.credsA.SecretKey,
					client.WithClock(func() time.Time { return time.Now().Add(10 * time.Minute) }))},
				{"wrong secret", e.client(e.credsA.AccessKey, e.credsB.SecretKey)},
				{"unknown access key", e.client("ak_nobody", e.credsA.SecretKey)},
				{"short nonce", e.client(e.credsA.AccessKey, e.credsA.SecretKey, client.WithNonce(func() string { return "abc" }))},
			}
			for _, c := range clients {
				r := e2eCall(t, c.c, "POST", "/api/v1/orders", nil, req)
				r.want(t, c.name, http.StatusUnauthorized, paygate.EUnauthorized)
				if bytes.Contains(r.body, []byte(e.credsA.SecretKey)) || bytes.Contains(r.body, []byte(e.credsB.SecretKey)) {
					t.Fatalf("%s: the answer reveals a secret: %s", c.name, r.body)
				}
				unchanged(t, c.name)
			}
			// No auth headers at all.
			status, body := e.rawRequest(t, "POST", "/api/v1/orders", bytes.NewReader(with()), func(http.Header) {})
			if status != http.StatusUnauthorized || !bytes.Contains(body, []byte(paygate.EUnauthorized)) {
				t.Fatalf("unsigned request: %d %s", status, body)
			}
			unchanged(t, "an unsigned request")
			// A signature over another body.
			sign := e.signer(e.credsA, "POST", "/api/v1/orders", with("total_amount", "1000.00"), time.Now(), "tampered-nonce-1")
			status, body = e.rawRequest(t, "POST", "/api/v1/orders", bytes.NewReader(with()), sign)
			if status != http.StatusUnauthorized {
				t.Fatalf("tampered body: %d %s", status, body)
			}
			unchanged(t, "a tampered body")

			// The exact same signed request twice: the second is a replay.
			fixed := time.Now()
			replayer := e.client(e.credsA.AccessKey, e.credsA.SecretKey,
				client.WithClock(func() time.Time { return fixed }), client.WithNonce(func() string { return "replayed-nonce-0001" }))
			e2eCall(t, replayer, "POST", "/api/v1/orders", nil, req).want(t, "first", http.StatusCreated, "")
			before = e.snapshot(t)
			e2eCall(t, replayer, "POST", "/api/v1/orders", nil, req).want(t, "replay", http.StatusUnauthorized, paygate.EUnauthorized)
			e2eCall(t, replayer, "GET", "/api/v1/orders", nil, nil).want(t, "nonce reused on another request", http.StatusUnauthorized, paygate.EUnauthorized)
			unchanged(t, "a replay")
		})

		t.Run("bounds accepted", func(t *testing.T) {
			for _, amount := range []string{"0.01", "100000000.00", "100000000", "5", "5.5"} {
				no := "B" + strings.NewReplacer(".", "_").Replace(amount)
				o := e2eCreate(t, e.a, e2eQR(no, amount), http.StatusCreated)
				want := amount
				if m, err := paygate.ParseYuan(amount); err == nil {
					want = m.Yuan()
				}
				if o.TotalAmount != want {
					t.Fatalf("amount %s came back as %s, want %s", amount, o.TotalAmount, want)
				}
			}
			long := e2eQR(strings.Repeat("L", 64), "1.00")
			long.Subject = strings.Repeat("咖", 256)
			long.Timeout = "15d"
			e2eCreate(t, e.a, long, http.StatusCreated)
			bc := client.CreateOrderRequest{OutTradeNo: "TOUT", Subject: "s", TotalAmount: "1.00", Mode: "qr", Timeout: "1m"}
			if o := e2eCreate(t, e.a, bc, http.StatusCreated); o.ExpiresAt.Sub(*o.CreatedAt) != time.Minute {
				t.Fatalf("timeout 1m: created %v expires %v", o.CreatedAt, o.ExpiresAt)
			}
		})
	})
}

// e2eMaxBody is the API's body limit, written out: the test must fail
// if the limit moved without the contract.
const e2eMaxBody = 1 << 20

// signer signs a request as merchant creds would, by hand.
func (e *e2eEnv) signer(creds merchantCredentials, method, path string, body []byte, at time.Time, nonce string) func(http.Header) {
	ts := strconv.FormatInt(at.UnixMilli(), 10)
	sig := client.Sign(creds.SecretKey, method, path, nil, creds.AccessKey, ts, nonce, body)
	return func(h http.Header) {
		h.Set("X-Access-Key", creds.AccessKey)
		h.Set("X-Timestamp", ts)
		h.Set("X-Nonce", nonce)
		h.Set("X-Signature", sig)
		h.Set("Content-Type", "application/json")
	}
}

func TestE2ERateLimitAndDrain(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind, func(cfg *config, _ *alipaysim.Config) {
			cfg.RateLimit.PerSecond = 0.2
			cfg.RateLimit.Burst = 3
		})
		// Merchant creation and the harness's lookups do not go through the API.
		for i := range 3 {
			e2eCall(t, e.a, "GET", "/api/v1/orders", nil, nil).want(t, fmt.Sprintf("request %d", i), http.StatusOK, "")
		}
		r := e2eCall(t, e.a, "POST", "/api/v1/orders", nil, e2eQR("RL1", "1.00"))
		r.want(t, "over the rate", http.StatusTooManyRequests, paygate.ERateLimited)
		if ra, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || ra < 1 {
			t.Fatalf("Retry-After = %q", r.header.Get("Retry-After"))
		}
		if n := len(e.sim.Trades()); n != 0 {
			t.Fatalf("a rate-limited create reached the channel: %d trades", n)
		}
		// Each merchant has its own bucket.
		e2eCall(t, e.b, "GET", "/api/v1/orders", nil, nil).want(t, "merchant B", http.StatusOK, "")

		// Draining: the API answers 503, readiness fails, health and
		// notifications are still served.
		get := func(path string) int {
			resp, err := e.http.Get(e.base + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if s := get("/readyz"); s != http.StatusOK {
			t.Fatalf("readyz before drain: %d", s)
		}
		e.app.api.Drain()
		e2eCall(t, e.b, "GET", "/api/v1/orders", nil, nil).want(t, "while draining", http.StatusServiceUnavailable, paygate.EDraining)
		if s := get("/readyz"); s != http.StatusServiceUnavailable {
			t.Fatalf("readyz while draining: %d", s)
		}
		if s := get("/healthz"); s != http.StatusOK {
			t.Fatalf("healthz while draining: %d", s)
		}
		if got := e.postNotify(t, url.Values{"out_trade_no": {"x"}}); got != "failure" {
			t.Fatalf("notify while draining answered %q", got)
		}
	})
}

func TestE2EIdempotencyKey(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		body := []byte(`{"out_trade_no":"IK1","subject":"coffee","total_amount":"6.60","mode":"qr"}`)
		key := client.WithIdempotencyKey("key-0001")
		first := e2eCall(t, e.a, "POST", "/api/v1/orders", nil, body, key)
		first.want(t, "first", http.StatusCreated, "")
		if first.header.Get("Idempotent-Replayed") != "" {
			t.Fatal("the first answer says it is replayed")
		}
		second := e2eCall(t, e.a, "POST", "/api/v1/orders", nil, body, key)
		second.want(t, "repeat", http.StatusCreated, "")
		if second.header.Get("Idempotent-Replayed") != "true" || !bytes.Equal(second.body, first.body) {
			t.Fatalf("repeat: Idempotent-Replayed %q, body %s, want true and %s", second.header.Get("Idempotent-Replayed"), second.body, first.body)
		}
		other := []byte(`{"out_trade_no":"IK2","subject":"coffee","total_amount":"6.60","mode":"qr"}`)
		e2eCall(t, e.a, "POST", "/api/v1/orders", nil, other, key).want(t, "same key, other body", http.StatusConflict, paygate.EIdempotencyReuse)
		e2eCall(t, e.a, "GET", "/api/v1/orders/IK2", nil, nil).want(t, "the other body's order", http.StatusNotFound, paygate.ENotFound)
		// The same key on another path is another request too.
		e2eCall(t, e.a, "POST", "/api/v1/orders/IK1/close", nil, body, key).want(t, "same key, other path", http.StatusConflict, paygate.EIdempotencyReuse)
		l, err := e.a.ListOrders(context.Background(), client.ListOrdersParams{})
		if err != nil || len(l.Orders) != 1 || l.Orders[0].Status != "pending" {
			t.Fatalf("orders = %+v, %v", l, err)
		}
		if n := len(e.sim.Trades()); n != 1 {
			t.Fatalf("the simulator holds %d trades, want 1", n)
		}
		// Keys belong to a merchant: B may use the same one.
		e2eCall(t, e.b, "POST", "/api/v1/orders", nil, other, key).want(t, "B with A's key", http.StatusCreated, "")
		// A 4xx answer is kept too.
		badKey := client.WithIdempotencyKey("key-0002")
		bad := []byte(`{"out_trade_no":"IK3","subject":"coffee","total_amount":"0","mode":"qr"}`)
		e2eCall(t, e.a, "POST", "/api/v1/orders", nil, bad, badKey).want(t, "invalid", http.StatusBadRequest, paygate.EInvalid)
		r := e2eCall(t, e.a, "POST", "/api/v1/orders", nil, bad, badKey)
		r.want(t, "invalid again", http.StatusBadRequest, paygate.EInvalid)
		if r.header.Get("Idempotent-Replayed") != "true" {
			t.Fatal("a repeated 400 was not replayed")
		}
	})
}

func TestE2EIsolation(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		paid := e.payQR(t, "ISO1", "5.00")
		for _, c := range []struct{ method, path string }{
			{"GET", "/api/v1/orders/ISO1"},
			{"POST", "/api/v1/orders/ISO1/close"},
			{"GET", "/api/v1/orders/ISO1/refunds"},
		} {
			e2eCall(t, e.b, c.method, c.path, nil, nil).want(t, "B: "+c.method+" "+c.path, http.StatusNotFound, paygate.ENotFound)
		}
		e2eCall(t, e.b, "GET", "/api/v1/orders/ISO1", url.Values{"refresh": {"true"}}, nil).want(t, "B: refresh", http.StatusNotFound, paygate.ENotFound)
		e2eCall(t, e.b, "POST", "/api/v1/orders/ISO1/refunds", nil, refundReq("R1", "1.00")).want(t, "B: refund", http.StatusNotFound, paygate.ENotFound)
		if l, err := e.b.ListOrders(context.Background(), client.ListOrdersParams{}); err != nil || len(l.Orders) != 0 {
			t.Fatalf("B lists %+v, %v", l, err)
		}
		if got := e2eGet(t, e.a, "ISO1"); !reflect.DeepEqual(got, paid) {
			t.Fatalf("A's order after B's attempts: %+v, want %+v", got, paid)
		}
		if tr := e.trade(t, "ISO1"); tr.RefundFee != 0 || tr.TradeStatus != alipay.TradeSuccess {
			t.Fatalf("simulator trade = %+v", tr)
		}

		// B's own ISO1, with other parameters, is another order.
		bo := e2eCreate(t, e.b, e2eQR("ISO1", "7.00"), http.StatusCreated)
		if bo.Status != "pending" || bo.TotalAmount != "7.00" || bo.QRCode == "" || bo.QRCode == paid.QRCode {
			t.Fatalf("B's order = %+v", bo)
		}
		e.pay(t, bo.QRCode)
		e2eWaitStatus(t, e.b, "ISO1", "paid")
		if _, err := e.b.Refund(context.Background(), "ISO1", refundReq("R1", "7.00")); err != nil {
			t.Fatal(err)
		}
		if got := e2eGet(t, e.b, "ISO1"); got.Status != "refunded" {
			t.Fatalf("B's order = %+v", got)
		}
		if got := e2eGet(t, e.a, "ISO1"); !reflect.DeepEqual(got, paid) {
			t.Fatalf("A's order after B's own: %+v, want %+v", got, paid)
		}
		if refunds, err := e.a.ListRefunds(context.Background(), "ISO1"); err != nil || len(refunds) != 0 {
			t.Fatalf("A's refunds = %+v, %v", refunds, err)
		}
		if tr := e.tradeOf(t, e.idB, "ISO1"); tr.RefundFee != 700 || tr.TotalAmount != 700 {
			t.Fatalf("B's simulator trade = %+v", tr)
		}
		if l, err := e.a.ListOrders(context.Background(), client.ListOrdersParams{}); err != nil || len(l.Orders) != 1 {
			t.Fatalf("A lists %+v, %v", l, err)
		}
	})
}

// postNotify posts form to /notify/alipay as Alipay does and returns the answer.
func (e *e2eEnv) postNotify(t *testing.T, form url.Values) string {
	t.Helper()
	resp, err := e.http.Post(e.base+"/notify/alipay", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("notify: HTTP %d %s", resp.StatusCode, b)
	}
	return string(b)
}

func TestE2ENotifications(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		appKey, simKey := e2eKeys()
		o := e2eCreate(t, e.a, e2eQR("NT1", "3.00"), http.StatusCreated)
		if status, body := e.simPost(t, "/sim/scan", map[string]string{"qr_code": o.QRCode, "buyer_id": e2eBuyer}); status != http.StatusOK {
			t.Fatalf("scan: %d %s", status, body)
		}
		tr := e.trade(t, "NT1")
		now := time.Now()
		forged := func(mutate func(url.Values)) url.Values {
			f := url.Values{
				"notify_time": {alipay.FormatTime(now)}, "notify_type": {"trade_status_sync"}, "notify_id": {"forged0001"},
				"app_id": {e2eAppID}, "charset": {"utf-8"}, "version": {"1.0"}, "sign_type": {"RSA2"},
				"trade_no": {tr.TradeNo}, "out_trade_no": {tr.OutTradeNo}, "trade_status": {alipay.TradeSuccess},
				"total_amount": {"3.00"}, "receipt_amount": {"3.00"}, "buyer_id": {e2eBuyer}, "seller_id": {e.cfg.Alipay.SellerID},
				"gmt_create": {alipay.FormatTime(now)}, "gmt_payment": {alipay.FormatTime(now)},
			}
			mutate(f)
			return f
		}
		sign := func(f url.Values, key *rsa.PrivateKey) url.Values {
			sig, err := alipay.Sign(key, []byte(alipay.SignContent(f, "sign", "sign_type")))
			if err != nil {
				t.Fatal(err)
			}
			f.Set("sign", sig)
			return f
		}
		before := e.snapshot(t)
		for _, c := range []struct {
			name string
			form url.Values
		}{
			{"signed with another key", sign(forged(func(url.Values) {}), appKey)},
			{"unsigned", forged(func(url.Values) {})},
			{"wrong amount", sign(forged(func(f url.Values) { f.Set("total_amount", "0.01"); f.Set("receipt_amount", "0.01") }), simKey)},
			{"another app", sign(forged(func(f url.Values) { f.Set("app_id", "2021000000009999") }), simKey)},
			// Signed with the right key, but for another seller's trade: the
			// configured alipay.seller_id refuses it through the whole path.
			{"another seller", sign(forged(func(f url.Values) { f.Set("seller_id", "2088000000009999") }), simKey)},
			{"no seller", sign(forged(func(f url.Values) { f.Del("seller_id") }), simKey)},
			{"unknown out_trade_no", sign(forged(func(f url.Values) { f.Set("out_trade_no", "P0000000000000000000000000") }), simKey)},
			{"amount changed after signing", func() url.Values {
				f := sign(forged(func(url.Values) {}), simKey)
				f.Set("total_amount", "0.01")
				return f
			}()},
			{"empty", url.Values{}},
		} {
			if got := e.postNotify(t, c.form); got != "failure" {
				t.Fatalf("%s: answered %q, want failure", c.name, got)
			}
			if after := e.snapshot(t); after != before {
				t.Fatalf("%s changed something:\nbefore %s\nafter  %s", c.name, before, after)
			}
		}
		if got := e2eGet(t, e.a, "NT1"); got.Status != "pending" {
			t.Fatalf("order after forgeries = %+v", got)
		}
		// The control: the same form, signed with the Alipay key, is taken,
		// so each forgery above failed for the one thing changed in it.
		if got := e.postNotify(t, sign(forged(func(url.Values) {}), simKey)); got != "success" {
			t.Fatalf("a well-signed notification answered %q", got)
		}
		if got := e2eGet(t, e.a, "NT1"); got.Status != "paid" || got.TradeNo != tr.TradeNo || got.BuyerID != e2eBuyer {
			t.Fatalf("order after the well-signed notification = %+v", got)
		}

		// The real notifications are acknowledged and applied.
		o = e2eCreate(t, e.a, e2eQR("NT2", "3.00"), http.StatusCreated)
		tr = e.trade(t, "NT2")
		e.pay(t, o.QRCode)
		paid := e2eWaitStatus(t, e.a, "NT2", "paid")
		var real map[string]string
		e2eEventually(t, "an acknowledged notification", func() bool {
			for _, n := range e.sim.Notifications() {
				if n.OutTradeNo == tr.OutTradeNo && n.Acked {
					if n.Body != "success" || n.HTTPStatus != http.StatusOK {
						t.Fatalf("acknowledged with %d %q", n.HTTPStatus, n.Body)
					}
					real = n.Form
					return true
				}
			}
			return false
		})
		form := url.Values{}
		for k, v := range real {
			form.Set(k, v)
		}
		// Delivered again (Alipay retries): success, nothing changes.
		if got := e.postNotify(t, form); got != "success" {
			t.Fatalf("the real notification again: %q", got)
		}
		if got := e2eGet(t, e.a, "NT2"); !reflect.DeepEqual(got, paid) {
			t.Fatalf("after a duplicate: %+v, want %+v", got, paid)
		}
		form.Set("total_amount", "300.00")
		if got := e.postNotify(t, form); got != "failure" {
			t.Fatalf("the real notification with its amount changed: %q", got)
		}
	})
}

func TestE2EListOrders(t *testing.T) {
	t.Parallel()
	e2eStores(t, func(t *testing.T, kind string) {
		e := e2e(t, kind)
		var want []string // newest first
		for i := range 5 {
			no := fmt.Sprintf("LS%d", i)
			e2eCreate(t, e.a, e2eQR(no, "1.00"), http.StatusCreated)
			want = append([]string{no}, want...)
		}
		e.pay(t, e2eGet(t, e.a, "LS1").QRCode)
		e2eWaitStatus(t, e.a, "LS1", "paid")
		if _, err := e.a.CloseOrder(context.Background(), "LS3"); err != nil {
			t.Fatal(err)
		}
		var got []string
		cursor := ""
		for page := 0; ; page++ {
			l, err := e.a.ListOrders(context.Background(), client.ListOrdersParams{Limit: 2, Cursor: cursor})
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Orders) > 2 || page > 3 {
				t.Fatalf("page %d: %+v", page, l)
			}
			for _, o := range l.Orders {
				got = append(got, o.OutTradeNo)
			}
			if l.NextCursor == "" {
				break
			}
			cursor = l.NextCursor
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("pages list %v, want %v", got, want)
		}
		for status, want := range map[string][]string{"paid": {"LS1"}, "closed": {"LS3"}, "pending": {"LS4", "LS2", "LS0"}, "refunded": nil} {
			l, err := e.a.ListOrders(context.Background(), client.ListOrdersParams{Status: status})
			if err != nil {
				t.Fatal(err)
			}
			var nos []string
			for _, o := range l.Orders {
				if o.Status != status {
					t.Fatalf("status=%s listed %+v", status, o)
				}
				nos = append(nos, o.OutTradeNo)
			}
			if !reflect.DeepEqual(nos, want) {
				t.Fatalf("status=%s lists %v, want %v", status, nos, want)
			}
		}
		if l, err := e.b.ListOrders(context.Background(), client.ListOrdersParams{}); err != nil || len(l.Orders) != 0 || l.NextCursor != "" {
			t.Fatalf("B lists %+v, %v", l, err)
		}
	})
}
