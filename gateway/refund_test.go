package gateway_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

// paidOrder makes a barcode order paid at once.
func (e *env) paidOrder(t *testing.T, outTradeNo string, amount paygate.Money) *paygate.Order {
	t.Helper()
	o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: outTradeNo, TotalAmount: amount, Mode: paygate.ModeBarcode, AuthCode: "281234567890123456"})
	if err != nil || o.Status != paygate.StatusPaid {
		t.Fatalf("paid order: %+v, %v", o, err)
	}
	return o
}

func TestRefunds(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open)
		ctx := context.Background()
		o := e.paidOrder(t, "R1", 1000)
		r, created, err := e.svc.Refund(ctx, e.merchant, "R1", paygate.CreateRefund{OutRequestNo: "r1", Amount: 300, Reason: "one cup"})
		if err != nil || !created || r.Status != paygate.RefundSucceeded {
			t.Fatalf("partial: %+v, %v, %v", r, created, err)
		}
		if got := e.order(t, "R1"); got.Status != paygate.StatusPaid || got.RefundedAmount != 300 {
			t.Fatalf("after partial: %s %d", got.Status, got.RefundedAmount)
		}
		again, created, err := e.svc.Refund(ctx, e.merchant, "R1", paygate.CreateRefund{OutRequestNo: "r1", Amount: 300})
		if err != nil || created || again.ID != r.ID {
			t.Fatalf("repeat: %+v, %v, %v", again, created, err)
		}
		if _, _, err := e.svc.Refund(ctx, e.merchant, "R1", paygate.CreateRefund{OutRequestNo: "r1", Amount: 200}); paygate.ErrorCode(err) != paygate.EConflict {
			t.Errorf("same request no, other amount: %v", err)
		}
		if _, _, err := e.svc.Refund(ctx, e.merchant, "R1", paygate.CreateRefund{OutRequestNo: "r2", Amount: 701}); paygate.ErrorCode(err) != paygate.ERefundExceeds {
			t.Errorf("beyond balance: %v", err)
		}
		if _, _, err := e.svc.Refund(ctx, e.merchant, "R1", paygate.CreateRefund{OutRequestNo: "r2", Amount: 700}); err != nil {
			t.Fatalf("rest: %v", err)
		}
		if got := e.order(t, "R1"); got.Status != paygate.StatusRefunded || got.RefundedAmount != 1000 {
			t.Fatalf("after full: %s %d", got.Status, got.RefundedAmount)
		}
		if tr := e.trade(t, o); tr.RefundFee != 1000 || tr.TradeStatus != alipay.TradeClosed {
			t.Errorf("channel: refund_fee %s status %s", tr.RefundFee, tr.TradeStatus)
		}
		if _, _, err := e.svc.Refund(ctx, e.merchant, "R1", paygate.CreateRefund{OutRequestNo: "r3", Amount: 1}); paygate.ErrorCode(err) != paygate.ERefundExceeds {
			t.Errorf("refund of a refunded order: %v", err)
		}
		refunds, err := e.svc.ListRefunds(ctx, e.merchant, "R1")
		if err != nil || len(refunds) != 2 {
			t.Fatalf("list: %d, %v", len(refunds), err)
		}
		pending, _, _ := e.create(t, paygate.CreateOrder{OutTradeNo: "R2", TotalAmount: 100, Mode: paygate.ModeQR})
		if _, _, err := e.svc.Refund(ctx, e.merchant, pending.OutTradeNo, paygate.CreateRefund{OutRequestNo: "x", Amount: 1}); paygate.ErrorCode(err) != paygate.EConflict {
			t.Errorf("refund of a pending order: %v", err)
		}
	})
}

func TestConcurrentRefundsNeverExceedThePayment(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open)
		o := e.paidOrder(t, "RC", 500)
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok, exceeded := 0, 0
		for i := range 10 {
			wg.Go(func() {
				_, _, err := e.svc.Refund(context.Background(), e.merchant, "RC", paygate.CreateRefund{OutRequestNo: fmt.Sprintf("c%d", i), Amount: 100})
				mu.Lock()
				defer mu.Unlock()
				switch paygate.ErrorCode(err) {
				case "":
					ok++
				case paygate.ERefundExceeds:
					exceeded++
				default:
					t.Errorf("refund %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		got := e.order(t, "RC")
		if ok != 5 || exceeded != 5 || got.RefundedAmount != 500 || got.Status != paygate.StatusRefunded {
			t.Fatalf("ok %d exceeded %d refunded %d status %s", ok, exceeded, got.RefundedAmount, got.Status)
		}
		if tr := e.trade(t, o); tr.RefundFee != 500 {
			t.Errorf("channel refunded %s", tr.RefundFee)
		}
	})
}

func TestRefundUnknownIsResolvedByQuery(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open)
		e.paidOrder(t, "RU", 500)
		// The refund takes effect but its answer is lost: the refund query settles it.
		if err := e.sim.SetFaults(alipaysim.Faults{UnknownRate: 1, Methods: []string{alipay.MethodRefund}}); err != nil {
			t.Fatal(err)
		}
		r, _, err := e.svc.Refund(context.Background(), e.merchant, "RU", paygate.CreateRefund{OutRequestNo: "u1", Amount: 200})
		if err != nil || r.Status != paygate.RefundSucceeded {
			t.Fatalf("unknown then query: %+v, %v", r, err)
		}
		// Nothing reaches the channel: the refund stays pending, reserved, and
		// a repeat sends it again.
		e.sim.SetFaults(alipaysim.Faults{GatewayErrorRate: 1, Methods: []string{alipay.MethodRefund, alipay.MethodRefundQuery}})
		r, _, err = e.svc.Refund(context.Background(), e.merchant, "RU", paygate.CreateRefund{OutRequestNo: "u2", Amount: 300})
		if err != nil || r.Status != paygate.RefundPending {
			t.Fatalf("nothing reached: %+v, %v", r, err)
		}
		if _, _, err := e.svc.Refund(context.Background(), e.merchant, "RU", paygate.CreateRefund{OutRequestNo: "u3", Amount: 1}); paygate.ErrorCode(err) != paygate.ERefundExceeds {
			t.Errorf("a pending refund did not reserve its amount: %v", err)
		}
		e.sim.SetFaults(alipaysim.Faults{})
		r, created, err := e.svc.Refund(context.Background(), e.merchant, "RU", paygate.CreateRefund{OutRequestNo: "u2", Amount: 300})
		if err != nil || created || r.Status != paygate.RefundSucceeded {
			t.Fatalf("repeat: %+v, %v, %v", r, created, err)
		}
		if got := e.order(t, "RU"); got.Status != paygate.StatusRefunded {
			t.Errorf("status %s", got.Status)
		}
	})
}
