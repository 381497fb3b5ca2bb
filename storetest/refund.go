package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/paygate/paygate"
)

func newRefund(o *paygate.Order, requestNo string, amount paygate.Money) *paygate.Refund {
	return &paygate.Refund{
		OrderID: o.ID, MerchantID: o.MerchantID, OutTradeNo: o.OutTradeNo, OutRequestNo: requestNo,
		Amount: amount, Reason: "damaged", Status: paygate.RefundPending, CreatedAt: t0, UpdatedAt: t0,
	}
}

func createRefund(ctx context.Context, s paygate.Store, r *paygate.Refund) error {
	return s.Tx(ctx, func(tx paygate.StoreTx) error { return tx.CreateRefund(ctx, r) })
}

func testRefunds(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	o := pay(t, s, newOrder(t, s, m, nil))
	other := pay(t, s, newOrder(t, s, m, nil))

	r1, r2 := newRefund(o, "r1", 100), newRefund(o, "r2", 200)
	for _, r := range []*paygate.Refund{r1, r2} {
		if err := createRefund(ctx, s, r); err != nil {
			t.Fatalf("CreateRefund: %v", err)
		}
		if r.ID == 0 {
			t.Fatal("CreateRefund left ID zero")
		}
	}
	// The same out_request_no on another order is another refund.
	if err := createRefund(ctx, s, newRefund(other, "r1", 50)); err != nil {
		t.Fatalf("CreateRefund on another order: %v", err)
	}
	r1.CreatedAt, r1.UpdatedAt = us(t0), us(t0)
	r2.CreatedAt, r2.UpdatedAt = us(t0), us(t0)

	got, err := s.RefundsByOrder(ctx, o.ID)
	if err != nil {
		t.Fatalf("RefundsByOrder: %v", err)
	}
	mustEqual(t, "refunds", got, []*paygate.Refund{r1, r2})

	done := t0.Add(time.Hour)
	err = s.Tx(ctx, func(tx paygate.StoreTx) error {
		r, err := tx.RefundByRequestNo(ctx, o.ID, "r1")
		if err != nil {
			return err
		}
		mustEqual(t, "RefundByRequestNo", r, r1)
		r.Status, r.UpdatedAt, r.SucceededAt = paygate.RefundSucceeded, done, done
		if err := tx.UpdateRefund(ctx, r); err != nil {
			return err
		}
		r2.Status, r2.FailReason, r2.UpdatedAt = paygate.RefundFailed, "ACQ.TRADE_STATUS_ERROR", done
		if err := tx.UpdateRefund(ctx, r2); err != nil {
			return err
		}
		inTx, err := tx.RefundsByOrder(ctx, o.ID)
		if err != nil {
			return err
		}
		if len(inTx) != 2 || inTx[0].Status != paygate.RefundSucceeded {
			t.Errorf("refunds seen inside the transaction: %+v", inTx)
		}
		_, err = tx.RefundByRequestNo(ctx, o.ID, "missing")
		wantCode(t, err, paygate.ENotFound)
		missing := *r
		missing.ID = 424242
		wantCode(t, tx.UpdateRefund(ctx, &missing), paygate.ENotFound)
		return nil
	})
	if err != nil {
		t.Fatalf("update refunds: %v", err)
	}
	r1.Status, r1.UpdatedAt, r1.SucceededAt = paygate.RefundSucceeded, us(done), us(done)
	r2.UpdatedAt = us(done)
	got, err = s.RefundsByOrder(ctx, o.ID)
	if err != nil {
		t.Fatalf("RefundsByOrder: %v", err)
	}
	mustEqual(t, "refunds after update", got, []*paygate.Refund{r1, r2})

	got, err = s.RefundsByOrder(ctx, 424242)
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("refunds of an unknown order: %v, %v; want an empty list", got, err)
	}
}

func testRefundDuplicateRequestNo(t *testing.T, s paygate.Store) {
	ctx := context.Background()
	m := newMerchant(t, s)
	o := pay(t, s, newOrder(t, s, m, nil))
	if err := createRefund(ctx, s, newRefund(o, "r1", 100)); err != nil {
		t.Fatalf("CreateRefund: %v", err)
	}
	wantCode(t, createRefund(ctx, s, newRefund(o, "r1", 100)), paygate.EConflict)
	wantCode(t, createRefund(ctx, s, newRefund(o, "r0", 0)), paygate.EInvalid)
	got, err := s.RefundsByOrder(ctx, o.ID)
	if err != nil || len(got) != 1 {
		t.Fatalf("refunds after rejected creates: %v, %v; want one", got, err)
	}
}
