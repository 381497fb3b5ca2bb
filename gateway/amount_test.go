package gateway_test

import (
	"context"
	"slices"
	"testing"

	"github.com/paygate/paygate"
	"github.com/paygate/paygate/alipay"
	"github.com/paygate/paygate/alipaysim"
)

// skew makes the simulator report every amount one fen off in the answers
// of methods (signed, so they verify); its notifications are dropped, so
// that only those answers can settle anything.
func skew(methods ...string) alipaysim.Faults {
	return alipaysim.Faults{AmountSkewFen: 1, Methods: methods, NotifyDropRate: 1}
}

// notPaid asserts that order no was not taken for paid: not paid, no
// order.paid event.
func (e *env) notPaid(t *testing.T, no string) {
	t.Helper()
	o := e.order(t, no)
	if o.Status == paygate.StatusPaid || !o.PaidAt.IsZero() {
		t.Errorf("order %s is %s (paid at %v) on an answer with another amount", no, o.Status, o.PaidAt)
	}
	if evs := e.events(t, o.ID); slices.Contains(evs, paygate.EventOrderPaid) {
		t.Errorf("events %v: order.paid on an answer with another amount", evs)
	}
}

// TestAnswerWithAnotherAmountPaysNothing: a pay, query or compensation
// answer whose total_amount is not the order's never marks it paid.
func TestAnswerWithAnotherAmountPaysNothing(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		t.Run("pay answer", func(t *testing.T) {
			t.Parallel()
			// The query lies too: nothing confirms the amount.
			e := setup(t, open, withFaults(skew(alipay.MethodPay, alipay.MethodQuery)))
			e.create(t, paygate.CreateOrder{OutTradeNo: "A1", TotalAmount: 500, Mode: paygate.ModeBarcode, AuthCode: "281234567890123456"})
			e.notPaid(t, "A1")
		})
		// A QR order the buyer paid (at the right amount); the notification
		// is lost; the query reports another amount.
		paidQR := func(t *testing.T, e *env, no string) *paygate.Order {
			t.Helper()
			o, _, err := e.create(t, paygate.CreateOrder{OutTradeNo: no, TotalAmount: 500, Mode: paygate.ModeQR})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.sim.PayQR(context.Background(), o.QRCode, ""); err != nil {
				t.Fatal(err)
			}
			return o
		}
		t.Run("query answer", func(t *testing.T) {
			t.Parallel()
			e := setup(t, open, withFaults(skew(alipay.MethodQuery)))
			paidQR(t, e, "A2")
			if o, err := e.svc.GetOrder(context.Background(), e.merchant, "A2", true); err == nil && o.Status == paygate.StatusPaid {
				t.Errorf("GetOrder with refresh answered paid")
			}
			e.notPaid(t, "A2")
		})
		t.Run("compensation", func(t *testing.T) {
			t.Parallel()
			e := setup(t, open, withFaults(skew(alipay.MethodQuery)))
			o := paidQR(t, e, "A3")
			if wait, _ := e.svc.CompensateOrder(context.Background(), o.ID); wait == 0 {
				t.Errorf("compensation took the order for settled")
			}
			e.notPaid(t, "A3")
		})
	})
}

// TestRefundQueryWithAnotherAmountSettlesNothing: a refund whose answer was
// unclear is settled by the refund query only if it reports the refund's
// own amount.
func TestRefundQueryWithAnotherAmountSettlesNothing(t *testing.T) {
	t.Parallel()
	storeKinds(t, func(t *testing.T, open func(*testing.T) paygate.Store) {
		e := setup(t, open, withFaults(alipaysim.Faults{NotifyDropRate: 1}))
		ctx := context.Background()
		o := e.paidOrder(t, "RA1", 1000)
		// The refund takes effect at Alipay; neither its answer nor the
		// refund query says so clearly.
		if err := e.sim.SetFaults(alipaysim.Faults{UnknownRate: 1, NotifyDropRate: 1,
			Methods: []string{alipay.MethodRefund, alipay.MethodRefundQuery}}); err != nil {
			t.Fatal(err)
		}
		r, _, err := e.svc.Refund(ctx, e.merchant, "RA1", paygate.CreateRefund{OutRequestNo: "r1", Amount: 300})
		if err != nil || r.Status != paygate.RefundPending {
			t.Fatalf("refund: %+v, %v; want pending", r, err)
		}
		// Later the repeat answers fund_change=N and the refund query
		// reports another amount: still pending.
		if err := e.sim.SetFaults(skew(alipay.MethodRefundQuery)); err != nil {
			t.Fatal(err)
		}
		if wait, err := e.svc.ResolveRefund(ctx, o.ID, "r1"); err == nil && wait == 0 {
			t.Errorf("ResolveRefund took the refund for settled")
		}
		refunds, err := e.store.RefundsByOrder(ctx, o.ID)
		if err != nil || len(refunds) != 1 || refunds[0].Status != paygate.RefundPending {
			t.Fatalf("refunds %+v, %v; want r1 still pending", refunds, err)
		}
		if got := e.order(t, "RA1"); got.RefundedAmount != 0 {
			t.Errorf("order refunded %s on a refund query with another amount", got.RefundedAmount)
		}
		if evs := e.events(t, o.ID); slices.Contains(evs, paygate.EventRefundSucceeded) {
			t.Errorf("events %v: refund.succeeded on a refund query with another amount", evs)
		}
		// With the right amount it settles.
		if err := e.sim.SetFaults(alipaysim.Faults{NotifyDropRate: 1}); err != nil {
			t.Fatal(err)
		}
		if wait, err := e.svc.ResolveRefund(ctx, o.ID, "r1"); err != nil || wait != 0 {
			t.Fatalf("ResolveRefund with the right amount: %v, %v", wait, err)
		}
		if got := e.order(t, "RA1"); got.RefundedAmount != 300 {
			t.Errorf("order refunded %s, want 3.00", got.RefundedAmount)
		}
	})
}
